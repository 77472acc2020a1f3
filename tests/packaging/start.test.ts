import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = path.join(ROOT, 'node_modules/node/bin/node');

function runStart(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [path.join(ROOT, 'scripts/start.ts'), '--no-build'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

describe('npm start', () => {
  it('without the Electron binary: says it did not start, what is missing, how to get it, and the headless alternative', async () => {
    const r = await runStart({});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the desktop app was NOT started');
    expect(r.stderr).toMatch(/Missing: the Electron \d+\.\d+\.\d+ binary/);
    expect(r.stderr).toContain('npx install-electron');
    expect(r.stderr).toContain('sudo npx portcullis serve');
    expect(r.stdout).not.toContain('starting');
  });

  it('with an Electron binary: runs it on the project directory, without ELECTRON_RUN_AS_NODE, and returns its exit code', async () => {
    const dist = mkdtempSync(path.join(tmpdir(), 'pc-fake-electron-'));
    try {
      const record = path.join(dist, 'record.txt');
      writeFileSync(path.join(dist, 'electron'), `#!/bin/sh\necho "args=$* runAsNode=\${ELECTRON_RUN_AS_NODE:-unset}" > '${record}'\nexit 7\n`);
      chmodSync(path.join(dist, 'electron'), 0o755);
      const r = await runStart({ ELECTRON_OVERRIDE_DIST_PATH: dist, ELECTRON_RUN_AS_NODE: '1', DISPLAY: ':0' });
      expect(r.code).toBe(7);
      expect(readFileSync(record, 'utf8').trim()).toBe(`args=${ROOT} runAsNode=unset`);
    } finally {
      rmSync(dist, { recursive: true, force: true });
    }
  });
});
