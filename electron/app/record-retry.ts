/**
 * The ban and unban records the store could not write (a full disk, a read-only file system, another
 * process holding its lock) — and the pause's stored copy, which keeps its place among them
 * (service.ts setPausedUntil) — kept in memory and written again, in their order, by the service's
 * tick (store-trouble.ts): the history
 * loses nothing once the store writes again, and the state does not say "writing again" while a
 * record still fails — a tick whose own small writes fitted where a ban's record did not (a full
 * disk on a quiet host) called the store fixed at every tick, and back to failing at every ban.
 *
 * Only a record the store could not write for want of room or access waits (storeUnavailable);
 * one it refused for its content is reported and dropped, as before.
 *
 * Order: once one record waits, every later one waits behind it (a ban's record written after its
 * unban's would make a lifted ban active again at the next start). Bounded: past MAX_WAITING the
 * oldest are dropped and counted — the cost of a store down for hours under a flood of bans; a
 * dropped ban record means the next start lifts that ban as a stale firewall entry, the safe side.
 */
import { storeUnavailable } from '../engine/store/unavailable.ts';

export const MAX_WAITING_RECORDS = 10_000;

/** What a waiting write is: a ban or unban record, or the pause's stored copy (pause.ts), which a loss costs differently. */
export type WaitingKind = 'record' | 'pause';

export class RecordRetry {
  private readonly waiting: { write: () => void; kind: WaitingKind }[] = [];
  /** Writes dropped (from the full list, oldest first, or refused at a retry), since the service started. */
  dropped = 0;
  /** Of those, the pause's stored copies. */
  droppedPauses = 0;

  /** How many records wait to be written. */
  get size(): number {
    return this.waiting.length;
  }

  /**
   * Writes a record now, or behind those that wait. Returns the error when this write failed (it
   * then waits), else null (written, or queued behind a waiting one: no new failure to tell).
   */
  write(record: () => void, kind: WaitingKind = 'record'): unknown {
    if (this.waiting.length > 0) {
      this.keep({ write: record, kind });
      return null;
    }
    try {
      record();
      return null;
    } catch (e) {
      if (storeUnavailable(e)) this.keep({ write: record, kind });
      return e;
    }
  }

  /**
   * Writes the waiting records in order until one fails for want of room or access: its error, or
   * null when none waits now. One that fails for anything else now (its first try may have failed
   * before the statement that refuses it) would hold the others for ever: it is dropped, counted,
   * and given to `refused`.
   */
  flush(refused: (error: unknown) => void = () => undefined): unknown {
    let done = 0;
    try {
      for (; done < this.waiting.length; done++) {
        try {
          this.waiting[done]!.write();
        } catch (e) {
          if (storeUnavailable(e)) return e;
          this.drop(this.waiting[done]!);
          refused(e);
        }
      }
      return null;
    } finally {
      this.waiting.splice(0, done);
    }
  }

  private keep(entry: { write: () => void; kind: WaitingKind }): void {
    if (this.waiting.length >= MAX_WAITING_RECORDS) this.drop(this.waiting.shift()!);
    this.waiting.push(entry);
  }

  private drop(entry: { kind: WaitingKind }): void {
    this.dropped++;
    if (entry.kind === 'pause') this.droppedPauses++;
  }
}
