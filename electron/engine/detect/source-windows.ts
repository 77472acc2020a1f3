/**
 * The window records: per source slot (numbered by `SourceTable`), what the scan rule
 * (`scan-rule.ts`) reads — the ring of the last `maxretry` probe times, each with its connection
 * key, the ports with their last probe time and hits, hits, first/last seen, the kinds of probe
 * seen — and a ban-pending flag.
 *
 * Storage: each slot is one fixed-size record in a page of PAGE_SLOTS records. A page is one
 * ArrayBuffer seen both as a Float64Array (times, hits, first and last seen) and as an Int32Array
 * (counters, flags, port numbers, per-port hits). A record holds up to SMALL_PORTS ports; a source
 * that probes more (a few percent of them) moves its port list to a port record of the full length
 * in pages of their own. With the default settings a source costs 184 bytes, 408 with a port record
 * (440 when every record was all doubles and held the full list: ~44 MB for 100k sources, now
 * ~18 MB; the ring's connection keys are 40 of the 184). Why pages rather than one array grown by doubling: the last doubling copied ~29 MB into a
 * new ~44 MB array while the old one was still alive (a replay of 100k sources peaked ~30 MB higher
 * for it), and the freed arrays stayed in the allocator; pages are allocated once, never copied, and
 * a slot keeps its page. Why numbers in typed arrays rather than one object per source (as before):
 * a replay of 100k sources kept ~100k objects with growable arrays alive, which the GC copied and
 * promoted line after line, and following those pointers cost cache misses on every probe. A probe
 * writes numbers into one record and allocates nothing.
 * A probe whose connection key (the caller's: protocol, source and destination port, a hash of the
 * source address; -1 for none) equals a ring entry's less than REPEAT_WINDOW_MS apart is a repeat
 * of that probe (scan-rule.ts): it counts in the hits and first/last seen only. The ring is where
 * it is looked for: at most maxretry numbers next to the times the probe reads anyway.
 * Per-port hits are Int32 and stop at 2^31 - 1 (they only order the offender's top ports).
 * When the thresholds are large (maxretry or the port cap above a few dozen), a fixed record would
 * reserve memory for probes most sources never send: then each slot keeps its ring and ports in
 * its own typed arrays that grow on demand (up to the same caps), and the record holds the header.
 *
 * So three layouts of a port list: inline in the record, in a port record, in the slot's own
 * arrays. `portArrays()` says where a slot's are; the hot path (`record`) resolves them inline.
 */
import type { ScanType } from '../../shared/model.ts';
import { connectionKey, type ProbeWindows, REPEAT_WINDOW_MS, TYPE_BIT, type WindowCopy } from './scan-rule.ts';
import { addPageFor, PAGE_BITS, PAGE_MASK, prunePortList, prunePorts } from './window-pages.ts';

// A record holds doubles first, then 32-bit integers (one ArrayBuffer per page, seen through both
// views; a record's length is a whole number of doubles, so its doubles stay aligned).
// Doubles, indexes from the record's first double:
const FIRST = 0;
const LAST = 1;
const HITS = 2; // probes counted since the source started being tracked (or was quiet for a whole window)
const NOTE = 3; // the caller's note about the source (noteOf): kept in the record so that reading it next to the window costs no second cache miss
const F_HEADER = 4; // then (inline layout) the ring of maxretry times, their connection keys, then each small port list's last probe times
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
 * so a record of the default settings is 144 bytes and only the few busy sources pay 224 more.
 */
const SMALL_PORTS = 3;

/** Records whose ring and full port list would fit in this many bytes use the inline layout (the default settings: 320). */
const INLINE_RECORD_MAX_BYTES = 1280;
/** First size of a slot's own arrays when they are not inline. */
const OWN_ARRAY_MIN = 8;
/** Per-port hits stop here (Int32). */
const PORT_HITS_MAX = 0x7fffffff;

/** Where a slot's ports are: port k is (PN[pn0 + k], PT[pt0 + k], PH[ph0 + k]). */
interface PortArrays {
  PN: Int32Array;
  pn0: number;
  PT: Float64Array;
  pt0: number;
  PH: Int32Array;
  ph0: number;
}

