/**
 * The service's last store writes at its stop: the records that wait (record-retry.ts), the ban
 * cap's state, the buffered packets and offender rows; then the store is closed.
 *
 * WHY a longer busy timeout here: the running service waits STORE_BUSY_TIMEOUT_MS (20 ms) for
 * another process's lock, because a longer wait blocks the event loop (log reading, banning). At the
 * stop nothing reads the log any more, and what a failed write loses is history — a waiting ban
 * record most of all (the next start would lift that ban as a stale firewall entry) — so a lock held
 * for a moment (a backup's write) is waited out. Once one write finds the store locked for that long
 * the others are not tried, and the close does not wait again. Nothing is thrown: the caller's own
 * shutdown (the helper's audit, the store's lock file) must go on whatever the store does.
 */
import { errorText } from '../shared/errors.ts';
import type { ServiceStore } from './contracts.ts';
import { STOP_BUSY_TIMEOUT_MS, storeBusy } from '../engine/store/unavailable.ts';

export interface LastWritesDeps {
  store: Pick<ServiceStore, 'flush' | 'close' | 'setBusyTimeout'>;
  /** The records that wait, written in order: the error of the one that still fails, or null. */
  flushRecords(): unknown;
  recordsWaiting(): number;
  /** The ban cap's window and held-back bans (ban-cap-notes.ts). */
  saveCapNotes(): void;
  log(level: 'error', message: string): void;
}

export function lastStoreWrites(d: LastWritesDeps): void {
  d.store.setBusyTimeout?.(STOP_BUSY_TIMEOUT_MS);
  // Records that wait get a last try (the disk may have room again since the last tick); what is
  // still left is said, since it is lost with this process.
  let error = d.flushRecords();
  const left = d.recordsWaiting();
  if (left > 0) d.log('error', `store: ${left} ban, unban or pause records could not be written before the stop (${errorText(error)}); the next start restores or lifts those bans from the firewall's view, and keeps the pause it last saved`);
  if (error === null || !storeBusy(error)) {
    try {
      d.saveCapNotes();
      d.store.flush();
      error = null;
    } catch (e) {
      error = e;
    }
  }
  if (error !== null && storeBusy(error)) d.store.setBusyTimeout?.(0);
  try {
    d.store.close();
  } catch (e) {
    d.log('error', `store: closed without writing what was buffered: ${errorText(e)}`);
  }
}
