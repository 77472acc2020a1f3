/**
 * Which SQLite errors mean "the database cannot be written now, but may be later" — the store's and
 * the fleet queue's connections to the same file answer them the same way: what was to be written
 * waits in memory, in order, and is written again later (electron/app/record-retry.ts,
 * electron/engine/fleet/queue.ts). Any other error (a constraint, a misuse: a bug) would fail at every
 * retry and hold everything behind it for ever.
 */

/**
 * The busy timeout of the running service's connections to its database (the store's, the fleet
 * queue's): long enough for a lock held for a moment (another connection's commit or passive
 * checkpoint takes well under a millisecond), short enough that a lock held for long costs the event
 * loop tens of ms per failed write, not seconds (node:sqlite is synchronous).
 */
export const STORE_BUSY_TIMEOUT_MS = 20;

/**
 * How long the service's last writes at its stop wait for another process's lock (electron/app/store-stop.ts,
 * and the fleet queue's close before it): nothing reads the log any more, and what a failed write
 * loses is history, so a lock held for a moment is waited out; well inside a service manager's stop
 * timeout (systemd's default is 90 s).
 */
export const STOP_BUSY_TIMEOUT_MS = 2000;

/** SQLite's primary codes (the low byte) of a store that cannot write now: BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN. */
const UNAVAILABLE_CODES = new Set([5, 6, 7, 8, 10, 13, 14]);

const primaryCode = (e: unknown): number | undefined => {
  const code = (e as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
};
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Whether waiting may let this write through (an error without SQLite's code is judged by its words). */
export function storeUnavailable(e: unknown): boolean {
  const code = primaryCode(e);
  if (code !== undefined) return UNAVAILABLE_CODES.has(code);
  return /disk|full|read-?only|locked|busy|i\/o|cannot open|out of memory/i.test(messageOf(e));
}

/**
 * Whether the store failed because another connection holds its lock (SQLITE_BUSY 5, SQLITE_LOCKED
 * 6): every write fails the same way until it lets go, each after the connection's busy timeout.
 */
export function storeBusy(e: unknown): boolean {
  const code = primaryCode(e);
  if (code !== undefined) return code === 5 || code === 6;
  return /database (table )?is locked|database is busy/i.test(messageOf(e));
}
