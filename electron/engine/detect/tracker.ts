/**
 * Per-source sliding windows: which sources probe many ports within `findtime`.
 *
 * A source is a scanner when, within the last `findtimeSec` seconds (event time), it sent at least
 * `maxretry` probes touching at least `minDistinctPorts` distinct destination ports.
 *
 * State per source, sized by the thresholds rather than by traffic:
 * - a ring of the last `maxretry` probe times. The window holds ≥ maxretry probes exactly when the
 *   oldest of those is inside it, so more times than that are never needed;
 * - the destination ports seen, each with its last probe time and hits. Ports whose last probe
 *   left the window are pruned, and the list is capped (least recently probed port dropped first),
 *   so one source costs O(maxretry + minDistinctPorts) whatever it sends;
 * - hits, first/last seen, the kinds of probe seen, a ban-pending flag, and LRU links.
 *
 * Storage: sources are numbered slots, and each slot is one fixed-size record in a page of
 * PAGE_SLOTS records. A page is one ArrayBuffer seen both as a Float64Array (times, hits, first
 * and last seen) and as an Int32Array (counters, flags, port numbers, per-port hits). A record
 * holds up to SMALL_PORTS ports; a source that probes more (a few percent of them) moves its port
 * list to a port record of the full length in pages of their own. With the default settings a
 * source costs 136 bytes, 360 with a port record (440 when every record was all doubles and
 * held the full list: ~44 MB for 100k sources, now ~14 MB). Why pages rather than one
 * array grown by doubling: the last doubling copied ~29 MB into a new ~44 MB array while the old
 * one was still alive (a replay of 100k sources peaked ~30 MB higher for it), and the freed arrays
 * stayed in the allocator; pages are allocated once, never copied, and a slot keeps its page.
 * Why numbers in typed arrays rather than one object per source (as before): a replay of 100k
 * sources kept ~100k objects with growable arrays alive, which the GC copied and promoted line
 * after line, and following those pointers cost cache misses on every probe. A probe writes
 * numbers into one record and allocates nothing. The only per-source objects are the address
 * string and, for IPv6, its Map entry (address → slot).
 * Per-port hits are Int32 and stop at 2^31 - 1 (they only order the offender's top ports).
 * When the thresholds are large (maxretry or the port cap above a few dozen), a fixed record would
 * reserve memory for probes most sources never send: then each slot keeps its ring and ports in
 * its own typed arrays that grow on demand (up to the same caps), and the record holds the header.
 *
 * Lookup: IPv4 sources (most of them) are found through an open-addressing hash table of their
 * 32-bit address in an Int32Array (pairs [address, slot + 1], linear probing, backward-shift
 * deletion): one cache line per lookup and no string hashing or comparison, where the Map over
 * 100k fresh address strings cost ~14% of a replay. A caller that already has the address as a
 * number (the byte parser computes it) looks up by that number (getV4) and need not make or scan
 * the text. Other keys (IPv6) use a Map<string, slot>.
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

// A record holds doubles first, then 32-bit integers (one ArrayBuffer per page, seen through both
// views; a record's length is a whole number of doubles, so its doubles stay aligned).
// Doubles, indexes from the record's first double:
const FIRST = 0;
const LAST = 1;
const HITS = 2; // probes counted since the source started being tracked (or was quiet for a whole window)
const F_HEADER = 3; // then (inline layout) the ring of maxretry times, then each small port list's last probe times
// Integers, indexes from the record's first integer:
const NTIMES = 0; // ring slots in use
const RINGPOS = 1; // next write position once the ring is full (then also the oldest entry)
const NPORTS = 2; // ports in use
const MASK = 3; // bits of TYPE_BIT of the probe kinds seen
const PENDING = 4; // a ban of this source is queued behind the new-bans-per-minute cap
const EXT = 5; // inline layout: the slot's port record in the port pages once it needs more than SMALL_PORTS, else -1
const I_HEADER = 6; // then (inline layout) the small port list: the port numbers, then each port's hits

/**
 * Ports a record holds itself (inline layout). Most sources probe one or two ports; a source that
 * probes more moves its list to a port record of the full length (portCap + 1) in separate pages,
 * so a record of the default settings is 136 bytes and only the few busy sources pay 224 more.
 */
const SMALL_PORTS = 3;

