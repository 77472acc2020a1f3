/**
 * Engine benchmark (issue 2): on a generated 1M-line log (bench/gen-log.ts, seeded), measured in
 * the same run:
 *   (a) replay: `portcullis replay FILE --format syslog --year 2026 --json`, run by
 *       bench/replay-phase.mjs exactly as bin/portcullis.js runs it (the dist/cli bundle when fresh,
 *       else the TypeScript sources): a worker thread reads and parses, the main thread detects.
 *       Timed around the command's main(): module loading is outside (as for every phase), the
 *       worker's start inside.
 *   (b) the same with --single-thread
 *   (c) parse stage only: read + split + parse into records (ReplayParser: the WebAssembly fast
 *       lane and the JavaScript parser), in this thread
 *   (d) peak RSS of each (VmHWM of the phase's own process, see rssMB), and how much of it the
 *       measured work added: peak minus the RSS just before the timed part.
 *   (e) `grep -c 'UFW BLOCK'` on the same file
 *   (f) naive baseline: Node readline + one regex per line, same file
 *   (g) floor: the same reads and LineSplitter with a sink that does nothing but count, plus one
 *       JS pass that reads every byte of each line — what a replay in JavaScript pays before it
 *       parses a field
 *   (h) fail2ban-regex on a 100k-line slice with the seed's `UFW BLOCK.* SRC=<HOST>` (if installed)
 *   (i) issue 14.3, replay as a user runs it: `bin/portcullis.js replay FILE --json` timed from spawn
 *       to exit (Node's start, module loading, the worker, the output: all of it), WHOLE_RUNS times
 *       (median, min, max), its peak RSS (ru_maxrss of the child, through python3's wait4), and
 *       fail2ban-regex on the SAME whole file once, in between (~35 s; BENCH_F2B_WHOLE=0 skips it);
 *       and where its time went (PORTCULLIS_REPLAY_TIMING: start-up, the worker's readiness, the
 *       engine's work and waits, the worker's wait for the engine, the exit)
 *   (j) what IPv6 prefix tracking costs (issue 12): whole `portcullis replay FILE --json` processes,
 *       default /64 against --ipv6-prefix 128, with the noise floor of the same minutes (/128
 *       against /128) and a verdict from their intervals (bench/prefix-cost.ts); --prefix-rounds N
 *       (default 18) rounds of three processes, --prefix-root DIR to measure another checkout's
 *       bin/portcullis.js, --only-prefix-cost to measure only that
 * Targets: replay ≥ 1,000,000 lines/s, RSS ≤ 150 MB; whole process ≥ 1,000,000 lines/s, ≥ 50×
 * fail2ban-regex, peak RSS ≤ 100 MB. The machine's load average is printed too:
 * the figures are only comparable between runs on an idle machine; the ratios are measured
 * side by side and say more.
 *
 *   ./node_modules/.bin/node bench/engine.bench.ts [--lines N] [--prefix-rounds N] [--prefix-root DIR] [--only-prefix-cost]
 */
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { LineSplitter, type LineSink } from '../electron/engine/parse/lines.ts';
import { ReplayParser } from '../electron/engine/replay-parse.ts';
import { TAG_REJECTED, RECORD_INTS } from '../electron/engine/records.ts';
import { measurePrefixCost } from './prefix-cost.ts';

const READ_CHUNK = 1 << 20; // what the fast lane's input holds
const YEAR = 2026;

interface PhaseResult {
  phase: string;
  lines: number;
  seconds: number;
  maxRssMB: number;
  /** RSS just before the timed loop (process + modules loaded). */
  startRssMB: number;
  detail: string;
}

function readFileInChunks(file: string, onChunk: (chunk: Uint8Array) => void): void {
  const fd = openSync(file, 'r');
  const buf = new Uint8Array(READ_CHUNK);
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    onChunk(buf.subarray(0, n)); // LineSplitter and the parser are done with the bytes when push returns: the buffer can be reused
  }
  closeSync(fd);
}

/** Reads the file through a LineSplitter into `sink`, timed: seconds, and the RSS before the loop. */
function splitTimed(file: string, sink: LineSink): { seconds: number; startRssMB: number } {
  const splitter = new LineSplitter();
  const startRssMB = currentRssMB();
  const t0 = performance.now();
  readFileInChunks(file, (c) => splitter.push(c, sink));
  splitter.end(sink);
  return { seconds: (performance.now() - t0) / 1000, startRssMB };
}

