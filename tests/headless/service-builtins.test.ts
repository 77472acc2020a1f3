/**
 * What `portcullis run` loads stays resident for good: node:crypto alone cost ~1.2 MB of the idle
 * service's RSS (bench/idle.bench.ts), for six random bytes in the firewall lock's temp name, and
 * node:v8 + node:vm ~0.45 MB, for V8 flags the installed service already has on its command line and
 * for gc(). The runner's module graph (and the CLI's router) must not load them; `serve`'s HTTP
 * server (headless/http.ts, imported when it starts) still loads node:crypto. Nor worker_threads and
 * its message ports: the kmsg reading thread's, loaded at its first start (a flood), and loaded by any
 * `import … from 'node:util'` too (an ESM import of a built-in evaluates every lazy export of it):
 * with util's diff and trace_sigint, ~0.6 MB of `run` idle (60.4 → 59.8 MB, issue 14 item 4).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe("the service's start", () => {
  const loaded = (nodeArgs: string[], script: string, which = String.raw`crypto|NativeModule (v8|vm)$`): string[] =>
    JSON.parse(execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', `${script}; process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => new RegExp(${JSON.stringify(which)}).test(m))));`], { cwd: ROOT, encoding: 'utf8' })) as string[];

  it('loads no node:crypto, node:v8 or node:vm', () => {
    expect(loaded([], `await import('./electron/headless/cli.ts'); await import('./electron/headless/runner.ts')`)).toEqual([]);
  });

  it('loads no worker_threads and none of node:util but parseArgs (the commands, the runner, the kmsg source)', () => {
    const script = `await import('./electron/headless/cli.ts'); await import('./electron/headless/commands.ts'); await import('./electron/headless/runner.ts'); await import('./electron/engine/logs/kmsg.ts')`;
    expect(loaded([], script, String.raw`NativeModule (worker_threads|internal/worker|internal/util/(diff|trace_sigint|colors))$`)).toEqual([]);
  });

  it('the trim at rest, started with --expose-gc as the installed service is, collects without loading node:v8', () => {
    expect(loaded(['--expose-gc'], `(await import('./electron/headless/rest-trim.ts')).lastResortGc()`)).toEqual([]);
  });
});
