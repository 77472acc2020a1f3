/**
 * Bans the new-bans-per-minute cap holds back, waiting for budget.
 *
 * It was an unbounded FIFO: 50,000 spoofed throwaway sources queued ahead of a real scanner delayed
 * its ban by ~28 hours. Now:
 * - bounded (`capacity`): when full, a newcomer takes the place of the weakest entry if it is
 *   stronger, else it is dropped;
 * - the strongest and freshest evidence is released first: more distinct ports first (a source
 *   probing 20 ports beats one with 5), then the most recent probe, then the oldest in the queue
 *   (so equal evidence keeps its order);
 * - an entry whose evidence aged past findtime (no probe for that long) is dropped when met: its
 *   scan is over and a ban would only block an address that may not be the scanner's any more.
 * Evidence grows while an entry waits (refresh), so a scanner that keeps probing climbs the queue.
 *
 * Sizes are small (capacity is what the cap could release within findtime, see capacityFor), so
 * the queue is a Map and the best/weakest entry is found by a scan when needed — at most once per
 * released ban and once per newcomer to a full queue.
 */
import type { BanReason } from '../../shared/model.ts';

export interface DeferredBan {
  ip: string;
  /** Event time at which the ban was decided and held back. */
  queuedAt: number;
  reason: BanReason;
  /** Distinct ports of its evidence (grows while it waits). */
  ports: number;
  /** Event time of its latest probe. */
  lastSeen: number;
}

/** Fewest / most entries a queue holds, whatever the settings. */
export const MIN_DEFERRED_CAPACITY = 100;
export const MAX_DEFERRED_CAPACITY = 10_000;

/**
 * The bound for a cap of `perMinute` new bans and a window of `findtimeSec`: what the cap can
 * release before the evidence of a newly queued entry ages out (more could never be banned).
 */
export function capacityFor(perMinute: number, findtimeSec: number): number {
  return Math.min(MAX_DEFERRED_CAPACITY, Math.max(MIN_DEFERRED_CAPACITY, perMinute * Math.ceil(findtimeSec / 60)));
}

interface Entry extends DeferredBan {
  /** Arrival order, for ties. */
  order: number;
}

/** Is `a` released before `b`? */
function before(a: Entry, b: Entry): boolean {
  if (a.ports !== b.ports) return a.ports > b.ports;
  if (a.lastSeen !== b.lastSeen) return a.lastSeen > b.lastSeen;
  return a.order < b.order;
}

export class DeferredQueue {
  private readonly entries = new Map<string, Entry>();
  private nextOrder = 0;
  private capacity: number;
  /** Entries dropped so far: evidence aged past findtime, or pushed out of a full queue. */
  droppedAged = 0;
  droppedFull = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.entries.size;
  }

  has(ip: string): boolean {
    return this.entries.has(ip);
  }

  /** A new capacity; the weakest entries over it are dropped (returned). */
  setCapacity(capacity: number): DeferredBan[] {
    this.capacity = Math.max(1, capacity);
    const out: DeferredBan[] = [];
    while (this.entries.size > this.capacity) {
      const w = this.weakest()!;
      this.entries.delete(w.ip);
      this.droppedFull++;
      out.push(w);
    }
    return out;
  }

  /**
   * Queues a ban (nothing when the address waits already). Returns the entry that left or did not
   * get in because the queue is full (the weakest of the two), or null.
   */
  add(
    ban: Omit<DeferredBan, 'ports' | 'lastSeen'> & Partial<Pick<DeferredBan, 'ports' | 'lastSeen'>>,
    now: number,
    findtimeMs: number,
    onDropped?: (d: DeferredBan) => void,
  ): DeferredBan | null {
    if (this.entries.has(ban.ip)) return null;
    const e: Entry = {
      ip: ban.ip,
      queuedAt: ban.queuedAt,
      reason: ban.reason,
      ports: ban.ports ?? ban.reason.ports.length,
      lastSeen: ban.lastSeen ?? ban.reason.lastSeen,
      order: this.nextOrder++,
    };
    if (this.entries.size >= this.capacity) this.dropAged(now, findtimeMs, onDropped);
    if (this.entries.size >= this.capacity) {
      const w = this.weakest()!;
      this.droppedFull++;
      if (!before(e, w)) return e;
      this.entries.delete(w.ip);
      this.entries.set(e.ip, e);
      return w;
    }
    this.entries.set(e.ip, e);
    return null;
  }

  /** The evidence of a waiting entry grew. */
  refresh(ip: string, ports: number, lastSeen: number): void {
    const e = this.entries.get(ip);
    if (e === undefined) return;
    if (ports > e.ports) e.ports = ports;
    if (lastSeen > e.lastSeen) e.lastSeen = lastSeen;
  }

  delete(ip: string): boolean {
    return this.entries.delete(ip);
  }

  /**
   * Removes and returns the entry to ban next, or null. Entries aged past findtime at `now` are
   * dropped on the way (`onDropped` is told of each).
   */
  takeBest(now: number, findtimeMs: number, onDropped?: (d: DeferredBan) => void): DeferredBan | null {
    let best: Entry | null = null;
    for (const e of this.entries.values()) {
      if (now - e.lastSeen >= findtimeMs) {
        this.entries.delete(e.ip);
        this.droppedAged++;
        onDropped?.(e);
        continue;
      }
      if (best === null || before(e, best)) best = e;
    }
    if (best !== null) this.entries.delete(best.ip);
    return best;
  }

  /** Waiting entries in release order. */
  list(): DeferredBan[] {
    return [...this.entries.values()].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  }

  clear(): void {
    this.entries.clear();
  }

  private dropAged(now: number, findtimeMs: number, onDropped?: (d: DeferredBan) => void): void {
    for (const e of this.entries.values()) {
      if (now - e.lastSeen >= findtimeMs) {
        this.entries.delete(e.ip);
        this.droppedAged++;
        onDropped?.(e);
      }
    }
  }

  private weakest(): Entry | null {
    let w: Entry | null = null;
    for (const e of this.entries.values()) if (w === null || before(w, e)) w = e;
    return w;
  }
}
