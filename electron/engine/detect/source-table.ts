/**
 * The source table: which sources are tracked, under which slot, and which to forget first.
 * It knows nothing of windows or thresholds (the scan rule, `scan-rule.ts`, and the window records,
 * `source-windows.ts`, are kept by slot beside it); three verbs: find, add, remove — and the least
 * recently seen source, for eviction.
 *
 * Slots: sources are numbered slots, reused after removal (freed slots first, then new ones), so the
 * window records can sit in pages indexed by slot. A slot is a handle valid until its source is
 * removed; callers look it up again rather than keeping it.
 *
 * Lookup: IPv4 sources (most of them) are found through an open-addressing hash table of their
 * 32-bit address in an Int32Array (pairs [address, slot + 1], linear probing, backward-shift
 * deletion): one cache line per lookup and no string hashing or comparison, where the Map over
 * 100k fresh address strings cost ~14% of a replay. A caller that already has the address as a
 * number (the byte parser computes it) looks up by that number and need not make or scan the text.
 * Other keys (IPv6 addresses, prefixes) use a Map<string, slot>. The caller says which kind a key is
 * (its IPv4 value, or -1): the table does not parse addresses. An IPv4 source's text is not kept:
 * it is written from its value when asked for (rarely: bans, evictions, views), where keeping it
 * cost 100k strings (~2.4 MB of heap that every full GC marked) for a replay of 100k sources.
 *
 * LRU: slots are threaded on a doubly-linked list in order of last probe (head = least recently
 * seen), its links in their own small Int32Array (`links[2s]` toward the least, `links[2s+1]` toward
 * the most recently seen): moving a source to the tail touches its two neighbours, and a neighbour's
 * links sit in a cache line of links rather than in its whole record; touching a source is a few
 * writes, finding the least recently seen is O(1).
 */
import { ipv4Value } from '../parse/address.ts';
import { ipv4Text } from '../../shared/ip.ts';

/**
 * The 32-bit value of a canonical dotted quad (no leading zeros), or -1 for anything else: the
 * parser's own (parse/address.ts), the value a replay record carries for an IPv4 source; and its
 * inverse, the dotted quad of a value (shared/ip.ts).
 */
export { ipv4Value as ipv4Key, ipv4Text };

/** No slot (not tracked / not crossed). */
export const NO_SLOT = -1;

const V4_TABLE_MIN_BITS = 10;

export class SourceTable {
  /** Slots of sources that are not IPv4 addresses. */
  private readonly names = new Map<string, number>();
  /** IPv4 sources: pairs [address | 0, slot + 1] (0 in the second = empty), 2^v4Bits pairs. */
  private v4Table = new Int32Array(2 << V4_TABLE_MIN_BITS);
  private v4Bits = V4_TABLE_MIN_BITS;
  private v4Count = 0;
  /** Per slot: the key of a source filed in `names` ('' for IPv4 sources and free slots). */
  private keys: string[] = [];
  /** Per slot: the IPv4 value it is filed under in v4Table, or -1 (filed in `names`, or free). */
  private v4Keys = new Float64Array(0);
  private links = new Int32Array(0);
  private capacity = 0;
  /** Slots never used yet start at `used`; freed ones are reused first. */
  private used = 0;
  private readonly free: number[] = [];
  /** Least and most recently seen slots. */
  private head = NO_SLOT;
  private tail = NO_SLOT;

  /** The most sources the caller keeps (+1 while a new one waits for the oldest's eviction): sizes growth. */
  bound: number;

  constructor(bound: number) {
    this.bound = bound;
  }

  get size(): number {
    return this.names.size + this.v4Count;
  }

  /** Slots used so far (every slot is below this). */
  get slotsUsed(): number {
    return this.used;
  }

  /** Forgets every source. */
  clear(): void {
    this.names.clear();
    this.v4Bits = V4_TABLE_MIN_BITS;
    this.v4Table = new Int32Array(2 << V4_TABLE_MIN_BITS);
    this.v4Count = 0;
    this.keys = [];
    this.v4Keys = new Float64Array(0);
    this.links = new Int32Array(0);
    this.capacity = 0;
    this.used = 0;
    this.free.length = 0;
    this.head = this.tail = NO_SLOT;
  }

  /** The slot of a non-IPv4 key, or NO_SLOT. */
  getName(key: string): number {
    return this.names.get(key) ?? NO_SLOT;
  }

  /** The slot of an IPv4 source given as its 32-bit value, or NO_SLOT. */
  getV4(v4: number): number {
    const at = this.v4Find(v4 | 0);
    return at < 0 ? NO_SLOT : this.v4Table[2 * at + 1]! - 1;
  }

