/**
 * The source table: which sources are tracked, under which slot, and which to forget first.
 * It knows nothing of windows or thresholds (the scan rule, `scan-rule.ts`, and the window records,
 * `source-windows.ts`, are kept by slot beside it); three verbs: find, add, remove — and the source
 * to evict (the least recently seen of an area, below).
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
 * Which to forget first — two areas, as caches resist scans (2Q, segmented LRU): a new source
 * enters the probation area; its next counted probe (the tracker's call: a probe that is no repeat,
 * in a window that did not start afresh) moves it to the main area, and a window that starts afresh
 * (quiet for a whole findtime) moves it back, since it then holds one probe like a newcomer's. The
 * bound evicts the least recently seen source of probation, and of the main area only when
 * probation is empty or the main area holds more than its share (`mainBound`) — and the tracker
 * evicts a main-area source whose window is over before either (tracker.ts, evictOldest). Why: with one list,
 * maxTrackedSources spoofed single SYNs between two probes of a real scanner pushed its partial
 * window out, so its count restarted and it was never banned; one-packet sources now only push out
 * one another. Why the main area's share (all but a quarter of the bound; kept by evicting from it
 * first when it holds more, not by refusing promotions): a table full of sources seen twice must
 * still evict the least recently seen of them and keep room for newcomers — were the main area
 * allowed the whole table, a new source would be the only one in probation and evicted at once,
 * never seen twice. A quarter: a newcomer's first probe is kept while at least bound/4 other
 * newcomers arrive, however many sources are seen again; the main area can then hold 3/4 of the
 * bound before its own least recently seen go. What is left to an attacker: spoofed sources of two
 * probes each, once they outnumber the main area's share, push a scanner out of it — twice the
 * packets of the one-packet flood that did it before.
 *
 * Lists: each area's slots are threaded on a doubly-linked list in order of last probe (head = least
 * recently seen), the links in their own small Int32Array (`links[2s]` toward the least recently
 * seen, shifted left by one with the slot's area in the low bit; `links[2s+1]` toward the most
 * recently seen): moving a source to its area's tail touches its two neighbours, and a neighbour's
 * links sit in a cache line of links rather than in its whole record; touching a source is a few
 * writes, finding the one to evict is O(1). The area is packed into a link rather than kept in an
 * array of its own or a third Int32 per slot: the links stay 8 bytes a slot, as with one list, and
 * reading a slot's area costs no memory access its links do not.
 */
import { ipv4Value } from '../parse/address.ts';
import { ipv4Text } from '../../shared/ip.ts';
import { hashWord } from './key-hash.ts';
import { deleteShiftingBack } from './probe-run.ts';

/**
 * The 32-bit value of a canonical dotted quad (no leading zeros), or -1 for anything else: the
 * parser's own (parse/address.ts), the value a replay record carries for an IPv4 source; and its
 * inverse, the dotted quad of a value (shared/ip.ts).
 */
export { ipv4Value as ipv4Key, ipv4Text };

/** No slot (not tracked / not crossed). */
export const NO_SLOT = -1;

const V4_TABLE_MIN_BITS = 10;

/** Areas (the header): sources seen once, and sources seen again in their window (1 and 0: the count of main sources is kept by adding the area). */
export const PROBATION = 0;
export const MAIN = 1;
/** touch(): the slot stays in its area. */
export const SAME_AREA = -1;

