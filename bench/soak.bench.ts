/**
 * Soak: `portcullis run` (kmsg source, set backend) under a flood of spoofed SYNs, in network
 * namespaces against real ufw with `logging full` (every blocked packet is one kernel record).
 * Needs root, ip netns, ufw, ipset and gcc (the generator, bench/soak/syn-flood.c, is compiled here).
 *
 *   npm run bench -- soak                         5k, 10k and 20k kernel records/s, 60 s each (issue 16's figure)
 *   SOAK_RATES=20000 SOAK_SECONDS=20 npm run bench -- soak          a quick run
 *   SOAK_BUSY=0,2 SOAK_BASE=/path/to/checkout ...   quiet and busy (2 busy loops), before and after, alternated
 *
 * The runner runs as the package runs it: node's flags and environment from the checkout's wrapper
 * and unit (bench/service-launch.ts), and the unit's CPU weight (CPUWeight=) through a cgroup of
 * its own that this bench makes and removes (bench/soak/cgroup.ts; SOAK_CGROUP=0: without one, for
 * comparison). Only the runner and its children are in it: the generator and the busy loops
 * compete with it from the root group, as a host's other work competes with the unit. And under the
 * unit's capability bounding set (setpriv; SOAK_CAPS=0: as plain root).
 *
 * Per rate, a fresh runner (fresh state dir) protects the firewall namespace while the generator, in
 * the scanner namespace, sends RATE SYNs/s from ever-new sources (one probe each: never a scan) and,
 * among them, FAST scanners (12 ports 10 ms apart) and SLOW scanners (5 ports SOAK_SLOW_GAP_MS apart).
 * Printed per rate:
 * - produced: the LOG rules' packet counters in the firewall namespace (iptables-save -c), the ground truth;
 * - read / lost: the runner's own count of kernel records read and of sequence gaps (ring overwrites);
 * - scanners banned, and time to ban: from the generator sending a scanner's 5th probe to the
 *   runner printing its ban (after the set holds it);
 * - CPU-s per million records (the runner's utime+stime over the run / produced) and peak RSS (VmHWM);
 * - event-loop delay p99 over the flood and its drain (bench/soak/loop-lag.mjs, preloaded), and RSS
 *   SOAK_AFTER_S seconds after the flood (issue 14 item 4: back under 100 MB).
 * Then, unless SOAK_FAIL2BAN=0, fail2ban on the same flood (same generator arguments, run after
 * Portcullis's so the two never compete for the CPU): bench/soak/kmsg-to-file.c copies the kernel's
 * firewall records to a file as rsyslog writes ufw.log, and fail2ban-server (the seed's portscan
 * jail: `UFW BLOCK.* SRC=<HOST>`, maxretry 5, pyinotify) reads it; its action only notes the time of
 * each ban (deciding, not ufw's own ~0.3 s, is measured). Printed: records copied, scanners banned and
 * time to ban, the last scanner's lag, CPU-s per million and peak RSS of fail2ban-server.
 * SOAK_NFLOG=GROUP (an experiment for issue 16 item 1: does NFLOG through netlink end the losses
 * that the kernel's 128 KB printk ring causes when the host stalls a vCPU?): each LOG rule of the
 * firewall namespace gets an NFLOG twin just before it (same match, `--nflog-group GROUP
 * --nflog-size 128 --nflog-threshold 1`, same prefix), and bench/soak/nflog-count.c reads the group
 * inside the namespace with a receive buffer of SOAK_NFLOG_BUF bytes (SO_RCVBUFFORCE; default 8 MiB,
 * which the kernel doubles). Each row then also prints: the NFLOG rules' packet counters, messages
 * received and lost (the instance's sequence numbers; ENOBUFS episodes), the reader's CPU-s per
 * million messages, and its latency from the generator's send (a stamp in the SYN's TCP sequence
 * number), plus the machine's softirq, system and steal time over the flood (/proc/stat; sampled at
 * the tick, and its softirq share varied from 0.1 to 51 s between like runs here: the generator's own
 * system time, printed with its lateness, is the steadier figure for the kernel's side).
 * SOAK_NFLOG_PLAIN=1: rows without the runner: a plain /dev/kmsg counter (bench/soak/kmsg-count.c,
 * nice -10, blocking reads) beside the NFLOG reader, and the latency to each (joined by SRC, DPT and IP ID).
 * SOAK_NFLOG_ONLY=1 (implies PLAIN): the LOG rules replaced by their NFLOG twins, no kernel records
 * at all; SOAK_NFLOG_LOGONLY=1 (implies PLAIN): no NFLOG twins. What each costs the kernel: the
 * generator's system time (the packets' softirqs run in its context) against the rows with both.
 * SOAK_NFLOG_READER=ulogd (with PLAIN): Debian's ulogd2 reads the group instead (its NFLOG input with the
 * same buffer, the BASE/IFINDEX/IP2STR/HWHDR filters and JSON lines to a file: what a well-kept
 * daemon costs against nflog-count; no latency figure).
 * SOAK_NFLOG_READER=node (with PLAIN): nflog-count hands every message over a pipe to a Node process
 * (bench/soak/nflog-node.mjs) that decodes the fields the engine needs: what a runner would spend.
 * SOAK_NFLOG_STALL_MS=N (with PLAIN): both readers stopped (SIGSTOP) for N ms in the flood's middle,
 * as a host that stalls the readers' vCPU would: what each buffer rides out. With SOAK_SOURCE=nflog:
 * the runner and its portcullis-nflog stopped so.
 * SOAK_SOURCE=nflog: the runner reads the `nflog` source (logs.source "nflog": its own reader,
 * portcullis-nflog, on the NFLOG group the logging block's nflog variant logs to) and every LOG rule
 * of the firewall namespace is replaced by its NFLOG twin in that group: records produced are the
 * NFLOG rules' counters, read and lost the source's own counts (sequence gaps), CPU the runner's
 * and its reader's together.
 * Prints figures, asserts nothing. Traffic stays between the namespaces this bench creates.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLab, type Lab } from '../tests/support/netns.ts';
import { cliOnce, removeDir, startCli, tempStateDir, writeConfig, type RunningCli } from '../tests/system/runner-support.ts';
import { cpuGroup, type CpuGroup } from './soak/cgroup.ts';
import { addNflogRules, exitOf, kmsgLatency, NFLOG_BUF, NFLOG_GROUP, NFLOG_LOGONLY, NFLOG_NODE, NFLOG_ONLY, NFLOG_PLAIN, NFLOG_STALL_MS, NFLOG_ULOGD, nflogPackets, nflogSourceRules, type NflogReader, readerPidOf, SOURCE_NFLOG, startNflog, startNodePipe, startUlogd } from './soak/nflog.ts';
import { PORTCULLIS_NFLOG_GROUP } from '../electron/engine/logs/nflog.ts';
import { cpuStat, cpuStatText, residentOf, schedText, threadSched, usage } from './soak/proc.ts';
import { launchText, serviceLaunch, thisServiceLaunch, type ServiceLaunch } from './service-launch.ts';

/** Kernel records per second: with `logging full` each SYN is logged twice ([UFW AUDIT] and [UFW BLOCK]), so half as many SYNs. */
const RATES = (process.env.SOAK_RATES ?? '5000,10000,20000').split(',').map(Number).filter((n) => n > 0);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const FAST = Number(process.env.SOAK_FAST ?? 6);
const SLOW = Number(process.env.SOAK_SLOW ?? 2);
const SLOW_GAP_MS = Number(process.env.SOAK_SLOW_GAP_MS ?? 3000);
/** After the generator stops: how long the runner gets to catch up before it is measured. */
const DRAIN_MS = 3000;
/** RSS is read again this long after the flood (issue 14 item 4: back under 100 MB). */
const AFTER_S = Number(process.env.SOAK_AFTER_S ?? 10);
/** How long fail2ban gets after the flood to catch up with its file before it is measured. */
const F2B_WAIT_S = Number(process.env.SOAK_F2B_WAIT_S ?? 30);
const WITH_FAIL2BAN = process.env.SOAK_FAIL2BAN !== '0' && existsSync('/usr/bin/fail2ban-server');
const LOOP_LAG = path.join(import.meta.dirname, 'soak/loop-lag.mjs');
/**
 * SOAK_BASE=DIR: each rate also runs the checkout in DIR (its bundle built: `node scripts/build-cli.ts`
 * there) right before this one, so that a before/after comparison shares the machine's state.
 */