/** Records per page (a page of the default settings is 136 KiB). */
const PAGE_BITS = 10;
const PAGE_SLOTS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SLOTS - 1;
/** Records whose ring and full port list would fit in this many bytes use the inline layout (the default settings: 312). */
const INLINE_RECORD_MAX_BYTES = 1280;
/** First size of a slot's own arrays when they are not inline. */
const OWN_ARRAY_MIN = 8;
/** Per-port hits stop here (Int32). */
const PORT_HITS_MAX = 0x7fffffff;

/**
 * Record `index` (numbered in allocation order) gets its page: a new page — one ArrayBuffer seen as
 * doubles and as integers — when it is the first record past the last one. Slot and port records alike.
 */
function addPageFor(index: number, pagesF: Float64Array[], pagesI: Int32Array[], strideD: number): void {
  if (index >>> PAGE_BITS < pagesF.length) return;
  const page = new ArrayBuffer(PAGE_SLOTS * strideD * 8);
  pagesF.push(new Float64Array(page));
  pagesI.push(new Int32Array(page));
}

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

/** A source's state outside the pages (configure() re-lays out through it). */
interface SlotCopy {
  ip: string;
  hits: number;
  first: number;
  last: number;
  mask: number;
  pending: number;
  times: number[]; // oldest first
  ports: number[]; // triplets [port, last probe time, hits]
}

