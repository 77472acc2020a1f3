/**
 * `portcullis status` must load only what it needs (issue 11.3): in the bundle, the code that runs
 * when the status command's chunk is imported (its static import closure) holds no zod classic, no
 * zod locale but English, and no other API or settings schema. The speed itself is a bench row
 * (`npm run bench -- startup`), not a timed test; this guards the cause.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../scripts/build-cli.ts';

const out = mkdtempSync(path.join(tmpdir(), 'cli-bundle-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the status command in the CLI bundle', () => {
  it('loads no zod classic, no foreign locale, and no API, settings or engine module', async () => {
    const { metafile } = await buildCli(out);
    const outputs = metafile.outputs;
    const chunk = Object.keys(outputs).find((o) => o.endsWith('.mjs') && Object.keys(outputs[o]!.inputs).includes('electron/headless/status-command.ts'));
    expect(chunk, 'the status command has a chunk of its own').toBeDefined();
    const loaded = new Set<string>();
    const visit = (o: string): void => {
      if (loaded.has(o)) return;
      loaded.add(o);
      for (const i of outputs[o]!.imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
    };
    visit(chunk!);
    const inputs = [...loaded].flatMap((o) => Object.keys(outputs[o]!.inputs));
    expect(inputs).toContain('electron/shared/api-state.ts');
    const zodFiles = inputs.filter((f) => f.includes('node_modules/zod/'));
    expect(zodFiles.filter((f) => f.includes('/v4/classic/'))).toEqual([]);
    expect(zodFiles.filter((f) => f.includes('/v4/locales/') && !f.endsWith('/en.js'))).toEqual([]);
    const ours = inputs.filter((f) => !f.includes('node_modules/'));
    expect(ours.filter((f) => /shared\/(api|settings|fleet|domain|model)\.ts$|electron\/engine\//.test(f))).toEqual([]);
  }, 60_000);

  it('loads node:net only once there is a socket to talk to: "no running instance" answers without it', () => {
    // A child Node (the project's 24, this test's own process), which has loaded nothing else yet.
    const script = `
      const { ControlClient } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../electron/headless/control-client.ts'))});
      const c = new ControlClient(${JSON.stringify(path.join(out, 'no-such-dir/control.sock'))});
      const error = await c.call('getState', {}).then(() => 'answered', (e) => e.message);
      c.close();
      console.log(JSON.stringify({ error, net: process.moduleLoadList.includes('NativeModule net') }));`;
    const r = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { error: string; net: boolean };
    expect(r.error).toContain('no running Portcullis instance');
    expect(r.net).toBe(false);
  });
});
