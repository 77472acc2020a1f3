/**
 * /dev/kmsg as a LogSourcePort for the headless runner (root, same process), on top of the helper's
 * kmsg reader (kernel facility only, EPIPE skipped). Resumes after the last sequence number it
 * handed on (persisted by the caller), so a restart after kill -9 reads the records logged while it
 * was down — a scan in progress is not missed — and none twice.
 */
import { openDevKmsg, parseKmsgRecord, type KmsgStart, type KmsgStream } from '../helper/kmsg.ts';
import type { LogSourcePort, SourceHealth } from '../engine/ports.ts';
import { kmsgBootTimeMs } from '../engine/logs/kmsg.ts';
import { MinuteRate } from '../engine/logs/stats.ts';

/** Wall-clock ms of boot on the kmsg time base (see liveLineParser: it moves with every suspend). */
export const bootTimeMs = (): number => kmsgBootTimeMs();

export class DevKmsgSource implements LogSourcePort {
  readonly kind = 'kmsg' as const;
  private stream: KmsgStream | null = null;
  private readonly start0: KmsgStart;
  private readonly onSeq: (seq: number) => void;
  private readonly open: typeof openDevKmsg;
  private lastRecordAt: number | null = null;
  private error: string | undefined;
  /** Deliveries of the last minute: [time, lines]. Summed for linesPerMinute (one entry per batch, not per line). */
  private readonly minute: [number, number][] = [];
  /** Records refused: written by userspace (not kernel facility), or refused by the parser (noteRejects). */
  private readonly rejects = new MinuteRate();
  /** Userspace records seen in /dev/kmsg (a local user can write there; they are never acted on). */
  untrusted = 0;

  constructor(opts: { afterSeq: number | null; onSeq: (seq: number) => void; open?: typeof openDevKmsg; fromOldest?: boolean }) {
    // No saved position: start at the newest record (the ring's history is not this run's business).
    // fromOldest: the caller re-reads what is still in the ring (to rebuild detection windows) and
    // tells handled records apart by their seq.
    this.start0 = opts.fromOldest ? null : (opts.afterSeq ?? 'now');
    this.onSeq = opts.onSeq;
    this.open = opts.open ?? openDevKmsg;
  }

  async start(onLines: (lines: string[]) => void): Promise<void> {
    this.stream = this.open(
      this.start0,
      (records) => {
        const lines: string[] = [];
        let seq = -1;
        for (const r of records) {
          const nl = r.indexOf('\n');
          const line = nl < 0 ? r : r.slice(0, nl); // dictionary lines (" SUBSYSTEM=…") are not records
          const head = parseKmsgRecord(line);
          if (head) {
            seq = Math.max(seq, head.seq);
            this.lastRecordAt = Math.round(kmsgBootTimeMs() + head.usec / 1000);
          }
          lines.push(line);
        }
        const now = Date.now();
        this.minute.push([now, lines.length]);
        while (this.minute.length && this.minute[0]![0] < now - 60_000) this.minute.shift();
        onLines(lines);
        if (seq >= 0) this.onSeq(seq);
      },
      (message) => {
        this.error = message;
      },
      () => {
        this.untrusted++;
        this.rejects.add(1);
      },
    );
  }

  noteRejects(count: number): void {
    if (count > 0) this.rejects.add(count);
  }

  async stop(): Promise<void> {
    this.stream?.stop();
    this.stream = null;
  }

  health(): SourceHealth {
    return {
      kind: 'kmsg',
      description: '/dev/kmsg (kernel log)',
      kernelTrusted: true,
      lastRecordAt: this.lastRecordAt,
      linesPerMinute: this.minute.reduce((n, [, lines]) => n + lines, 0),
      rejectsPerMinute: this.rejects.perMinute(),
      ...(this.error ? { error: this.error } : {}),
    };
  }
}
