/**
 * Soak: `portcullis run` (kmsg source, set backend) under a flood of spoofed SYNs, in network
 * namespaces against real ufw with `logging full` (every blocked packet is one kernel record).
 * Needs root, ip netns, ufw, ipset and gcc (the generator, bench/soak/syn-flood.c, is compiled here).
 *
 *   npm run bench -- soak                         5k, 10k and 20k kernel records/s, 20 s each
 *   SOAK_RATES=20000 SOAK_SECONDS=60 npm run bench -- soak
 *
 * Per rate, a fresh runner (fresh state dir) protects the firewall namespace while the generator, in
 * the scanner namespace, sends RATE SYNs/s from ever-new sources (one probe each: never a scan) and,
 * among them, FAST scanners (12 ports 10 ms apart) and SLOW scanners (5 ports SOAK_SLOW_GAP_MS apart).
 * Printed per rate:
 * - produced: the LOG rules' packet counters in the firewall namespace (iptables-save -c), the ground truth;
 * - read / lost: the runner's own count of kernel records read and of sequence gaps (ring overwrites);
 * - scanners banned, and time to ban: from the generator sending a scanner's 5th probe to the
 *   runner printing its ban (after the set holds it);
 * - CPU-s per million records (the runner's utime+stime over the run / produced) and peak RSS (VmHWM).
 * Prints figures, asserts nothing. Traffic stays between the namespaces this bench creates.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLab, type Lab } from '../tests/support/netns.ts';
import { cliOnce, removeDir, startCli, tempStateDir, writeConfig, type RunningCli } from '../tests/system/runner-support.ts';

/** Kernel records per second: with `logging full` each SYN is logged twice ([UFW AUDIT] and [UFW BLOCK]), so half as many SYNs. */
const RATES = (process.env.SOAK_RATES ?? '5000,10000,20000').split(',').map(Number).filter((n) => n > 0);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 20);
const FAST = Number(process.env.SOAK_FAST ?? 6);
const SLOW = Number(process.env.SOAK_SLOW ?? 2);
const SLOW_GAP_MS = Number(process.env.SOAK_SLOW_GAP_MS ?? 3000);
/** After the generator stops: how long the runner gets to catch up before it is measured. */
const DRAIN_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = 100;

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'root';
  return ['/usr/sbin/ip', '/usr/sbin/ufw', '/usr/sbin/ipset', '/usr/bin/gcc'].find((bin) => !existsSync(bin)) ?? null;
}

/** Sum of the packet counters of every LOG rule (filter table, v4) in the firewall namespace. */
async function loggedPackets(lab: Lab): Promise<number> {
  const out = await lab.run(lab.fwNs, ['iptables-save', '-c', '-t', 'filter']);
  let sum = 0;
  for (const line of out.split('\n')) {
    if (!/ -j LOG\b/.test(line)) continue;
    const m = /^\[(\d+):\d+\]/.exec(line);
    if (m) sum += Number(m[1]);
  }
  return sum;
}

/** CPU seconds (all threads) and peak RSS (MB) of a process. */
function usage(pid: number): { cpuS: number; hwmMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS, hwmMb: hwm ? Number(hwm[1]) / 1024 : NaN };
}

interface Status {
  source?: { recordsRead?: number; recordsLost?: number; error?: string };
}

/** Records lost so far: the count in status, or (a build from before it was there) the one in its error text. */
function lostOf(s: Status): number {
  if (s.source?.recordsLost !== undefined) return s.source.recordsLost;
  const m = /(\d+) kernel records were overwritten/.exec(s.source?.error ?? '');
  return m ? Number(m[1]) : 0;
}

async function status(lab: Lab, stateDir: string): Promise<Status> {
  const r = await cliOnce(lab, ['status', '--state-dir', stateDir, '--json']);
  try {
    return JSON.parse(r.stdout) as Status;
  } catch {
    return {};
  }
}

