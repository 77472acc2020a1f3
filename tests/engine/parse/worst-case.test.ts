/**
 * Bad input costs linear time in every parser lane (issue 9.5): a line built by repeating a short
 * unit (`IN=` 2,700 times took ~15 ms a line when the field search restarted just after each failed
 * `IN=`) must cost per byte about what a short line of the same unit costs.
 *
 * Work is measured as time, but only as a ratio within one run: the same total bytes parsed as 16
 * short lines and as one long line (16× longer), interleaved, the best of several rounds each. A
 * linear parser gives a ratio near 1, a quadratic one near 16; the bound (6) leaves room for a busy
 * machine, which slows both sides alike, and for the best-of-rounds noise.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRecord } from '../../../electron/engine/parse/index.ts';
import { FastLine } from '../../../electron/engine/parse/fastline.ts';

const SYSLOG = 'Nov 22 10:00:00 host kernel: [UFW BLOCK] ';
const KMSG = '4,1234,5678901,-;[UFW BLOCK] ';
/** Pieces of LOG lines a hostile or broken writer could repeat. */
const TOKENS = ['IN=', 'IN=a', 'IN= ', 'OUT=', ' OUT=', 'SRC=', 'SRC=1.2.3.4 ', 'DST=', 'a=', '=', ' ', '[', '[SRC=', ']', 'OPT (', '(', 'MAC=', 'PROTO=TCP ', 'SYN ', 'x', ':', '1.2.3.4'];
const SHORT_REPEATS_BYTES = 480;
const FACTOR = 16;
const BOUND = 6;
const enc = new TextEncoder();
const wasm = FastLine.create();

type Lane = { name: string; prepare(line: string): () => void };
const LANES: Lane[] = [
  { name: 'string (parseRecord, syslog)', prepare: (l) => () => void parseRecord(SYSLOG + l, { year: 2026 }) },
  { name: 'string (parseRecord, kmsg)', prepare: (l) => () => void parseRecord(KMSG + l, { framing: 'kmsg', bootTimeMs: 0 }) },
];
if (wasm) {
  LANES.push({
    name: 'wasm (FastLine.run)',
    prepare: (l) => {
      const b = enc.encode(SYSLOG + l + '\n');
      return () => {
        wasm.bytes.set(b, wasm.inputAt);
        wasm.run(wasm.inputAt, wasm.inputAt + b.length, true, 0, 16, 1 << 20);
      };
    },
  });
}

function lineOf(unit: string, bytes: number): string {
  return unit.repeat(Math.max(1, Math.floor(bytes / unit.length)));
}

/** Best time of `rounds` for `fn` run `times` times. */
function best(fn: () => void, times: number, rounds: number): number {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < times; i++) fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

/** Long-line cost over short-line cost for the same number of bytes (≈1 linear, ≈FACTOR quadratic). */
function costRatio(lane: Lane, unit: string): number {
  const short = lane.prepare(lineOf(unit, SHORT_REPEATS_BYTES));
  const long = lane.prepare(lineOf(unit, SHORT_REPEATS_BYTES * FACTOR));
  // Enough repetitions that one sample is well above the timer's resolution.
  const reps = 8;
  best(short, FACTOR * reps, 2); // warm up both
  best(long, reps, 2);
  let s = Infinity;
  let l = Infinity;
  for (let k = 0; k < 5; k++) {
    s = Math.min(s, best(short, FACTOR * reps, 1));
    l = Math.min(l, best(long, reps, 1));
  }
  return l / Math.max(s, 1e-3);
}

describe('parser worst cases cost linear time', () => {
  it('IN= repeated 2,700 times costs per byte what a short line costs, in every lane', () => {
    for (const lane of LANES) {
      const r = costRatio(lane, 'IN=');
      expect(r, `${lane.name}: long/short cost ${r.toFixed(2)}`).toBeLessThan(BOUND);
    }
  });

  it('any repeated unit of LOG-line pieces costs linear time, in every lane', () => {
    const unit = fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 2 }).map((t) => t.join(''));
    fc.assert(
      fc.property(unit, (u) => {
        for (const lane of LANES) {
          const r = costRatio(lane, u);
          if (!(r < BOUND)) throw new Error(`${lane.name}: unit ${JSON.stringify(u)} long/short cost ${r.toFixed(2)}`);
        }
      }),
      { numRuns: 60, seed: 9 },
    );
  });
});