const CHECKOUTS: Array<{ tag: string; cli?: string; launch: ServiceLaunch }> = [
  ...(process.env.SOAK_BASE ? [{ tag: '[base] ', cli: path.join(path.resolve(process.env.SOAK_BASE), 'bin/portcullis.js'), launch: serviceLaunch(path.resolve(process.env.SOAK_BASE)) }] : []),
  { tag: process.env.SOAK_BASE ? '[this] ' : '', launch: thisServiceLaunch(path.resolve(import.meta.dirname, '..')) },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/**
 * SOAK_NFLOG_PLAIN: one flood with no runner: kmsg-count (the cheapest /dev/kmsg reader) beside
 * nflog-count; what each lost, what each cost, and how late each got the records.
 */
async function plainRate(lab: Lab, gen: string, tools: { nflog: string; kmsg: string; dir: string }, rate: number, busy: number): Promise<string> {
  const kmsgSamples = path.join(tools.dir, `kmsg-${Date.now()}.txt`);
  const kmsg = spawn(tools.kmsg, [kmsgSamples], { stdio: ['ignore', 'pipe', 'inherit'] });
  let kmsgOut = '';
  kmsg.stdout!.on('data', (d: Buffer) => (kmsgOut += String(d)));
  let nflog: NflogReader | null = null;
  let stopped = false;
  const measured = async () => {
    nflog = NFLOG_ULOGD ? await startUlogd(lab, tools.dir) : NFLOG_NODE ? await startNodePipe(lab, tools.nflog) : await startNflog(lab, tools.nflog, tools.dir);
    await sleep(200);
    const logged0 = await loggedPackets(lab);
    const nflogged0 = await nflogPackets(lab);
    const load = loadavg()[0]!;
    const stat0 = cpuStat();
    const flooding = flood(lab, gen, rate);
    if (NFLOG_STALL_MS > 0) {
      await sleep((SECONDS * 1000) / 2);
      for (const pid of [kmsg.pid!, nflog.pid]) process.kill(pid, 'SIGSTOP');
      await sleep(NFLOG_STALL_MS);
      for (const pid of [kmsg.pid!, nflog.pid]) process.kill(pid, 'SIGCONT');
    }
    const { sent, late } = await flooding;
    const stat1 = cpuStat();
    await sleep(DRAIN_MS);
    const kmsgExit = exitOf(kmsg);
    kmsg.kill('SIGTERM');
    await kmsgExit;
    const n = await nflog.stop();
    stopped = true;
    return { logged0, nflogged0, load, stat0, stat1, sent, late, n, samples: nflog.samples };
  };
  let r: Awaited<ReturnType<typeof measured>>;
  try {
    r = await measured();
  } finally {
    // A failure on the way (a reader that would not start, a flood that failed) leaves no reader
    // behind, stopped or running: its pipes would keep this process alive.
    if (!stopped) {
      for (const pid of [kmsg.pid, (nflog as NflogReader | null)?.pid]) {
        if (pid === undefined) continue;
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
  const { logged0, nflogged0, load, stat0, stat1, sent, late, n } = r;
  const logged = (await loggedPackets(lab)) - logged0;
  const nflogged = (await nflogPackets(lab)) - nflogged0;
  const k = /KMSG records (\d+) ufw (\d+) lost (\d+) cpu_us (\d+) (\d+)/.exec(kmsgOut);
  const kmsgText = k
    ? `kmsg-count: read ${k[2]} firewall records (${k[1]} in all), lost ${k[3]} (ring overwrites), CPU ${((Number(k[4]) + Number(k[5])) / 1e6).toFixed(2)} s = ${(((Number(k[4]) + Number(k[5])) / 1e6 / Math.max(1, Number(k[2]))) * 1e6).toFixed(2)} CPU-s/M`
    : `kmsg-count said: ${kmsgOut.trim()}`;
  return (
    `${String(rate).padStart(6)} records/s × ${SECONDS} s | ${busy ? `busy: ${busy} busy loops` : 'quiet'}, plain readers${NFLOG_ONLY ? ', NFLOG rules only (no LOG rules)' : NFLOG_LOGONLY ? ', LOG rules only (no NFLOG twins)' : ''}${NFLOG_STALL_MS ? `, both stopped ${NFLOG_STALL_MS} ms mid-flood` : ''}, load average at the start ${load.toFixed(2)} | SYNs sent ${sent} (${late}) | LOG rules counted ${logged} | ${kmsgText} | ` +
    `NFLOG rules counted ${nflogged} | ${n.text} | ${NFLOG_ONLY || NFLOG_LOGONLY || NFLOG_ULOGD || NFLOG_NODE ? 'no kmsg latency' : kmsgLatency(r.samples, kmsgSamples)} | ${cpuStatText(stat0, stat1)}`
  );
}

/**
 * While `until` is pending: the runner's RSS every second, and where its memory is (residentOf) at
 * the highest RSS seen, with when that was (s into the flood). What makes the peak (issue 16 item 1:
 * peak RSS ≤ 120 MB).
 */
async function peakSampler(pid: number, until: Promise<unknown>): Promise<string> {
  let done = false;
  void until.finally(() => (done = true));
  const t0 = Date.now();
  let best = 0;
  let at = '';
  while (!done) {
    await Promise.race([sleep(1000), until]);
    try {
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      if (rss > best + 0.5) {
        best = rss;
        at = `${rss.toFixed(0)} MB at ${((Date.now() - t0) / 1000).toFixed(0)} s: ${Object.entries(residentOf(pid)).map(([k, v]) => `${k} ${v}`).join(', ')}, threads ${readdirSync(`/proc/${pid}/task`).length}; ${await memPeek(pid)}`;
      }
    } catch {
      /* ended */
    }
  }
  return at;
}

interface LoopLag {
  p50: number;
  p99: number;
  max: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  resident?: Record<string, number>;
}

/** Asks the runner's preloaded loop-lag.mjs for its figures since the last ask (and starts a new window). */
async function loopLag(pid: number): Promise<LoopLag | null> {
  const file = `/tmp/pc-soak-lag-${pid}.json`;
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await sleep(20);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as LoopLag;
    } catch {
      /* not yet */
    }
  }
  return null;
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(0);

/** The runner's process.memoryUsage() now, without ending loop-lag's window (its peek). */
async function memPeek(pid: number): Promise<string> {
  const marker = `/tmp/pc-soak-peek-${pid}`;
  const file = `/tmp/pc-soak-mem-${pid}.json`;
  rmSync(file, { force: true });
  writeFileSync(marker, '');
  try {
    process.kill(pid, 'SIGUSR2');
    for (let i = 0; i < 50; i++) {
      await sleep(20);
      try {
        const m = JSON.parse(readFileSync(file, 'utf8')) as LoopLag;
        return `main isolate's heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MB, external ${mb(m.external)}, array buffers ${mb(m.arrayBuffers)}`;
      } catch {
        /* not yet */
      }
    }
    return 'no answer';
  } finally {
    rmSync(marker, { force: true });
  }
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

/** The unit's CPU weight for the runner, unless SOAK_CGROUP=0: its cgroup, or why it runs without one. */
function groupFor(launch: ServiceLaunch, n: number): CpuGroup | string {
  if (process.env.SOAK_CGROUP === '0') return 'no cgroup (SOAK_CGROUP=0)';
  if (launch.cpuWeight === null) return "no cgroup: the checkout's unit sets no CPUWeight=";
  return cpuGroup(`portcullis-soak-${process.pid}-${n}`, launch.cpuWeight);
}
let groups = 0;

/**
 * setpriv with the unit's capability bounding set (as tests/system/server-package.test.ts runs the
 * ExecStart line), unless SOAK_CAPS=0: run as plain root, the kmsg reading thread could raise its
 * priority (CAP_SYS_NICE), which the installed service cannot.
 */
function capsWrap(launch: ServiceLaunch): string[] | null {
  if (process.env.SOAK_CAPS === '0' || launch.capabilities === null || !existsSync('/usr/bin/setpriv')) return null;
  return ['/usr/bin/setpriv', `--bounding-set=-all,${launch.capabilities.map((c) => `+${c}`).join(',')}`, '--inh-caps=-all', '--no-new-privs', '--'];
}

async function runRate(lab: Lab, gen: string, rate: number, checkout: { tag: string; cli?: string; launch: ServiceLaunch; nice?: string; busy: number }, nflogTools?: { nflog: string; dir: string }): Promise<string> {
  const stateDir = tempStateDir();
  const cfg = writeConfig(stateDir, {
    detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
    ban: { backend: 'set', bantimeSec: 600, maxNewBansPerMinute: 100 },
    logs: { source: SOURCE_NFLOG ? 'nflog' : 'kmsg' },
  });
  let cli: RunningCli | null = null;
  let nflog: NflogReader | null = null;
  const group = groupFor(checkout.launch, groups++);
  try {
    // SOAK_CPU_PROF=DIR: the runner writes a V8 CPU profile there (node --cpu-prof) when it stops.
    const prof = process.env.SOAK_CPU_PROF;
    // Node's flags and the environment as the package's wrapper and unit run the service (startCli starts node itself).
    cli = await startCli(lab, ['run', '--source', SOURCE_NFLOG ? 'nflog' : 'kmsg', '--config', cfg], stateDir, [...checkout.launch.flags, '--import', LOOP_LAG, ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [])], {
      env: checkout.launch.env,
      ...(checkout.cli ? { cli: checkout.cli } : {}),
      ...(capsWrap(checkout.launch) ? { wrap: capsWrap(checkout.launch)! } : {}),
    });
    const pid = cli.child.pid!;
    if (typeof group !== 'string') group.add(pid);
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
    if (nflogTools) await addNflogRules(lab);
    // SOAK_SOURCE=nflog: the LOG rules become NFLOG rules of the runner's group; their counters are what was produced.
    if (SOURCE_NFLOG) await nflogSourceRules(lab, PORTCULLIS_NFLOG_GROUP);
    const producedSoFar = async (): Promise<number> => (SOURCE_NFLOG ? nflogPackets(lab) : loggedPackets(lab));
    const reader = SOURCE_NFLOG ? readerPidOf(pid) : null;
    if (SOURCE_NFLOG && reader === null) throw new Error('SOAK_SOURCE=nflog: the runner has no portcullis-nflog child');
    const readerCpu = (): number => (reader === null ? 0 : usage(reader).cpuS);
    const logged0 = await producedSoFar();
    if (nflogTools) nflog = await startNflog(lab, nflogTools.nflog, nflogTools.dir);
    const nflogged0 = nflog ? await nflogPackets(lab) : 0;
    // SOAK_MAIN_NICE=N: the runner's main thread at nice N (renice of a pid on Linux changes that one
    // thread), as a systemd unit's Nice= would set for the whole service: a what-if for busy machines.
    if (process.env.SOAK_MAIN_NICE) execFileSync('renice', ['-n', process.env.SOAK_MAIN_NICE, '-p', String(pid)], { stdio: 'ignore' });
    // SOAK_NICE=N: every thread of the runner at nice N, as a systemd unit's Nice= sets the whole
    // service (threads started later inherit it from the main thread).
    // SOAK_NICES=0,-5: each rate runs once per value, alternated, so that they share the machine's state.
    const niceValue = checkout.nice ?? process.env.SOAK_NICE;
    if (niceValue) for (const tid of readdirSync(`/proc/${pid}/task`)) execFileSync('renice', ['-n', niceValue, '-p', tid], { stdio: 'ignore' });
    // SOAK_BUSY: busy loops at normal priority during the flood (a busy machine: load ~N + the flood).
    // In a session of their own (detached: setsid), as a user's work would be: with the kernel's
    // autogroups (sched_autogroup_enabled) or a unit's cgroup, CPU is shared between groups first and
    // nice only orders the threads inside one.
    const busy = Array.from({ length: checkout.busy }, () => spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore', detached: true }));
    const loadAtStart = loadavg()[0]!;
    const u0 = usage(pid);
    // The runner's CPU with its reader's (SOAK_SOURCE=nflog): the service's whole cost.
    const cpu0 = u0.cpuS + readerCpu();
    const idle = await loopLag(pid);

    // Threads started during the flood (the reading thread) count from zero.
    const sched0 = threadSched(pid);
    // Records lost in the flood's first 2 s: a reader that starts late loses them at the start (issue 16 item 1).
    const early = sleep(2000).then(() => status(lab, stateDir));
    const stat0 = cpuStat();
    const flooding = flood(lab, gen, rate);
    const peakAt = peakSampler(pid, flooding);
    // SOAK_SOURCE=nflog with SOAK_NFLOG_STALL_MS=N: the runner and its reader stopped (SIGSTOP) for N ms
    // in the flood's middle, as a host stalling the service's vCPU would: what the socket buffer rides out.
    const stalled = SOURCE_NFLOG && NFLOG_STALL_MS > 0 && reader !== null;
    if (stalled) {
      await sleep((SECONDS * 1000) / 2);
      // Each one stopped is continued, whatever fails: a kill that throws (the reader gone) must not
      // leave the runner stopped for the rest of the bench.
      const stopped: number[] = [];
      try {
        for (const p of [pid, reader]) {
          process.kill(p, 'SIGSTOP');
          stopped.push(p);
        }
        await sleep(NFLOG_STALL_MS);
      } finally {
        for (const p of stopped) {
          try {
            process.kill(p, 'SIGCONT');
          } catch {
            // gone: nothing to continue
          }
        }
      }
    }
    const { crossedAt, sent, late } = await flooding;
    const stat1 = cpuStat();
    const peakText = await peakAt;
    const lostEarly = lostOf(await early) - lostOf(before);
    const sched1 = threadSched(pid);
    const loadAtEnd = loadavg()[0]!;
    for (const b of busy) b.kill('SIGKILL');
    await sleep(DRAIN_MS);
    const lag = await loopLag(pid);

    const produced = (await producedSoFar()) - logged0;
    const readerCpuS = readerCpu();
    const nflogText = nflog ? `NFLOG rules counted ${(await nflogPackets(lab)) - nflogged0} | ${(await nflog.stop()).text} | ${cpuStatText(stat0, stat1)} | ` : '';
    nflog = null;
    const after = await status(lab, stateDir);
    const u = usage(pid);
    const read = (after.source?.recordsRead ?? NaN) - (before.source?.recordsRead ?? 0);
    const lost = lostOf(after) - lostOf(before);
    const times = [...crossedAt].map(([ip, t]) => (banAt.has(ip) ? banAt.get(ip)! - t : null));
    const banned = times.filter((t): t is number => t !== null).sort((x, y) => x - y);
    const missed = [...crossedAt.keys()].filter((ip) => !banAt.has(ip));
    const cpuPerM = ((u.cpuS + readerCpuS - cpu0) / Math.max(1, produced)) * 1e6;
    await sleep(Math.max(0, AFTER_S * 1000 - DRAIN_MS));
    const later = usage(pid);
    const mem = await loopLag(pid);
    return (
      `${checkout.tag}${String(rate).padStart(6)} records/s × ${SECONDS} s${SOURCE_NFLOG ? ` (source nflog: NFLOG rules instead of LOG${stalled ? `; runner and reader stopped ${NFLOG_STALL_MS} ms mid-flood` : ''})` : ''} | ${busy.length ? `busy: ${busy.length} busy loops` : 'quiet'}, load average at the flood's start ${loadAtStart.toFixed(2)}, end ${loadAtEnd.toFixed(2)} | runner ${typeof group === 'string' ? group : group.text}, ${capsWrap(checkout.launch) ? "with the unit's capabilities" : 'as root with every capability'}${niceValue ? `, at nice ${niceValue}` : ''} | SYNs sent ${sent} (${late}) | records produced ${produced} (${Math.round(produced / SECONDS)}/s) | read ${read} | lost ${lost} ` +
      `(${((lost / Math.max(1, produced)) * 100).toFixed(1)}% of produced; ${lostEarly} of them in the first 2 s) | ${nflogText}scanners banned ${banned.length}/${crossedAt.size}` +
      (banned.length ? ` in ${banned[0]}–${banned.at(-1)} ms (median ${banned[banned.length >> 1]})` : '') +
      (missed.length ? ` missed ${missed.join(',')}` : '') +
      ` | ${cpuPerM.toFixed(1)} CPU-s/M (${(((u.cpuS + readerCpuS - cpu0) / SECONDS) * 100).toFixed(0)}% of a core${reader !== null ? `; of it the reader ${(((readerCpuS - (cpu0 - u0.cpuS)) / Math.max(1, produced)) * 1e6).toFixed(1)} CPU-s/M, RSS ${usage(reader).rssMb.toFixed(1)} MB` : ''}) | RSS before ${u0.rssMb.toFixed(0)} MB, peak ${u.hwmMb.toFixed(0)} MB (highest RSS sampled during the flood: ${peakText})` +
      (lag ? ` | event-loop delay p99 ${lag.p99} ms, max ${lag.max} ms (start-up: p99 ${idle?.p99 ?? '?'} ms; resident MB before the flood: ${Object.entries(idle?.resident ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')})` : '') +
      ` | threads during the flood, CPU s / s waiting for a CPU: ${schedText(sched0, sched1)}` +
      ` | RSS ${AFTER_S} s after the flood ${later.rssMb.toFixed(0)} MB` +
      (mem ? ` (heap ${mb(mem.heapUsed)}/${mb(mem.heapTotal)} MB, external ${mb(mem.external)} MB, array buffers ${mb(mem.arrayBuffers)} MB; resident MB by mapping: ${Object.entries(mem.resident ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')})` : '')
    );
  } finally {
    await nflog?.stop();
    await cli?.stop('SIGTERM');
    if (typeof group !== 'string') group.remove();
    removeDir(stateDir);
  }
}

/** SOAK_BUSY's busy loops (as runRate starts them) around fn. */
async function withBusy<T>(n: number, fn: () => Promise<T>): Promise<T> {
  const busy = Array.from({ length: n }, () => spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore', detached: true }));
  try {
    return await fn();
  } finally {
    for (const b of busy) b.kill('SIGKILL');
  }
}

/** Runs the generator in the scanner namespace; resolves when it has sent everything. */
async function flood(lab: Lab, gen: string, rate: number): Promise<{ crossedAt: Map<string, number>; sent: number; late: string }> {
  // The generator at a real-time priority (chrt -f 10): held back by busy loops it caught up in
  // bursts (up to 68 ms late, ~1 tick in 6 over 5 ms late, with 2 busy loops), ~600 records at
  // once, more than the kernel's ring holds however fast its reader; a NIC delivers a flood at its
  // own pace. Each row prints how late the generator ran. SOAK_GEN_FIFO=0: at normal priority.
  const fifo = process.env.SOAK_GEN_FIFO !== '0' && existsSync('/usr/bin/chrt') ? ['/usr/bin/chrt', '-f', '10'] : [];
  const child = spawn('/usr/sbin/ip', ['netns', 'exec', lab.scanner.ns, ...fifo, gen, lab.scanner.fwV4, String(Math.round(rate / 2)), String(SECONDS), String(FAST), String(SLOW), String(SLOW_GAP_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const crossedAt = new Map<string, number>();
  let sent = 0;
  let late = '?';
  let genCpu = '';
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const [kind, a, b] = l.split(' ');
    if (kind === 'SCAN') crossedAt.set(a!, Number(b));
    if (kind === 'SENT') sent = Number(a);
    if (kind === 'CPU') genCpu = `, its CPU user ${(Number(a) / 1e6).toFixed(1)} s, system ${(Number(b) / 1e6).toFixed(1)} s (the packets' path through the kernel runs in its softirqs)`;
    if (kind === 'LATE') late = `generator${fifo.length ? ' (SCHED_FIFO)' : ''} late by at most ${a} ms, ${b} ticks over 5 ms late`;
  });
  await new Promise((r) => child.on('exit', r));
  return { crossedAt, sent, late: late + genCpu };
}

/** fail2ban (the seed's jail) on the same flood, fed by kmsg-to-file; one row. */
async function fail2banRate(lab: Lab, gen: string, copier: string, rate: number): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pc-soak-f2b-'));
  const conf = path.join(dir, 'conf');
  cpSync('/etc/fail2ban', conf, { recursive: true });
  rmSync(path.join(conf, 'jail.d'), { recursive: true, force: true }); // Debian enables sshd there
  const logpath = path.join(dir, 'ufw.log');
  const bansFile = path.join(dir, 'bans');
  writeFileSync(logpath, '');
  writeFileSync(bansFile, '');
  const note = path.join(dir, 'ban-note.sh');
  writeFileSync(note, `#!/bin/sh\necho "$1 $(date +%s%3N)" >> ${bansFile}\n`);
  chmodSync(note, 0o755);
  writeFileSync(path.join(conf, 'fail2ban.local'), `[Definition]\nloglevel = INFO\nlogtarget = ${dir}/fail2ban.log\nsocket = ${dir}/f2b.sock\npidfile = ${dir}/f2b.pid\ndbfile = ${dir}/f2b.sqlite3\n`);
  // The seed's filter and jail (maxretry 5, fail2ban's default findtime); the action notes the time of the ban.
  writeFileSync(path.join(conf, 'filter.d', 'portscan.conf'), '[Definition]\nfailregex = UFW BLOCK.* SRC=<HOST>\nignoreregex =\n');
  writeFileSync(path.join(conf, 'action.d', 'note-ban.conf'), `[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban = ${note} <ip>\nactionunban =\n`);
  writeFileSync(
    path.join(conf, 'jail.local'),
    `[DEFAULT]\nignoreip = 127.0.0.1/8 ::1\n\n[portscan]\nenabled = true\nfilter = portscan\naction = note-ban\nlogpath = ${logpath}\nbackend = pyinotify\nmaxretry = 5\nbantime = 600\n`,
  );
  // The same flood has the same scanners, and Portcullis's run before this one left them in its ban
  // sets (in this bench's firewall namespace): empty them, or their probes are dropped before any LOG rule.
  for (const set of ['portcullis-ban4', 'portcullis-ban6', 'portcullis-net4', 'portcullis-net6']) await lab.exec(lab.fwNs, ['ipset', 'flush', set]);
  let server: ChildProcess | null = null;
  let copy: ChildProcess | null = null;
  const client = (...args: string[]) => lab.exec(lab.fwNs, ['fail2ban-client', '-c', conf, '-s', `${dir}/f2b.sock`, ...args]);
  try {
    server = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, 'fail2ban-server', '-f', '-x', '-c', conf, '-s', `${dir}/f2b.sock`, '-p', `${dir}/f2b.pid`], { stdio: 'ignore' });
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = (await client('status', 'portscan')).code === 0;
      if (!up) await sleep(100);
    }
    if (!up) return `fail2ban did not start: ${readFileSync(`${dir}/fail2ban.log`, 'utf8').slice(-300)}`;
    const pid = server.pid!;
    copy = spawn(copier, [logpath, lab.fwNs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let copied = '';
    createInterface({ input: copy.stdout! }).on('line', (l) => (copied = l));
    await sleep(200);
    const logged0 = await loggedPackets(lab);
    const cpu0 = usage(pid).cpuS;
    const { crossedAt } = await flood(lab, gen, rate);
    const produced = (await loggedPackets(lab)) - logged0;
    const floodEnd = Date.now();
    const banAt = new Map<string, number>();
    const readBans = () => {
      for (const l of readFileSync(bansFile, 'utf8').split('\n')) {
        const [ip, t] = l.split(' ');
        if (ip && t && !banAt.has(ip)) banAt.set(ip, Number(t));
      }
    };
    // fail2ban lags under a flood: give it F2B_WAIT_S to ban every scanner.
    while (Date.now() - floodEnd < F2B_WAIT_S * 1000) {
      readBans();
      if ([...crossedAt.keys()].every((ip) => banAt.has(ip))) break;
      await sleep(250);
    }
    readBans();
    const u = usage(pid);
    // How far fail2ban got: the BLOCK lines it has matched so far, of those in its file.
    const failed = /Total failed:\s+(\d+)/.exec((await client('status', 'portscan')).stdout)?.[1] ?? '?';
    const blockLines = Number(execFileSync('grep', ['-c', 'UFW BLOCK', logpath], { encoding: 'utf8' }).trim());
    copy.kill('SIGTERM');
    await new Promise((r) => copy!.on('exit', r));
    const times = [...crossedAt].map(([ip, t]) => (banAt.has(ip) ? banAt.get(ip)! - t : null));
    const banned = times.filter((t): t is number => t !== null).sort((x, y) => x - y);
    const missed = [...crossedAt.keys()].filter((ip) => !banAt.has(ip));
    const lastScanner = [...crossedAt].sort((a, b) => a[1] - b[1]).at(-1);
    const lastLag = lastScanner && banAt.has(lastScanner[0]) ? `${banAt.get(lastScanner[0])! - lastScanner[1]} ms` : `> ${F2B_WAIT_S} s after the flood`;
    return (
      `${String(rate).padStart(6)} records/s × ${SECONDS} s | fail2ban (seed jail, fed by a file) | records produced ${produced} | copied to its file: ${copied.replace('COPIED ', '').replace(' LOST ', ' (ring lost ')})` +
      ` | scanners banned ${banned.length}/${crossedAt.size}` +
      (banned.length ? ` in ${banned[0]}–${banned.at(-1)} ms (median ${banned[banned.length >> 1]})` : '') +
      (missed.length ? ` missed ${missed.join(',')}` : '') +
      ` | last scanner banned after ${lastLag} | BLOCK lines matched by then ${failed} of ${blockLines}` +
      ` | fail2ban-server ${(((u.cpuS - cpu0) / Math.max(1, produced)) * 1e6).toFixed(1)} CPU-s/M | RSS peak ${u.hwmMb.toFixed(0)} MB`
    );
  } finally {
    copy?.kill('SIGKILL');
    await client('stop').catch(() => undefined);
    server?.kill('SIGKILL');
    if (process.env.SOAK_KEEP) console.log(`fail2ban's files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
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
  const copier = path.join(work, 'kmsg-to-file');
  execFileSync('/usr/bin/gcc', ['-O2', '-o', copier, path.join(import.meta.dirname, 'soak/kmsg-to-file.c')]);
  const nflogTools = NFLOG_GROUP > 0 ? { nflog: path.join(work, 'nflog-count'), kmsg: path.join(work, 'kmsg-count'), dir: work } : undefined;
  if (nflogTools) {
    execFileSync('/usr/bin/gcc', ['-O2', '-o', nflogTools.nflog, path.join(import.meta.dirname, 'soak/nflog-count.c')]);
    execFileSync('/usr/bin/gcc', ['-O2', '-o', nflogTools.kmsg, path.join(import.meta.dirname, 'soak/kmsg-count.c')]);
  }
  const lab = await createLab({ scanners: 1 });
  try {
    await lab.ufw('logging', 'full');
    // Spoofed sources have no route back: reverse-path filtering would drop them before the firewall.
    for (const k of ['all', 'default', lab.scanner.fwIface]) await lab.run(lab.fwNs, ['sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=0`]);
    if (nflogTools) console.log(`soak: ${await addNflogRules(lab)} LOG rules ${NFLOG_ONLY ? 'replaced by' : 'each with'} an NFLOG twin (group ${NFLOG_GROUP}); reader's buffer ${NFLOG_BUF} bytes (SO_RCVBUFFORCE); kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`);
    console.log(`soak: ${FAST} fast + ${SLOW} slow scanners (5 probes ${SLOW_GAP_MS} ms apart) in a spoofed SYN flood; ufw logging full; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const c of CHECKOUTS) console.log(`${c.tag || 'runner '}runs as installed: ${launchText(c.launch)}`);
    for (const rate of RATES) {
      // SOAK_REPEAT=N: each rate N times, the checkouts alternated each time (before/after in the same minutes).
      // SOAK_BUSY=0,2: each rate quiet and with 2 busy loops, alternated the same way.
      for (let rep = 0; rep < Number(process.env.SOAK_REPEAT ?? 1); rep++)
        for (const busy of (process.env.SOAK_BUSY ?? '0').split(',').map(Number))
          if (NFLOG_PLAIN) console.log(await withBusy(busy, () => plainRate(lab, gen, nflogTools!, rate, busy)));
          else
            for (const checkout of CHECKOUTS) {
              const nices = process.env.SOAK_NICES?.split(',') ?? [undefined];
              for (const nice of nices) console.log(await runRate(lab, gen, rate, { ...checkout, busy, ...(nice !== undefined ? { nice } : {}) }, nflogTools));
            }
      if (WITH_FAIL2BAN && !NFLOG_PLAIN) console.log(await fail2banRate(lab, gen, copier, rate));
    }
  } finally {
    await lab.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
