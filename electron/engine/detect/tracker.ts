/**
 * Per-source sliding windows: which sources probe many ports within `findtime`.
 *
 * A source is a scanner when, within the last `findtimeSec` seconds (event time), it sent at least
 * `maxretry` probes touching at least `minDistinctPorts` distinct destination ports.
 *
 * State per source, sized by the thresholds rather than by traffic:
 * - `times`: a ring of the last `maxretry` probe times. The window holds ≥ maxretry probes exactly
 *   when the oldest of those is inside it, so more times than that are never needed.
 * - `ports` / `portLast` / `portHits`: parallel arrays of the destination ports seen, when each
 *   was last probed and how often. Ports whose last probe left the window are pruned, and the
 *   arrays are capped (least recently probed port dropped first), so one source costs
 *   O(maxretry + minDistinctPorts) whatever it sends.
 * - Sources live in a Map (lookup) threaded on an intrusive doubly-linked list in order of last
 *   probe (head = least recently seen): touching a source is four pointer writes, evicting the
 *   least recently seen is O(1). (Re-inserting Map keys to keep the order costs a delete + set per
 *   probe, which measured at more than half of the detector's time.) Past `maxTrackedSources` the
 *   least recently seen source is evicted.
 *
 * Pure: no clock of its own, times are the packets' event times (ms).
 */
import type { ScanType } from '../../shared/model.ts';

const SCAN_TYPES: readonly ScanType[] = ['SYN', 'UDP', 'FIN', 'NULL', 'XMAS', 'MIXED', 'OTHER'];
const TYPE_BIT: Record<ScanType, number> = { SYN: 1, UDP: 2, FIN: 4, NULL: 8, XMAS: 16, MIXED: 32, OTHER: 64 };

export interface TrackerSettings {
  findtimeSec: number;
  maxretry: number;
  minDistinctPorts: number;
  maxTrackedSources: number;
}

export interface SourceWindow {
  readonly ip: string;
  /** Ring of the last `maxretry` probe times (ms). */
  times: number[];
  /** Next write position in `times` once it is full. */
  ringPos: number;
  ports: number[];
  portLast: number[];
  portHits: number[];
  /** Probes counted since the source started being tracked (this window, or since the last reset). */
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
  // A single bit set?
  if ((mask & (mask - 1)) === 0) {
    for (const t of SCAN_TYPES) if (TYPE_BIT[t] === mask) return t;
  }
  // OTHER (pings) alongside one real kind: report the real kind.
  const real = mask & ~TYPE_BIT.OTHER;
  if ((real & (real - 1)) === 0) for (const t of SCAN_TYPES) if (TYPE_BIT[t] === real) return t;
  return 'MIXED';
}

export class SourceTracker {
  private readonly sources = new Map<string, SourceWindow>();
  private findtimeMs = 0;
  private maxretry = 1;
  private minPorts = 1;
  private maxSources = 1;
  /** Cap of the per-source port arrays. */
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
      // The ring's length is maxretry: keep the most recent times in order.
      for (const w of this.sources.values()) {
        const ordered = orderedTimes(w);
        w.times = ordered.slice(Math.max(0, ordered.length - s.maxretry));
        w.ringPos = 0;
      }
    }
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

  /** Sources from the least to the most recently seen. */
  *inLruOrder(): IterableIterator<SourceWindow> {
    for (let w = this.head; w !== null; w = w.next) yield w;
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

  values(): IterableIterator<SourceWindow> {
    return this.sources.values();
  }

  /**
   * Counts one probe. `port` null for probes without a port (pings). Returns the window when the
   * source now meets the scan threshold, else null. The caller bans and then deletes the source.
   */
  probe(ip: string, time: number, port: number | null, type: ScanType, known?: SourceWindow): SourceWindow | null {
    let w = known ?? this.sources.get(ip);
    if (w === undefined) {
      w = {
        ip,
        times: [],
        ringPos: 0,
        ports: [],
        portLast: [],
        portHits: [],
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
        w.times.length = 0;
        w.ringPos = 0;
        w.ports.length = 0;
        w.portLast.length = 0;
        w.portHits.length = 0;
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
    if (times.length < this.maxretry) times.push(time);
    else {
      times[w.ringPos] = time;
      w.ringPos = w.ringPos + 1 === this.maxretry ? 0 : w.ringPos + 1;
    }

    if (port !== null) {
      const i = w.ports.indexOf(port);
      if (i >= 0) {
        if (time > w.portLast[i]!) w.portLast[i] = time;
        w.portHits[i]!++;
      } else {
        w.ports.push(port);
        w.portLast.push(time);
        w.portHits.push(1);
        if (w.ports.length > this.portCap) this.prunePorts(w, time, true);
      }
    }

    if (times.length < this.maxretry) return null;
    // Oldest of the last maxretry probes: the slot the ring writes next (or index 0 before it wraps).
    const oldest = times[w.ringPos]!;
    if (time - oldest >= this.findtimeMs) return null;
    if (w.ports.length < this.minPorts) return null;
    this.prunePorts(w, time, false);
    return w.ports.length >= this.minPorts ? w : null;
  }

  /** Distinct ports of a source still inside the window at `now`. */
  distinctPortsInWindow(w: SourceWindow, now: number): number {
    let n = 0;
    for (let i = 0; i < w.ports.length; i++) if (now - w.portLast[i]! < this.findtimeMs) n++;
    return n;
  }

  /** Ban-reason / offender view of a source. `limit` caps the port list (ascending). */
  summary(w: SourceWindow, limit = 64): WindowSummary {
    const ports = [...w.ports].sort((a, b) => a - b);
    return {
      hits: w.hits,
      ports: ports.length > limit ? ports.slice(0, limit) : ports,
      distinctPorts: w.ports.length,
      firstSeen: w.firstSeen,
      lastSeen: w.lastSeen,
      scanType: scanTypeOf(w.typeMask),
    };
  }

  /** Ports of a source, most probed first (ties: lower port first), at most `limit`. */
  topPorts(w: SourceWindow, limit: number): number[] {
    const idx = w.ports.map((_, i) => i);
    idx.sort((a, b) => w.portHits[b]! - w.portHits[a]! || w.ports[a]! - w.ports[b]!);
    return idx.slice(0, limit).map((i) => w.ports[i]!);
  }

  /** Drops ports whose last probe left the window; over the cap, also the least recently probed. */
  private prunePorts(w: SourceWindow, now: number, enforceCap: boolean): void {
    const { ports, portLast, portHits } = w;
    let j = 0;
    for (let i = 0; i < ports.length; i++) {
      if (now - portLast[i]! < this.findtimeMs) {
        ports[j] = ports[i]!;
        portLast[j] = portLast[i]!;
        portHits[j] = portHits[i]!;
        j++;
      }
    }
    ports.length = j;
    portLast.length = j;
    portHits.length = j;
    if (enforceCap) {
      while (ports.length > this.portCap) {
        let min = 0;
        for (let i = 1; i < ports.length; i++) if (portLast[i]! < portLast[min]!) min = i;
        ports.splice(min, 1);
        portLast.splice(min, 1);
        portHits.splice(min, 1);
      }
    }
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
  const t = w.times;
  return t.length === 0 ? [] : [...t.slice(w.ringPos), ...t.slice(0, w.ringPos)];
}
