/**
 * Per-source sliding windows: which sources probe many ports within `findtime`.
 *
 * A source is a scanner when, within the last `findtimeSec` seconds (event time), it sent at least
 * `maxretry` probes touching at least `minDistinctPorts` distinct destination ports.
 *
 * State per source, sized by the thresholds rather than by traffic:
 * - a ring of the last `maxretry` probe times. The window holds ≥ maxretry probes exactly when the
 *   oldest of those is inside it, so more times than that are never needed;
 * - triplets [port, last probe time, hits] of the destination ports seen. Ports whose last probe
 *   left the window are pruned, and the list is capped (least recently probed port dropped first),
 *   so one source costs O(maxretry + minDistinctPorts) whatever it sends;
 * - hits, first/last seen, the kinds of probe seen, a ban-pending flag, and LRU links.
 *
 * Storage: sources are numbered slots, and each slot is one fixed-size record in a single
 * Float64Array (header, then the ring, then the port triplets). Why not one object per source
 * (as before): a replay of 100k sources kept ~100k objects with growable arrays alive, which the
 * GC copied and promoted line after line (the young generation grew to 64 MB, old space filled to
 * ~250 MB between full GCs), and following those pointers cost cache misses on every probe. A
 * probe now writes numbers into one record and allocates nothing. The only per-source objects
 * are the address string and its Map entry (address → slot).
 * When the thresholds are large (maxretry or the port cap above a few dozen), a fixed record would
 * reserve memory for probes most sources never send: then each slot keeps its ring and ports in
 * its own Float64Arrays that grow on demand (up to the same caps), and the record holds the header.
 *
 * Lookup: IPv4 sources (most of them) are found through an open-addressing hash table of their
 * 32-bit address in an Int32Array (pairs [address, slot + 1], linear probing, backward-shift
 * deletion): one cache line per lookup and no string hashing or comparison, where the Map over
 * 100k fresh address strings cost ~14% of a replay. Other keys (IPv6) use a Map<string, slot>.
 *
 * LRU: slots are threaded on a doubly-linked list in order of last probe (head = least recently
 * seen), its links in their own small Int32Array (`links[2s]` toward the least, `links[2s+1]` toward
 * the most recently seen): moving a source to the tail touches its two neighbours, and a neighbour's
 * links sit in a cache line of links rather than in its whole record; touching a source is a few writes, evicting the least recently seen is O(1). Past
 * `maxTrackedSources` the least recently seen source is evicted.
 *
 * Slots are handles valid until the source is deleted or evicted (or configure() changes the
 * layout); callers look them up again rather than keeping them.
 *
 * Pure: no clock of its own, times are the packets' event times (ms).
 */
import type { ScanType } from '../../shared/model.ts';

const SCAN_TYPES: readonly ScanType[] = ['SYN', 'UDP', 'FIN', 'NULL', 'XMAS', 'MIXED', 'OTHER'];
const TYPE_BIT: Record<ScanType, number> = { SYN: 1, UDP: 2, FIN: 4, NULL: 8, XMAS: 16, MIXED: 32, OTHER: 64 };

/** No slot (not tracked / not crossed). */
export const NO_SLOT = -1;

// Header of a slot record (all numbers are exact in a double).
const HITS = 0; // probes counted since the source started being tracked (or was quiet for a whole window)
const FIRST = 1;
const LAST = 2;
const NTIMES = 3; // ring slots in use
const RINGPOS = 4; // next write position once the ring is full (then also the oldest entry)
const NPORTS = 5; // port triplets in use
const MASK = 6; // bits of TYPE_BIT of the probe kinds seen
const PENDING = 7; // a ban of this source is queued behind the new-bans-per-minute cap
const HEADER = 8;

/** Records up to this many doubles hold the ring and the ports inline (the default settings need 8 + 5 + 3·14 = 55). */
const INLINE_RECORD_MAX = 160;
/** First size of a slot's own arrays when they are not inline. */
const OWN_ARRAY_MIN = 8;

export interface TrackerSettings {
  findtimeSec: number;
  maxretry: number;
  minDistinctPorts: number;
  maxTrackedSources: number;
}

/** The summary of a window that the ban reason and the offender list show. */
export interface WindowSummary {
  hits: number;
  /** Distinct ports in the window, ascending, at most `limit`. */
  ports: number[];
  distinctPorts: number;
  firstSeen: number;
  lastSeen: number;
  scanType: ScanType;
}

