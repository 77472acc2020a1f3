/**
 * Per-source sliding windows: which sources probe many ports within `findtime`.
 *
 * A source is a scanner when, within the last `findtimeSec` seconds (event time), it sent at least
 * `maxretry` probes touching at least `minDistinctPorts` distinct destination ports.
 *
 * State per source, sized by the thresholds rather than by traffic, in two plain number arrays
 * (V8 keeps them unboxed; every extra array per source costs ~150 bytes, and a log of 100k sources
 * must stay within the replay's memory budget — four arrays per source measured ~1 kB a source):
 * - `times`: a ring of the last `maxretry` probe times. The window holds ≥ maxretry probes exactly
 *   when the oldest of those is inside it, so more times than that are never needed.
 * - `ports`: triplets [port, last probe time, hits] of the destination ports seen. Ports whose
 *   last probe left the window are pruned, and the list is capped (least recently probed port
 *   dropped first), so one source costs O(maxretry + minDistinctPorts) whatever it sends.
 * - Sources live in a Map (lookup) threaded on an intrusive doubly-linked list in order of last
 *   probe (head = least recently seen): touching a source is a few pointer writes, evicting the
 *   least recently seen is O(1). (Re-inserting Map keys to keep the order costs a delete + set per
 *   probe, which measured at more than half of the detector's time.) Past `maxTrackedSources` the
 *   least recently seen source is evicted.
 *
 * Pure: no clock of its own, times are the packets' event times (ms).
 */
import type { ScanType } from '../../shared/model.ts';

const SCAN_TYPES: readonly ScanType[] = ['SYN', 'UDP', 'FIN', 'NULL', 'XMAS', 'MIXED', 'OTHER'];
const TYPE_BIT: Record<ScanType, number> = { SYN: 1, UDP: 2, FIN: 4, NULL: 8, XMAS: 16, MIXED: 32, OTHER: 64 };
/** Rings up to this length are allocated at their full size at once (exact size, no growth slack). */
const PREALLOCATED_RING_MAX = 32;

export interface TrackerSettings {
  findtimeSec: number;
  maxretry: number;
  minDistinctPorts: number;
  maxTrackedSources: number;
}

export interface SourceWindow {
  readonly ip: string;
  /** Ring of the last `maxretry` probe times (ms); the first `nTimes` slots are in use. */
  times: number[];
  nTimes: number;
  /** Next write position in `times` once it is full (then also the oldest entry). */
  ringPos: number;
  /** Triplets [port, last probe time, hits]. */
  ports: number[];
  /** Probes counted since the source started being tracked (or since it was quiet for a whole window). */
  hits: number;
  firstSeen: number;
  lastSeen: number;
  /** Bits of TYPE_BIT of the probe kinds seen. */
  typeMask: number;
  /** A ban of this source is queued behind the new-bans-per-minute cap. */
  pending: boolean;
  /** LRU list links (toward the least / most recently seen). */
  prev: SourceWindow | null;
  next: SourceWindow | null;
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

function newRing(size: number): number[] {
  return size <= PREALLOCATED_RING_MAX ? new Array<number>(size).fill(0) : [];
}

export class SourceTracker {
  private readonly sources = new Map<string, SourceWindow>();
  private findtimeMs = 0;
  private maxretry = 1;
  private minPorts = 1;
  private maxSources = 1;
  /** Cap of the per-source port list (ports, not array slots). */
  private portCap = 1;
  /** Least and most recently seen sources. */
  private head: SourceWindow | null = null;
  private tail: SourceWindow | null = null;
  evictedCount = 0;

  /** Called with every source evicted by the LRU bound (ip, event time of the probe that pushed it out). */
  onEvict: ((ip: string, time: number) => void) | null = null;

  constructor(settings: TrackerSettings) {
    this.configure(settings);
  }

  configure(s: TrackerSettings): void {
    const retryChanged = s.maxretry !== this.maxretry;
    this.findtimeMs = s.findtimeSec * 1000;
    this.maxretry = s.maxretry;
    this.minPorts = s.minDistinctPorts;
    this.maxSources = s.maxTrackedSources;
    this.portCap = Math.max(s.maxretry, s.minDistinctPorts) + 8;
    if (retryChanged) {
      // The ring's length is maxretry: keep the most recent times, oldest first.
      for (const w of this.sources.values()) {
        const ordered = orderedTimes(w);
        const kept = ordered.slice(Math.max(0, ordered.length - s.maxretry));
        const ring = newRing(s.maxretry);
        for (let i = 0; i < kept.length; i++) ring[i] = kept[i]!;
        w.times = ring;
        w.nTimes = kept.length;
        w.ringPos = 0;
      }
    }
    for (const w of this.sources.values()) if (w.ports.length > 3 * this.portCap) this.prunePorts(w, w.lastSeen, true);
    while (this.sources.size > this.maxSources) this.evictOldest(Number.NaN);
  }

  get size(): number {
    return this.sources.size;
  }

  get(ip: string): SourceWindow | undefined {
    return this.sources.get(ip);
  }

  delete(ip: string): boolean {
    const w = this.sources.get(ip);
    if (w === undefined) return false;
    this.sources.delete(ip);
    this.unlink(w);
    return true;
  }

  clear(): void {
    this.sources.clear();
    this.head = this.tail = null;
  }

  values(): IterableIterator<SourceWindow> {
    return this.sources.values();
  }

  /** Sources from the least to the most recently seen. */
  *inLruOrder(): IterableIterator<SourceWindow> {
    for (let w = this.head; w !== null; w = w.next) yield w;
  }