export class SourceWindows implements ProbeWindows {
  private findtimeMs = 0;
  private maxretry = 0;
  /** Cap of the per-source port list (ports, not array slots). */
  private portCap = 1;
  /** Layout: a record's length in doubles and in integers, and where its parts start (inline layout). */
  private strideD = F_HEADER;
  private strideI = 2 * F_HEADER;
  private inline = true;
  /** Doubles: the ring, the ports' last probe times. */
  private timesAt = F_HEADER;
  private keysAt = F_HEADER;
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
  /** Per-slot ring and port arrays when the layout is not inline. */
  private ownTimes: (Float64Array | null)[] = [];
  private ownKeys: (Float64Array | null)[] = [];
  private ownPortNums: (Int32Array | null)[] = [];
  private ownPortTimes: (Float64Array | null)[] = [];
  private ownPortHits: (Int32Array | null)[] = [];

  /** The window after which ports no longer count. */
  setWindow(findtimeMs: number): void {
    this.findtimeMs = findtimeMs;
  }

  /** Forgets every record and lays records out for a ring of `maxretry` times and `portCap` ports. */
  layout(maxretry: number, portCap: number): void {
    this.maxretry = maxretry;
    this.portCap = portCap;
    const ring = maxretry;
    const ports = portCap + 1; // +1: a new port is written before the cap prunes
    this.inline = 8 * (F_HEADER + 2 * ring + ports) + 4 * (I_HEADER + 2 * ports) <= INLINE_RECORD_MAX_BYTES;
    const doubles = this.inline ? F_HEADER + 2 * ring + SMALL_PORTS : F_HEADER;
    const ints = 2 * doubles + I_HEADER + (this.inline ? 2 * SMALL_PORTS : 0);
    this.strideI = ints + (ints & 1);
    this.strideD = this.strideI / 2;
    this.timesAt = F_HEADER;
    this.keysAt = F_HEADER + ring;
    this.portTimesAt = F_HEADER + 2 * ring;
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
    this.ownTimes = [];
    this.ownKeys = [];
    this.ownPortNums = [];
    this.ownPortTimes = [];
    this.ownPortHits = [];
  }

  /** A new window for `slot` (a slot the table just handed out), its first probe at `time`. */
  start(slot: number, time: number): void {
    addPageFor(slot, this.pagesF, this.pagesI, this.strideD);
    const F = this.pagesF[slot >>> PAGE_BITS]!;
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const bf = (slot & PAGE_MASK) * this.strideD;
    const bi = this.intsOf(slot);
    F[bf + HITS] = 0;
    F[bf + FIRST] = time;
    F[bf + LAST] = time;
    F[bf + NOTE] = -1;
    I[bi + NTIMES] = 0;
    I[bi + RINGPOS] = 0;
    I[bi + NPORTS] = 0;
    I[bi + MASK] = 0;
    I[bi + PENDING] = 0;
    I[bi + EXT] = -1;
  }

  /** Starts a tracked source's window afresh at `time` (everything it did before has left it). */
  restart(slot: number, time: number): void {
    const F = this.pagesF[slot >>> PAGE_BITS]!;
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const bf = (slot & PAGE_MASK) * this.strideD;
    const bi = this.intsOf(slot);
    I[bi + NTIMES] = 0;
    I[bi + RINGPOS] = 0;
    I[bi + NPORTS] = 0;
    F[bf + HITS] = 0;
    F[bf + FIRST] = time;
    I[bi + MASK] = 0;
    if (this.inline) this.releaseExt(I, bi);
  }

  /**
   * The scan rule's "quiet for a whole window" (scan-rule.ts): when everything the source did before
   * `time` has left the window (last seen findtime or more before it) and no ban of it is pending,
   * its window starts afresh at `time`. Here rather than in the rule, which would read the last-seen
   * time through lastSeenOf: a double returned from a call is a new heap number, one per probe of a
   * known source (~8 MB of young garbage in a 1M-line replay). Returns whether it started afresh.
   */
  restartIfQuiet(slot: number, time: number): boolean {
    const F = this.pagesF[slot >>> PAGE_BITS]!;
    if (time - F[(slot & PAGE_MASK) * this.strideD + LAST]! < this.findtimeMs) return false;
    if (this.pagesI[slot >>> PAGE_BITS]![this.intsOf(slot) + PENDING] !== 0) return false;
    this.restart(slot, time);
    return true;
  }

