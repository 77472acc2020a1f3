/**
 * A full disk, as SQLite's own page limit (PRAGMA max_page_count) gives it: the same SQLITE_FULL
 * ("database or disk is full") a full file system gives at COMMIT, without touching the host.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BanRecord, Offender } from '../../electron/shared/model.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { migrate } from '../../electron/engine/store/schema.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';

const T0 = 1_700_000_000_000;

function pkt(i: number): PacketEvent {
  return {
    time: T0 + i,
    framing: 'kmsg',
    trust: 'kernel',
    prefix: 'UFW BLOCK',
    in: 'eth0',
    out: '',
    src: `203.0.113.${i % 250}` as PacketEvent['src'],
    dst: '198.51.100.1' as PacketEvent['dst'],
    family: 4,
    proto: 'TCP',
    spt: 40000,
    dpt: i % 65535,
    fragment: false,
    seq: i,
  } as PacketEvent;
}

const ban = (ip: string): BanRecord => ({ ip, at: T0, until: T0 + 3_600_000, strikes: 1, reason: { kind: 'manual' } }) as BanRecord;

/** The store's connection, to set its page limit as a full disk would. */
const dbOf = (s: SqliteStore) => (s as unknown as { db: DatabaseSync }).db;
/** Lets the database grow by `pages` pages at most from now on (0: full at once). */
function fill(s: SqliteStore, pages: number): void {
  const db = dbOf(s);
  const { page_count } = db.prepare('PRAGMA page_count').get() as { page_count: number };
  db.exec(`PRAGMA max_page_count = ${page_count + pages}`);
}
function unfill(s: SqliteStore): void {
  dbOf(s).exec('PRAGMA max_page_count = 1073741823');
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'portcullis-full-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteStore on a full disk', () => {
  it('a failed flush says the disk is full, not "cannot rollback"', () => {
    const s = new SqliteStore({ path: path.join(dir, 'p.db'), batchRows: 1_000_000 });
    fill(s, 0);
    s.addPackets(Array.from({ length: 500 }, (_, i) => pkt(i)));
    expect(() => s.flush()).toThrow(/database or disk is full/);
    unfill(s);
    s.close();
  });

  it('a failed recordBan says the disk is full', () => {
    const s = new SqliteStore({ path: path.join(dir, 'p.db') });
    s.addPackets(Array.from({ length: 2000 }, (_, i) => pkt(i)));
    s.flush();
    fill(s, 0);
    // Big enough that the insert needs a new page.
    expect(() => s.recordBans(Array.from({ length: 500 }, (_, i) => ban(`192.0.2.${i % 250}`)))).toThrow(/database or disk is full/);
    unfill(s);
    s.close();
  });

  it('a migration that fails after SQLite rolled its transaction back says its own error', () => {
    // SQLite ends the transaction itself on a full disk at COMMIT; the ROLLBACK here stands for that.
    const db = new DatabaseSync(path.join(dir, 'm.db'));
    expect(() => migrate(db, ['CREATE TABLE t (a); ROLLBACK; INSERT INTO missing VALUES (1)'])).toThrow(/no such table: missing/);
    db.close();
  });

  it('addPackets never throws, keeps a bounded buffer and counts what is beyond it as not stored', () => {
    const s = new SqliteStore({ path: path.join(dir, 'p.db'), batchRows: 100, maxBufferedPackets: 1000 });
    fill(s, 0);
    let i = 0;
    // 50 reads of 100 packets: each crosses batchRows, none may throw on the read path.
    for (let read = 0; read < 50; read++) expect(() => s.addPackets(Array.from({ length: 100 }, () => pkt(i++)))).not.toThrow();
    expect(s.writeError).toMatch(/database or disk is full/);
    expect(s.pendingPackets()).toBe(1000);
    expect(s.packetsNotStored()).toBe(4000);
    // Reads answer from what is committed meanwhile.
    expect(s.getPackets(0, 10).rows).toEqual([]);
    // Room again: the owner's flush writes the kept packets and the count of the others.
    unfill(s);
    s.flush();
    expect(s.writeError).toBeNull();
    expect(s.packetCountTotal()).toBe(1000);
    expect(s.getPackets(0, 1).rows[0]!.id).toBe(1000);
    expect(s.packetsNotStoredSince(T0 + 10 * 60_000, 60)).toBe(4000);
    // The ids handed to packets not stored are not handed out again.
    expect(s.packetsNotStored()).toBe(4000);
    expect(s.addPackets([pkt(i++)])).toBe(5001);
    s.close();
  });

  it('while flushes fail, new offender rows wait beyond the bound (those buffered are kept up to date)', () => {
    const s = new SqliteStore({ path: path.join(dir, 'p.db'), batchRows: 500, maxBufferedPackets: 500 });
    fill(s, 0);
    s.addPackets(Array.from({ length: 500 }, (_, i) => pkt(i)));
    expect(s.writeError).not.toBeNull();
    const off = (ip: string, hits: number): Offender => ({ ip, hits, distinctPorts: 1, ports: [22], firstSeen: T0, lastSeen: T0, scanType: 'OTHER', state: 'watching', strikes: 0, bannedUntil: null });
    s.upsertOffenders(Array.from({ length: 600 }, (_, i) => off(`2001:db8::${i.toString(16)}`, 1)));
    s.upsertOffenders([off('2001:db8::0', 9)]);
    unfill(s);
    s.flush();
    const stored = s.offenders();
    expect(stored).toHaveLength(500);
    expect(stored.find((o) => o.ip === '2001:db8::0')?.hits).toBe(9);
    s.close();
  });
});
