/**
 * Networks by number: PrefixWatch's index of every network it tracks, keyed by the network's
 * prefix as four 32-bit words, so that a new source's network is found (or found absent) without
 * writing its CIDR text or hashing a string. Most IPv6 sources of a busy host are alone in their
 * /64: for them the text was built, hashed into two Maps and inserted into one, and then never
 * read again (the network is reported only when it is banned).
 *
 * Key: an IPv6 network is its address's four words with the bits past the prefix zeroed; an IPv4
 * network (aggregation on) is [its masked 32-bit value, 0, 0, 0xffffffff]. No IPv6 network can
 * have that last word: prefixes are at most /127 here (a /128 is the address itself, not tracked
 * by network), so the last bit of an IPv6 key is always 0.
 *
 * Value: what PrefixWatch says of the network — the slot of its own window in the network tracker
 * (≥ 0), or -m - 2 for a network kept in its only member, address slot m (`members` counts those).
 *
 * Storage: open addressing with linear probing in one Int32Array of entries [w0, w1, w2, w3,
 * value] (value stored + 1 for a tracker slot, -(slot + 1) for a member, 0 = empty), backward-shift
 * deletion (no tombstones: probe-run.ts), as the source table's IPv4 index.
 */

import { hashWords } from './key-hash.ts';
import { deleteShiftingBack } from './probe-run.ts';

const STRIDE = 5;
const MIN_BITS = 8;

/** Not in the index. */
export const NET_ABSENT = 0x7fffffff;

export class NetIndex {
  private table = new Int32Array(STRIDE << MIN_BITS);
  private bits = MIN_BITS;
  private count = 0;
  /** Entries whose network is kept in its member. */
  members = 0;

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.bits = MIN_BITS;
    this.table = new Int32Array(STRIDE << MIN_BITS);
    this.count = 0;
    this.members = 0;
  }

  /** The tracker slot (≥ 0) of the network `k`, or -(member slot) - 2 when it is kept in its member, or NET_ABSENT. */
  get(k: Uint32Array): number {
    const at = this.find(k[0]! | 0, k[1]! | 0, k[2]! | 0, k[3]! | 0);
    if (at < 0) return NET_ABSENT;
    return this.table[at + 4]! - 1; // slot + 1 → slot; -(m + 1) → -m - 2
  }

  /** Files `k` under a tracker slot (`value` ≥ 0) or in member `m` (`value` = -m - 2), replacing what it had. */
  set(k: Uint32Array, value: number): void {
    const stored = value + 1; // slot → slot + 1 (≥ 1); -m - 2 → -(m + 1) (≤ -1)
    const w0 = k[0]! | 0;
    const w1 = k[1]! | 0;
    const w2 = k[2]! | 0;
    const w3 = k[3]! | 0;
    let at = this.find(w0, w1, w2, w3);
    if (at >= 0) {
      if (this.table[at + 4]! < 0) this.members--;
    } else {
      if (2 * (this.count + 1) > 1 << this.bits) this.rehash(this.bits + 1);
      at = this.emptyFor(w0, w1, w2, w3);
      const t = this.table;
      t[at] = w0;
      t[at + 1] = w1;
      t[at + 2] = w2;
      t[at + 3] = w3;
      this.count++;
    }
    this.table[at + 4] = stored;
    if (stored < 0) this.members++;
  }

  /**
   * get(k), and when `k` is absent, set(k, value) in the same walk (one hash, one probe run: most
   * new IPv6 sources are alone in their network). Returns what get(k) returned before.
   */
  getOrSet(k: Uint32Array, value: number): number {
    const w0 = k[0]! | 0;
    const w1 = k[1]! | 0;
    const w2 = k[2]! | 0;
    const w3 = k[3]! | 0;
    let t = this.table;
    const mask = (1 << this.bits) - 1;
    let i = this.home(w0, w1, w2, w3);
    for (; ; i = (i + 1) & mask) {
      const v = t[i * STRIDE + 4]!;
      if (v === 0) break;
      const at = i * STRIDE;
      if (t[at] === w0 && t[at + 1] === w1 && t[at + 2] === w2 && t[at + 3] === w3) return v - 1;
    }
    let at = i * STRIDE;
    if (2 * (this.count + 1) > 1 << this.bits) {
      this.rehash(this.bits + 1);
      t = this.table;
      at = this.emptyFor(w0, w1, w2, w3);
    }
    t[at] = w0;
    t[at + 1] = w1;
    t[at + 2] = w2;
    t[at + 3] = w3;
    t[at + 4] = value + 1;
    this.count++;
    if (value < -1) this.members++;
    return NET_ABSENT;
  }

  /** Removes the key at k[o..o+3] when it holds `value` (as for set), or whatever it holds when `value` is undefined. */
  remove(k: ArrayLike<number>, o = 0, value?: number): void {
    const at = this.find(k[o]! | 0, k[o + 1]! | 0, k[o + 2]! | 0, k[o + 3]! | 0);
    if (at < 0) return;
    const v = this.table[at + 4]!;
    if (value !== undefined && v !== value + 1) return;
    if (v < 0) this.members--;
    this.count--;
    deleteShiftingBack(this.table, STRIDE, 4, (1 << this.bits) - 1, at / STRIDE, this.homeOfEntry);
  }

  /** Member slots of every network kept in its member (in no particular order). */
  memberSlots(): number[] {
    const out: number[] = [];
    const t = this.table;
    for (let i = 4; i < t.length; i += STRIDE) if (t[i]! < 0) out.push(-t[i]! - 1);
    return out;
  }

  private home(w0: number, w1: number, w2: number, w3: number): number {
    return hashWords(w0, w1, w2, w3) >>> (32 - this.bits);
  }

  /** Index in `table` of the entry of the key, or -1. */
  private find(w0: number, w1: number, w2: number, w3: number): number {
    const t = this.table;
    const mask = (1 << this.bits) - 1;
    for (let i = this.home(w0, w1, w2, w3); ; i = (i + 1) & mask) {
      const at = i * STRIDE;
      if (t[at + 4] === 0) return -1;
      if (t[at] === w0 && t[at + 1] === w1 && t[at + 2] === w2 && t[at + 3] === w3) return at;
    }
  }

  private emptyFor(w0: number, w1: number, w2: number, w3: number): number {
    const t = this.table;
    const mask = (1 << this.bits) - 1;
    let i = this.home(w0, w1, w2, w3);
    while (t[i * STRIDE + 4] !== 0) i = (i + 1) & mask;
    return i * STRIDE;
  }

  /** The home of entry j (deleteShiftingBack's question), made once: not a closure per removal. */
  private readonly homeOfEntry = (j: number): number => {
    const t = this.table;
    const at = j * STRIDE;
    return this.home(t[at]!, t[at + 1]!, t[at + 2]!, t[at + 3]!);
  };

  private rehash(bits: number): void {
    const old = this.table;
    this.bits = bits;
    this.table = new Int32Array(STRIDE << bits);
    const t = this.table;
    for (let at = 0; at < old.length; at += STRIDE) {
      if (old[at + 4] === 0) continue;
      const to = this.emptyFor(old[at]!, old[at + 1]!, old[at + 2]!, old[at + 3]!);
      for (let k = 0; k < STRIDE; k++) t[to + k] = old[at + k]!;
    }
  }
}
