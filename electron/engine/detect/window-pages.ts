/**
 * The storage helpers of the window records (`source-windows.ts`): pages of records, and the port
 * list's pruning. In a module of their own so that source-windows.ts keeps to the records' layout
 * and the probe's hot path; nothing here keeps state.
 */

/** Records per page (a page of the default settings is 144 KiB). */
export const PAGE_BITS = 10;
export const PAGE_SLOTS = 1 << PAGE_BITS;
export const PAGE_MASK = PAGE_SLOTS - 1;

/**
 * Record `index` (numbered in allocation order) gets its page: a new page — one ArrayBuffer seen as
 * doubles and as integers — when it is the first record past the last one. Slot and port records alike.
 */
export function addPageFor(index: number, pagesF: Float64Array[], pagesI: Int32Array[], strideD: number): void {
  if (index >>> PAGE_BITS < pagesF.length) return;
  const page = new ArrayBuffer(PAGE_SLOTS * strideD * 8);
  pagesF.push(new Float64Array(page));
  pagesI.push(new Int32Array(page));
}

/**
 * Drops ports whose last probe is `findtimeMs` or more before `now`; with `cap` (≥ 0), also the
 * least recently probed ones (the first of equals) while more than `cap` are left, keeping the
 * others in order. Port k is (PN[pn0 + k], PT[pt0 + k], PH[ph0 + k]). Returns the number of ports left.
 */
export function prunePorts(PN: Int32Array, pn0: number, PT: Float64Array, pt0: number, PH: Int32Array, ph0: number, n: number, now: number, findtimeMs: number, cap: number): number {
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (now - PT[pt0 + i]! < findtimeMs) {
      if (j !== i) {
        PN[pn0 + j] = PN[pn0 + i]!;
        PT[pt0 + j] = PT[pt0 + i]!;
        PH[ph0 + j] = PH[ph0 + i]!;
      }
      j++;
    }
  }
  let left = j;
  if (cap >= 0) {
    while (left > cap) {
      let min = 0;
      for (let i = 1; i < left; i++) if (PT[pt0 + i]! < PT[pt0 + min]!) min = i;
      PN.copyWithin(pn0 + min, pn0 + min + 1, pn0 + left);
      PT.copyWithin(pt0 + min, pt0 + min + 1, pt0 + left);
      PH.copyWithin(ph0 + min, ph0 + min + 1, ph0 + left);
      left--;
    }
  }
  return left;
}

/** prunePorts, with the cap, on a plain triplet list [port, last probe time, hits] (a re-layout). */
export function prunePortList(p: number[], now: number, findtimeMs: number, cap: number): void {
  const n = p.length / 3;
  const PN = new Int32Array(n);
  const PT = new Float64Array(n);
  const PH = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    PN[k] = p[3 * k]!;
    PT[k] = p[3 * k + 1]!;
    PH[k] = p[3 * k + 2]!;
  }
  const left = prunePorts(PN, 0, PT, 0, PH, 0, n, now, findtimeMs, cap);
  p.length = 0;
  for (let k = 0; k < left; k++) p.push(PN[k]!, PT[k]!, PH[k]!);
}
