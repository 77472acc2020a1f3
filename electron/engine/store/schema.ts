/**
 * The store's schema as an ordered list of migrations. PRAGMA user_version holds how many have been
 * applied; opening a database applies the missing ones, each in its own transaction, so a crash in
 * the middle of an upgrade leaves the previous version intact. Never edit a shipped migration:
 * append a new one.
 */
import type { DatabaseSync } from 'node:sqlite';
import { inTransaction } from './tx.ts';

export const MIGRATIONS: readonly string[] = [
  // 1: the first schema.
  `
  CREATE TABLE packets (
    id        INTEGER PRIMARY KEY,
    time      INTEGER NOT NULL,
    src       TEXT    NOT NULL,
    dst       TEXT    NOT NULL,
    family    INTEGER NOT NULL,
    proto     TEXT    NOT NULL,
    spt       INTEGER,
    dpt       INTEGER,
    prefix    TEXT    NOT NULL,
    iface_in  TEXT    NOT NULL,
    iface_out TEXT    NOT NULL,
    tcp_flags INTEGER,
    icmp_type INTEGER,
    icmp_code INTEGER,
    fragment  INTEGER NOT NULL DEFAULT 0,
    len       INTEGER,
    ttl       INTEGER,
    framing   TEXT    NOT NULL,
    trusted   INTEGER NOT NULL,
    seq       INTEGER
  );
  -- Each filter index ends (implicitly) in the rowid, so "WHERE col = ? ORDER BY id DESC" walks the
  -- index backwards without sorting: a page of a 1M-row table costs a few index steps.
  CREATE INDEX packets_time   ON packets(time);
  CREATE INDEX packets_src    ON packets(src);
  CREATE INDEX packets_dpt    ON packets(dpt);
  CREATE INDEX packets_proto  ON packets(proto);
  CREATE INDEX packets_prefix ON packets(prefix);

  CREATE TABLE offenders (
    ip             TEXT PRIMARY KEY,
    hits           INTEGER NOT NULL,
    distinct_ports INTEGER NOT NULL,
    ports          TEXT    NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    scan_type      TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    strikes        INTEGER NOT NULL,
    banned_until   INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX offenders_last_seen ON offenders(last_seen);
  CREATE INDEX offenders_state     ON offenders(state, last_seen);

  -- One row per ban. ended_at is NULL while the ban stands (it may still have expired by time:
  -- the reconciler lifts those on start).
  CREATE TABLE bans (
    id       INTEGER PRIMARY KEY,
    ip       TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    until    INTEGER,
    strikes  INTEGER NOT NULL,
    reason   TEXT    NOT NULL,
    ended_at INTEGER,
    end_why  TEXT
  );
  CREATE INDEX bans_ip   ON bans(ip, at);
  CREATE INDEX bans_open ON bans(ended_at) WHERE ended_at IS NULL;
  CREATE INDEX bans_at   ON bans(at);

  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  -- Resume positions of the log sources (kmsg seq, journal cursor, file offset+inode) and other
  -- small machine state that is not a user setting.
  CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 2: blocked packets over logs.maxStoredPacketsPerSecond are counted, not stored: one row per
  // minute (ms of its start) of their time, so the totals and the per-minute chart stay true.
  `
  CREATE TABLE packets_not_stored (minute INTEGER PRIMARY KEY, count INTEGER NOT NULL);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Applies the migrations the database lacks; returns the versions it applied. The version is read
 * inside each write transaction, so two processes opening the same new database at once (the
 * runner and a CLI command) do not both apply the same migration.
 */
export function migrate(db: DatabaseSync, migrations: readonly string[] = MIGRATIONS): number[] {
  const version = () => (db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined)?.user_version ?? 0;
  const applied: number[] = [];
  for (;;) {
    const next = inTransaction(db, (): number | null => {
      const current = version();
      if (current > migrations.length) {
        throw new Error(
          `the database has schema version ${current}, newer than this Portcullis understands (${migrations.length}); refusing to touch it`,
        );
      }
      if (current === migrations.length) return null;
      db.exec(migrations[current]!);
      // PRAGMA takes no bound parameters; current is our own integer.
      db.exec(`PRAGMA user_version = ${current + 1}`);
      return current + 1;
    });
    if (next === null) return applied;
    applied.push(next);
  }
}

/**
 * Ends of bans beyond 2^53 ms become permanent (NULL). Before ban durations were bounded, a bulk ban
 * of ~1e13 s stored such an end; SQLite keeps it as an integer that node:sqlite refuses to read back
 * ("too large to be represented"), so reading the bans threw and every start failed. Such an end was
 * hundreds of thousands of years away: permanent is what it meant. Runs at every open (one scan of
 * the bans and offenders tables: ~35 ms with 300k bans and 100k offenders), not as a migration, so
 * a database is repaired whatever wrote it and an older Portcullis can still open it.
 */
export function repairUnreadableEnds(db: DatabaseSync): void {
  db.prepare('UPDATE bans SET until = NULL WHERE until > ?').run(Number.MAX_SAFE_INTEGER);
  db.prepare('UPDATE offenders SET banned_until = NULL WHERE banned_until > ?').run(Number.MAX_SAFE_INTEGER);
}