  /** Whether a slot's source was last seen `ms` or more before `time` (a boolean: a double returned from a call is a new heap number). */
  quietFor(slot: number, time: number, ms: number): boolean {
    return time - this.pagesF[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * this.strideD + LAST]! >= ms;
  }

  /** Frees what a slot's window holds beyond its record (the slot is being forgotten). */
  release(slot: number): void {
    if (this.inline) this.releaseExt(this.pagesI[slot >>> PAGE_BITS]!, this.intsOf(slot));
    else {
      this.ownTimes[slot] = null;
      this.ownKeys[slot] = null;
      this.ownPortNums[slot] = null;
      this.ownPortTimes[slot] = null;
      this.ownPortHits[slot] = null;
    }
  }

  /** The caller's note about a slot's source: -1 until set (a new window, or one copied in); kept through restarts. */
  noteOf(slot: number): number {
    return this.pagesF[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * this.strideD + NOTE]!;
  }

  setNote(slot: number, note: number): void {
    this.pagesF[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * this.strideD + NOTE] = note;
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

  portCount(slot: number): number {
    return this.pagesI[slot >>> PAGE_BITS]![this.intsOf(slot) + NPORTS]!;
  }

  probesOf(slot: number): number {
    return this.pagesI[slot >>> PAGE_BITS]![this.intsOf(slot) + NTIMES]!;
  }

  ringEarliest(slot: number, time: number): number {
    const T = this.inline ? this.pagesF[slot >>> PAGE_BITS]! : this.ownTimes[slot]!;
    const t0 = this.inline ? (slot & PAGE_MASK) * this.strideD + this.timesAt : 0;
    let earliest = time;
    for (let k = t0, end = t0 + this.maxretry; k < end; k++) if (T[k]! < earliest) earliest = T[k]!;
    return earliest;
  }

  ringLatest(slot: number, time: number): number {
    const T = this.inline ? this.pagesF[slot >>> PAGE_BITS]! : this.ownTimes[slot]!;
    const t0 = this.inline ? (slot & PAGE_MASK) * this.strideD + this.timesAt : 0;
    let latest = time;
    for (let k = t0, end = t0 + this.maxretry; k < end; k++) if (T[k]! > latest) latest = T[k]!;
    return latest;
  }

  prunePorts(slot: number, now: number): number {
    const a = this.portArrays(slot);
    if (a === null) return 0; // own arrays never made: no port yet
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const bi = this.intsOf(slot);
    const left = prunePorts(a.PN, a.pn0, a.PT, a.pt0, a.PH, a.ph0, I[bi + NPORTS]!, now, this.findtimeMs, -1);
    I[bi + NPORTS] = left;
    return left;
  }

  /**
   * Records one probe into a slot's window: hits, first/last seen, kind, the ring of the last
   * maxretry times with their connection keys and the port (null for probes without a port: pings),
   * pruning the port list at its cap. `connPorts`, `connFrom`: the probe's connection key in its
   * two halves (scan-rule.ts; connFrom -1: none, never a repeat).
   * Returns probesOf(slot) (the rule's first question, answered without looking the record up
   * again), or 0 for a repeat of a probe in the ring (counted in hits and first/last seen only).
   */
  record(slot: number, time: number, port: number | null, type: ScanType, connPorts = 0, connFrom = -1): number {
    const page = slot >>> PAGE_BITS;
    const F = this.pagesF[page]!;
    const I = this.pagesI[page]!;
    const r = slot & PAGE_MASK;
    const bf = r * this.strideD;
    const bi = r * this.strideI + this.intsAt;
    if (time > F[bf + LAST]!) F[bf + LAST] = time;
    if (time < F[bf + FIRST]!) F[bf + FIRST] = time;
    F[bf + HITS] = F[bf + HITS]! + 1;
    I[bi + MASK] = I[bi + MASK]! | TYPE_BIT[type];

    // Ring of the last maxretry times and their connection keys.
    const R = this.maxretry;
    const nTimes = I[bi + NTIMES]!;
    let T: Float64Array;
    let K: Float64Array;
    let t0: number;
    let k0: number;
    if (this.inline) {
      T = K = F;
      t0 = bf + this.timesAt;
      k0 = bf + this.keysAt;
    } else {
      T = nTimes < R ? this.ownTimesFor(slot, nTimes + 1) : this.ownTimes[slot]!;
      K = this.ownKeys[slot]!;
      t0 = k0 = 0;
    }
    // A repeat of a probe still in the ring (a retransmitted SYN: same ports) is no new probe.
    const conn = connectionKey(connPorts, connFrom);
    if (conn >= 0) for (let k = 0; k < nTimes; k++) if (K[k0 + k] === conn && Math.abs(time - T[t0 + k]!) < REPEAT_WINDOW_MS) return 0;
    let probes = R;
    if (nTimes < R) {
      T[t0 + nTimes] = time;
      K[k0 + nTimes] = conn;
      I[bi + NTIMES] = probes = nTimes + 1;
    } else {
      const pos = I[bi + RINGPOS]!;
      T[t0 + pos] = time;
      K[k0 + pos] = conn;
      I[bi + RINGPOS] = pos + 1 === R ? 0 : pos + 1;
    }
    if (port === null) return probes;

    let nPorts = I[bi + NPORTS]!;
    let PN: Int32Array;
    let pn0: number;
    let PT: Float64Array;
    let pt0: number;
    let PH: Int32Array;
    let ph0: number;
    if (this.inline) {
      let ext = I[bi + EXT]!;
      if (ext < 0 && nPorts === SMALL_PORTS) ext = this.moveToExt(I, F, bi, r, bf, nPorts, port);
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
      this.ownPortsFor(slot, nPorts + 1);
      PN = this.ownPortNums[slot]!;
      PT = this.ownPortTimes[slot]!;
      PH = this.ownPortHits[slot]!;
      pn0 = pt0 = ph0 = 0;
    }
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
      if (nPorts > this.portCap) nPorts = prunePorts(PN, pn0, PT, pt0, PH, ph0, nPorts, time, this.findtimeMs, this.portCap);
      I[bi + NPORTS] = nPorts;
    }
    return probes;
  }

