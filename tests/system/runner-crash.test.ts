/**
 * Issue 3 test 5: kill -9 of `portcullis run` in the middle of a scan by several sources, then a
 * restart: bans are reconciled — every scanner banned exactly once (no duplicate rule), nothing
 * Portcullis no longer knows stays (no orphan), and a ban that expired while it was down is gone.
 * Per-source logging is installed first (through `portcullis doctor --fix`), because ufw's one shared
 * log budget would hide most of several simultaneous scanners.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalIp } from '../../electron/shared/domain.ts';
import type { DoctorCheck } from '../../electron/shared/api.ts';
import { requireSystem } from '../support/system.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { cliOnce, removeDir, setMembers, startCli, taggedUfwRules, tempStateDir, until, writeConfig, type RunningCli } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');
const PORTS = Array.from({ length: 12 }, (_, i) => 2001 + i);
const EXPIRING = '203.0.113.77';

describe.runIf(enabled)('portcullis run: kill -9 during a scan, restart, reconcile', () => {
  let lab: Lab | null = null;
  const clis: RunningCli[] = [];
  let stateDir: string | null = null;

  afterEach(async () => {
    for (const c of clis.splice(0)) await c.stop('SIGKILL');
    await lab?.cleanup();
    lab = null;
    if (stateDir) removeDir(stateDir);
    stateDir = null;
  });

  for (const backend of ['ufw', 'set'] as const) {
    it(`${backend} backend: no duplicates, no orphans, expired bans removed`, async () => {
      lab = await createLab({ scanners: 2 });
      stateDir = tempStateDir();
      const cfg = writeConfig(stateDir, {
        detection: { findtimeSec: 120, maxretry: 5, minDistinctPorts: 3 },
        ban: { backend, bantimeSec: 600, maxbantimeSec: 3600, increment: false },
        logs: { source: 'kmsg' },
      });
      const [a, b] = lab.scanners as [Lab['scanner'], Lab['scanner']];
      const sources = [canonicalIp(a.v4)!, canonicalIp(b.v4)!, canonicalIp(a.v6)!];

      // Doctor without a running instance: checks directly, applies the fix, reports it.
      // --config: the variant its kmsg source reads (LOG; without settings, auto would resolve to nflog).
      const doc = await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--config', cfg, '--json']);
      const checks = JSON.parse(doc.stdout) as DoctorCheck[];
      expect(checks.find((c) => c.id === 'per-source-logging')).toMatchObject({ level: 'ok' });
      expect(checks.find((c) => c.id === 'instance')).toMatchObject({ level: 'warn' });

      const kmsg = lab.kmsg();
      const args = ['run', '--source', 'kmsg', '--config', cfg];
      const first = await startCli(lab, args, stateDir);
      clis.push(first);

      // A short manual ban through the control socket: it must be gone after the restart.
      const manual = await cliOnce(lab, ['ban', EXPIRING, '--duration', '2', '--state-dir', stateDir]);
      expect(manual.code, manual.stderr).toBe(0);
      await first.waitFor((l) => l.type === 'ban' && l.ip === EXPIRING, 10_000, 'the manual ban');

      await lab.probeMany(a.ns, a.fwV4, PORTS, { timeoutMs: 300 });
      await first.waitFor((l) => l.type === 'ban' && l.ip === sources[0], 10_000, 'the first scanner’s ban');

      // Two more scanners start; the runner dies in the middle of their scans.
      const scanning = Promise.all([lab.probeMany(b.ns, b.fwV4, PORTS, { timeoutMs: 300 }), lab.probeMany(a.ns, a.fwV6, PORTS, { timeoutMs: 300 })]);
      await new Promise((r) => setTimeout(r, 30));
      await first.stop('SIGKILL');
      await scanning;
      await new Promise((r) => setTimeout(r, 2500)); // the manual ban's time runs out while nobody runs

      const second = await startCli(lab, args, stateDir);
      clis.push(second);

      const listed = async (): Promise<string[]> => {
        if (backend === 'ufw') {
          const rules = await taggedUfwRules(lab!);
          return rules.map((r) => [EXPIRING, ...sources].find((ip) => r.includes(ip)) ?? `other: ${r}`);
        }
        return [...(await setMembers(lab!, 4)), ...(await setMembers(lab!, 6))].map((ip) => canonicalIp(ip) ?? ip);
      };
      try {
        await until(async () => {
          const l = await listed();
          return sources.every((s) => l.includes(s)) && !l.includes(EXPIRING);
        }, 45_000, 'every scanner banned and the expired ban removed');
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\nfirewall: ${JSON.stringify(await listed())}\nfirst run: ${JSON.stringify(first.lines)}\n${first.stderr.join('\n')}` +
            `\nsecond run: ${JSON.stringify(second.lines)}\n${second.stderr.join('\n')}` +
            `\nkernel lines of ${b.v4}: ${kmsg.lines().filter((l) => l.includes(`SRC=${b.v4} `)).length}` +
            `\nstatus: ${(await cliOnce(lab!, ['status', '--state-dir', stateDir!, '--json'])).stdout}`,
        );
      }
      // Let any duplicate work finish, then look again: each banned once, nothing else.
      await new Promise((r) => setTimeout(r, 1000));
      const final = await listed();
      if (backend === 'ufw') {
        // ufw shows one line per rule; a v4 rule appears once, a v6 rule once (as "(v6)").
        expect(final.sort()).toEqual([...sources].sort());
      } else {
        expect(final.sort()).toEqual([...sources].sort());
      }

      const bans = await cliOnce(lab, ['bans', '--state-dir', stateDir, '--json']);
      const active = (JSON.parse(bans.stdout) as { ip: string }[]).map((x) => x.ip).sort();
      expect(active).toEqual([...sources].sort());
      expect(await lab.canConnect(b.ns, b.fwV4, 22, 700)).toBe(false);
      expect(await lab.canConnect(a.ns, a.fwV6, 22, 700)).toBe(false);

      const status = await cliOnce(lab, ['status', '--state-dir', stateDir, '--json']);
      expect(JSON.parse(status.stdout)).toMatchObject({ protection: 'on', counts: { activeBans: 3 }, firewall: { perSourceLogging: true } });
    });
  }
});