function phaseParse(file: string): PhaseResult {
  let packets = 0;
  let rejected = 0;
  const parser = new ReplayParser({ framing: 'syslog', year: YEAR }, (batch) => {
    for (let i = 0; i < batch.count; i++) {
      if (batch.ints[i * RECORD_INTS] === TAG_REJECTED) rejected++;
      else packets++;
    }
  });
  const startRssMB = currentRssMB();
  const t0 = performance.now();
  readFileInChunks(file, (c) => parser.push(c));
  parser.end();
  const seconds = (performance.now() - t0) / 1000;
  return { phase: 'parse', lines: packets + rejected, seconds, maxRssMB: rssMB(), startRssMB, detail: `${packets} packets, ${rejected} rejected; ${parser.fastLines} lines through the fast lane` };
}

function phaseFloor(file: string): PhaseResult {
  let lines = 0;
  let x = 0;
  const sink: LineSink = {
    line() {
      lines++;
    },
    bytes(b, start, end) {
      lines++;
      for (let i = start; i < end; i++) x = (x + b[i]!) | 0;
    },
    tooLong() {
      lines++;
    },
  };
  const { seconds, startRssMB } = splitTimed(file, sink);
  return { phase: 'floor', lines, seconds, maxRssMB: rssMB(), startRssMB, detail: `read + split + one pass over the bytes (checksum ${x >>> 0})` };
}

