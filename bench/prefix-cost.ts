/**
 * What prefix tracking (issue 12: IPv6 sources also counted by their /64) costs a replay, measured
 * as a user runs it: whole `portcullis replay FILE --json` processes (bin/portcullis.js with its own
 * flags and bundle, module loading and the worker's start included), with the default /64 and with
 * `--ipv6-prefix 128` (tracking off), alternated on/off and off/on so that a change of the shared
 * machine's load falls on both. CPU time (user + system, both threads) of each process is read
 * from this process's children's times (/proc/self/stat), wall time around the spawn.
 *
 * The ratio of the medians is the figure; the spread (min–max) and the median of the per-pair
 * ratios say how much of it is noise.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface PrefixCostRun {
  /** true: the default /64; false: --ipv6-prefix 128. */
  tracking: boolean;
  userS: number;
  sysS: number;
  wallS: number;
  bans: number;
}

export interface PrefixCost {
  runs: PrefixCostRun[];
  rows: string[];
}

const ROOT = path.join(import.meta.dirname, '..');

/** Clock ticks per second of /proc times (USER_HZ): 100 on every Linux we run on. */
function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

/** CPU seconds of the children this process waited for: [user, system]. */
function childTimes(hz: number): [number, number] {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name (which may hold spaces), in parentheses: field 16 cutime, 17 cstime.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[13]) / hz, Number(f[14]) / hz];
}

function runReplay(file: string, args: string[], tracking: boolean, hz: number): PrefixCostRun {
  // bin/portcullis.js runs `node` from PATH through its shebang: this Node (24), as `npx portcullis` would.
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
  const [u0, s0] = childTimes(hz);
  const t0 = performance.now();
  const r = spawnSync(path.join(ROOT, 'bin', 'portcullis.js'), ['replay', file, ...args, '--json', ...(tracking ? [] : ['--ipv6-prefix', '128'])], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env,
  });
  const wallS = (performance.now() - t0) / 1000;
  const [u1, s1] = childTimes(hz);
  if (r.status !== 0) throw new Error(`portcullis replay exited ${r.status ?? r.signal}: ${r.stderr}`);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { bans: unknown[] };
  return { tracking, userS: u1 - u0, sysS: s1 - s0, wallS, bans: summary.bans.length };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** `pairs` pairs of runs (on+off), alternating which goes first. */
export function measurePrefixCost(file: string, args: string[], pairs: number): PrefixCost {
  const hz = clockTicks();
  const runs: PrefixCostRun[] = [];
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? [true, false] : [false, true];
    for (const tracking of order) runs.push(runReplay(file, args, tracking, hz));
  }
  const on = runs.filter((r) => r.tracking);
  const off = runs.filter((r) => !r.tracking);
  const cpu = (r: PrefixCostRun) => r.userS + r.sysS;
  const line = (name: string, rs: PrefixCostRun[]): string => {
    const u = rs.map((r) => r.userS);
    const c = rs.map(cpu);
    const w = rs.map((r) => r.wallS);
    return `${name}: user CPU median ${median(u).toFixed(2)} s (${Math.min(...u).toFixed(2)}–${Math.max(...u).toFixed(2)}), user+sys ${median(c).toFixed(2)} s, wall ${median(w).toFixed(2)} s (${Math.min(...w).toFixed(2)}–${Math.max(...w).toFixed(2)}); ${rs[0]!.bans} bans`;
  };
  // Runs i (on) and its partner in the same pair ran back to back: their ratio sees the same load.
  const pairRatios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const a = runs[2 * i]!;
    const b = runs[2 * i + 1]!;
    const [onRun, offRun] = a.tracking ? [a, b] : [b, a];
    pairRatios.push(onRun.userS / offRun.userS);
  }
  const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
  const ratioUser = median(on.map((r) => r.userS)) / median(off.map((r) => r.userS));
  const ratioWall = median(on.map((r) => r.wallS)) / median(off.map((r) => r.wallS));
  return {
    runs,
    rows: [
      `prefix tracking cost — whole \`portcullis replay FILE --json\` processes, ${pairs} alternated pairs:`,
      '  ' + line('on  (default /64)     ', on),
      '  ' + line('off (--ipv6-prefix 128)', off),
      `  on ÷ off: user CPU ${pct(ratioUser)} (ratio of medians), per-pair ratios median ${pct(median(pairRatios))} (${pct(Math.min(...pairRatios))} … ${pct(Math.max(...pairRatios))}); wall ${pct(ratioWall)}`,
    ],
  };
}
