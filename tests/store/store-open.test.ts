/**
 * Opening the store's file: created 0600 with its -wal and -shm (the history and, without --config, the
 * fleet's password and bouncer key are in it), older files others could read narrowed to 0600, and a
 * file that is no database refused with an error naming it.
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore, StoreOpenError } from '../../electron/engine/store/sqlite.ts';

const modeOf = (f: string) => statSync(f).mode & 0o777;

let dir: string;
let umask: number;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'portcullis-open-'));
  chmodSync(dir, 0o755);
  umask = process.umask(0o022);
});
afterEach(() => {
  process.umask(umask);
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore files', () => {
  it('creates the database, -wal and -shm 0600 under a 022 umask', () => {
    const db = path.join(dir, 'p.db');
    const s = new SqliteStore({ path: db });
    s.setSetting('fleet', '{"password":"secret"}');
    for (const f of [db, `${db}-wal`, `${db}-shm`]) expect([f, modeOf(f).toString(8)]).toEqual([f, '600']);
    s.close();
  });

  it('narrows an existing database and its -wal and -shm that others could read to 0600', () => {
    const db = path.join(dir, 'p.db');
    const old = new DatabaseSync(db);
    old.exec('PRAGMA journal_mode = WAL; CREATE TABLE x (a); INSERT INTO x VALUES (1)');
    for (const f of [db, `${db}-wal`, `${db}-shm`]) chmodSync(f, 0o644);
    const s = new SqliteStore({ path: db });
    for (const f of [db, `${db}-wal`, `${db}-shm`]) expect([f, modeOf(f).toString(8)]).toEqual([f, '600']);
    s.close();
    old.close();
  });
});

/** What opening a store at `db` throws (undefined when it opens). */
function openError(db: string): unknown {
  try {
    new SqliteStore({ path: db });
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('SqliteStore open failures', () => {
  it('a file that is no database: an error naming the file and what to do, not retryable', () => {
    const db = path.join(dir, 'broken.db');
    writeFileSync(db, 'hello this is not sqlite'.repeat(200));
    const err = openError(db);
    expect(err).toBeInstanceOf(StoreOpenError);
    expect((err as StoreOpenError).retryable).toBe(false);
    expect((err as Error).message).toBe(
      `cannot open the database ${db}: file is not a database. If the file is damaged or not Portcullis's, move it aside with its -wal and -shm files (mv ${db} ${db}.broken) and start again: a new, empty database is made`,
    );
  });

  it('a file SQLite cannot create or open (CANTOPEN: no inodes for its -wal, no such directory): retryable, and no advice to move a healthy file aside', () => {
    const db = path.join(dir, 'no-such-dir', 'portcullis.db');
    const err = openError(db);
    expect(err).toBeInstanceOf(StoreOpenError);
    expect((err as StoreOpenError).retryable).toBe(true);
    expect((err as Error).message).toContain(`cannot be created or opened in ${path.dirname(db)}`);
    expect((err as Error).message).not.toContain('move it aside');
  });
});
