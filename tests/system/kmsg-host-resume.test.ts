/**
 * Issue 16, items 2 and 4, with the real `portcullis run` on the real kernel log:
 * - 16.2: another network namespace that gives its interface OUR interface's name and OUR address
 *   logs a scan into the shared kernel log: nobody is banned here (its MAC is not ours). The same
 *   scan against this namespace is banned (the filter still lets our own records through).
 * - 16.4: a scan while the runner is down is banned after the restart while the ring still holds
 *   it; when the ring no longer does, the gap is reported in status (source.recordsLost) instead of
 *   silently skipped.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readKmsgRing } from '../../electron/node/kmsg-ring.ts';
import { canonicalIp } from '../../electron/shared/domain.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';
import { cliOnce, removeDir, startCli, tempStateDir, until, writeConfig, type RunningCli } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset');
const PORTS = Array.from({ length: 12 }, (_, i) => 3001 + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Status {
  source?: { recordsLost?: number; error?: string };
}

describe.runIf(enabled)('portcullis run on the shared kernel log: whose records, and what a restart missed', () => {
  let lab: Lab | null = null;
  const clis: RunningCli[] = [];
  const dirs: string[] = [];
  const extraNs: string[] = [];

  afterEach(async () => {
    for (const c of clis.splice(0)) await c.stop('SIGKILL');
    for (const ns of extraNs.splice(0)) {
      try {
        const pids = execFileSync('/usr/sbin/ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
        for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
      try {
        execFileSync('/usr/sbin/ip', ['netns', 'delete', ns]);
      } catch {
        /* gone */
      }
    }
    await lab?.cleanup();
    lab = null;
    for (const d of dirs.splice(0)) removeDir(d);
  });

  const config = (dir: string) =>
    writeConfig(dir, {
      detection: { findtimeSec: 120, maxretry: 5, minDistinctPorts: 3 },
      ban: { backend: 'set', bantimeSec: 600 },
      logs: { source: 'kmsg' },
    });

  it('16.2: a namespace with our interface name and our address scanned: no ban here; the same scan of us: banned', async () => {
    lab = await createLab({ scanners: 1 });
    const l = lab.scanner;
    // The impostor pair: its "firewall" end has our interface's name and our address, and logs
    // every SYN like ufw would; its scanner end has our scanner's address.
    const id = randomBytes(3).toString('hex');
    const impFw = `pc-impfw-${id}`;
    const impScan = `pc-impsc-${id}`;
    for (const ns of [impFw, impScan]) {
      execFileSync('/usr/sbin/ip', ['netns', 'add', ns]);
      extraNs.push(ns);
    }
    execFileSync('/usr/sbin/ip', ['link', 'add', l.fwIface, 'netns', impFw, 'type', 'veth', 'peer', 'name', `pc${id}i`, 'netns', impScan]);
    await lab.run(impFw, ['ip', 'addr', 'add', `${l.fwV4}/30`, 'dev', l.fwIface]);
    await lab.run(impFw, ['ip', 'link', 'set', l.fwIface, 'up']);
    await lab.run(impScan, ['ip', 'addr', 'add', `${l.v4}/30`, 'dev', `pc${id}i`]);
    await lab.run(impScan, ['ip', 'link', 'set', `pc${id}i`, 'up']);
    await lab.run(impFw, ['iptables', '-A', 'INPUT', '-p', 'tcp', '--syn', '-j', 'LOG', '--log-prefix', '[UFW BLOCK] ']);
    await lab.run(impFw, ['iptables', '-A', 'INPUT', '-p', 'tcp', '--syn', '-j', 'DROP']);

    const stateDir = tempStateDir();
    dirs.push(stateDir);
    const cli = await startCli(lab, ['run', '--source', 'kmsg', '--config', config(stateDir)], stateDir);
    clis.push(cli);
    const kmsg = lab.kmsg();

    await lab.probeMany(impScan, l.fwV4, PORTS, { timeoutMs: 300 });
    // The impostor's records reached the shared log (same interface name, same addresses)...
    await until(() => kmsg.lines().filter((x) => x.includes(`SRC=${l.v4} `) && x.includes('DPT=300')).length >= 5, 10_000, "the impostor's records in the kernel log");
    await sleep(1500);
    // ...and banned nobody here.
    expect(cli.bans()).toEqual([]);

    // The same scan of this namespace is ours: banned.
    await lab.probeMany(l.ns, l.fwV4, PORTS.map((p) => p + 100), { timeoutMs: 300 });
    await cli.waitFor((x) => x.type === 'ban' && x.ip === canonicalIp(l.v4), 15_000, 'the real scan’s ban');
    expect(cli.bans()).toEqual([canonicalIp(l.v4)]);
  });

  it('16.4: a scan while the runner is down is banned after the restart; a ring overwritten meanwhile is reported as lost', async () => {
    lab = await createLab({ scanners: 2 });
    const [a, b] = lab.scanners as [Lab['scanner'], Lab['scanner']];
    const stateDir = tempStateDir();
    dirs.push(stateDir);
    const args = ['run', '--source', 'kmsg', '--config', config(stateDir)];

    const first = await startCli(lab, args, stateDir);
    clis.push(first);
    await first.stop('SIGTERM');
    // Down: scanner a scans; the ring still holds it at the restart.
    await lab.probeMany(a.ns, a.fwV4, PORTS, { timeoutMs: 300 });
    const second = await startCli(lab, args, stateDir);
    clis.push(second);
    await second.waitFor((x) => x.type === 'ban' && x.ip === canonicalIp(a.v4), 15_000, 'the ban of the scan made while the runner was down');
    const st1 = JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as Status;
    expect(st1.source?.recordsLost).toBe(0);

    // Down again: scanner b scans, then logs more records than the ring holds (`logging full`: each
    // probe of a closed port is logged), so its scan is gone from the ring at the restart.
    await second.stop('SIGTERM');
    await lab.ufw('logging', 'full');
    await lab.probeMany(b.ns, b.fwV4, PORTS, { timeoutMs: 300 });
    const flood = Array.from({ length: ringCapacity() * 2 }, (_, i) => 10_000 + i);
    for (let i = 0; i < flood.length; i += 500) await lab.probeMany(b.ns, b.fwV4, flood.slice(i, i + 500), { timeoutMs: 50 });
    const third = await startCli(lab, args, stateDir);
    clis.push(third);
    await until(async () => {
      const st = JSON.parse((await cliOnce(lab!, ['status', '--state-dir', stateDir, '--json'])).stdout) as Status;
      return (st.source?.recordsLost ?? 0) > 0;
    }, 15_000, 'the records lost while stopped reported in status');
    const st = JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as Status;
    expect(st.source?.error).toMatch(/while Portcullis was not running/);
  });
});

/**
 * Records the kernel's ring holds. Known once it has wrapped: a fresh machine's ring has not, so it
 * is filled first with user-facility lines (as logs-kmsg.test.ts does) — counting `dmesg -r` lines
 * of a ring not yet full gave less than it holds, and the flood then overwrote nothing.
 */
function ringCapacity(): number {
  for (let written = 0; written <= 40_000; written += 500) {
    // Its `full` is from a read that saw the ring whole (a read overrun meanwhile says null: read again).
    const full = readKmsgRing().full;
    if (full !== null) return Math.max(500, full.records);
    for (let j = 0; j < 500; j++) writeFileSync('/dev/kmsg', '<4>portcullis-kmsg-host-resume filler\n');
  }
  throw new Error('the kernel log ring did not wrap after 40,000 lines: is log_buf_len that large? (this test floods it by 2x its capacity)');
}