  /** Distinct ports a source has on record (pruned to the window when it matters). */
  portCount(w: SourceWindow): number {
    return w.ports.length / 3;
  }

  /**
   * Counts one probe. `port` null for probes without a port (pings). Returns the window when the
   * source now meets the scan threshold, else null. The caller bans and then deletes the source.
   * `known` is the caller's own lookup of `ip`, to save a second one.
   */
  probe(ip: string, time: number, port: number | null, type: ScanType, known?: SourceWindow): SourceWindow | null {
    let w = known ?? this.sources.get(ip);
    if (w === undefined) {
      w = {
        ip,
        times: newRing(this.maxretry),
        nTimes: 0,
        ringPos: 0,
        ports: port === null ? [] : [port, time, 0],
        hits: 0,
        firstSeen: time,
        lastSeen: time,
        typeMask: 0,
        pending: false,
        prev: null,
        next: null,
      };
      this.sources.set(ip, w);
      this.append(w);
      if (this.sources.size > this.maxSources) this.evictOldest(time);
    } else {
      if (w !== this.tail) {
        this.unlink(w);
        this.append(w);
      }
      if (time - w.lastSeen >= this.findtimeMs && !w.pending) {
        // Everything it did before has left the window: start afresh (the common case of a slow source).
        w.nTimes = 0;
        w.ringPos = 0;
        w.ports.length = 0;
        w.hits = 0;
        w.firstSeen = time;
        w.typeMask = 0;
      }
    }
    if (time > w.lastSeen) w.lastSeen = time;
    if (time < w.firstSeen) w.firstSeen = time;
    w.hits++;
    w.typeMask |= TYPE_BIT[type];

    const times = w.times;
    const R = this.maxretry;
    if (w.nTimes < R) times[w.nTimes++] = time;
    else {
      times[w.ringPos] = time;
      w.ringPos = w.ringPos + 1 === R ? 0 : w.ringPos + 1;
    }

    if (port !== null) {
      const ports = w.ports;
      let i = 0;
      const n = ports.length;
      while (i < n && ports[i] !== port) i += 3;
      if (i < n) {
        if (time > ports[i + 1]!) ports[i + 1] = time;
        ports[i + 2]!++;
      } else {
        ports.push(port, time, 1);
        if (n + 3 > 3 * this.portCap) this.prunePorts(w, time, true);
      }
    }

    if (w.nTimes < R) return null;
    // Oldest of the last maxretry probes: the slot the ring writes next.
    if (time - times[w.ringPos]! >= this.findtimeMs) return null;
    if (w.ports.length < 3 * this.minPorts) return null;
    this.prunePorts(w, time, false);
    return w.ports.length >= 3 * this.minPorts ? w : null;
  }

  /** Ban-reason / offender view of a source. `limit` caps the port list (ascending). */
  summary(w: SourceWindow, limit = 64): WindowSummary {
    const ports: number[] = [];
    for (let i = 0; i < w.ports.length; i += 3) ports.push(w.ports[i]!);
    ports.sort((a, b) => a - b);
    return {
      hits: w.hits,
      ports: ports.length > limit ? ports.slice(0, limit) : ports,
      distinctPorts: ports.length,
      firstSeen: w.firstSeen,
      lastSeen: w.lastSeen,
      scanType: scanTypeOf(w.typeMask),
    };
  }

  /** Ports of a source, most probed first (ties: lower port first), at most `limit`. */
  topPorts(w: SourceWindow, limit: number): number[] {
    const rows: [number, number][] = [];
    for (let i = 0; i < w.ports.length; i += 3) rows.push([w.ports[i]!, w.ports[i + 2]!]);
    rows.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    return rows.slice(0, limit).map((r) => r[0]);
  }

  /** Drops ports whose last probe left the window; over the cap, also the least recently probed. */
  private prunePorts(w: SourceWindow, now: number, enforceCap: boolean): void {
    const p = w.ports;
    let j = 0;
    for (let i = 0; i < p.length; i += 3) {
      if (now - p[i + 1]! < this.findtimeMs) {
        if (j !== i) {
          p[j] = p[i]!;
          p[j + 1] = p[i + 1]!;
          p[j + 2] = p[i + 2]!;
        }
        j += 3;
      }
    }
    p.length = j;
    if (enforceCap) {
      while (p.length > 3 * this.portCap) {
        let min = 0;
        for (let i = 3; i < p.length; i += 3) if (p[i + 1]! < p[min + 1]!) min = i;
        p.splice(min, 3);
      }
    }
  }

  private unlink(w: SourceWindow): void {
    if (w.prev !== null) w.prev.next = w.next;
    else this.head = w.next;
    if (w.next !== null) w.next.prev = w.prev;
    else this.tail = w.prev;
    w.prev = w.next = null;
  }

  private append(w: SourceWindow): void {
    w.prev = this.tail;
    w.next = null;
    if (this.tail !== null) this.tail.next = w;
    else this.head = w;
    this.tail = w;
  }

  private evictOldest(time: number): void {
    const w = this.head;
    if (w === null) return;
    this.sources.delete(w.ip);
    this.unlink(w);
    this.evictedCount++;
    this.onEvict?.(w.ip, Number.isNaN(time) ? w.lastSeen : time);
  }
}

/** Times of the ring, oldest first. */
function orderedTimes(w: SourceWindow): number[] {
  const t = w.times.slice(0, w.nTimes);
  return w.ringPos === 0 ? t : [...t.slice(w.ringPos), ...t.slice(0, w.ringPos)];
}
