/**
 * One write transaction (BEGIN IMMEDIATE … COMMIT), rolled back when `fn` or the COMMIT throws.
 *
 * WHY isTransaction: on some errors SQLite has already rolled the whole transaction back by itself
 * (SQLITE_FULL at COMMIT on a full disk, SQLITE_IOERR, SQLITE_NOMEM). A ROLLBACK then throws
 * "cannot rollback - no transaction is active", and that error replaced the one that said what
 * happened ("database or disk is full"). The caller always gets `fn`'s or COMMIT's own error.
 */
import type { DatabaseSync } from 'node:sqlite';

export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (e) {
    if (db.isTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // The original error says what went wrong; a failed rollback leaves nothing committed either.
      }
    }
    throw e;
  }
}