  /** A slot's state as plain values (off the hot path: summaries, re-layout). */
  copyOut(slot: number, ip: string): WindowCopy {
    const F = this.pagesF[slot >>> PAGE_BITS]!;
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const bf = (slot & PAGE_MASK) * this.strideD;
    const bi = this.intsOf(slot);
    const n = I[bi + NTIMES]!;
    const pos = I[bi + RINGPOS]!;
    const T = this.inline ? F : this.ownTimes[slot];
    const K = this.inline ? F : this.ownKeys[slot];
    const t0 = this.inline ? bf + this.timesAt : 0;
    const k0 = this.inline ? bf + this.keysAt : 0;
    const times: number[] = [];
    const keys: number[] = [];
    if (T && K) {
      // Full ring: oldest at the write position; otherwise in order from 0.
      const start = n < this.maxretry ? 0 : pos;
      for (let k = 0; k < n; k++) {
        times.push(T[t0 + ((start + k) % n)]!);
        keys.push(K[k0 + ((start + k) % n)]!);
      }
    }
    const ports: number[] = [];
    const a = this.portArrays(slot);
    if (a !== null) for (let k = 0; k < I[bi + NPORTS]!; k++) ports.push(a.PN[a.pn0 + k]!, a.PT[a.pt0 + k]!, a.PH[a.ph0 + k]!);
    return { ip, hits: F[bf + HITS]!, first: F[bf + FIRST]!, last: F[bf + LAST]!, mask: I[bi + MASK]!, pending: I[bi + PENDING]!, times, keys, ports };
  }

