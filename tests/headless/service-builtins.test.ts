/**
 * What `portcullis run` loads at its start stays resident for good: node:crypto alone cost ~1.2 MB
 * of the idle service's RSS (bench/idle.bench.ts), for six random bytes in the firewall lock's temp
 * name. The runner's module graph (and the CLI's router) must not load it; `serve`'s HTTP server
 * (headless/http.ts, imported when it starts) still does.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe("the service's start", () => {
  it('loads no node:crypto', () => {
    const script = `await import('./electron/headless/cli.ts'); await import('./electron/headless/runner.ts'); process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => /crypto/.test(m))));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as string[];
    expect(loaded).toEqual([]);
  });
});
