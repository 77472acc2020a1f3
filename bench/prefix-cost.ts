/**
 * What prefix tracking (issue 12: IPv6 sources also counted by their /64) costs a replay, measured
 * as a user runs it: whole `portcullis replay FILE --json` processes (bin/portcullis.js with its own
 * flags and bundle, module loading, the worker's start and V8's compiler threads included), with
 * the default /64 ("on") and with `--ipv6-prefix 128` ("off": tracking by address only).
 *
 * "Beyond noise" is decided by a figure this prints, not by eye. Each round runs three processes
 * back to back: on, off and off again (the same binary, the same arguments), in an order that
 * rotates from round to round so that no setting always runs first or last. From each round come
 *   - the cost pair: on ÷ off (the first off), and
 *   - the noise pair: off ÷ off (the second ÷ the first): what two identical runs differ by in the
 *     same minutes — the machine's noise floor, measured the same way as the cost.
 * Both pairs share their denominator run, so they see the same load. CPU time (user + system, all
 * threads) of each process is read from this process's children's times (/proc/self/stat); wall
 * time around the spawn is printed too but is not the verdict (a shared 2-core machine's wall
 * times move by tens of percent).
 *
 * Figures: the ratio of the medians, the median pair and a 95% interval of the median pair
 * (percentile bootstrap over the rounds, fixed seed: the same runs give the same interval), and
 * a sign test (how many pairs are above 1; two-sided p). The noise floor is the top of the noise
 * pairs' interval: how far above 1 the median pair of two identical settings strays in these
 * minutes. The verdict: a loss "beyond noise" when the cost's interval lies wholly above the noise
 * floor and above 1 (prefixVerdict); else "within noise" — and whether the cost is still detectable (its interval above 1) is
 * said too. The noise pairs' own interval should hold 1: when it does not, the bench says the
 * setup is biased.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { prng } from './gen-log.ts';

export interface PrefixCostRun {
  /** true: the default /64; false: --ipv6-prefix 128. */
  tracking: boolean;
  userS: number;
  sysS: number;
  /** user + system in clock ticks: whole numbers, so that two runs of the same ticks make a pair of exactly 1 (a tie). */
  cpuTicks: number;
  wallS: number;
  bans: number;
}

export interface PrefixCost {
  runs: PrefixCostRun[];
  /** Per round: on ÷ off, and off ÷ off (CPU time). */
  costPairs: number[];
  noisePairs: number[];
  cost: RatioStats;
  noise: RatioStats;
  /** The cost's interval lies wholly above the noise floor (the top of the noise pairs' interval). */
  beyondNoise: boolean;
  rows: string[];
}

export interface RatioStats {
  /** Median pair. */
  median: number;
  /** 95% percentile-bootstrap interval of the median pair. */
  low: number;
  high: number;
  /** Pairs above 1, of n; two-sided sign-test p. */
  above: number;
  n: number;
  p: number;
}

const ROOT = path.join(import.meta.dirname, '..');

/** Clock ticks per second of /proc times (USER_HZ): 100 on every Linux we run on. */
function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

/** CPU clock ticks of the children this process waited for: [user, system]. */
function childTicks(): [number, number] {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name (which may hold spaces), in parentheses: field 16 cutime, 17 cstime.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[13]), Number(f[14])];
}

function runReplay(root: string, file: string, args: string[], tracking: boolean, hz: number): PrefixCostRun {
  // bin/portcullis.js runs `node` from PATH through its shebang: this Node (24), as `npx portcullis` would.
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
  const [u0, s0] = childTicks();
  const t0 = performance.now();
  const r = spawnSync(path.join(root, 'bin', 'portcullis.js'), ['replay', file, ...args, '--json', ...(tracking ? [] : ['--ipv6-prefix', '128'])], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env,
  });
  const wallS = (performance.now() - t0) / 1000;
  const [u1, s1] = childTicks();
  if (r.status !== 0) throw new Error(`portcullis replay exited ${r.status ?? r.signal}: ${r.stderr}`);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { bans: unknown[] };
  return { tracking, userS: (u1 - u0) / hz, sysS: (s1 - s0) / hz, cpuTicks: u1 - u0 + (s1 - s0), wallS, bans: summary.bans.length };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};


/** Two-sided sign test: the chance of a split at least this uneven when above and below are equally likely. */
function signTestP(above: number, n: number): number {
  const k = Math.min(above, n - above);
  let tail = 0;
  let c = 1; // C(n, 0)
  for (let i = 0; i <= k; i++) {
    tail += c;
    c = (c * (n - i)) / (i + 1);
  }
  return Math.min(1, (2 * tail) / 2 ** n);
}

