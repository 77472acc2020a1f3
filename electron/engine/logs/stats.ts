/**
 * Counters behind SourceHealth: lines and rejects over the last minute, last record time, error.
 * Per-second buckets in a ring, so a rate costs O(60) to read and O(1) to count, whatever the flow.
 */
import { systemClock, type Clock } from '../../shared/domain.ts';
import type { SourceHealth } from '../ports.ts';

export class MinuteRate {
  private readonly buckets = new Float64Array(60);
  private readonly stamps = new Float64Array(60).fill(-1);
  private readonly clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  add(n = 1): void {
    const sec = Math.floor(this.clock.now() / 1000);
    const i = sec % 60;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += n;
  }

  /** Sum over the last 60 seconds (including the current one). */
  perMinute(): number {
    const sec = Math.floor(this.clock.now() / 1000);
    let sum = 0;
    for (let i = 0; i < 60; i++) if (this.stamps[i]! > sec - 60) sum += this.buckets[i]!;
    return sum;
  }
}

/** Shared bookkeeping of every source; each source owns one and builds its health() from it. */
export class SourceStats {
  readonly lines: MinuteRate;
  readonly rejects: MinuteRate;
  lastRecordAt: number | null = null;
  error: string | undefined;
  /** The last problem the source read on past (see SourceHealth.warning). */
  warning: string | undefined;
  totalLines = 0;
  private readonly clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
    this.lines = new MinuteRate(clock);
    this.rejects = new MinuteRate(clock);
  }

  /** Lines handed to the consumer; `at` is the event time when the source knows it, else now. */
  noteLines(count: number, at?: number): void {
    if (count <= 0) return;
    this.totalLines += count;
    this.lines.add(count);
    this.lastRecordAt = at ?? this.clock.now();
  }

  noteRejects(count: number): void {
    if (count > 0) this.rejects.add(count);
  }

  health(kind: SourceHealth['kind'], description: string, kernelTrusted: boolean): SourceHealth {
    const h: SourceHealth = {
      kind,
      description,
      kernelTrusted,
      lastRecordAt: this.lastRecordAt,
      linesPerMinute: this.lines.perMinute(),
      rejectsPerMinute: this.rejects.perMinute(),
    };
    if (this.error !== undefined) h.error = this.error;
    if (this.warning !== undefined) h.warning = this.warning;
    return h;
  }
}

export { errorText } from '../../shared/errors.ts';