async function phaseNaive(file: string): Promise<PhaseResult> {
  // What a first attempt looks like: readline and one regex per line.
  const re = /\[UFW BLOCK\].* SRC=(\S+) DST=(\S+).* PROTO=(\S+)(?: SPT=(\d+) DPT=(\d+))?/;
  let lines = 0;
  let matched = 0;
  const startRssMB = currentRssMB();
  const t0 = performance.now();
  const rl = createInterface({ input: createReadStream(file, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  for await (const line of rl) {
    lines++;
    if (re.exec(line) !== null) matched++;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { phase: 'naive', lines, seconds, maxRssMB: rssMB(), startRssMB, detail: `${matched} matched` };
}

/**
 * Peak RSS of this process image: VmHWM from /proc/self/status. Not resourceUsage().maxRSS: on
 * Linux that survives exec and so starts at the RSS of the parent when it forked the phase (the
 * bench process, which held ~64 MB of `cat` output then), so every phase reported at least ~153 MB
 * whatever it used. VmHWM belongs to the address space exec made.
 */
function rssMB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch {
    // not Linux: fall back to getrusage
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

function currentRssMB(): number {
  return Math.round(process.memoryUsage.rss() / (1024 * 1024));
}

/** "peak (+added by the timed work over the loaded process)". */
function rssText(r: PhaseResult): string {
  return `${r.maxRssMB} MB (+${r.maxRssMB - r.startRssMB} over ${r.startRssMB})`;
}

/**
 * V8 flags of every phase process, the same as bin/portcullis.js runs with: a young generation of
 * at most 1 MB per semi-space. V8's default (up to 16 MB) measured ~50 MB more peak RSS for a
 * replay and no measurable speed gain. Applied to the baselines too, so the ratios stay fair.
 */
const PHASE_FLAGS = ['--max-semi-space-size=1'];
/** The environment bin/portcullis.js sets too: one glibc malloc arena (the others only held memory). */
// PORTCULLIS_REPLAY_WORKER_BYTES=0: phase (a) is the two-thread replay whatever --lines makes the file's size
// (a file under 48 MiB is replayed in one thread by default, replay-start.ts); the whole-process rows keep the default.
const PHASE_ENV = { ...process.env, MALLOC_ARENA_MAX: '1', PORTCULLIS_REPLAY_WORKER_BYTES: '0' };

/** Run one phase in a fresh process and read its JSON result. */
function runPhase(phase: string, file: string): PhaseResult {
  const args =
    phase === 'replay' || phase === 'replay1'
      ? [path.join(import.meta.dirname, 'replay-phase.mjs'), file, '--format', 'syslog', '--year', String(YEAR), ...(phase === 'replay1' ? ['--single-thread'] : [])]
      : [import.meta.filename, '--phase', phase, file];
  const r = spawnSync(process.execPath, [...PHASE_FLAGS, ...args], { encoding: 'utf8', maxBuffer: 1 << 20, env: PHASE_ENV });
  if (r.status !== 0) throw new Error(`phase ${phase} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PhaseResult;
}

function timeCommand(cmd: string, args: string[]): { seconds: number; stdout: string; ok: boolean } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout ?? '', ok: r.status === 0 };
}

/** Runs of the whole command (WHOLE_RUNS, median of them reported). */
const WHOLE_RUNS = Number(process.env.BENCH_WHOLE_RUNS ?? 5);

/**
 * One command timed from spawn to exit, with the peak RSS of its own process: python3's os.wait4
 * gives the child's ru_maxrss (Node's spawnSync gives no rusage). Its stdout goes to `out`.
 */
function timeWhole(argv: string[], out: string, env: NodeJS.ProcessEnv = {}): { seconds: number; maxRssMB: number; status: number; stderr: string } {
  const err = `${out}.err`;
  const py = [
    'import os, sys, time',
    'out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)',
    'err = os.open(sys.argv[1] + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)',
    't = time.monotonic()',
    'pid = os.fork()',
    'if pid == 0:',
    '    os.dup2(out, 1)',
    '    os.dup2(err, 2)',
    '    os.execv(sys.argv[2], sys.argv[2:])',
    '_, st, ru = os.wait4(pid, 0)',
    'print(time.monotonic() - t, ru.ru_maxrss, os.waitstatus_to_exitcode(st))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', py, out, ...argv], { encoding: 'utf8', env: { ...process.env, MALLOC_ARENA_MAX: '1', ...env } });
  if (r.status !== 0) throw new Error(`timing ${argv.join(' ')} failed: ${r.stderr}`);
  const [seconds, rssKB, status] = r.stdout.trim().split(' ').map(Number);
  return { seconds: seconds!, maxRssMB: Math.round(rssKB! / 1024), status: status!, stderr: readFileSync(err, 'utf8') };
}

/** What PORTCULLIS_REPLAY_TIMING=1 makes `portcullis replay` print (electron/headless/replay.ts printTiming), ms since its start. */
interface ReplayTiming {
  outputAt: number;
  startAt?: number;
  parseReadyAt?: number;
  firstBatchAt?: number;
  detectMs?: number;
  parseEndedAt?: number;
  parseWaitedMs?: number;
}

function replayTiming(stderr: string): ReplayTiming | null {
  const m = /^portcullis replay timing: (\{.*\})$/m.exec(stderr);
  return m ? (JSON.parse(m[1]!) as ReplayTiming) : null;
}

/**
 * Where the whole process's time went (medians over the runs): start-up until this thread has the
 * command loaded, until the worker is ready and its first records reach the engine; the engine's
 * work from then to the output (the rest of that span it waited for records); the worker's wait for
 * the engine; the exit (spawn-to-exit minus the output's time).
 */
function timingRow(runs: { seconds: number; timing: ReplayTiming | null }[]): string {
  const ok = runs.filter((r) => r.timing?.firstBatchAt != null);
  if (ok.length === 0) return 'where the time went: not reported';
  const med = (f: (r: { seconds: number; timing: ReplayTiming | null }) => number) => Math.round(median(ok.map(f)));
  const span = med((r) => r.timing!.outputAt - r.timing!.firstBatchAt!);
  const busy = med((r) => r.timing!.detectMs!);
  return (
    `where the whole process's time went (ms, medians of ${ok.length}): command loaded at ${med((r) => r.timing!.startAt!)}, worker ready at ${med((r) => r.timing!.parseReadyAt!)}, ` +
    `first records at the engine ${med((r) => r.timing!.firstBatchAt!)}; then the engine worked ${busy} of ${span} ms (${Math.round((100 * busy) / span)}%) until the output at ${med((r) => r.timing!.outputAt)}; ` +
    `the worker waited for it ${med((r) => r.timing!.parseWaitedMs!)} ms; exit ${med((r) => 1000 * r.seconds - r.timing!.outputAt)} ms`
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function writeSlice(from: string, to: string, lines: number): void {
  const fd = openSync(to, 'w');
  let left = lines;
  readFileInChunks(from, (chunk) => {
    if (left <= 0) return;
    let end = 0;
    while (end < chunk.length && left > 0) {
      const nl = chunk.indexOf(10, end);
      if (nl < 0) {
        end = chunk.length;
        break;
      }
      end = nl + 1;
      left--;
    }
    writeSync(fd, chunk.subarray(0, end));
  });
  closeSync(fd);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--phase') {
    const [, phase, file] = argv;
    const result = phase === 'parse' ? phaseParse(file!) : phase === 'floor' ? phaseFloor(file!) : await phaseNaive(file!);
    console.log(JSON.stringify(result));
    return;
  }
  const linesArg = argv.indexOf('--lines');
  const lines = linesArg >= 0 ? Number(argv[linesArg + 1]) : 1_000_000;
  const dir = path.join(tmpdir(), 'portcullis-bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `gen-${lines}-seed1.log`);
  if (!existsSync(file)) {
    process.stdout.write(`generating ${lines} lines into ${file} … `);
    const r = spawnSync(process.execPath, [path.join(import.meta.dirname, 'gen-log.ts'), '--lines', String(lines), '--seed', '1', '--out', file + '.tmp'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gen-log failed: ${r.stderr}`);
    renameSync(file + '.tmp', file);
    console.log('done');
  }
  const sizeMB = statSync(file).size / 1e6;
  console.log(`log: ${file} (${lines} lines, ${sizeMB.toFixed(0)} MB); load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; 2 cores`);

  // Warm the page cache so the first phase does not pay the disk.
  spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] }); // not through a pipe into this process: that made it ~64 MB bigger
  // 18 rounds: each order of the three runs three times; on a shared 2-core machine the interval then spans a few percent.
  const roundsArg = argv.findIndex((a) => a === '--prefix-rounds' || a === '--prefix-pairs');
  const rounds = roundsArg >= 0 ? Number(argv[roundsArg + 1]) : 18;
  const rootArg = argv.indexOf('--prefix-root');
  const prefixRoot = rootArg >= 0 ? path.resolve(argv[rootArg + 1]!) : undefined;
  const prefixCost = () => {
    for (const r of measurePrefixCost(file, ['--format', 'syslog', '--year', String(YEAR)], rounds, prefixRoot).rows) console.log(r);
  };
  if (argv.includes('--only-prefix-cost')) return prefixCost();
  const replay = runPhase('replay', file);
  const replay1 = runPhase('replay1', file);
  const parse = runPhase('parse', file);
  const naive = runPhase('naive', file);
  const floor = runPhase('floor', file);
  const grep = timeCommand('grep', ['-c', 'UFW BLOCK', file]);

  const rate = (n: number, s: number) => n / s;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const rows: string[][] = [['what', 'lines/s', 'seconds', 'peak RSS', 'replay ÷ this', 'notes']];
  const replayRate = rate(replay.lines, replay.seconds);
  const row = (name: string, n: number, s: number, rss: string, notes: string) =>
    rows.push([name, fmt(rate(n, s)), s.toFixed(2), rss, (replayRate / rate(n, s)).toFixed(2) + '×', notes]);
  row('replay (portcullis replay)', replay.lines, replay.seconds, rssText(replay), replay.detail);
  row('replay --single-thread', replay1.lines, replay1.seconds, rssText(replay1), replay1.detail);
  row('parse stage only', parse.lines, parse.seconds, rssText(parse), parse.detail);
  row('naive readline+regex', naive.lines, naive.seconds, rssText(naive), naive.detail);
  row('floor: read+split+touch bytes', floor.lines, floor.seconds, rssText(floor), floor.detail);
  row("grep -c 'UFW BLOCK'", lines, grep.seconds, '-', `${grep.stdout.trim()} lines matched`);

  const f2b = spawnSync('sh', ['-c', 'command -v fail2ban-regex'], { encoding: 'utf8' });
  if (f2b.status === 0) {
    const slice = path.join(dir, `slice-100000.log`);
    if (!existsSync(slice)) writeSlice(file, slice, 100_000);
    const r = timeCommand('fail2ban-regex', [slice, 'UFW BLOCK.* SRC=<HOST>']);
    const matched = /Lines: (\d+) lines, \d+ ignored, (\d+) matched/.exec(r.stdout);
    row('fail2ban-regex (100k slice)', 100_000, r.seconds, '-', r.ok ? `${matched ? matched[2] : '?'} matched` : 'failed');
  } else rows.push(['fail2ban-regex', '-', '-', '-', '-', 'not installed']);

  // (i) The whole command as a user runs it, with fail2ban-regex on the same whole file between runs.
  const cli = path.join(import.meta.dirname, '../bin/portcullis.js');
  const out = path.join(dir, 'whole-replay.out');
  const whole: { seconds: number; maxRssMB: number; timing: ReplayTiming | null }[] = [];
  let wholeSummary: { lines: number; bans: unknown[]; distinctSources: number } | null = null;
  let f2bWhole: { seconds: number; matched: string } | null = null;
  for (let i = 0; i < WHOLE_RUNS; i++) {
    // Run as bin/portcullis.js runs itself (its shebang: node --max-semi-space-size=1, MALLOC_ARENA_MAX=1).
    // PORTCULLIS_REPLAY_TIMING: one line on its standard error saying where the time went (two clock readings a batch).
    const r = timeWhole([process.execPath, '--max-semi-space-size=1', cli, 'replay', file, '--format', 'syslog', '--year', String(YEAR), '--json'], out, { PORTCULLIS_REPLAY_TIMING: '1' });
    if (r.status !== 0) throw new Error(`portcullis replay exited ${r.status}: ${r.stderr}`);
    whole.push({ ...r, timing: replayTiming(r.stderr) });
    wholeSummary ??= JSON.parse(readFileSync(out, 'utf8').trimEnd().split('\n').pop()!) as typeof wholeSummary;
    if (i === 0 && f2b.status === 0 && process.env.BENCH_F2B_WHOLE !== '0') {
      const t = timeCommand('fail2ban-regex', [file, 'UFW BLOCK.* SRC=<HOST>']);
      const m = /Lines: (\d+) lines, \d+ ignored, (\d+) matched/.exec(t.stdout);
      f2bWhole = { seconds: t.seconds, matched: t.ok ? (m ? m[2]! : '?') : 'failed' };
    }
  }
  const wholeSeconds = median(whole.map((w) => w.seconds));
  const wholeRss = whole.map((w) => w.maxRssMB);
  const spread = `min ${Math.min(...whole.map((w) => w.seconds)).toFixed(2)}, max ${Math.max(...whole.map((w) => w.seconds)).toFixed(2)} s`;
  row(`replay, whole process (median of ${WHOLE_RUNS})`, lines, wholeSeconds, `${median(wholeRss)} MB (max ${Math.max(...wholeRss)})`, `bin/portcullis.js … --json, spawn to exit; ${spread}; ${wholeSummary!.distinctSources} sources, ${wholeSummary!.bans.length} bans`);
  if (f2bWhole !== null) row('fail2ban-regex (whole file)', lines, f2bWhole.seconds, '-', `${f2bWhole.matched} matched; run once, between the runs above`);

  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  console.log(`targets: replay ≥ 1,000,000 lines/s → ${replayRate >= 1e6 ? 'met' : 'NOT met'}; RSS ≤ 150 MB (whole-process peak) → ${replay.maxRssMB <= 150 ? 'met' : 'NOT met'}`);
  const wholeRate = lines / wholeSeconds;
  const vsF2b = f2bWhole !== null ? wholeRate / (lines / f2bWhole.seconds) : null;
  console.log(
    `targets (issue 14.3, whole process): ≥ 1,000,000 lines/s → ${fmt(wholeRate)}, ${wholeRate >= 1e6 ? 'met' : 'NOT met'}; ` +
      `≥ 50× fail2ban-regex → ${vsF2b === null ? 'not measured' : `${vsF2b.toFixed(0)}×, ${vsF2b >= 50 ? 'met' : 'NOT met'}`}; ` +
      `peak RSS ≤ 100 MB → ${median(wholeRss)} MB, ${median(wholeRss) <= 100 ? 'met' : 'NOT met'}`,
  );
  console.log(timingRow(whole));
  console.log('peak RSS = VmHWM of the phase\'s own process (both threads); (+N over M) = peak minus the RSS just before the timed part (Node and the modules loaded)');
  prefixCost();
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