async function runRate(lab: Lab, gen: string, rate: number): Promise<string> {
  const stateDir = tempStateDir();
  const cfg = writeConfig(stateDir, {
    detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
    ban: { backend: 'set', bantimeSec: 600, maxNewBansPerMinute: 100 },
    logs: { source: 'kmsg' },
  });
  let cli: RunningCli | null = null;
  try {
    // SOAK_CPU_PROF=DIR: the runner writes a V8 CPU profile there (node --cpu-prof) when it stops.
    const prof = process.env.SOAK_CPU_PROF;
    // --max-semi-space-size=1 as bin/portcullis.js's own #! line runs it (startCli starts node itself).
    cli = await startCli(lab, ['run', '--source', 'kmsg', '--config', cfg], stateDir, ['--max-semi-space-size=1', ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [])]);
    const pid = cli.child.pid!;
    const banAt = new Map<string, number>();
    createInterface({ input: cli.child.stdout! }).on('line', (l) => {
      try {
        const j = JSON.parse(l) as { type?: string; ip?: string };
        if (j.type === 'ban' && j.ip && !banAt.has(j.ip)) banAt.set(j.ip, Date.now());
      } catch {
        /* not JSON */
      }
    });
    const before = await status(lab, stateDir);
    const logged0 = await loggedPackets(lab);
    const cpu0 = usage(pid).cpuS;

    const child = spawn('/usr/sbin/ip', ['netns', 'exec', lab.scanner.ns, gen, lab.scanner.fwV4, String(Math.round(rate / 2)), String(SECONDS), String(FAST), String(SLOW), String(SLOW_GAP_MS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const crossedAt = new Map<string, number>();
    let sent = 0;
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const [kind, a, b] = l.split(' ');
      if (kind === 'SCAN') crossedAt.set(a!, Number(b));
      if (kind === 'SENT') sent = Number(a);
    });
    await new Promise((r) => child.on('exit', r));
    await sleep(DRAIN_MS);

    const produced = (await loggedPackets(lab)) - logged0;
    const after = await status(lab, stateDir);
    const u = usage(pid);
    const read = (after.source?.recordsRead ?? NaN) - (before.source?.recordsRead ?? 0);
    const lost = lostOf(after) - lostOf(before);
    const times = [...crossedAt].map(([ip, t]) => (banAt.has(ip) ? banAt.get(ip)! - t : null));
    const banned = times.filter((t): t is number => t !== null).sort((x, y) => x - y);
    const missed = [...crossedAt.keys()].filter((ip) => !banAt.has(ip));
    const cpuPerM = ((u.cpuS - cpu0) / Math.max(1, produced)) * 1e6;
    return (
      `${String(rate).padStart(6)} records/s × ${SECONDS} s | SYNs sent ${sent} | records produced ${produced} (${Math.round(produced / SECONDS)}/s) | read ${read} | lost ${lost} ` +
      `(${((lost / Math.max(1, produced)) * 100).toFixed(1)}% of produced) | scanners banned ${banned.length}/${crossedAt.size}` +
      (banned.length ? ` in ${banned[0]}–${banned.at(-1)} ms (median ${banned[banned.length >> 1]})` : '') +
      (missed.length ? ` missed ${missed.join(',')}` : '') +
      ` | ${cpuPerM.toFixed(1)} CPU-s/M | RSS peak ${u.hwmMb.toFixed(0)} MB`
    );
  } finally {
    await cli?.stop('SIGTERM');
    removeDir(stateDir);
  }
}

async function main(): Promise<void> {
  const why = missing();
  if (why) {
    console.log(`soak: skipped (needs ${why})`);
    return;
  }
  const work = mkdtempSync(path.join(tmpdir(), 'pc-soak-'));
  const gen = path.join(work, 'syn-flood');
  execFileSync('/usr/bin/gcc', ['-O2', '-o', gen, path.join(import.meta.dirname, 'soak/syn-flood.c')]);
  const lab = await createLab({ scanners: 1 });
  try {
    await lab.ufw('logging', 'full');
    // Spoofed sources have no route back: reverse-path filtering would drop them before the firewall.
    for (const k of ['all', 'default', lab.scanner.fwIface]) await lab.run(lab.fwNs, ['sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=0`]);
    console.log(`soak: ${FAST} fast + ${SLOW} slow scanners (5 probes ${SLOW_GAP_MS} ms apart) in a spoofed SYN flood; ufw logging full`);
    for (const rate of RATES) console.log(await runRate(lab, gen, rate));
  } finally {
    await lab.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
