/**
 * Issue 12.1 end to end, for real: a scanner that changes its IPv6 address within a /64 on every
 * probe (one port each: no address is ever a scanner by itself) is banned as the /64 by
 * `portcullis run` reading /dev/kmsg, and then no address of that network — not even one it never
 * used — reaches the open port; an address of another network still does.
 */
import { describe, expect, it } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { labPerTest, taggedUfwRules } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');

const CLOSED = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008];

describe.runIf(enabled)('prefix bans in a network namespace (real ufw, real packets, /dev/kmsg)', () => {
  const t = labPerTest();

  for (const backend of ['set', 'ufw'] as const) {
    it(`${backend} backend: a scanner rotating its address within a /64 is banned as the /64 and blocked on the open port`, async () => {
      const { lab } = await t.lab();
      const s = lab.scanner;
      // The lab's link /64 holds the firewall's own address (never banned whole): the scanner's
      // rotating addresses come from a /64 of their own, routed to it.
      const ula = s.v6.split(':').slice(0, 3).join(':');
      const net = `${ula}:ff`;
      const addr = (k: number) => `${net}::${k.toString(16)}`;
      const used = CLOSED.map((_, i) => addr(i + 1));
      for (const a of [...used, addr(0x99), addr(0x98)]) await lab.run(s.ns, ['ip', '-6', 'addr', 'add', `${a}/128`, 'dev', s.iface, 'nodad']);
      await lab.run(lab.fwNs, ['ip', '-6', 'route', 'add', `${net}::/64`, 'via', s.v6, 'dev', s.fwIface]);
      /** A TCP connection from source `from` to the firewall's port: true when it is answered. */
      const connectFrom = async (from: string, port: number, timeoutSec = 1.5) =>
        (await lab.exec(s.ns, ['socat', '-u', 'OPEN:/dev/null', `TCP6:[${s.fwV6}]:${port},bind=[${from}],connect-timeout=${timeoutSec}`], { timeoutMs: timeoutSec * 1000 + 2000 })).code === 0;

      const cli = await t.start(['run', '--source', 'kmsg', '--backend', backend], {
        detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3, ipv6PrefixLength: 64 },
        ban: { backend, bantimeSec: 600, maxbantimeSec: 3600, increment: false },
        logs: { source: 'kmsg' },
      });

      // Before: the open port answers an address of that network.
      expect(await connectFrom(addr(0x98), 22, 3)).toBe(true);
      // One probe of one closed port from each address in turn.
      for (let i = 0; i < used.length; i++) await connectFrom(used[i]!, CLOSED[i]!, 0.3);
      const ban = await cli.waitFor((l) => l.type === 'ban' && l.ip === `${net}::/64`, 15_000, `the ban of ${net}::/64`);
      expect(ban).toMatchObject({ dryRun: false, reason: { kind: 'scan' } });
      expect((ban.reason as { members?: string[] }).members?.length).toBeGreaterThanOrEqual(2);
      expect(cli.bans()).toEqual([`${net}::/64`]);

      // After: an address of the network it never used gets no answer on the open port; another network does.
      expect(await connectFrom(addr(0x99), 22, 1)).toBe(false);
      expect(await lab.canConnect(s.ns, s.fwV6, 22, 3000)).toBe(true);
      if (backend === 'set') {
        const r = await lab.exec(lab.fwNs, ['ipset', 'list', 'portcullis-net6']);
        expect(r.stdout).toContain(`${net}::/64`);
      } else {
        expect((await taggedUfwRules(lab)).filter((l) => l.includes(`${net}::/64`))).toHaveLength(1);
      }
    });
  }
});