/** Median pair, its 95% percentile-bootstrap interval (2000 resamples of the pairs) and the sign test. */
export function ratioStats(pairs: number[], seed = 1): RatioStats {
  // Seeded: the bootstrap's interval is the same for the same runs.
  const next = prng(seed);
  const meds: number[] = [];
  const sample = new Array<number>(pairs.length);
  for (let b = 0; b < 2000; b++) {
    for (let i = 0; i < pairs.length; i++) sample[i] = pairs[Math.floor(next() * pairs.length)]!;
    meds.push(median(sample));
  }
  meds.sort((a, b) => a - b);
  const above = pairs.filter((r) => r > 1).length;
  const ties = pairs.filter((r) => r === 1).length;
  const n = pairs.length - ties;
  return { median: median(pairs), low: meds[Math.floor(0.025 * meds.length)]!, high: meds[Math.ceil(0.975 * meds.length) - 1]!, above, n, p: signTestP(above, n) };
}

const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;

function statsText(s: RatioStats): string {
  return `median pair ${pct(s.median)}, 95% interval ${pct(s.low)} … ${pct(s.high)}; ${s.above} of ${s.n} pairs above 1 (sign test p = ${s.p.toFixed(3)})`;
}

/**
 * The verdict from the cost pairs' and the noise pairs' statistics: a loss beyond noise when the
 * cost's interval lies wholly above both 1 and the noise floor (the top of the noise pairs'
 * interval; a noise interval below 1 — identical runs differing — is no floor to measure against).
 */
export function prefixVerdict(cost: RatioStats, noise: RatioStats): { beyondNoise: boolean; detectable: boolean; biased: boolean; text: string } {
  const floor = Math.max(1, noise.high);
  const beyondNoise = cost.low > floor;
  const detectable = cost.low > 1;
  const biased = noise.low > 1 || noise.high < 1;
  const text =
    `${beyondNoise ? 'a loss of replay speed BEYOND NOISE' : 'no loss of replay speed beyond noise'} ` +
    `(the cost's interval ${pct(cost.low)} … ${pct(cost.high)} ${beyondNoise ? 'lies above' : 'reaches down to or below'} the noise floor ${pct(floor)}; ` +
    `${detectable ? 'a cost is still detectable: the interval lies above 1' : 'the interval holds 1: no cost detectable at all'})`;
  return { beyondNoise, detectable, biased, text };
}

/**
 * `rounds` rounds of on, off, off (rotating order). `root`: the checkout whose bin/portcullis.js
 * runs (default: this one).
 */
export function measurePrefixCost(file: string, args: string[], rounds: number, root = ROOT): PrefixCost {
  const hz = clockTicks();
  const runs: PrefixCostRun[] = [];
  const costPairs: number[] = [];
  const noisePairs: number[] = [];
  const cpu = (r: PrefixCostRun) => r.userS + r.sysS;
  // Positions of [on, off₁, off₂] in a round: every rotation and its mirror, so each run is first, middle and last equally often.
  const orders = [
    [0, 1, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
    [0, 2, 1],
    [1, 0, 2],
  ];
  for (let i = 0; i < rounds; i++) {
    const round: PrefixCostRun[] = [];
    for (const which of orders[i % orders.length]!) round[which] = runReplay(root, file, args, which === 0, hz);
    runs.push(...round);
    costPairs.push(round[0]!.cpuTicks / round[1]!.cpuTicks);
    noisePairs.push(round[2]!.cpuTicks / round[1]!.cpuTicks);
  }
  const on = runs.filter((r) => r.tracking);
  const off = runs.filter((r) => !r.tracking);
  const line = (name: string, rs: PrefixCostRun[]): string => {
    const c = rs.map(cpu);
    const u = rs.map((r) => r.userS);
    const w = rs.map((r) => r.wallS);
    return `${name}: CPU (user+sys) median ${median(c).toFixed(3)} s (${Math.min(...c).toFixed(2)}–${Math.max(...c).toFixed(2)}), user ${median(u).toFixed(3)} s, wall ${median(w).toFixed(2)} s (${Math.min(...w).toFixed(2)}–${Math.max(...w).toFixed(2)}); ${rs[0]!.bans} bans`;
  };
  const cost = ratioStats(costPairs);
  const noise = ratioStats(noisePairs, 2);
  const { beyondNoise, biased, text } = prefixVerdict(cost, noise);
  const ratioCpu = median(on.map(cpu)) / median(off.map(cpu));
  const ratioWall = median(on.map((r) => r.wallS)) / median(off.map((r) => r.wallS));
  return {
    runs,
    costPairs,
    noisePairs,
    cost,
    noise,
    beyondNoise,
    rows: [
      `prefix tracking cost — whole \`portcullis replay FILE --json\` processes, ${rounds} rounds of on, off, off (rotating order):`,
      '  ' + line('on  (default /64)      ', on),
      '  ' + line('off (--ipv6-prefix 128)', off),
      `  cost  on ÷ off:  CPU ratio of medians ${pct(ratioCpu)}; ${statsText(cost)}; wall ratio of medians ${pct(ratioWall)}`,
      `  noise off ÷ off: ${statsText(noise)}${biased ? ' — BIASED: identical runs differ, the setup is not fair' : ''}`,
      `  noise floor (top of the noise pairs' interval): ${pct(noise.high)}`,
      `  verdict: ${text}`,
    ],
  };
}
