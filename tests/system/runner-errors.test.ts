/**
 * `portcullis run` refuses to start half-configured, with a clear message: not root, ufw missing, ufw disabled
 * (a ban would stop nothing), no usable log source.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { NODE, ROOT, removeDir, tempStateDir } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw');
const CLI = path.join(ROOT, 'bin/portcullis.js');

function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 60_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr: String(stderr) }),
    );
  });
}

describe.runIf(enabled)('portcullis run: clear errors instead of a half-configured start', () => {
  let lab: Lab;
  let stateDir: string;
  beforeAll(async () => {
    lab = await createLab({ ufw: false, listen: false, kernelLog: false });
    stateDir = tempStateDir();
  });
  afterAll(async () => {
    await lab?.cleanup();
    if (stateDir) removeDir(stateDir);
  });

  it('not root', async () => {
    const r = await run(['/usr/sbin/runuser', '-u', 'nobody', '--', NODE, CLI, 'run', '--state-dir', '/tmp/pc-nobody-state']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/root is needed/);
  });

  it('ufw not installed', async () => {
    // A private mount namespace (never propagated back) where /usr/sbin is an empty tmpfs: no ufw.
    const script = `mount -t tmpfs none /usr/sbin && exec "$0" "$@"`;
    const r = await run([
      '/usr/sbin/ip', 'netns', 'exec', lab.fwNs, '/usr/bin/unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', script,
      NODE, CLI, 'run', '--source', 'kmsg', '--state-dir', stateDir,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ufw is not installed: apt-get install ufw/);
  });

  it('ufw installed but not enabled', async () => {
    const r = await run(['/usr/sbin/ip', 'netns', 'exec', lab.fwNs, NODE, CLI, 'run', '--source', 'kmsg', '--state-dir', stateDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ufw is not enabled.*ufw enable/);
  });

  it('no usable log source', async () => {
    await lab.ufw('--force', 'enable');
    const r = await run(['/usr/sbin/ip', 'netns', 'exec', lab.fwNs, NODE, CLI, 'run', '--source', 'file:/nonexistent/kern.log', '--backend', 'ufw', '--state-dir', stateDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no log source: \/nonexistent\/kern\.log cannot be read/);
  });
});