  /**
   * Stores a copy in `slot` (the layout may differ from where it came from): the ring keeps the
   * most recent `maxretry` times (and their keys), a port list longer than 3 caps is pruned first.
   */
  copyIn(slot: number, c: WindowCopy): void {
    const times = c.times.slice(Math.max(0, c.times.length - this.maxretry));
    const keys = c.keys.slice(Math.max(0, c.keys.length - this.maxretry));
    if (c.ports.length > 3 * this.portCap) prunePortList(c.ports, c.last, this.findtimeMs, this.portCap);
    addPageFor(slot, this.pagesF, this.pagesI, this.strideD);
    const F = this.pagesF[slot >>> PAGE_BITS]!;
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const bf = (slot & PAGE_MASK) * this.strideD;
    const bi = this.intsOf(slot);
    const nPorts = c.ports.length / 3;
    F[bf + HITS] = c.hits;
    F[bf + FIRST] = c.first;
    F[bf + LAST] = c.last;
    F[bf + NOTE] = -1;
    I[bi + NTIMES] = times.length;
    I[bi + RINGPOS] = 0;
    I[bi + NPORTS] = nPorts;
    I[bi + MASK] = c.mask;
    I[bi + PENDING] = c.pending;
    I[bi + EXT] = this.inline && nPorts > SMALL_PORTS ? this.allocateExt() : -1;
    const T = this.inline ? F : this.ownTimesFor(slot, Math.max(1, times.length));
    const K = this.inline ? F : this.ownKeys[slot]!;
    const t0 = this.inline ? bf + this.timesAt : 0;
    const k0 = this.inline ? bf + this.keysAt : 0;
    for (let k = 0; k < times.length; k++) {
      T[t0 + k] = times[k]!;
      K[k0 + k] = keys[k] ?? -1;
    }
    if (!this.inline) this.ownPortsFor(slot, Math.max(1, nPorts));
    const { PN, pn0, PT, pt0, PH, ph0 } = this.portArrays(slot)!;
    for (let k = 0; k < nPorts; k++) {
      PN[pn0 + k] = c.ports[3 * k]!;
      PT[pt0 + k] = c.ports[3 * k + 1]!;
      PH[ph0 + k] = c.ports[3 * k + 2]!;
    }
  }

  /**
   * Stores in `slot` a copy of `other`'s window `from`, record for record, when both are laid out
   * alike (the inline layout, the same ring and port cap); false (nothing done) otherwise, for
   * copyOut + copyIn. As copyOut + copyIn would store it (the note starts again at -1; the ring's
   * oldest time stays the next to be overwritten), without the two arrays and the object a copy
   * through plain values makes: PrefixWatch copies a window for nearly every IPv6 source of 5+ probes.
   */
  copyFrom(slot: number, other: SourceWindows, from: number): boolean {
    if (!this.inline || !other.inline || other.maxretry !== this.maxretry || other.portCap !== this.portCap || other.strideD !== this.strideD) return false;
    addPageFor(slot, this.pagesF, this.pagesI, this.strideD);
    const F = this.pagesF[slot >>> PAGE_BITS]!;
    const OF = other.pagesF[from >>> PAGE_BITS]!;
    const bf = (slot & PAGE_MASK) * this.strideD;
    const of = (from & PAGE_MASK) * this.strideD;
    // The whole record, its integers included (the same ArrayBuffer seen as doubles).
    for (let k = 0; k < this.strideD; k++) F[bf + k] = OF[of + k]!;
    F[bf + NOTE] = -1;
    const I = this.pagesI[slot >>> PAGE_BITS]!;
    const bi = this.intsOf(slot);
    const oext = I[bi + EXT]!;
    if (oext >= 0) {
      // Its port record: one of this side's, a copy of the other's.
      const ext = this.allocateExt();
      const EF = this.extPagesF[ext >>> PAGE_BITS]!;
      const OEF = other.extPagesF[oext >>> PAGE_BITS]!;
      const et = (ext & PAGE_MASK) * this.extStrideD;
      const ot = (oext & PAGE_MASK) * this.extStrideD;
      for (let k = 0; k < this.extStrideD; k++) EF[et + k] = OEF[ot + k]!;
      I[bi + EXT] = ext;
    }
    return true;
  }

  // ------------------------------------------------------------------ storage

  /** Index of a slot's first integer in its page's Int32Array. */
  private intsOf(slot: number): number {
    return (slot & PAGE_MASK) * this.strideI + this.intsAt;
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

  /** The slot's own ring (and its keys, in ownKeys), grown to hold at least `need` times (never more than maxretry). */
  private ownTimesFor(slot: number, need: number): Float64Array {
    let a = this.ownTimes[slot] ?? null;
    if (a === null || a.length < need) {
      const length = Math.min(this.maxretry, Math.max(OWN_ARRAY_MIN, need, a === null ? 0 : a.length * 2));
      const grown = new Float64Array(length);
      const keys = new Float64Array(length);
      if (a !== null) {
        grown.set(a);
        keys.set(this.ownKeys[slot]!);
      }
      this.ownTimes[slot] = a = grown;
      this.ownKeys[slot] = keys;
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

  /** Where a slot's ports are (off the hot path; null: own arrays not made yet). */
  private portArrays(slot: number): PortArrays | null {
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
}
