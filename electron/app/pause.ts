/**
 * The pause of protection (the API's "pause for N minutes", the tray's): its end in memory, which
 * protection reads, and its stored copy, so that a restart during the pause stays paused.
 *
 * WHY the stored copy goes through the ban records' retry list (BanPipeline.writeInOrder): when the
 * store cannot write now — another process holds its lock, a full disk — the pause or the resume
 * takes effect at once all the same and its copy waits for the tick, in order with the records: a
 * pause is asked for when Portcullis is in the way and must not wait for a backup to end, nor answer
 * "failed" while it is in effect (it did: the end was set in memory, then the write threw); and the
 * order keeps a pause then a resume a resume in the store. A write the store refuses for its content
 * is not kept: nothing changes and the caller is told. (A settings change — protection off — is not
 * the same: it is saved before it runs and fails whole, adapters.ts StoreSettingsRepo.)
 */
import { ApiError } from '../shared/api.ts';
import { errorText } from '../shared/errors.ts';
import { storeUnavailable } from '../engine/store/unavailable.ts';

export const PAUSED_KEY = 'protection.pausedUntil';

export interface PauseDeps {
  store: { getSetting(key: string): string | null; setSetting(key: string, value: string): void };
  /** A write in order with the ban and unban records: its error when it failed now, else null. */
  writeInOrder(write: () => void): unknown;
  now(): number;
}

export class ProtectionPause {
  private end: number | null = null;
  private readonly d: PauseDeps;

  constructor(deps: PauseDeps) {
    this.d = deps;
  }

  /** The start: the stored pause, when it has not ended yet. */
  load(): void {
    const stored = Number(this.d.store.getSetting(PAUSED_KEY));
    this.end = Number.isFinite(stored) && stored > this.d.now() ? stored : null;
  }

  /** The end of the pause in effect now, or null. */
  get until(): number | null {
    return this.end !== null && this.end > this.d.now() ? this.end : null;
  }

  /** Pauses until `until` (null: resumes); throws, changing nothing, when the store refuses the write for its content. */
  set(until: number | null): void {
    const e = this.d.writeInOrder(() => this.d.store.setSetting(PAUSED_KEY, until === null ? '' : String(until)));
    if (e !== null && !storeUnavailable(e)) throw new ApiError('failed', `the pause could not be saved (${errorText(e)}): protection is unchanged`);
    this.end = until;
  }

  /** The tick's: true once, when the pause has ended by its time (its stored copy cleared, in order). */
  ended(now: number): boolean {
    if (this.end === null || this.end > now) return false;
    this.end = null;
    // In order with the records that wait: the pause's own stored copy may still wait among them.
    this.d.writeInOrder(() => this.d.store.setSetting(PAUSED_KEY, ''));
    return true;
  }
}
