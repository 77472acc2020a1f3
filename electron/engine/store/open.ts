/**
 * Opening the database file: private to its owner, its connection's settings and schema, and a
 * failure that names the file (the service's start, and the desktop's error dialog, show it).
 *
 * WHY 0600: the database holds the ban and packet history and, without --config, the settings with
 * the fleet's password and bouncer key. `new DatabaseSync(path)` creates the file with the process's
 * umask (0644 under the usual 022), and `portcullis run --db PATH` may put it in a directory others
 * can read. The file is created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the
 * database's own mode; and a database, -wal or -shm that others can read already (an older version
 * made it) is narrowed to 0600. No process-wide umask change: other threads (the kmsg reader, libuv's
 * pool) create files at the same time.
 */
import { chmodSync, closeSync, constants, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { migrate, repairUnreadableEnds } from './schema.ts';

/** A database that cannot be opened: `retryable` when waiting may help (a busy lock, a full disk), not when the file is the problem. */
export class StoreOpenError extends Error {
  readonly path: string;
  readonly retryable: boolean;
  constructor(path: string, cause: unknown) {
    const code = (cause as { errcode?: number }).errcode;
    const primary = code === undefined ? undefined : code & 0xff;
    // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_IOERR 10, SQLITE_FULL 13, SQLITE_CANTOPEN 14 (primary
    // codes: the low byte). CANTOPEN is a file SQLite cannot create or open beside the database (its
    // -wal on a file system out of inodes, a directory it may not write): the file itself is fine.
    const retryable = primary !== undefined && [5, 6, 10, 13, 14].includes(primary);
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      primary === 14
        ? `cannot open the database ${path}: ${why} (it or its -wal/-shm file cannot be created or opened in ${dirname(path)}: no free space or inodes, or no permission there)`
        : retryable
          ? `cannot open the database ${path}: ${why}`
          : `cannot open the database ${path}: ${why}. If the file is damaged or not Portcullis's, move it aside with its -wal and -shm files (mv ${path} ${path}.broken) and start again: a new, empty database is made`,
    );
    this.name = 'StoreOpenError';
    this.path = path;
    this.retryable = retryable;
  }
}

/** Creates `path` 0600 when missing; narrows it and its -wal and -shm files to 0600 when others may read them. Best effort: SQLite reports what it cannot open. */
export function makePrivate(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o600));
  } catch {
    // A directory we cannot write, a read-only file: SQLite's open says so, with its own words.
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077) chmodSync(file, 0o600);
    } catch {
      // Missing (no -wal yet), or not ours to change.
    }
  }
}

/** How long the connection waits for another connection's lock: while it opens, and afterwards. */
export interface BusyTimeouts {
  /** While it opens (the WAL switch, the migration): nothing runs yet, so the start may wait. */
  openMs: number;
  /** Once open: every statement of the running service (see StoreOptions.busyTimeoutMs). */
  runMs: number;
}

const pragmaMs = (ms: number): number => Math.max(0, Math.floor(ms));

/** A connection to the store's file (':memory:' for none), in WAL mode, migrated; a StoreOpenError when it cannot be. */
export function openDatabase(path: string, busy: BusyTimeouts): DatabaseSync {
  if (path !== ':memory:') makePrivate(path);
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(path);
    db.exec(`PRAGMA busy_timeout = ${pragmaMs(busy.openMs)}`);
    if (path !== ':memory:') db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    // 8 MB of page cache (2 MB is SQLite's default). It was 32 MB so that a batch insert into a
    // 1M-row table with five indexes need not re-read index pages; with at most
    // logs.maxStoredPacketsPerSecond rows a second (500 by default) inserts are small, the pages
    // they touch are the newest ones, and the OS keeps the file's pages cached anyway: 24 MB of
    // RSS bought nothing a user sees.
    db.exec('PRAGMA cache_size = -8000');
    db.exec('PRAGMA foreign_keys = ON');
    migrate(db);
    repairUnreadableEnds(db);
    db.exec(`PRAGMA busy_timeout = ${pragmaMs(busy.runMs)}`);
    return db;
  } catch (e) {
    db?.close();
    throw new StoreOpenError(path, e);
  }
}
