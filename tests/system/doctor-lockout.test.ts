/**
 * `portcullis doctor --fix enable-ufw` with no running instance asks the same question the service
 * asks: turning ufw on (default deny incoming, no rules known while it is off) would refuse new
 * connections to the port someone is connected through right now — refused without --yes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { cliOnce, removeDir, tempStateDir } from './runner-support.ts';

describe.runIf(requireSystem('root', 'netns', 'ufw'))('doctor --fix enable-ufw without a running instance', () => {
  let lab: Lab;
  let stateDir: string;
  beforeAll(async () => {
    lab = await createLab({ ufw: false, listen: true, kernelLog: false });
    stateDir = tempStateDir();
  });
  afterAll(async () => {
    await lab?.cleanup();
    if (stateDir) removeDir(stateDir);
  });

  it('refuses while someone is connected from outside, and turns ufw on with --yes', async () => {
    const s = lab.scanner;
    const session = await lab.connect(s.ns, s.fwV4, 22);
    try {
      expect(await session.alive()).toBe(true);
      const refused = await cliOnce(lab, ['doctor', '--fix', 'enable-ufw', '--state-dir', stateDir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/turning ufw on refuses new connections to port 22, which .* is connected through now/);
      expect(refused.stderr).toContain('--yes');
      expect(await lab.ufw('status')).toMatch(/Status: inactive/);

      await cliOnce(lab, ['doctor', '--fix', 'enable-ufw', '--yes', '--state-dir', stateDir]);
      expect(await lab.ufw('status')).toMatch(/Status: active/);
    } finally {
      session.close();
    }
  });
});
