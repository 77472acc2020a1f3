/**
 * The fleet's durable push queue, in the store's SQLite file (its own tables, its own connection, so
 * it needs no migration of the main schema): what this host still has to tell the LAPI, in order —
 * "push the ban of X", "delete my decision for X". An item leaves the queue only when the LAPI has
 * acknowledged it, so a LAPI that is down, restarting or answering 500 "database is locked" loses
 * nothing, and a kill -9 of Portcullis neither. Also remembers every alert id the LAPI gave the
 * pushed bans of an address — an extension or a re-ban pushes another alert while the first one's
 * decision still stands — so an unban deletes all of this host's decisions for it, and only those.
 *
 * The database is the store's file, which another process may hold locked (an `sqlite3` shell in a
 * transaction, a backup). node:sqlite is synchronous, so this connection waits STORE_BUSY_TIMEOUT_MS
 * for a lock, not seconds (its 5 s stalled every ban shared with the fleet for 5 s, twice); a change
 * the database cannot take now — a ban to push, an unban's delete, a dismissal — waits in memory, in
 * order (`change`), and is written before the next items are sent (`head`). While changes wait or
 * the file cannot be written, nothing is sent: an item sent then could not be removed once the LAPI
 * took it, and would be sent again. The lock may also be taken while a request is on the wire: what
 * the LAPI's answer makes due (the items' removal, their alert ids) is a change too (`acknowledged`),
 * and the items it names are not sent again meanwhile.
 */
import { DatabaseSync } from 'node:sqlite';
import { STORE_BUSY_TIMEOUT_MS, storeUnavailable } from '../store/unavailable.ts';

export type QueueKind = 'push' | 'delete';

export interface QueueItem {
  id: number;
  kind: QueueKind;
  ip: string;
  /** push: the PushedBan (JSON); delete: {} (an unban) or {drop, keep} / {drop} (a ban pushed again; link.ts). */
  body: string;
}

/** A fleet decision lifted here: its id (-1: a ban restored from the store before any pull named it), origin, and whether the firewall refused it. */
export interface Dismissal {
  id: number;
  origin: string;
  refused: boolean;
}

/** Changes kept at most while the database cannot take them (past it the oldest go, counted in `dropped`). */
export const MAX_WAITING_CHANGES = 10_000;

export class FleetQueue {
  private readonly db: DatabaseSync;
  /** Changes the database could not take yet, in order (`change`). */
  private readonly waiting: (() => void)[] = [];
  /** Items the LAPI took whose removal is not written yet (`acknowledged`): never sent again, nor dropped as unsent. */
  private readonly taken = new Set<number>();
  /** Why the last `head` sent nothing though items may be due (the database cannot be written), or null. */
  blockedBy: unknown = null;
  /** Changes dropped: past MAX_WAITING_CHANGES, or refused for what they are when written again. */
  dropped = 0;

