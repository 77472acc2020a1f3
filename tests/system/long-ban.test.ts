/**
 * A 30-day ban is really in the kernel set (issue 9.2), in network namespaces with real ufw and
 * ipset: the service's firewall port (helper-adapter.ts) over the REAL helper dispatcher and set
 * backend. ipset cannot count down more than ~24.8 days; the ban goes in without a timeout (lifted
 * by Portcullis at its end), and a banned scanner can no longer reach the allowed port 22.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAN_SET_NAMES, installSetBlock } from '../../electron/helper/firewall/index.ts';
import * as firewallModule from '../../electron/helper/firewall/index.ts';
import { memoryAuditLog } from '../../electron/helper/audit.ts';
import { createIpsetSession } from '../../electron/helper/firewall/ipset-session.ts';
import { spawn } from 'node:child_process';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { callViaDispatcher, firewallPortOf } from '../../electron/app/helper-adapter.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

const DAY = 86_400_000;

describe.runIf(requireSystem('root', 'netns', 'ufw', 'ipset'))('a ban longer than ipset can count down (network namespaces)', () => {
  let lab: Lab;
  let dispatcher: ReturnType<typeof createHelperDispatcher>;
  beforeAll(async () => {
    lab = await createLab({ scanners: 1 });
    await installSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
    dispatcher = createHelperDispatcher({
      exec: lab.fwExec,
      // The helper's long-lived `ipset restore`, started INSIDE the firewall namespace (the real helper
      // runs in the namespace it protects; firewallModule's own would start in this test's namespace,
      // the machine's, where it must never touch a set).
      firewall: {
        ...firewallModule,
        ipsetRestoreSession: () =>
          createIpsetSession(() => spawn('ip', ['netns', 'exec', lab.fwNs, 'stdbuf', '-oL', 'ipset', 'restore', '-exist'], { stdio: ['pipe', 'pipe', 'pipe'] })),
      },
      audit: memoryAuditLog(),
      readConfig: async () => null,
      exists: async () => true,
      who: 'system test',
    });
  });
  afterAll(async () => {
    dispatcher?.close();
    await lab?.cleanup();
  });

  it('a 30-day ban is in the kernel set without a timeout and blocks the scanner; unban removes it', async () => {
    const fw = firewallPortOf(callViaDispatcher((r) => dispatcher.handle(r)), 'set');
    const s = lab.scanner;
    expect(await lab.canConnect(s.ns, s.fwV4)).toBe(true);

    await fw.ban(s.v4, Date.now() + 30 * DAY, 'system test');

    const listed = await lab.run(lab.fwNs, ['ipset', 'list', BAN_SET_NAMES[4]]);
    const line = listed.split('\n').find((l) => l.startsWith(`${s.v4} `));
    expect(line, listed).toBeDefined();
    expect(line).toMatch(/ timeout 0\b/);
    expect(await lab.canConnect(s.ns, s.fwV4, 22, 700)).toBe(false);
    expect((await fw.listBans()).find((b) => b.ip === s.v4)).toEqual({ ip: s.v4, until: null });

    await fw.unban(s.v4, 'expired');
    expect((await lab.run(lab.fwNs, ['ipset', 'list', BAN_SET_NAMES[4]])).split('\n').some((l) => l.startsWith(`${s.v4} `))).toBe(false);
    expect(await lab.canConnect(s.ns, s.fwV4)).toBe(true);
  });
});
