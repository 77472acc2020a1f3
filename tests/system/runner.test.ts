/**
 * End to end, for real: the `portcullis run` CLI in a firewall namespace with its own ufw, a scanner
 * namespace sending real packets, the kernel log read from /dev/kmsg. Issue 3 tests 1–4.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalIp } from '../../electron/shared/domain.ts';
import { requireSystem } from '../support/system.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { removeDir, setMembers, startCli, taggedUfwRules, tempStateDir, until, writeConfig, type RunningCli } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');

/** Closed ports: default deny incoming drops (and logs) them. */
const CLOSED = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008];

function config(backend: 'ufw' | 'set', extra: { bantimeSec?: number; whitelist?: string[] } = {}) {
  return {
    detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
    ban: { backend, bantimeSec: extra.bantimeSec ?? 600, maxbantimeSec: 3600, increment: false },
    whitelist: { entries: extra.whitelist ?? [] },
    logs: { source: 'kmsg' },
  };
}

describe.runIf(enabled)('portcullis run in a network namespace (real ufw, real packets, /dev/kmsg)', () => {
  let lab: Lab | null = null;
  let cli: RunningCli | null = null;
  let stateDir: string | null = null;

  afterEach(async () => {
    await cli?.stop('SIGKILL');
    cli = null;
    await lab?.cleanup();
    lab = null;
    if (stateDir) removeDir(stateDir);
    stateDir = null;
  });

  type Extra = Parameters<typeof config>[1];
  async function boot(backend: 'ufw' | 'set', extra: Extra | ((lab: Lab) => Extra) = {}): Promise<{ lab: Lab; cli: RunningCli }> {
    lab = await createLab();
    stateDir = tempStateDir();
    const cfg = writeConfig(stateDir, config(backend, typeof extra === 'function' ? extra(lab) : extra));
    cli = await startCli(lab, ['run', '--source', 'kmsg', '--backend', backend, '--config', cfg], stateDir);
    return { lab, cli };
  }

  for (const backend of ['ufw', 'set'] as const) {
    for (const family of [4, 6] as const) {
      it(`${backend} backend, IPv${family} scanner: banned; new connections to the open port fail and an open one is cut`, async () => {
        const { lab, cli } = await boot(backend);
        const s = lab.scanner;
        const target = family === 4 ? s.fwV4 : s.fwV6;
        // The lab writes v6 addresses as it built them (fd11:029f:…); Portcullis reports canonical text.
        const scannerIp = canonicalIp(family === 4 ? s.v4 : s.v6)!;
        // Before: the scanner reaches ssh, and keeps a session open.
        expect(await lab.canConnect(s.ns, target, 22)).toBe(true);
        const held = await lab.connect(s.ns, target, 22);
        expect(await held.alive()).toBe(true);

        await lab.probeMany(s.ns, target, CLOSED, { timeoutMs: 300 });
        const ban = await cli.waitFor((l) => l.type === 'ban' && l.ip === scannerIp, 10_000, `the ban of ${scannerIp}`);
        expect(ban).toMatchObject({ dryRun: false, reason: { kind: 'scan' } });
        expect(typeof ban.latencyMs).toBe('number');

        expect(await lab.canConnect(s.ns, target, 22, 700)).toBe(false);
        expect(await held.alive(1500)).toBe(false);
        if (backend === 'ufw') {
          const rules = await taggedUfwRules(lab);
          expect(rules.filter((r) => r.includes(scannerIp))).toHaveLength(1);
        } else {
          expect(await setMembers(lab, family)).toContain(scannerIp);
        }
        expect(cli.bans()).toEqual([scannerIp]);
      });
    }
  }

  it('a whitelisted scanner and probes only to the open port never cause a ban', async () => {
    const { lab, cli: cli2 } = await boot('set', (l) => ({ whitelist: [l.scanner.v4] }));
    const s = lab.scanner;
    const kmsg = lab.kmsg();
    await lab.probeMany(s.ns, s.fwV4, CLOSED, { timeoutMs: 300 });
    // Probes only to the open port, from the IPv6 address (not whitelisted).
    for (let i = 0; i < 12; i++) expect(await lab.canConnect(s.ns, s.fwV6, 22)).toBe(true);
    // The kernel logged the blocked probes: the runner saw them and decided not to ban.
    await until(() => kmsg.lines().filter((l) => l.includes(`SRC=${s.v4}`)).length >= 5, 5000, 'the kernel to log the probes');
    const { ControlClient } = await import('../../electron/headless/control.ts');
    const client = new ControlClient(`${stateDir}/control.sock`);
    try {
      await until(async () => (await client.call('getState', {})).counts.blockedPackets >= 5, 5000, 'the runner to read the probes');
      const offenders = await client.call('getOffenders', {});
      expect(offenders.filter((o) => o.state === 'banned')).toEqual([]);
      expect((await client.call('getBans', {})).active).toEqual([]);
    } finally {
      client.close();
    }
    expect(cli2.bans()).toEqual([]);
    expect(await setMembers(lab, 4)).toEqual([]);
    expect(await lab.canConnect(s.ns, s.fwV4, 22)).toBe(true);
  });

  for (const backend of ['ufw', 'set'] as const) {
    it(`${backend} backend: a ban expires, the scanner reaches port 22 again and the rule/element is gone`, async () => {
      const { lab, cli } = await boot(backend, { bantimeSec: 3 });
      const s = lab.scanner;
      await lab.probeMany(s.ns, s.fwV4, CLOSED, { timeoutMs: 300 });
      await cli.waitFor((l) => l.type === 'ban' && l.ip === s.v4, 10_000, 'the ban');
      expect(await lab.canConnect(s.ns, s.fwV4, 22, 700)).toBe(false);
      await cli.waitFor((l) => l.type === 'unban' && l.ip === s.v4, 10_000, 'the unban');
      await until(() => lab.canConnect(s.ns, s.fwV4, 22), 5000, 'port 22 reachable again');
      if (backend === 'ufw') expect(await taggedUfwRules(lab)).toEqual([]);
      else expect(await setMembers(lab, 4)).toEqual([]);
    });
  }
});