/** One type, or MIXED when several kinds were seen (OTHER = pings and crafted packets). */
export function scanTypeOf(mask: number): ScanType {
  if (mask === 0) return 'OTHER';
  if ((mask & (mask - 1)) === 0) {
    for (const t of SCAN_TYPES) if (TYPE_BIT[t] === mask) return t;
  }
  // OTHER (pings) alongside one real kind: report the real kind.
  const real = mask & ~TYPE_BIT.OTHER;
  if ((real & (real - 1)) === 0) for (const t of SCAN_TYPES) if (TYPE_BIT[t] === real) return t;
  return 'MIXED';
}

/** A source's state outside the slab (configure() re-lays out through it). */
interface SlotCopy {
  ip: string;
  header: Float64Array;
  times: number[]; // oldest first
  ports: number[]; // triplets
}

/** The 32-bit value of a canonical dotted quad (no leading zeros), or -1 for anything else. */
function ipv4Key(ip: string): number {
  const n = ip.length;
  if (n < 7 || n > 15) return -1;
  let key = 0;
  let parts = 0;
  let p = 0;
  while (p < n) {
    const first = ip.charCodeAt(p) - 48;
    if (first < 0 || first > 9) return -1;
    let value = first;
    let q = p + 1;
    for (; q < n; q++) {
      const c = ip.charCodeAt(q);
      if (c === 46) break;
      if (c < 48 || c > 57 || value === 0 || q - p >= 3) return -1;
      value = value * 10 + (c - 48);
    }
    if (value > 255) return -1;
    key = key * 256 + value;
    parts++;
    if (q === n) return parts === 4 ? key : -1;
    if (parts === 4 || q + 1 === n) return -1;
    p = q + 1;
  }
  return -1;
}

const V4_TABLE_MIN_BITS = 10;

export class SourceTracker {
  /** Slots of sources that are not IPv4 addresses. */
  private readonly index = new Map<string, number>();
  /** IPv4 sources: pairs [address | 0, slot + 1] (0 in the second = empty), 2^v4Bits pairs. */
  private v4Table = new Int32Array(2 << V4_TABLE_MIN_BITS);
  private v4Bits = V4_TABLE_MIN_BITS;
  private v4Count = 0;
  private ips: string[] = [];
  private findtimeMs = 0;
  private maxretry = 0;
  private minPorts = 1;
  private maxSources = 1;
  /** Cap of the per-source port list (ports, not array slots). */
  private portCap = 1;
  /** Layout: doubles per slot record, and where ring and ports start in it (inline layout). */
  private stride = HEADER;
  private inline = true;
  private timesAt = HEADER;
  private portsAt = HEADER;
  private slab = new Float64Array(0);
  private links = new Int32Array(0);
  private capacity = 0;
  /** Slots never used yet start at `used`; freed ones are reused first. */
  private used = 0;
  private readonly free: number[] = [];
  /** Per-slot ring and port arrays when the layout is not inline. */
  private ownTimes: (Float64Array | null)[] = [];
  private ownPorts: (Float64Array | null)[] = [];
  /** Least and most recently seen slots. */
  private head = NO_SLOT;
  private tail = NO_SLOT;
  evictedCount = 0;

  /** Called with every source evicted by the LRU bound (ip, event time of the probe that pushed it out). */
  onEvict: ((ip: string, time: number) => void) | null = null;

  constructor(settings: TrackerSettings) {
    this.configure(settings);
  }

  configure(s: TrackerSettings): void {
    const portCap = Math.max(s.maxretry, s.minDistinctPorts) + 8;
    const relayout = s.maxretry !== this.maxretry || portCap !== this.portCap;
    this.findtimeMs = s.findtimeSec * 1000;
    this.minPorts = s.minDistinctPorts;
    this.maxSources = s.maxTrackedSources;
    if (relayout) {
      const copies = this.inLruOrder().map((slot) => this.copyOut(slot));
      this.maxretry = s.maxretry;
      this.portCap = portCap;
      this.layout();
      for (const c of copies) {
        // The ring's length is maxretry: keep the most recent times, oldest first.
        const kept = c.times.slice(Math.max(0, c.times.length - s.maxretry));
        if (c.ports.length > 3 * portCap) this.prunePortList(c.ports, c.header[LAST]!, true);
        this.copyIn(c, kept);
      }
    }
    while (this.size > this.maxSources) this.evictOldest(Number.NaN);
  }

  get size(): number {
    return this.index.size + this.v4Count;
  }

  /** The slot of a tracked source, or NO_SLOT. */
  get(ip: string): number {
    const key = ipv4Key(ip);
    if (key < 0) return this.index.get(ip) ?? NO_SLOT;
    const at = this.v4Find(key | 0);
    return at < 0 ? NO_SLOT : this.v4Table[2 * at + 1]! - 1;
  }