  constructor(path: string, busyTimeoutMs = STORE_BUSY_TIMEOUT_MS) {
    this.db = new DatabaseSync(path);
    // Opening may wait (the tables may need creating; nothing runs yet); the running connection does not.
    this.db.exec('PRAGMA busy_timeout = 5000');
    if (path !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL');
    // As the store's connection (store/sqlite.ts, durability model): a commit is in the WAL before it
    // returns, so a crash or kill -9 of this process loses nothing; only an OS crash or power loss may
    // lose the last commits (until the kernel writes them back or a checkpoint syncs: seconds). What
    // that can cost here: an acknowledgement rolled back sends its push again (a second decision at
    // the LAPI, which the next unban or extension of the address deletes), a push lost leaves the
    // fleet without that ban, a dismissal lost brings a fleet ban lifted by hand back. SQLite's default
    // (FULL) synced the disk at every commit, on the event loop: every ban shared with the fleet, every
    // unban and dismissal (0.22–0.24 ms each here against 0.045–0.067 ms, on a disk with a write
    // cache; a disk that syncs for real pays milliseconds).
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS fleet_queue (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT    NOT NULL,
        ip   TEXT    NOT NULL,
        body TEXT    NOT NULL
      );
      CREATE TABLE IF NOT EXISTS fleet_alert_ids (
        ip       TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        PRIMARY KEY (ip, alert_id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS fleet_dismissed (
        ip          TEXT PRIMARY KEY,
        decision_id INTEGER NOT NULL,
        origin      TEXT    NOT NULL,
        refused     INTEGER NOT NULL
      );
    `);
    // An earlier version kept one alert id per address (the latest): carried over, then dropped.
    if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fleet_alerts'").get()) {
      this.db.exec('INSERT OR IGNORE INTO fleet_alert_ids (ip, alert_id) SELECT ip, alert_id FROM fleet_alerts; DROP TABLE fleet_alerts');
    }
    this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  }

  /**
   * Makes a change of the queue now, or behind those that wait, or keeps it to wait when the database
   * cannot take it now (another process holds its lock, a full disk). `fn` runs later as it would
   * have now, its reads included (an unban's "was it pushed?"): every change sees those before it.
   */
  change(fn: () => void): void {
    if (this.waiting.length === 0) {
      try {
        return fn();
      } catch (e) {
        if (!storeUnavailable(e)) throw e;
      }
    }
    if (this.waiting.length >= MAX_WAITING_CHANGES) {
      this.waiting.shift();
      this.dropped++;
    }
    this.waiting.push(fn);
  }

  /** Makes the changes that wait, in order: the error of the one the database still cannot take, or null. */
  private flushWaiting(): unknown {
    while (this.waiting.length > 0) {
      try {
        this.waiting[0]!();
      } catch (e) {
        if (storeUnavailable(e)) return e;
        this.dropped++; // refused for what it is: it would fail for ever, holding the others
      }
      this.waiting.shift();
    }
    return null;
  }

  /** Null when the database can be written now, else why not (a write transaction begun and rolled back). */
  private writable(): unknown {
    try {
      this.db.exec('BEGIN IMMEDIATE');
      this.db.exec('ROLLBACK');
      return null;
    } catch (e) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      if (!storeUnavailable(e)) throw e;
      return e;
    }
  }

  /** How many changes wait for the database. */
  get waitingChanges(): number {
    return this.waiting.length;
  }

  add(kind: QueueKind, ip: string, body: unknown): void {
    this.db.prepare('INSERT INTO fleet_queue (kind, ip, body) VALUES (?,?,?)').run(kind, ip, JSON.stringify(body ?? {}));
  }

  /** The oldest items, in order; none while changes wait or the database cannot be written (`blockedBy` says why). */
  head(limit: number): QueueItem[] {
    this.blockedBy = this.flushWaiting() ?? this.writable();
    if (this.blockedBy !== null) return [];
    const rows = this.db.prepare('SELECT id, kind, ip, body FROM fleet_queue ORDER BY id LIMIT ?').all(limit + this.taken.size) as unknown as QueueItem[];
    return rows.filter((r) => !this.taken.has(r.id)).slice(0, limit);
  }

  remove(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.inTransaction(() => this.deleteItems(ids));
  }

  /**
   * Items the LAPI took: `write` (what its answer makes due: alert ids, deletes — push-send.ts) and
   * their removal, in one transaction, as a change — the database may be locked by now, though head()
   * found it writable before the request. Until that is written the items are not sent again, even
   * when the change itself is dropped (MAX_WAITING_CHANGES): a second decision at the LAPI is worse
   * than a removal lost (only a restart sends them again).
   */
  acknowledged(ids: readonly number[], write: () => void): void {
    for (const id of ids) this.taken.add(id);
    this.change(() => {
      this.inTransaction(() => {
        write();
        this.deleteItems(ids);
      });
      for (const id of ids) this.taken.delete(id);
    });
  }

  private deleteItems(ids: readonly number[]): void {
    const del = this.db.prepare('DELETE FROM fleet_queue WHERE id = ?');
    for (const id of ids) del.run(id);
  }

  /** All of `fn` or nothing: a change that fails busy half-way runs again whole (`change`). */
  private inTransaction(fn: () => void): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /**
   * A ban lifted before its push was sent: drop that push (and send nothing at all) instead of
   * pushing then deleting. Items in `inFlight` are being sent now and stay. True when one was dropped.
   */
  dropPendingPush(ip: string, inFlight: ReadonlySet<number>): boolean {
    const rows = this.db.prepare("SELECT id FROM fleet_queue WHERE kind = 'push' AND ip = ? ORDER BY id DESC").all(ip) as { id: number }[];
    const last = rows[0];
    if (!last || inFlight.has(last.id) || this.taken.has(last.id)) return false;
    // Only when nothing for this address follows the push (order kept).
    const after = this.db.prepare('SELECT COUNT(*) AS n FROM fleet_queue WHERE ip = ? AND id > ?').get(ip, last.id) as { n: number };
    if (after.n > 0) return false;
    this.remove([last.id]);
    return true;
  }

  /** Whether anything for the address waits in the queue. */
  has(ip: string): boolean {
    return this.db.prepare('SELECT 1 FROM fleet_queue WHERE ip = ? LIMIT 1').get(ip) !== undefined;
  }

  /** Items to send: those stored but not taken by the LAPI, and the changes that wait (a waiting unban may yet drop a push instead). */
  size(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM fleet_queue').get() as { n: number }).n - this.taken.size + this.waiting.length;
  }

  addAlert(ip: string, alertId: string): void {
    this.db.prepare('INSERT OR IGNORE INTO fleet_alert_ids (ip, alert_id) VALUES (?,?)').run(ip, alertId);
  }

  /** Every alert this host pushed for the address whose decisions may still stand. */
  alertsOf(ip: string): string[] {
    return (this.db.prepare('SELECT alert_id FROM fleet_alert_ids WHERE ip = ?').all(ip) as { alert_id: string }[]).map((r) => r.alert_id);
  }

  /** These alerts of the address are deleted at the LAPI: forgotten (only these: a newer one stands). */
  forgetAlerts(ip: string, alertIds: readonly string[]): void {
    const del = this.db.prepare('DELETE FROM fleet_alert_ids WHERE ip = ? AND alert_id = ?');
    for (const a of alertIds) del.run(ip, a);
  }

  /**
   * Fleet decisions not to apply again (lifted here by hand, or refused by the firewall): kept across
   * restarts, at most `max` — the oldest dismissal goes first.
   */
  dismiss(ip: string, d: Dismissal, max: number): void {
    this.db.prepare('INSERT OR REPLACE INTO fleet_dismissed (ip, decision_id, origin, refused) VALUES (?,?,?,?)').run(ip, d.id, d.origin, d.refused ? 1 : 0);
    const over = this.dismissedCount() - max;
    if (over > 0) this.db.prepare('DELETE FROM fleet_dismissed WHERE rowid IN (SELECT rowid FROM fleet_dismissed ORDER BY rowid LIMIT ?)').run(over);
  }

  undismiss(ip: string): void {
    this.db.prepare('DELETE FROM fleet_dismissed WHERE ip = ?').run(ip);
  }

  /** The dismissals, oldest first. */
  dismissals(): [string, Dismissal][] {
    const rows = this.db.prepare('SELECT ip, decision_id, origin, refused FROM fleet_dismissed ORDER BY rowid').all() as { ip: string; decision_id: number; origin: string; refused: number }[];
    return rows.map((r) => [r.ip, { id: r.decision_id, origin: r.origin, refused: r.refused === 1 }]);
  }

  private dismissedCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM fleet_dismissed').get() as { n: number }).n;
  }

  /**
   * Closes, the changes that wait given a last try: how many are lost (never written). At the
   * service's stop `busyTimeoutMs` is the stop's (store-stop.ts): a lock held for a moment then is
   * waited out — lost, a dismissal brought the ban lifted by hand back at the restart.
   */
  close(busyTimeoutMs?: number): number {
    if (busyTimeoutMs !== undefined && this.waiting.length > 0) this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    this.flushWaiting();
    const lost = this.waiting.length;
    this.db.close();
    return lost;
  }
}
