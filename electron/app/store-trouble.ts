/**
 * The store's write failures (a full disk, a read-only file system, no inodes left, an I/O error):
 * the state's `store` (StoreHealthSchema) — not ok from the first failed write until a round of the
 * tick's writes succeeds — and two notices, one when they start and one when writing works again,
 * not one at every tick: the service's tick flushes every second, and a full disk wrote the same
 * `store:` error line to the journal every second. Meanwhile the service goes on detecting and
 * banning (blocking a scanner matters more than its history): blocked packets wait in the store's
 * bounded buffer and beyond it are counted as not stored, and a ban whose record fails still goes to
 * the firewall (ban-pipeline.ts).
 *
 * Only the tick's round says the store writes again, never one write that got through: on a disk
 * that is nearly full a ban's small record may fit where the buffered packets do not, and the state
 * flipped between ok and not ok (with a notice each time) while the history was still not saved.
 */
import type { StoreHealth } from '../shared/api.ts';
import { errorText } from '../shared/errors.ts';
import type { ServiceStore } from './contracts.ts';

export interface StoreTroubleDeps {
  /** The store: its file, and the blocked packets that wait to be written. */
  store: Pick<ServiceStore, 'path' | 'pendingPackets'>;
  now(): number;
  say(level: 'info' | 'error', message: string): void;
  /** The health changed (went not ok, its error changed, or ok again): the windows and the tray are told. */
  changed(): void;
}

export class StoreTrouble {
  private failing: { since: number; error: string } | null = null;
  private readonly d: StoreTroubleDeps;

  constructor(deps: StoreTroubleDeps) {
    this.d = deps;
  }

  /** A write failed, wherever it was made (the tick's flush, a ban's record): said once per error. */
  failed(error: unknown): void {
    const message = errorText(error);
    if (message === this.failing?.error) return;
    this.failing = { since: this.failing?.since ?? this.d.now(), error: message };
    this.d.say(
      'error',
      `store: cannot write to the database: ${message}. Scanners are still detected and banned; blocked packets beyond a small buffer are counted, not stored, until it can write again`,
    );
    this.d.changed();
  }

  /** The outcome of one round of the tick's store writes: the error of the last one that failed, or null when all succeeded. */
  report(error: unknown): void {
    if (error !== null) return this.failed(error);
    if (this.failing === null) return;
    this.failing = null;
    this.d.say('info', 'store: writing to the database again');
    this.d.changed();
  }

  /** The error being reported, or null while the store writes. */
  get error(): string | null {
    return this.failing?.error ?? null;
  }

  /** The state's `store`: when not ok, with the file and how many blocked packets wait to be written. */
  health(): StoreHealth {
    if (this.failing === null) return { ok: true };
    const { path } = this.d.store;
    let pendingPackets: number | undefined;
    try {
      pendingPackets = this.d.store.pendingPackets?.();
    } catch {
      pendingPackets = undefined;
    }
    return {
      ok: false,
      since: this.failing.since,
      error: this.failing.error,
      ...(path !== undefined ? { path } : {}),
      ...(pendingPackets !== undefined ? { pendingPackets } : {}),
    };
  }
}
