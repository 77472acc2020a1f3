/**
 * One packet, one probe, with real ufw and the real kernel log: once the per-source logging block is
 * installed (`portcullis doctor --fix install-per-source-logging`, as the Doctor recommends) every
 * blocked SYN is logged twice — "[PORTCULLIS BLOCK]" by the block, "[UFW BLOCK]" by ufw's own rule.
 * A host that sends ONE SYN to each of 3 closed ports made 6 probes and was banned (threshold 5).
 */
import { describe, expect, it } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { cliOnce, labPerTest, until } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');
const CLOSED = [6101, 6102, 6103];

describe.runIf(enabled)('per-source logging installed: a packet logged by two rules is one probe', () => {
  const t = labPerTest();

  it('3 single SYNs to 3 closed ports, each logged twice: no ban, 3 blocked packets', async () => {
    const { lab, stateDir, cli } = await t.run(['run', '--source', 'kmsg'], { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } }, { scanners: 1 });
    const fix = await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--json']);
    expect(fix.stderr).toBe('');
    expect(JSON.parse(fix.stdout)).toContainEqual(expect.objectContaining({ id: 'per-source-logging', level: 'ok' }));
    // ufw's own logging is on (low) in the lab: both rules log.
    expect(await lab.ufw('status', 'verbose')).toMatch(/Logging: on \(low\)/);

    const s = lab.scanner;
    const kmsg = lab.kmsg();
    // A connect() abandoned after 300 ms sends one SYN (the first retransmission would come after 1 s).
    for (const port of CLOSED) expect(await lab.probe(s.ns, s.fwV4, port, { timeoutMs: 300 })).not.toBe('open');
    const lines = () => kmsg.lines().filter((l) => l.includes(`SRC=${s.v4} `));
    await until(() => lines().length >= 6, 10_000, 'both LOG lines of the 3 probes in the kernel log');
    kmsg.stop();
    // Each probe was logged by both rules, once each (one SYN per port).
    for (const port of CLOSED) {
      const of = lines().filter((l) => l.includes(` DPT=${port} `));
      expect(of.filter((l) => l.includes('[PORTCULLIS BLOCK]')), `port ${port}`).toHaveLength(1);
      expect(of.filter((l) => l.includes('[UFW BLOCK]')), `port ${port}`).toHaveLength(1);
    }
    const counts = async () => (JSON.parse((await cliOnce(lab!, ['status', '--state-dir', stateDir!, '--json'])).stdout) as { counts: { blockedPackets: number; activeBans: number } }).counts;
    await until(async () => (await counts()).blockedPackets >= 3, 10_000, 'the runner to store the probes');
    // Time for a late duplicate to be (wrongly) counted before the verdict.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await counts()).toMatchObject({ blockedPackets: 3, activeBans: 0 });
    expect(cli.bans()).toEqual([]);
    expect(await lab.canConnect(s.ns, s.fwV4, 22)).toBe(true);
  });
});
