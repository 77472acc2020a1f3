/**
 * The fleet's durable push queue, in the store's SQLite file (its own tables, its own connection, so
 * it needs no migration of the main schema): what this host still has to tell the LAPI, in order —
 * "push the ban of X", "delete my decision for X". An item leaves the queue only when the LAPI has
 * acknowledged it, so a LAPI that is down, restarting or answering 500 "database is locked" loses
 * nothing, and a kill -9 of Portcullis neither. Also remembers which alert id the LAPI gave each
 * pushed ban, so an unban deletes exactly this host's decision.
 */
import { DatabaseSync } from 'node:sqlite';

export type QueueKind = 'push' | 'delete';

export interface QueueItem {
  id: number;
  kind: QueueKind;
  ip: string;
  /** push: the PushedBan (JSON); delete: {}. */
  body: string;
}

export class FleetQueue {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA busy_timeout = 5000');
    if (path !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS fleet_queue (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT    NOT NULL,
        ip   TEXT    NOT NULL,
        body TEXT    NOT NULL
      );
      CREATE TABLE IF NOT EXISTS fleet_alerts (
        ip       TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL
      ) WITHOUT ROWID;
    `);
  }

  add(kind: QueueKind, ip: string, body: unknown): void {
    this.db.prepare('INSERT INTO fleet_queue (kind, ip, body) VALUES (?,?,?)').run(kind, ip, JSON.stringify(body ?? {}));
  }

  /** The oldest items, in order. */
  head(limit: number): QueueItem[] {
    return this.db.prepare('SELECT id, kind, ip, body FROM fleet_queue ORDER BY id LIMIT ?').all(limit) as unknown as QueueItem[];
  }

  remove(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const del = this.db.prepare('DELETE FROM fleet_queue WHERE id = ?');
    this.db.exec('BEGIN');
    try {
      for (const id of ids) del.run(id);
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
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
    if (!last || inFlight.has(last.id)) return false;
    // Only when nothing for this address follows the push (order kept).
    const after = this.db.prepare('SELECT COUNT(*) AS n FROM fleet_queue WHERE ip = ? AND id > ?').get(ip, last.id) as { n: number };
    if (after.n > 0) return false;
    this.remove([last.id]);
    return true;
  }

  size(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM fleet_queue').get() as { n: number }).n;
  }

  setAlert(ip: string, alertId: string): void {
    this.db.prepare('INSERT OR REPLACE INTO fleet_alerts (ip, alert_id) VALUES (?,?)').run(ip, alertId);
  }

  alertOf(ip: string): string | null {
    const r = this.db.prepare('SELECT alert_id FROM fleet_alerts WHERE ip = ?').get(ip) as { alert_id: string } | undefined;
    return r?.alert_id ?? null;
  }

  forgetAlert(ip: string): void {
    this.db.prepare('DELETE FROM fleet_alerts WHERE ip = ?').run(ip);
  }

  close(): void {
    this.db.close();
  }
}
