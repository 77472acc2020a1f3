/**
 * The UI event stream, batched: however fast packets arrive, a listener gets at most
 * MAX_EVENT_DELIVERIES_PER_SEC deliveries a second. Within a batch, events of a kind are coalesced
 * (one `packets` event with all new rows, the latest version of each offender, the latest state), so a
 * slow browser never falls behind a scan storm.
 */
import { MAX_EVENT_DELIVERIES_PER_SEC, type ApiEvent, type PacketRow } from '../shared/api.ts';
import type { Offender } from '../shared/model.ts';

/** Packet rows kept per batch: the UI shows a live tail, the full history is in the store. */
export const MAX_PACKET_ROWS_PER_BATCH = 2000;

export type EventListener = (events: ApiEvent[]) => void;

export class EventBatcher {
  private readonly listeners = new Set<EventListener>();
  private readonly minGapMs: number;
  private readonly now: () => number;
  private packets: PacketRow[] = [];
  private offenders = new Map<string, Offender>();
  /** Bans, unbans, notices: never coalesced (each one matters), but still delivered in batches. */
  private discrete: ApiEvent[] = [];
  private state: ApiEvent | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastDelivery = -Infinity;
  private closed = false;

  constructor(opts: { maxPerSec?: number; now?: () => number } = {}) {
    this.minGapMs = 1000 / (opts.maxPerSec ?? MAX_EVENT_DELIVERIES_PER_SEC);
    this.now = opts.now ?? (() => Date.now());
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  push(event: ApiEvent): void {
    if (this.closed) return;
    switch (event.type) {
      case 'packets':
        for (const r of event.rows) this.packets.push(r);
        // Cut to the bound once the surplus is as long as it (one copy per MAX_PACKET_ROWS_PER_BATCH
        // rows pushed), and at delivery: cutting on every push past the bound copied the whole
        // pending list per event, a storm's every packet.
        if (this.packets.length >= 2 * MAX_PACKET_ROWS_PER_BATCH) this.packets = this.packets.slice(-MAX_PACKET_ROWS_PER_BATCH);
        break;
      case 'offenders':
        for (const o of event.offenders) {
          this.offenders.delete(o.ip); // re-insert: keeps the most recently updated last
          this.offenders.set(o.ip, o);
        }
        break;
      case 'state':
        this.state = event;
        break;
      default:
        this.discrete.push(event);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null) return;
    // Nobody listens: drop instead of buffering without bound.
    if (this.listeners.size === 0) {
      this.clear();
      return;
    }
    const wait = Math.max(0, this.lastDelivery + this.minGapMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  private clear(): void {
    this.packets = [];
    this.offenders = new Map();
    this.discrete = [];
    this.state = null;
  }

  /** Delivers what is pending now (the timer calls it; close() too). */
  flush(): void {
    const batch: ApiEvent[] = [...this.discrete];
    if (this.packets.length) batch.push({ type: 'packets', rows: this.packets.length > MAX_PACKET_ROWS_PER_BATCH ? this.packets.slice(-MAX_PACKET_ROWS_PER_BATCH) : this.packets });
    if (this.offenders.size) batch.push({ type: 'offenders', offenders: [...this.offenders.values()] });
    if (this.state) batch.push(this.state);
    this.clear();
    if (batch.length === 0) return;
    this.lastDelivery = this.now();
    for (const l of [...this.listeners]) {
      try {
        l(batch);
      } catch {
        // One broken listener (a closed socket) must not starve the others.
      }
    }
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    this.listeners.clear();
    this.clear();
  }
}