  /** Files a new source (`v4`: its IPv4 value, or -1 for any other key) as the most recently seen; returns its slot. */
  add(key: string, v4: number): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.used++;
      if (slot >= this.capacity) this.grow(slot + 1);
    }
    if (v4 < 0) this.names.set(key, slot);
    else this.v4Insert(v4 | 0, slot);
    this.keys[slot] = v4 < 0 ? key : '';
    this.v4Keys[slot] = v4;
    this.append(slot);
    return slot;
  }

  /** Forgets a slot's source; the slot may be handed out again. */
  remove(slot: number): void {
    const v4 = this.v4Keys[slot]!;
    if (v4 < 0) this.names.delete(this.keys[slot]!);
    else this.v4Remove(this.v4Find(v4 | 0));
    this.unlink(slot);
    this.keys[slot] = '';
    this.v4Keys[slot] = -1;
    this.free.push(slot);
  }

  /** The key a slot's source was filed under ('' for a free slot). */
  keyOf(slot: number): string {
    const v4 = this.v4Keys[slot];
    return v4 !== undefined && v4 >= 0 ? ipv4Text(v4) : (this.keys[slot] ?? '');
  }

  /** Marks a slot the most recently seen. */
  touch(slot: number): void {
    if (slot !== this.tail) {
      this.unlink(slot);
      this.append(slot);
    }
  }

  /** The least recently seen slot, or NO_SLOT when empty. */
  oldest(): number {
    return this.head;
  }

  /** Slots of all sources (no particular order). */
  slots(): number[] {
    const out = [...this.names.values()];
    const t = this.v4Table;
    for (let i = 1; i < t.length; i += 2) if (t[i] !== 0) out.push(t[i]! - 1);
    return out;
  }

  /** Slots from the least to the most recently seen. */
  inLruOrder(): number[] {
    const out: number[] = [];
    for (let s = this.head; s !== NO_SLOT; s = this.links[2 * s + 1]!) out.push(s);
    return out;
  }

  // ------------------------------------------------------------------ storage

  private grow(min: number): void {
    // Doubling, but never far beyond the bound (the +1: a new source is stored before the oldest is evicted).
    const cap = Math.max(min, Math.min(Math.max(64, this.capacity * 2), this.bound + 1));
    const links = new Int32Array(2 * cap);
    links.set(this.links);
    this.links = links;
    const v4Keys = new Float64Array(cap).fill(-1);
    v4Keys.set(this.v4Keys);
    this.v4Keys = v4Keys;
    this.capacity = cap;
  }

  private unlink(slot: number): void {
    const l = this.links;
    const prev = l[2 * slot]!;
    const next = l[2 * slot + 1]!;
    if (prev !== NO_SLOT) l[2 * prev + 1] = next;
    else this.head = next;
    if (next !== NO_SLOT) l[2 * next] = prev;
    else this.tail = prev;
    l[2 * slot] = l[2 * slot + 1] = NO_SLOT;
  }

  private append(slot: number): void {
    const l = this.links;
    l[2 * slot] = this.tail;
    l[2 * slot + 1] = NO_SLOT;
    if (this.tail !== NO_SLOT) l[2 * this.tail + 1] = slot;
    else this.head = slot;
    this.tail = slot;
  }

  private v4Home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> (32 - this.v4Bits);
  }

  /** Pair index of an IPv4 key, or -1. */
  private v4Find(key: number): number {
    const t = this.v4Table;
    const mask = (1 << this.v4Bits) - 1;
    for (let i = this.v4Home(key); ; i = (i + 1) & mask) {
      if (t[2 * i + 1] === 0) return -1;
      if (t[2 * i] === key) return i;
    }
  }

  private v4Insert(key: number, slot: number): void {
    if (2 * (this.v4Count + 1) > 1 << this.v4Bits) this.v4Rehash(this.v4Bits + 1);
    const t = this.v4Table;
    const mask = (1 << this.v4Bits) - 1;
    let i = this.v4Home(key);
    while (t[2 * i + 1] !== 0) i = (i + 1) & mask;
    t[2 * i] = key;
    t[2 * i + 1] = slot + 1;
    this.v4Count++;
  }

  /** Removes pair `i`, shifting later pairs of its probe run back (no tombstones). */
  private v4Remove(i: number): void {
    if (i < 0) return;
    const t = this.v4Table;
    const mask = (1 << this.v4Bits) - 1;
    this.v4Count--;
    let j = i;
    for (;;) {
      t[2 * i + 1] = 0;
      for (;;) {
        j = (j + 1) & mask;
        if (t[2 * j + 1] === 0) return;
        const h = this.v4Home(t[2 * j]!);
        // The pair at j may stay when its home lies cyclically in (i, j].
        if (i <= j ? i < h && h <= j : i < h || h <= j) continue;
        break;
      }
      t[2 * i] = t[2 * j]!;
      t[2 * i + 1] = t[2 * j + 1]!;
      i = j;
    }
  }

  private v4Rehash(bits: number): void {
    const old = this.v4Table;
    this.v4Bits = bits;
    this.v4Table = new Int32Array(2 << bits);
    this.v4Count = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.v4Insert(old[i]!, old[i + 1]! - 1);
  }
}