  delete(ip: string): boolean {
    const slot = this.get(ip);
    if (slot === NO_SLOT) return false;
    this.release(slot);
    return true;
  }

  clear(): void {
    this.layout();
  }

  /** Slots of all tracked sources (no particular order). */
  slots(): number[] {
    const out = [...this.index.values()];
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

  ipOf(slot: number): string {
    return this.ips[slot]!;
  }

  hitsOf(slot: number): number {
    return this.slab[slot * this.stride + HITS]!;
  }

  lastSeenOf(slot: number): number {
    return this.slab[slot * this.stride + LAST]!;
  }

  isPending(slot: number): boolean {
    return this.slab[slot * this.stride + PENDING] !== 0;
  }

  setPending(slot: number, pending: boolean): void {
    this.slab[slot * this.stride + PENDING] = pending ? 1 : 0;
  }

  /** Distinct ports a source has on record (pruned to the window when it matters). */
  portCount(slot: number): number {
    return this.slab[slot * this.stride + NPORTS]!;
  }

  /** The ring's probe times, oldest first. */
  times(slot: number): number[] {
    return this.copyOut(slot).times;
  }

  /**
   * Counts one probe. `port` null for probes without a port (pings). Returns the source's slot when
   * it now meets the scan threshold, else NO_SLOT. The caller bans and then deletes the source.
   * `known` is the caller's own lookup of `ip` (NO_SLOT: not tracked), to save a second one.
   */
  probe(ip: string, time: number, port: number | null, type: ScanType, known?: number): number {
    let slot = known === undefined ? this.get(ip) : known;
    const stride = this.stride;
    let b: number;
    let d = this.slab;
    if (slot === NO_SLOT) {
      slot = this.allocate(ip);
      d = this.slab; // may have grown
      b = slot * stride;
      d[b + HITS] = 0;
      d[b + FIRST] = time;
      d[b + LAST] = time;
      d[b + NTIMES] = 0;
      d[b + RINGPOS] = 0;
      d[b + NPORTS] = 0;
      d[b + MASK] = 0;
      d[b + PENDING] = 0;
      this.append(slot);
      if (this.size > this.maxSources) {
        this.evictOldest(time);
        d = this.slab;
      }
    } else {
      b = slot * stride;
      if (slot !== this.tail) {
        this.unlink(slot);
        this.append(slot);
      }
      if (time - d[b + LAST]! >= this.findtimeMs && d[b + PENDING] === 0) {
        // Everything it did before has left the window: start afresh (the common case of a slow source).
        d[b + NTIMES] = 0;
        d[b + RINGPOS] = 0;
        d[b + NPORTS] = 0;
        d[b + HITS] = 0;
        d[b + FIRST] = time;
        d[b + MASK] = 0;
      }
    }
    if (time > d[b + LAST]!) d[b + LAST] = time;
    if (time < d[b + FIRST]!) d[b + FIRST] = time;
    d[b + HITS] = d[b + HITS]! + 1;
    d[b + MASK] = d[b + MASK]! | TYPE_BIT[type];

    // Ring of the last maxretry times.
    const R = this.maxretry;
    const nTimes = d[b + NTIMES]!;
    let T: Float64Array;
    let t0: number;
    if (this.inline) {
      T = d;
      t0 = b + this.timesAt;
    } else {
      T = nTimes < R ? this.ownTimesFor(slot, nTimes + 1) : this.ownTimes[slot]!;
      t0 = 0;
    }
    let oldestAt: number;
    if (nTimes < R) {
      T[t0 + nTimes] = time;
      d[b + NTIMES] = nTimes + 1;
      oldestAt = t0; // only read when the ring just filled: then the oldest is slot 0
    } else {
      const pos = d[b + RINGPOS]!;
      T[t0 + pos] = time;
      const nextPos = pos + 1 === R ? 0 : pos + 1;
      d[b + RINGPOS] = nextPos;
      oldestAt = t0 + nextPos;
    }

    let nPorts = d[b + NPORTS]!;
    let P: Float64Array;
    let p0: number;
    if (this.inline) {
      P = d;
      p0 = b + this.portsAt;
    } else {
      P = this.ownPortsFor(slot, port === null ? nPorts : nPorts + 1);
      p0 = 0;
    }
    if (port !== null) {
      const end = p0 + 3 * nPorts;
      let i = p0;
      while (i < end && P[i] !== port) i += 3;
      if (i < end) {
        if (time > P[i + 1]!) P[i + 1] = time;
        P[i + 2] = P[i + 2]! + 1;
      } else {
        P[end] = port;
        P[end + 1] = time;
        P[end + 2] = 1;
        nPorts++;
        if (nPorts > this.portCap) nPorts = this.prunePorts(P, p0, nPorts, time, true);
        d[b + NPORTS] = nPorts;
      }
    }

    if (nTimes + 1 < R) return NO_SLOT;
    // Oldest of the last maxretry probes: the slot the ring writes next.
    if (time - T[oldestAt]! >= this.findtimeMs) return NO_SLOT;
    if (nPorts < this.minPorts) return NO_SLOT;
    nPorts = this.prunePorts(P, p0, nPorts, time, false);
    d[b + NPORTS] = nPorts;
    return nPorts >= this.minPorts ? slot : NO_SLOT;
  }

  /** Ban-reason / offender view of a source. `limit` caps the port list (ascending). */
  summary(slot: number, limit = 64): WindowSummary {
    const c = this.copyOut(slot);
    const ports: number[] = [];
    for (let i = 0; i < c.ports.length; i += 3) ports.push(c.ports[i]!);
    ports.sort((a, b) => a - b);
    return {
      hits: c.header[HITS]!,
      ports: ports.length > limit ? ports.slice(0, limit) : ports,
      distinctPorts: ports.length,
      firstSeen: c.header[FIRST]!,
      lastSeen: c.header[LAST]!,
      scanType: scanTypeOf(c.header[MASK]!),
    };
  }

  /** Ports of a source, most probed first (ties: lower port first), at most `limit`. */
  topPorts(slot: number, limit: number): number[] {
    const p = this.copyOut(slot).ports;
    const rows: [number, number][] = [];
    for (let i = 0; i < p.length; i += 3) rows.push([p[i]!, p[i + 2]!]);
    rows.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    return rows.slice(0, limit).map((r) => r[0]);
  }

  // ------------------------------------------------------------------ storage

  private layout(): void {
    const ring = this.maxretry;
    const ports = 3 * (this.portCap + 1); // +1: a new port is written before the cap prunes
    const record = HEADER + ring + ports;
    this.inline = record <= INLINE_RECORD_MAX;
    this.stride = this.inline ? record : HEADER;
    this.timesAt = HEADER;
    this.portsAt = HEADER + ring;
    this.capacity = 0;
    this.slab = new Float64Array(0);
    this.links = new Int32Array(0);
    this.used = 0;
    this.free.length = 0;
    this.ips = [];
    this.ownTimes = [];
    this.ownPorts = [];
    this.head = this.tail = NO_SLOT;
    this.index.clear();
    this.v4Bits = V4_TABLE_MIN_BITS;
    this.v4Table = new Int32Array(2 << V4_TABLE_MIN_BITS);
    this.v4Count = 0;
  }

  private allocate(ip: string): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.used++;
      if (slot >= this.capacity) this.grow(slot + 1);
    }
    const key = ipv4Key(ip);
    if (key < 0) this.index.set(ip, slot);
    else this.v4Insert(key | 0, slot);
    this.ips[slot] = ip;
    return slot;
  }

  private grow(min: number): void {
    // Doubling, but never far beyond the bound (the +1: a new source is stored before the oldest is evicted).
    const cap = Math.max(min, Math.min(Math.max(64, this.capacity * 2), this.maxSources + 1));
    const next = new Float64Array(cap * this.stride);
    next.set(this.slab);
    this.slab = next;
    const links = new Int32Array(2 * cap);
    links.set(this.links);
    this.links = links;
    this.capacity = cap;
  }

  private release(slot: number): void {
    const ip = this.ips[slot]!;
    const key = ipv4Key(ip);
    if (key < 0) this.index.delete(ip);
    else this.v4Remove(this.v4Find(key | 0));
    this.unlink(slot);
    this.ips[slot] = '';
    if (!this.inline) {
      this.ownTimes[slot] = null;
      this.ownPorts[slot] = null;
    }
    this.free.push(slot);
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

  /** The slot's own ring, grown to hold at least `need` times (never more than maxretry). */
  private ownTimesFor(slot: number, need: number): Float64Array {
    let a = this.ownTimes[slot] ?? null;
    if (a === null || a.length < need) {
      const grown = new Float64Array(Math.min(this.maxretry, Math.max(OWN_ARRAY_MIN, need, a === null ? 0 : a.length * 2)));
      if (a !== null) grown.set(a);
      this.ownTimes[slot] = a = grown;
    }
    return a;
  }

  /** The slot's own port triplets, grown to hold at least `need` ports (never more than portCap + 1). */
  private ownPortsFor(slot: number, need: number): Float64Array {
    let a = this.ownPorts[slot] ?? null;
    if (a === null || a.length < 3 * need) {
      const ports = Math.min(this.portCap + 1, Math.max(OWN_ARRAY_MIN, need, a === null ? 0 : (a.length / 3) * 2));
      const grown = new Float64Array(3 * ports);
      if (a !== null) grown.set(a);
      this.ownPorts[slot] = a = grown;
    }
    return a;
  }

  /** A slot's state as plain arrays (off the hot path: summaries, re-layout). */
  private copyOut(slot: number): SlotCopy {
    const b = slot * this.stride;
    const header = this.slab.slice(b, b + HEADER);
    const n = header[NTIMES]!;
    const pos = header[RINGPOS]!;
    const T = this.inline ? this.slab : this.ownTimes[slot];
    const t0 = this.inline ? b + this.timesAt : 0;
    const times: number[] = [];
    if (T) {
      // Full ring: oldest at the write position; otherwise in order from 0.
      const start = n < this.maxretry ? 0 : pos;
      for (let k = 0; k < n; k++) times.push(T[t0 + ((start + k) % n)]!);
    }
    const P = this.inline ? this.slab : this.ownPorts[slot];
    const p0 = this.inline ? b + this.portsAt : 0;
    const ports: number[] = [];
    if (P) for (let i = 0; i < 3 * header[NPORTS]!; i++) ports.push(P[p0 + i]!);
    return { ip: this.ips[slot]!, header, times, ports };
  }

  /** Stores a copy as the most recently seen source (the layout may differ from where it came from). */
  private copyIn(c: SlotCopy, times: number[]): void {
    const slot = this.allocate(c.ip);
    const b = slot * this.stride;
    const d = this.slab;
    d[b + HITS] = c.header[HITS]!;
    d[b + FIRST] = c.header[FIRST]!;
    d[b + LAST] = c.header[LAST]!;
    d[b + NTIMES] = times.length;
    d[b + RINGPOS] = 0;
    d[b + NPORTS] = c.ports.length / 3;
    d[b + MASK] = c.header[MASK]!;
    d[b + PENDING] = c.header[PENDING]!;
    const T = this.inline ? d : this.ownTimesFor(slot, Math.max(1, times.length));
    const t0 = this.inline ? b + this.timesAt : 0;
    for (let k = 0; k < times.length; k++) T[t0 + k] = times[k]!;
    const P = this.inline ? d : this.ownPortsFor(slot, Math.max(1, c.ports.length / 3));
    const p0 = this.inline ? b + this.portsAt : 0;
    for (let i = 0; i < c.ports.length; i++) P[p0 + i] = c.ports[i]!;
    this.append(slot);
  }

  /**
   * Drops ports whose last probe left the window; over the cap, also the least recently probed
   * (the first of equals), keeping the others in order. Returns the number of ports left.
   */
  private prunePorts(P: Float64Array, p0: number, n: number, now: number, enforceCap: boolean): number {
    let j = p0;
    const end = p0 + 3 * n;
    for (let i = p0; i < end; i += 3) {
      if (now - P[i + 1]! < this.findtimeMs) {
        if (j !== i) {
          P[j] = P[i]!;
          P[j + 1] = P[i + 1]!;
          P[j + 2] = P[i + 2]!;
        }
        j += 3;
      }
    }
    let left = (j - p0) / 3;
    if (enforceCap) {
      while (left > this.portCap) {
        let min = p0;
        const e = p0 + 3 * left;
        for (let i = p0 + 3; i < e; i += 3) if (P[i + 1]! < P[min + 1]!) min = i;
        P.copyWithin(min, min + 3, e);
        left--;
      }
    }
    return left;
  }

  /** prunePorts on a plain triplet list (re-layout). */
  private prunePortList(p: number[], now: number, enforceCap: boolean): void {
    const a = Float64Array.from(p);
    const left = this.prunePorts(a, 0, p.length / 3, now, enforceCap);
    p.length = 0;
    for (let i = 0; i < 3 * left; i++) p.push(a[i]!);
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

  private evictOldest(time: number): void {
    const slot = this.head;
    if (slot === NO_SLOT) return;
    const ip = this.ips[slot]!;
    const last = this.slab[slot * this.stride + LAST]!;
    this.release(slot);
    this.evictedCount++;
    this.onEvict?.(ip, Number.isNaN(time) ? last : time);
  }
}
