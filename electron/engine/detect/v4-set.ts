/**
 * A set of IPv4 addresses (or masked networks) as 32-bit values: open addressing in one Int32Array
 * (linear probing, at most half full, backward-shift deletion: probe-run.ts), so a lookup is one
 * look at one cache line and allocates nothing. Why not a Set<number>: a value of 2^30 or more is
 * no small integer to V8, so each lookup of such an address boxed it into a new heap number (half
 * of all addresses; ~7 MB of garbage a 1M-line replay), and a Set of 100k entries cost ~10% of a
 * replay (bucket, then entry, in a table 3× the size).
 */
import { hashWord } from './key-hash.ts';
import { deleteShiftingBack } from './probe-run.ts';

export class V4Set {
  /** Slots hold value + 1 as an int32 (0 = empty; the value 2^32 - 1 wraps to 0 and is kept aside). */
  private table = new Int32Array(1 << 4);
  private bits = 4;
  private count = 0;
  private hasMax = false;

  get size(): number {
    return this.count + (this.hasMax ? 1 : 0);
  }

  has(value: number): boolean {
    const stored = (value + 1) | 0;
    if (stored === 0) return this.hasMax;
    if (this.count === 0) return false;
    return this.find(stored) >= 0;
  }

  add(value: number): void {
    const stored = (value + 1) | 0;
    if (stored === 0) {
      this.hasMax = true;
      return;
    }
    const t = this.table;
    const mask = t.length - 1;
    let i = this.home(stored);
    for (;;) {
      const at = t[i]!;
      if (at === stored) return;
      if (at === 0) break;
      i = (i + 1) & mask;
    }
    t[i] = stored;
    if (2 * ++this.count > t.length) this.grow();
  }

  delete(value: number): void {
    const stored = (value + 1) | 0;
    if (stored === 0) {
      this.hasMax = false;
      return;
    }
    const i = this.find(stored);
    if (i < 0) return;
    this.count--;
    deleteShiftingBack(this.table, 1, 0, this.table.length - 1, i, this.homeOfEntry);
  }

  /** The home of entry j (deleteShiftingBack's question), made once: not a closure per deletion. */
  private readonly homeOfEntry = (j: number): number => this.home(this.table[j]!);

  clear(): void {
    this.table = new Int32Array(1 << 4);
    this.bits = 4;
    this.count = 0;
    this.hasMax = false;
  }

  private home(stored: number): number {
    return hashWord(stored) >>> (32 - this.bits);
  }

  private find(stored: number): number {
    const t = this.table;
    const mask = t.length - 1;
    for (let i = this.home(stored); ; i = (i + 1) & mask) {
      const at = t[i]!;
      if (at === stored) return i;
      if (at === 0) return -1;
    }
  }

  private grow(): void {
    const old = this.table;
    this.bits++;
    const t = (this.table = new Int32Array(1 << this.bits));
    const mask = t.length - 1;
    for (let k = 0; k < old.length; k++) {
      const stored = old[k]!;
      if (stored === 0) continue;
      let i = this.home(stored);
      while (t[i] !== 0) i = (i + 1) & mask;
      t[i] = stored;
    }
  }
}
