/**
 * Switching the ban backend between runs, for real: bans made through ufw move into the kernel sets
 * when `portcullis run` next starts with the set backend (and back), what the store no longer holds
 * as active (a ban that expired while nothing ran) is lifted from the old backend instead of being
 * stranded there for good, and the banned scanner stays blocked on the open port throughout.
 */
import { describe, expect, it } from 'vitest';
import { canonicalIp } from '../../electron/shared/domain.ts';
import { requireSystem } from '../support/system.ts';
import { cliOnce, labPerTest, setMembers, taggedUfwRules, until } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');
const PORTS = Array.from({ length: 8 }, (_, i) => 3001 + i);
const EXPIRING = '203.0.113.78';
const KEPT = '203.0.113.79';

describe.runIf(enabled)('portcullis run: a switch of ban backend between runs', () => {
  const t = labPerTest();

  for (const [from, to] of [['ufw', 'set'], ['set', 'ufw']] as const) {
    it(`${from} → ${to}: active bans move, an expired one is lifted from ${from}, the scanner stays blocked`, async () => {
      const { lab, stateDir } = await t.lab();
      const settings = (backend: 'ufw' | 'set') => ({
        detection: { findtimeSec: 120, maxretry: 5, minDistinctPorts: 3 },
        ban: { backend, bantimeSec: 600, maxbantimeSec: 3600, increment: false },
        logs: { source: 'kmsg' },
      });
      const s = lab.scanner;
      const scanner = canonicalIp(s.v4)!;
      const inBackend = async (backend: 'ufw' | 'set'): Promise<string[]> =>
        backend === 'ufw'
          ? (await taggedUfwRules(lab)).map((r) => [EXPIRING, KEPT, scanner].find((ip) => r.includes(ip)) ?? `other: ${r}`).sort()
          : [...(await setMembers(lab, 4)), ...(await setMembers(lab, 6))].map((ip) => canonicalIp(ip) ?? ip).sort();

      const first = await t.start(['run', '--source', 'kmsg', '--backend', from], settings(from));
      for (const [ip, duration] of [[EXPIRING, '2'], [KEPT, '1h']] as const) {
        const r = await cliOnce(lab, ['ban', ip, '--duration', duration, '--state-dir', stateDir]);
        expect(r.code, r.stderr).toBe(0);
      }
      await lab.probeMany(s.ns, s.fwV4, PORTS, { timeoutMs: 300 });
      await first.waitFor((l) => l.type === 'ban' && l.ip === scanner, 15_000, 'the scanner’s ban');
      await until(async () => (await inBackend(from)).length === 3, 15_000, `three bans in ${from}`);
      expect(await lab.canConnect(s.ns, s.fwV4, 22, 700)).toBe(false);
      await first.stop('SIGTERM');
      await new Promise((r) => setTimeout(r, 2500)); // the short ban's time runs out while nothing runs

      await t.start(['run', '--source', 'kmsg', '--backend', to], settings(to));
      await until(async () => (await inBackend(from)).length === 0, 30_000, `nothing left in ${from}`);
      await until(async () => (await inBackend(to)).length === 2, 30_000, `the two active bans in ${to}`);
      expect(await inBackend(to)).toEqual([KEPT, scanner].sort());
      expect(await lab.canConnect(s.ns, s.fwV4, 22, 700)).toBe(false);
      const bans = JSON.parse((await cliOnce(lab, ['bans', '--state-dir', stateDir, '--json'])).stdout) as { ip: string }[] | { active: { ip: string }[] };
      const active = (Array.isArray(bans) ? bans : bans.active).map((b) => b.ip).sort();
      expect(active).toEqual([KEPT, scanner].sort());
    }, 120_000);
  }
});