/** The most sources the main area keeps before its own least recently seen are evicted first: all but a quarter of the bound (at least one place for probation). */
function mainBound(bound: number): number {
  return bound - Math.max(1, Math.ceil(bound / 4));
}

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
  /** Per slot, two Int32s: toward the least recently seen of its area (<< 1 | its area), toward the most recently seen. */
  private links = new Int32Array(0);
  private capacity = 0;
  /** Slots never used yet start at `used`; freed ones are reused first. */
  private used = 0;
  private readonly free: number[] = [];
  /** Each area's least and most recently seen slots (fields, not a typed array indexed by area: each access to one cost a few instructions of the hot path). */
  private probationHead = NO_SLOT;
  private probationTail = NO_SLOT;
  private mainHead = NO_SLOT;
  private mainTail = NO_SLOT;
  /** Sources in the main area (the others are in probation). */
  private mainCount = 0;

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
    this.probationHead = this.probationTail = this.mainHead = this.mainTail = NO_SLOT;
    this.mainCount = 0;
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

  /** Files a new source (`v4`: its IPv4 value, or -1 for any other key) as the most recently seen of probation; returns its slot. */
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
    this.append(slot, PROBATION);
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

  /**
   * Marks a slot the most recently seen of `area` (SAME_AREA: of its own), moving it there. The
   * hot path: every probe of a known source.
   */
  touch(slot: number, area = SAME_AREA): void {
    // Already the most recently seen of the area it is to be in (a source probing in a burst): nothing to do, nothing read.
    if (slot === this.mainTail) {
      if (area !== PROBATION) return;
    } else if (slot === this.probationTail && area !== MAIN) return;
    this.unlink(slot);
    this.append(slot, area < 0 ? this.links[2 * slot]! & 1 : area);
  }

  /** A slot's area: PROBATION or MAIN. */
  areaOf(slot: number): number {
    return this.links[2 * slot]! & 1;
  }

  /**
   * The slot the bound evicts, or NO_SLOT when empty: the least recently seen of probation, unless
   * probation is empty or the main area holds more than mainBound (then the main area's).
   */
  oldest(): number {
    const main = this.mainHead;
    return this.probationHead === NO_SLOT || (main !== NO_SLOT && this.mainCount > mainBound(this.bound)) ? main : this.probationHead;
  }

  /** The least recently seen source of the main area, or NO_SLOT (the tracker evicts it first once its window is over). */
  mainOldest(): number {
    return this.mainHead;
  }

  /** Whether a slot (below slotsUsed) holds a source, rather than being free. */
  isFiled(slot: number): boolean {
    return this.v4Keys[slot] !== -1 || this.keys[slot] !== '';
  }

  /** Slots of all sources (no particular order). */
  slots(): number[] {
    const out = [...this.names.values()];
    const t = this.v4Table;
    for (let i = 1; i < t.length; i += 2) if (t[i] !== 0) out.push(t[i]! - 1);
    return out;
  }

  /** Slots of probation from the least to the most recently seen, then those of the main area so. */
  inAreaOrder(): number[] {
    const out: number[] = [];
    const l = this.links;
    for (let s = this.probationHead; s !== NO_SLOT; s = l[2 * s + 1]!) out.push(s);
    for (let s = this.mainHead; s !== NO_SLOT; s = l[2 * s + 1]!) out.push(s);
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

  /** Takes a slot out of its area's list (its own links are left as they were: append() writes them; its area stays readable). */
  private unlink(slot: number): void {
    const l = this.links;
    const back = l[2 * slot]!;
    const prev = back >> 1; // NO_SLOT stays -1
    const area = back & 1;
    const next = l[2 * slot + 1]!;
    if (prev !== NO_SLOT) l[2 * prev + 1] = next;
    else if (area === MAIN) this.mainHead = next;
    else this.probationHead = next;
    if (next !== NO_SLOT) l[2 * next] = back; // next is of the same area, and its previous is now this slot's
    else if (area === MAIN) this.mainTail = prev;
    else this.probationTail = prev;
    this.mainCount -= area; // MAIN is 1, PROBATION 0
  }

  /** Makes a slot the most recently seen of `area`. */
  private append(slot: number, area: number): void {
    const l = this.links;
    const tail = area === MAIN ? this.mainTail : this.probationTail;
    l[2 * slot] = (tail << 1) | area;
    l[2 * slot + 1] = NO_SLOT;
    if (tail !== NO_SLOT) l[2 * tail + 1] = slot;
    else if (area === MAIN) this.mainHead = slot;
    else this.probationHead = slot;
    if (area === MAIN) this.mainTail = slot;
    else this.probationTail = slot;
    this.mainCount += area;
  }

  private v4Home(key: number): number {
    return hashWord(key) >>> (32 - this.v4Bits);
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
    this.v4Count--;
    deleteShiftingBack(this.v4Table, 2, 1, (1 << this.v4Bits) - 1, i, this.v4HomeOfPair);
  }

  /** The home of pair j (deleteShiftingBack's question), made once: not a closure per removal. */
  private readonly v4HomeOfPair = (j: number): number => this.v4Home(this.v4Table[2 * j]!);

  private v4Rehash(bits: number): void {
    const old = this.v4Table;
    this.v4Bits = bits;
    this.v4Table = new Int32Array(2 << bits);
    this.v4Count = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.v4Insert(old[i]!, old[i + 1]! - 1);
  }
}