/** The 32-bit value of a canonical dotted quad (no leading zeros), or -1 for anything else. */
export function ipv4Key(ip: string): number {
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

/** The canonical text (dotted quad) of a 32-bit IPv4 value: ipv4Key's inverse. */
export function ipv4Text(key: number): string {
  return `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`;
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
  /** Layout: a record's length in doubles and in integers, and where its parts start (inline layout). */
  private strideD = F_HEADER;
  private strideI = 2 * F_HEADER;
  private inline = true;
  /** Doubles: the ring, the ports' last probe times. */
  private timesAt = F_HEADER;
  private portTimesAt = F_HEADER;
  /** Integers, from the record's start: the integer header, the port numbers, the ports' hits. */
  private intsAt = 2 * F_HEADER;
  private portsAt = 2 * F_HEADER;
  private portHitsAt = 2 * F_HEADER;
  /** Port records (inline layout): pages as doubles and as integers, length in doubles, integers' start. */
  private extPagesF: Float64Array[] = [];
  private extPagesI: Int32Array[] = [];
  private extStrideD = 0;
  private extIntsAt = 0;
  private extUsed = 0;
  private readonly extFree: number[] = [];
  /** Pages: the same buffers as doubles and as integers. */
  private pagesF: Float64Array[] = [];
  private pagesI: Int32Array[] = [];
  private links = new Int32Array(0);
  private linksCapacity = 0;
  /** Slots never used yet start at `used`; freed ones are reused first. */
  private used = 0;
  private readonly free: number[] = [];
  /** Per-slot ring and port arrays when the layout is not inline. */
  private ownTimes: (Float64Array | null)[] = [];
  private ownPortNums: (Int32Array | null)[] = [];
  private ownPortTimes: (Float64Array | null)[] = [];
  private ownPortHits: (Int32Array | null)[] = [];
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
        if (c.ports.length > 3 * portCap) this.prunePortList(c.ports, c.last, true);
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
    return this.getV4(key);
  }

  /**
   * The slot of a tracked IPv4 source given as its 32-bit value (the source whose canonical text
   * is that dotted quad), or NO_SLOT: get() without making or reading the text.
   */
  getV4(key: number): number {
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
    return this.pagesF[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * this.strideD + HITS]!;
  }

  lastSeenOf(slot: number): number {
    return this.pagesF[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * this.strideD + LAST]!;
  }

  isPending(slot: number): boolean {
    return this.pagesI[slot >>> PAGE_BITS]![this.intsOf(slot) + PENDING] !== 0;
  }

  setPending(slot: number, pending: boolean): void {
    this.pagesI[slot >>> PAGE_BITS]![this.intsOf(slot) + PENDING] = pending ? 1 : 0;
  }

  /** Distinct ports a source has on record (pruned to the window when it matters). */
  portCount(slot: number): number {
    return this.pagesI[slot >>> PAGE_BITS]![this.intsOf(slot) + NPORTS]!;
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
    const fresh = slot === NO_SLOT;
    if (fresh) slot = this.allocate(ip);
    const page = slot >>> PAGE_BITS;
    const F = this.pagesF[page]!;
    const I = this.pagesI[page]!;
    const r = slot & PAGE_MASK;
    const bf = r * this.strideD;
    const bi = r * this.strideI + this.intsAt;
    if (fresh) {
      F[bf + HITS] = 0;
      F[bf + FIRST] = time;
      F[bf + LAST] = time;
      I[bi + NTIMES] = 0;
      I[bi + RINGPOS] = 0;
      I[bi + NPORTS] = 0;
      I[bi + MASK] = 0;
      I[bi + PENDING] = 0;
      I[bi + EXT] = -1;
      this.append(slot);
      if (this.size > this.maxSources) this.evictOldest(time);
    } else {
      if (slot !== this.tail) {
        this.unlink(slot);
        this.append(slot);
      }
      if (time - F[bf + LAST]! >= this.findtimeMs && I[bi + PENDING] === 0) {
        // Everything it did before has left the window: start afresh (the common case of a slow source).
        I[bi + NTIMES] = 0;
        I[bi + RINGPOS] = 0;
        I[bi + NPORTS] = 0;
        F[bf + HITS] = 0;
        F[bf + FIRST] = time;
        I[bi + MASK] = 0;
        if (this.inline) this.releaseExt(I, bi);
      }
    }
    if (time > F[bf + LAST]!) F[bf + LAST] = time;
    if (time < F[bf + FIRST]!) F[bf + FIRST] = time;
    F[bf + HITS] = F[bf + HITS]! + 1;
    I[bi + MASK] = I[bi + MASK]! | TYPE_BIT[type];

    // Ring of the last maxretry times.
    const R = this.maxretry;
    const nTimes = I[bi + NTIMES]!;
    let T: Float64Array;
    let t0: number;
    if (this.inline) {
      T = F;
      t0 = bf + this.timesAt;
    } else {
      T = nTimes < R ? this.ownTimesFor(slot, nTimes + 1) : this.ownTimes[slot]!;
      t0 = 0;
    }
    if (nTimes < R) {
      T[t0 + nTimes] = time;
      I[bi + NTIMES] = nTimes + 1;
    } else {
      const pos = I[bi + RINGPOS]!;
      T[t0 + pos] = time;
      I[bi + RINGPOS] = pos + 1 === R ? 0 : pos + 1;
    }

    let nPorts = I[bi + NPORTS]!;
    let PN: Int32Array;
    let pn0: number;
    let PT: Float64Array;
    let pt0: number;
    let PH: Int32Array;
    let ph0: number;
    if (this.inline) {
      let ext = I[bi + EXT]!;
      if (ext < 0 && nPorts === SMALL_PORTS && port !== null) ext = this.moveToExt(I, F, bi, r, bf, nPorts, port);
      if (ext < 0) {
        PN = PH = I;
        pn0 = r * this.strideI + this.portsAt;
        ph0 = r * this.strideI + this.portHitsAt;
        PT = F;
        pt0 = bf + this.portTimesAt;
      } else {
        PN = PH = this.extPagesI[ext >>> PAGE_BITS]!;
        PT = this.extPagesF[ext >>> PAGE_BITS]!;
        pt0 = (ext & PAGE_MASK) * this.extStrideD;
        pn0 = 2 * pt0 + this.extIntsAt;
        ph0 = pn0 + this.portCap + 1;
      }
    } else {
      this.ownPortsFor(slot, port === null ? nPorts : nPorts + 1);
      PN = this.ownPortNums[slot]!;
      PT = this.ownPortTimes[slot]!;
      PH = this.ownPortHits[slot]!;
      pn0 = pt0 = ph0 = 0;
    }
    if (port !== null) {
      const end = pn0 + nPorts;
      let i = pn0;
      while (i < end && PN[i] !== port) i++;
      if (i < end) {
        const k = i - pn0;
        if (time > PT[pt0 + k]!) PT[pt0 + k] = time;
        const hits = PH[ph0 + k]!;
        if (hits < PORT_HITS_MAX) PH[ph0 + k] = hits + 1;
      } else {
        PN[end] = port;
        PT[pt0 + nPorts] = time;
        PH[ph0 + nPorts] = 1;
        nPorts++;
        if (nPorts > this.portCap) nPorts = this.prunePorts(PN, pn0, PT, pt0, PH, ph0, nPorts, time, true);
        I[bi + NPORTS] = nPorts;
      }
    }

    if (nTimes + 1 < R) return NO_SLOT;
    // The last maxretry probes must lie within findtime of one another. Not "this probe minus the
    // oldest in the ring": a log is not always in time order (files merged or concatenated newest
    // first, `cat ufw.log ufw.log.1`), and a probe dated before the others made that difference
    // negative, so probes an hour apart passed a 10-minute window. The ring's span cannot.
    let earliest = time;
    let latest = time;
    for (let k = t0, end = t0 + R; k < end; k++) {
      const t = T[k]!;
      if (t < earliest) earliest = t;
      else if (t > latest) latest = t;
    }
    if (latest - earliest >= this.findtimeMs) return NO_SLOT;
    if (nPorts < this.minPorts) return NO_SLOT;
    nPorts = this.prunePorts(PN, pn0, PT, pt0, PH, ph0, nPorts, latest, false);
    I[bi + NPORTS] = nPorts;
    return nPorts >= this.minPorts ? slot : NO_SLOT;
  }

  /** Ban-reason / offender view of a source. `limit` caps the port list (ascending). */
  summary(slot: number, limit = 64): WindowSummary {
    const c = this.copyOut(slot);
    const ports: number[] = [];
    for (let i = 0; i < c.ports.length; i += 3) ports.push(c.ports[i]!);
    ports.sort((a, b) => a - b);
    return {
      hits: c.hits,
      ports: ports.length > limit ? ports.slice(0, limit) : ports,
      distinctPorts: ports.length,
      firstSeen: c.first,
      lastSeen: c.last,
      scanType: scanTypeOf(c.mask),
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

  /** Index of a slot's first integer in its page's Int32Array. */
  private intsOf(slot: number): number {
    return (slot & PAGE_MASK) * this.strideI + this.intsAt;
  }

  private layout(): void {
    const ring = this.maxretry;
    const ports = this.portCap + 1; // +1: a new port is written before the cap prunes
    this.inline = 8 * (F_HEADER + ring + ports) + 4 * (I_HEADER + 2 * ports) <= INLINE_RECORD_MAX_BYTES;
    const doubles = this.inline ? F_HEADER + ring + SMALL_PORTS : F_HEADER;
    const ints = 2 * doubles + I_HEADER + (this.inline ? 2 * SMALL_PORTS : 0);
    this.strideI = ints + (ints & 1);
    this.strideD = this.strideI / 2;
    this.timesAt = F_HEADER;
    this.portTimesAt = F_HEADER + ring;
    this.intsAt = 2 * doubles;
    this.portsAt = this.intsAt + I_HEADER;
    this.portHitsAt = this.portsAt + SMALL_PORTS;
    // A port record: last probe times, then port numbers and hits (2 integers per port = 1 double).
    this.extStrideD = 2 * ports;
    this.extIntsAt = 2 * ports;
    this.extPagesF = [];
    this.extPagesI = [];
    this.extUsed = 0;
    this.extFree.length = 0;
    this.pagesF = [];
    this.pagesI = [];
    this.links = new Int32Array(0);
    this.linksCapacity = 0;
    this.used = 0;
    this.free.length = 0;
    this.ips = [];
    this.ownTimes = [];
    this.ownPortNums = [];
    this.ownPortTimes = [];
    this.ownPortHits = [];
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
      addPageFor(slot, this.pagesF, this.pagesI, this.strideD);
      if (slot >= this.linksCapacity) this.growLinks(slot + 1);
    }
    const key = ipv4Key(ip);
    if (key < 0) this.index.set(ip, slot);
    else this.v4Insert(key | 0, slot);
    this.ips[slot] = ip;
    return slot;
  }

  private growLinks(min: number): void {
    // Doubling, but never far beyond the bound (the +1: a new source is stored before the oldest is evicted).
    const cap = Math.max(min, Math.min(Math.max(64, this.linksCapacity * 2), this.maxSources + 1));
    const links = new Int32Array(2 * cap);
    links.set(this.links);
    this.links = links;
    this.linksCapacity = cap;
  }

  private release(slot: number): void {
    const ip = this.ips[slot]!;
    const key = ipv4Key(ip);
    if (key < 0) this.index.delete(ip);
    else this.v4Remove(this.v4Find(key | 0));
    this.unlink(slot);
    this.ips[slot] = '';
    if (this.inline) this.releaseExt(this.pagesI[slot >>> PAGE_BITS]!, this.intsOf(slot));
    else {
      this.ownTimes[slot] = null;
      this.ownPortNums[slot] = null;
      this.ownPortTimes[slot] = null;
      this.ownPortHits[slot] = null;
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

  /** A free port record (inline layout). */
  private allocateExt(): number {
    let ext = this.extFree.pop();
    if (ext === undefined) {
      ext = this.extUsed++;
      addPageFor(ext, this.extPagesF, this.extPagesI, this.extStrideD);
    }
    return ext;
  }

  /** Frees the port record of the slot whose integers start at I[bi], if it has one. */
  private releaseExt(I: Int32Array, bi: number): void {
    const ext = I[bi + EXT]!;
    if (ext < 0) return;
    this.extFree.push(ext);
    I[bi + EXT] = -1;
  }

  /**
   * Moves a full small port list (`n` ports) into a new port record, unless `port` is already one
   * of them (then no move is needed). Returns the port record, or -1 when not moved.
   */
  private moveToExt(I: Int32Array, F: Float64Array, bi: number, r: number, bf: number, n: number, port: number): number {
    const pn = r * this.strideI + this.portsAt;
    for (let k = 0; k < n; k++) if (I[pn + k] === port) return -1;
    const ext = this.allocateExt();
    const EI = this.extPagesI[ext >>> PAGE_BITS]!;
    const EF = this.extPagesF[ext >>> PAGE_BITS]!;
    const et = (ext & PAGE_MASK) * this.extStrideD;
    const en = 2 * et + this.extIntsAt;
    const eh = en + this.portCap + 1;
    const ph = r * this.strideI + this.portHitsAt;
    const pt = bf + this.portTimesAt;
    for (let k = 0; k < n; k++) {
      EI[en + k] = I[pn + k]!;
      EF[et + k] = F[pt + k]!;
      EI[eh + k] = I[ph + k]!;
    }
    I[bi + EXT] = ext;
    return ext;
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

  /** The slot's own port arrays, grown to hold at least `need` ports (never more than portCap + 1). */
  private ownPortsFor(slot: number, need: number): void {
    const a = this.ownPortNums[slot] ?? null;
    if (a === null || a.length < need) {
      const ports = Math.min(this.portCap + 1, Math.max(OWN_ARRAY_MIN, need, a === null ? 0 : a.length * 2));
      const nums = new Int32Array(ports);
      const times = new Float64Array(ports);
      const hits = new Int32Array(ports);
      if (a !== null) {
        nums.set(a);
        times.set(this.ownPortTimes[slot]!);
        hits.set(this.ownPortHits[slot]!);
      }
      this.ownPortNums[slot] = nums;
      this.ownPortTimes[slot] = times;
      this.ownPortHits[slot] = hits;
    }
  }

  /** A slot's state as plain values (off the hot path: summaries, re-layout). */
  private copyOut(slot: number): SlotCopy {
    const F = this.pagesF[slot >>> PAGE_BITS]!;
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const bf = (slot & PAGE_MASK) * this.strideD;
    const bi = this.intsOf(slot);
    const n = I[bi + NTIMES]!;
    const pos = I[bi + RINGPOS]!;
    const T = this.inline ? F : this.ownTimes[slot];
    const t0 = this.inline ? bf + this.timesAt : 0;
    const times: number[] = [];
    if (T) {
      // Full ring: oldest at the write position; otherwise in order from 0.
      const start = n < this.maxretry ? 0 : pos;
      for (let k = 0; k < n; k++) times.push(T[t0 + ((start + k) % n)]!);
    }
    const ports: number[] = [];
    const a = this.portArrays(slot);
    if (a !== null) for (let k = 0; k < I[bi + NPORTS]!; k++) ports.push(a.PN[a.pn0 + k]!, a.PT[a.pt0 + k]!, a.PH[a.ph0 + k]!);
    return { ip: this.ips[slot]!, hits: F[bf + HITS]!, first: F[bf + FIRST]!, last: F[bf + LAST]!, mask: I[bi + MASK]!, pending: I[bi + PENDING]!, times, ports };
  }

  /** Where a slot's ports are (off the hot path; null: own arrays not made yet). */
  private portArrays(slot: number): { PN: Int32Array; pn0: number; PT: Float64Array; pt0: number; PH: Int32Array; ph0: number } | null {
    if (!this.inline) {
      const PN = this.ownPortNums[slot];
      const PT = this.ownPortTimes[slot];
      const PH = this.ownPortHits[slot];
      return PN && PT && PH ? { PN, pn0: 0, PT, pt0: 0, PH, ph0: 0 } : null;
    }
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const ext = I[this.intsOf(slot) + EXT]!;
    if (ext < 0) {
      const rec = (slot & PAGE_MASK) * this.strideI;
      return { PN: I, pn0: rec + this.portsAt, PT: this.pagesF[slot >>> PAGE_BITS]!, pt0: (slot & PAGE_MASK) * this.strideD + this.portTimesAt, PH: I, ph0: rec + this.portHitsAt };
    }
    const EI = this.extPagesI[ext >>> PAGE_BITS]!;
    const pt0 = (ext & PAGE_MASK) * this.extStrideD;
    const pn0 = 2 * pt0 + this.extIntsAt;
    return { PN: EI, pn0, PT: this.extPagesF[ext >>> PAGE_BITS]!, pt0, PH: EI, ph0: pn0 + this.portCap + 1 };
  }

  /** Stores a copy as the most recently seen source (the layout may differ from where it came from). */
  private copyIn(c: SlotCopy, times: number[]): void {
    const slot = this.allocate(c.ip);
    const F = this.pagesF[slot >>> PAGE_BITS]!;
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const bf = (slot & PAGE_MASK) * this.strideD;
    const bi = this.intsOf(slot);
    const nPorts = c.ports.length / 3;
    F[bf + HITS] = c.hits;
    F[bf + FIRST] = c.first;
    F[bf + LAST] = c.last;
    I[bi + NTIMES] = times.length;
    I[bi + RINGPOS] = 0;
    I[bi + NPORTS] = nPorts;
    I[bi + MASK] = c.mask;
    I[bi + PENDING] = c.pending;
    I[bi + EXT] = this.inline && nPorts > SMALL_PORTS ? this.allocateExt() : -1;
    const T = this.inline ? F : this.ownTimesFor(slot, Math.max(1, times.length));
    const t0 = this.inline ? bf + this.timesAt : 0;
    for (let k = 0; k < times.length; k++) T[t0 + k] = times[k]!;
    if (!this.inline) this.ownPortsFor(slot, Math.max(1, nPorts));
    const { PN, pn0, PT, pt0, PH, ph0 } = this.portArrays(slot)!;
    for (let k = 0; k < nPorts; k++) {
      PN[pn0 + k] = c.ports[3 * k]!;
      PT[pt0 + k] = c.ports[3 * k + 1]!;
      PH[ph0 + k] = c.ports[3 * k + 2]!;
    }
    this.append(slot);
  }

  /**
   * Drops ports whose last probe left the window; over the cap, also the least recently probed
   * (the first of equals), keeping the others in order. Returns the number of ports left.
   * A port k is (PN[pn0 + k], PT[pt0 + k], PH[ph0 + k]).
   */
  private prunePorts(PN: Int32Array, pn0: number, PT: Float64Array, pt0: number, PH: Int32Array, ph0: number, n: number, now: number, enforceCap: boolean): number {
    let j = 0;
    for (let i = 0; i < n; i++) {
      if (now - PT[pt0 + i]! < this.findtimeMs) {
        if (j !== i) {
          PN[pn0 + j] = PN[pn0 + i]!;
          PT[pt0 + j] = PT[pt0 + i]!;
          PH[ph0 + j] = PH[ph0 + i]!;
        }
        j++;
      }
    }
    let left = j;
    if (enforceCap) {
      while (left > this.portCap) {
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

  /** prunePorts on a plain triplet list (re-layout). */
  private prunePortList(p: number[], now: number, enforceCap: boolean): void {
    const n = p.length / 3;
    const PN = new Int32Array(n);
    const PT = new Float64Array(n);
    const PH = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      PN[k] = p[3 * k]!;
      PT[k] = p[3 * k + 1]!;
      PH[k] = p[3 * k + 2]!;
    }
    const left = this.prunePorts(PN, 0, PT, 0, PH, 0, n, now, enforceCap);
    p.length = 0;
    for (let k = 0; k < left; k++) p.push(PN[k]!, PT[k]!, PH[k]!);
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
    const last = this.lastSeenOf(slot);
    this.release(slot);
    this.evictedCount++;
    this.onEvict?.(ip, Number.isNaN(time) ? last : time);
  }
}
