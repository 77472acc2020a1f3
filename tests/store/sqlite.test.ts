import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { Offender } from '../../electron/shared/model.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { MIGRATIONS, migrate, SCHEMA_VERSION } from '../../electron/engine/store/schema.ts';
import { flagsText, SqliteStore } from '../../electron/engine/store/sqlite.ts';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

function pkt(over: Partial<PacketEvent> = {}): PacketEvent {
  return {
    time: T0,
    framing: 'kmsg',
    trust: 'kernel',
    prefix: 'UFW BLOCK',
    in: 'eth0',
    out: '',
    src: '203.0.113.7' as PacketEvent['src'],
    dst: '198.51.100.1' as PacketEvent['dst'],
    family: 4,
    proto: 'TCP',
    spt: 40000,
    dpt: 22,
    tcpFlags: 0x02,
    ...over,
  } as PacketEvent;
}

function offender(ip: string, over: Partial<Offender> = {}): Offender {
  return {
    ip,
    hits: 5,
    distinctPorts: 3,
    ports: [22, 23, 25],
    firstSeen: T0,
    lastSeen: T0 + 1000,
    scanType: 'SYN',
    state: 'watching',
    strikes: 0,
    bannedUntil: null,
    ...over,
  };
}

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pc-store-'));
  dbPath = path.join(dir, 'portcullis.db');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('schema and pragmas', () => {
  it('migrates an empty file to the current version, in WAL mode', () => {
    const s = new SqliteStore({ path: dbPath });
    s.close();
    const db = new DatabaseSync(dbPath);
    expect((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
    expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(['bans', 'offenders', 'packets', 'packets_not_stored', 'settings', 'state']);
    db.close();
  });

  it('reopens idempotently and keeps data', () => {
    const a = new SqliteStore({ path: dbPath });
    a.setSetting('settings', '{"x":1}');
    a.addPackets([pkt()]);
    a.close();
    const b = new SqliteStore({ path: dbPath });
    expect(b.getSetting('settings')).toBe('{"x":1}');
    expect(b.getPackets(0, 10).total).toBe(1);
    b.close();
    const c = new SqliteStore({ path: dbPath });
    expect(c.getPackets(0, 10).total).toBe(1);
    c.close();
  });

  it('upgrades an existing database with the next migration in order, keeping its data; a failing one rolls back', () => {
    const a = new SqliteStore({ path: dbPath });
    a.addPackets([pkt()]);
    a.close();
    const db = new DatabaseSync(dbPath);
    const next = [...MIGRATIONS, 'ALTER TABLE packets ADD COLUMN note TEXT; UPDATE packets SET note = \'migrated\';'];
    expect(migrate(db, next)).toEqual([SCHEMA_VERSION + 1]);
    expect(db.prepare('SELECT note FROM packets').all()).toEqual([{ note: 'migrated' }]);
    expect(migrate(db, next)).toEqual([]);
    const broken = [...next, 'CREATE TABLE x (a INTEGER); INSERT INTO no_such_table VALUES (1);'];
    expect(() => migrate(db, broken)).toThrow(/no_such_table/);
    expect((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION + 1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'x'").get()).toBeUndefined();
    db.close();
  });

  it('several processes opening the same new database at once migrate it once and all write', async () => {
    const ips = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'];
    const codes = await Promise.all(
      ips.map(
        (ip) =>
          new Promise<number | null>((resolve) => {
            const c = spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures/open-and-ban.ts'), dbPath, ip], { stdio: 'inherit' });
            c.on('exit', (code) => resolve(code));
          }),
      ),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const s = new SqliteStore({ path: dbPath });
    expect(s.openBans().map((b) => b.ip).sort()).toEqual(ips);
    s.close();
  });

  it('refuses a database from a newer Portcullis instead of touching it', () => {
    const db = new DatabaseSync(dbPath);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteStore({ path: dbPath })).toThrow(/newer than this Portcullis understands/);
  });
});

describe('batching', () => {
  it('buffers packets until flush, then commits them in one go', () => {
    const s = new SqliteStore({ path: dbPath, batchRows: 100 });
    s.addPackets([pkt(), pkt({ dpt: 23 })]);
    expect(s.pendingPackets()).toBe(2);
    // Another connection sees nothing before the flush…
    const reader = new DatabaseSync(dbPath);
    const count = () => (reader.prepare('SELECT COUNT(*) AS c FROM packets').get() as { c: number }).c;
    expect(count()).toBe(0);
    s.flush();
    expect(s.pendingPackets()).toBe(0);
    expect(count()).toBe(2);
    reader.close();
    s.close();
  });

  it('addPackets hands out the row ids the packets are stored under, never the same twice: across reopens, and after retention emptied the table', () => {
    const s = new SqliteStore({ path: dbPath, retentionDays: 1 });
    expect(s.addPackets([pkt({ dpt: 1 }), pkt({ dpt: 2 })])).toBe(1);
    expect(s.addPackets([pkt({ dpt: 3 })])).toBe(3);
    s.flush();
    const ids = (st: SqliteStore) => Object.fromEntries(st.getPackets(0, 100).rows.map((r) => [r.dpt, r.id]));
    expect(ids(s)).toEqual({ 1: 1, 2: 2, 3: 3 });
    s.close();
    // A restart goes on from the ids stored (an id counter restarting at 1 put a new run's live rows
    // under the ids of the last run's stored rows: the window sorted them below older packets).
    const again = new SqliteStore({ path: dbPath, retentionDays: 1 });
    expect(again.addPackets([pkt({ dpt: 4 })])).toBe(4);
    again.flush();
    expect(ids(again)).toEqual({ 1: 1, 2: 2, 3: 3, 4: 4 });
    // Retention deletes every row: the next ids still follow the last one handed out.
    expect(again.prune(T0 + 3 * 86_400_000).byAge).toBe(4);
    again.close();
    const third = new SqliteStore({ path: dbPath, retentionDays: 1 });
    expect(third.getPackets(0, 1).total).toBe(0);
    expect(third.addPackets([pkt({ dpt: 5 })])).toBe(5);
    third.flush();
    expect(ids(third)).toEqual({ 5: 5 });
    third.close();
  });

  it('a second writer of the same file (a run given this database with --db) does not wedge the first: its rows go after the other\'s', () => {
    const live = new SqliteStore({ path: dbPath });
    const other = new SqliteStore({ path: dbPath });
    expect(live.addPackets([pkt({ dpt: 1 })])).toBe(1);
    expect(other.addPackets([pkt({ dpt: 2 })])).toBe(1); // both handed out id 1
    other.flush();
    // The first flush after that had failed (UNIQUE constraint), and every later one with it: the
    // buffer kept its ids, so packets, offenders and the log's resume position were never written again.
    live.upsertOffenders([offender('203.0.113.7')]);
    live.flush();
    live.addPackets([pkt({ dpt: 3 })]);
    live.flush();
    expect(live.getPackets(0, 10).rows.map((r) => [r.id, r.dpt])).toEqual([[3, 3], [2, 1], [1, 2]]);
    other.close();
    live.close();
  });

  it('flushes by itself at batchRows', () => {
    const s = new SqliteStore({ path: dbPath, batchRows: 3 });
    s.addPackets([pkt(), pkt()]);
    expect(s.pendingPackets()).toBe(2);
    s.addPackets([pkt()]);
    expect(s.pendingPackets()).toBe(0);
    s.close();
  });

  it('tick(now) flushes only once the oldest buffered write is flushIntervalMs old', () => {
    const clock = new ManualClock(T0);
    const s = new SqliteStore({ path: dbPath, flushIntervalMs: 200, clock });
    expect(s.tick()).toBe(false);
    s.addPackets([pkt()]);
    clock.advance(199);
    expect(s.tick()).toBe(false);
    expect(s.pendingPackets()).toBe(1);
    clock.advance(1);
    expect(s.tick()).toBe(true);
    expect(s.pendingPackets()).toBe(0);
    s.close();
  });

  it('commits queued resume state with the packets, and reads back the queued value meanwhile', () => {
    const s = new SqliteStore({ path: dbPath });
    s.addPackets([pkt({ seq: 41 })]);
    s.queueState('kmsg.seq', '41');
    expect(s.getState('kmsg.seq')).toBe('41');
    const reader = new DatabaseSync(dbPath);
    const stored = () => (reader.prepare("SELECT value FROM state WHERE key='kmsg.seq'").get() as { value: string } | undefined)?.value;
    expect(stored()).toBeUndefined();
    s.flush();
    expect(stored()).toBe('41');
    reader.close();
    s.close();
  });

  it('setStates writes its values now, in one transaction (all or none)', () => {
    const s = new SqliteStore({ path: dbPath });
    s.setStates({ 'nflog.counters': '{"a":1}', 'nflog.accounted': '0' });
    const reader = new DatabaseSync(dbPath);
    const stored = (k: string) => (reader.prepare('SELECT value FROM state WHERE key=?').get(k) as { value: string } | undefined)?.value;
    expect([stored('nflog.counters'), stored('nflog.accounted')]).toEqual(['{"a":1}', '0']);
    // A failure inside the transaction rolls back the values before it.
    expect(() => s.setStates({ 'nflog.counters': '{"a":2}', 'nflog.accounted': null as unknown as string })).toThrow();
    expect([stored('nflog.counters'), stored('nflog.accounted')]).toEqual(['{"a":1}', '0']);
    reader.close();
    s.close();
  });

  it('keeps only the latest picture of an offender in a batch and merges first-seen on upsert', () => {
    const s = new SqliteStore({ path: dbPath });
    s.upsertOffenders([offender('203.0.113.7', { hits: 1 }), offender('203.0.113.7', { hits: 9, firstSeen: T0 + 50 })]);
    s.flush();
    s.upsertOffenders([offender('203.0.113.7', { hits: 12, firstSeen: T0 + 500, lastSeen: T0 + 9000 })]);
    const [o] = s.offenders();
    expect(o).toMatchObject({ ip: '203.0.113.7', hits: 12, firstSeen: T0 + 50, lastSeen: T0 + 9000, ports: [22, 23, 25] });
    s.close();
  });

  it('a picture without hits (after an unban) updates state and strikes but keeps the known counts, buffered or stored', () => {
    const s = new SqliteStore({ path: dbPath });
    const unbanned = (ip: string) => offender(ip, { hits: 0, distinctPorts: 0, ports: [], state: 'expired', strikes: 1, scanType: 'OTHER' });
    // Same batch: the ban's picture then the unban's.
    s.upsertOffenders([offender('203.0.113.7', { hits: 9, state: 'banned' }), unbanned('203.0.113.7')]);
    s.flush();
    // Across batches: stored first, the unban later.
    s.upsertOffenders([offender('203.0.113.8', { hits: 7, state: 'banned' })]);
    s.flush();
    s.upsertOffenders([unbanned('203.0.113.8')]);
    for (const o of s.offenders()) expect(o).toMatchObject({ state: 'expired', strikes: 1, ports: [22, 23, 25], scanType: 'SYN' });
    expect(s.offenders().map((o) => o.hits).sort()).toEqual([7, 9]);
    s.close();
  });
});

describe('bans', () => {
  it('writes bans and unbans immediately, one standing ban per host, with history', () => {
    const s = new SqliteStore({ path: dbPath });
    const reason = { kind: 'scan' as const, scanType: 'SYN' as const, ports: [1, 2, 3], hits: 5, firstSeen: T0, lastSeen: T0 + 10 };
    s.recordBan({ ip: '203.0.113.7', at: T0, until: T0 + 60 * MIN, strikes: 1, reason });
    const reader = new DatabaseSync(dbPath);
    expect((reader.prepare('SELECT COUNT(*) AS c FROM bans').get() as { c: number }).c).toBe(1);
    // Re-banning extends: the earlier row is closed as superseded.
    s.recordBan({ ip: '203.0.113.7', at: T0 + MIN, until: T0 + 120 * MIN, strikes: 2, reason });
    s.recordBan({ ip: '2001:db8::1', at: T0 + 2 * MIN, until: null, strikes: 1, reason: { ...reason, kind: 'manual' } });
    expect(s.activeBans(T0 + 3 * MIN).map((b) => [b.ip, b.until, b.strikes])).toEqual([
      ['203.0.113.7', T0 + 120 * MIN, 2],
      ['2001:db8::1', null, 1],
    ]);
    s.recordUnban('2001:db8::1', T0 + 4 * MIN, 'manual');
    expect((reader.prepare("SELECT end_why FROM bans WHERE ip='2001:db8::1'").get() as { end_why: string }).end_why).toBe('manual');
    reader.close();
    expect(s.activeBans(T0 + 5 * MIN).map((b) => b.ip)).toEqual(['203.0.113.7']);
    // After its time, a ban is no longer active but stays open until the reconciler lifts it.
    expect(s.activeBans(T0 + 121 * MIN)).toEqual([]);
    expect(s.openBans().map((b) => b.ip)).toEqual(['203.0.113.7']);
    const { active, history } = s.bans(T0 + 121 * MIN);
    expect(active).toEqual([]);
    expect(history.map((b) => [b.ip, b.at])).toEqual([
      ['2001:db8::1', T0 + 2 * MIN],
      ['203.0.113.7', T0 + MIN],
      ['203.0.113.7', T0],
    ]);
    expect(history[1]!.reason).toEqual(reason);
    // The history says how each one ended: lifted by hand after 2 minutes; the re-ban ran out its
    // time and is not closed yet (no end recorded); the first was superseded by the re-ban.
    expect(history.map((b) => b.ended)).toEqual([{ at: T0 + 4 * MIN, why: 'manual' }, undefined, { at: T0 + MIN, why: 'superseded' }]);
    expect(s.strikes().sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '2001:db8::1', strikes: 1, lastBanAt: T0 + 2 * MIN },
      { ip: '203.0.113.7', strikes: 2, lastBanAt: T0 + MIN },
    ]);
    s.close();
  });

  it('a kill -9 right after recordBan loses no ban, and packets only up to the unflushed batch', () => {
    const child = spawnSync(process.execPath, [path.join(import.meta.dirname, 'fixtures/crash-writer.ts'), dbPath, '300', '120'], {
      encoding: 'utf8',
    });
    expect(child.signal).toBe('SIGKILL');
    expect(child.stdout).toContain('pending=120');
    const s = new SqliteStore({ path: dbPath });
    // Exactly the flushed packets, and the resume position that goes with them (not the lost tail's).
    expect(s.getPackets(0, 1).total).toBe(300);
    expect(s.getState('kmsg.seq')).toBe('299');
    const open = s.openBans();
    expect(open.map((b) => [b.ip, b.until, b.strikes])).toEqual([['203.0.113.7', 1_700_000_360_500, 2]]);
    expect(open[0]!.reason.ports).toEqual([1, 2, 3]);
    const hist = s.bans(1_700_000_001_000).history;
    expect(hist.map((b) => b.ip)).toEqual(['2001:db8::66']);
    s.close();
  });
});

describe('a ban end that cannot be read back (written before durations were bounded)', () => {
  it('becomes permanent at the next open: the bans and the offender read back, so a start does not fail forever', () => {
    const s = new SqliteStore({ path: dbPath });
    const reason = { kind: 'manual' as const, ports: [], hits: 0, firstSeen: T0, lastSeen: T0 };
    // What banMany --duration 115740741d stored: an end beyond 2^53 ms, kept by SQLite as an integer.
    const huge = T0 + 115_740_741 * 86_400_000;
    s.recordBan({ ip: '198.51.100.7', at: T0, until: huge, strikes: 1, reason });
    s.recordBan({ ip: '198.51.100.8', at: T0, until: T0 + 60 * MIN, strikes: 1, reason });
    s.upsertOffenders([offender('198.51.100.7', { state: 'banned', strikes: 1, bannedUntil: huge })]);
    s.flush();
    expect(() => s.activeBans(T0)).toThrow(/too large/);
    s.close();
    const again = new SqliteStore({ path: dbPath });
    expect(again.activeBans(T0).map((b) => [b.ip, b.until])).toEqual([
      ['198.51.100.7', null],
      ['198.51.100.8', T0 + 60 * MIN],
    ]);
    expect(again.offenders('banned').map((o) => [o.ip, o.bannedUntil])).toEqual([['198.51.100.7', null]]);
    again.close();
  });
});

describe('retention', () => {
  it('deletes by age, then the oldest beyond the row cap', () => {
    const s = new SqliteStore({ path: dbPath, retentionDays: 1, maxStoredPackets: 5 });
    const now = T0 + 3 * 86_400_000;
    const old = Array.from({ length: 4 }, (_, i) => pkt({ time: now - 2 * 86_400_000 + i, dpt: 100 + i }));
    const recent = Array.from({ length: 8 }, (_, i) => pkt({ time: now - 1000 + i, dpt: 200 + i }));
    s.addPackets([...old, ...recent]);
    expect(s.prune(now)).toEqual({ byAge: 4, byCap: 3 });
    const page = s.getPackets(0, 100);
    expect(page.total).toBe(5);
    expect(page.rows.map((r) => r.dpt)).toEqual([207, 206, 205, 204, 203]);
    expect(s.prune(now)).toEqual({ byAge: 0, byCap: 0 });
    s.close();
    // The in-memory total agrees with the table after reopening.
    const again = new SqliteStore({ path: dbPath });
    expect(again.getPackets(0, 1).total).toBe(5);
    again.close();
  });
});

describe('offender retention (a spoofed flood makes every packet a new source)', () => {
  it('deletes offenders by age and the least recently seen beyond the row cap, never one whose ban still stands', () => {
    const DAY = 86_400_000;
    const s = new SqliteStore({ path: dbPath, retentionDays: 1, maxStoredOffenders: 3 });
    const now = T0 + 10 * DAY;
    s.upsertOffenders([
      offender('203.0.113.1', { lastSeen: now - 3 * DAY }), // old: goes by age
      offender('203.0.113.2', { lastSeen: now - 3 * DAY, state: 'banned', bannedUntil: null }), // old but banned for good: stays
      offender('203.0.113.3', { lastSeen: now - 3 * DAY, state: 'banned', bannedUntil: now - DAY }), // its ban ran out: goes
      ...Array.from({ length: 5 }, (_, i) => offender(`198.51.100.${i + 1}`, { lastSeen: now - 1000 + i })),
      offender('198.51.100.99', { lastSeen: now - 5000, state: 'banned', bannedUntil: now + DAY }), // the least recent, but banned: stays
    ]);
    s.prune(now);
    expect(s.lastOffenderPrune).toEqual({ byAge: 2, byCap: 2 });
    expect(s.offenders().map((o) => o.ip).sort()).toEqual(['198.51.100.3', '198.51.100.4', '198.51.100.5', '198.51.100.99', '203.0.113.2'].sort());
    s.prune(now);
    expect(s.lastOffenderPrune).toEqual({ byAge: 0, byCap: 0 });
    s.close();
  });

  it('a flood of new sources keeps the table at its cap, in chunks', () => {
    const s = new SqliteStore({ path: ':memory:', maxStoredOffenders: 1000 });
    const now = T0 + 1000;
    for (let b = 0; b < 5; b++) {
      s.upsertOffenders(Array.from({ length: 10_000 }, (_, i) => offender(`10.${b}.${i >> 8}.${i & 255}`, { lastSeen: T0 + b * 100 + (i % 100) })));
    }
    s.prune(now);
    expect(s.lastOffenderPrune.byCap).toBe(49_000);
    expect(s.offenders(undefined, 100_000)).toHaveLength(1000);
    expect(Math.min(...s.offenders(undefined, 100_000).map((o) => o.lastSeen))).toBe(T0 + 490);
    s.close();
  });
});

describe('retention in chunks', () => {
  it('deletes more than one chunk (20k rows) by age and by cap, counting exactly', () => {
    const s = new SqliteStore({ path: ':memory:', retentionDays: 1, maxStoredPackets: 1000, batchRows: 100_000 });
    const now = T0 + 10 * 86_400_000;
    const rows: PacketEvent[] = [];
    for (let i = 0; i < 45_000; i++) rows.push(pkt({ time: now - 5 * 86_400_000 + i, dpt: 1 + (i % 1000) }));
    for (let i = 0; i < 23_500; i++) rows.push(pkt({ time: now - 1000 + (i % 1000), dpt: 2000 + (i % 100) }));
    s.addPackets(rows);
    expect(s.prune(now)).toEqual({ byAge: 45_000, byCap: 22_500 });
    expect(s.getPackets(0, 1).total).toBe(1000);
    s.close();
  });
});

describe('queries', () => {
  function seeded(): SqliteStore {
    const s = new SqliteStore({ path: dbPath });
    const rows: PacketEvent[] = [];
    // 203.0.113.7 scans 20 ports in minute 0-1; 2001:db8::9 hits 443/udp; 198.51.100.50 hits 22 thrice.
    for (let i = 0; i < 20; i++) rows.push(pkt({ time: T0 + i * 6000, dpt: 1000 + i }));
    for (let i = 0; i < 4; i++)
      rows.push(pkt({ time: T0 + 5 * MIN + i, src: '2001:db8::9' as PacketEvent['src'], family: 6, proto: 'UDP', dpt: 443, tcpFlags: undefined }));
    for (let i = 0; i < 3; i++)
      rows.push(pkt({ time: T0 + 6 * MIN + i, src: '198.51.100.50' as PacketEvent['src'], dpt: 22, prefix: 'PORTCULLIS BLOCK', tcpFlags: 0x12 }));
    s.addPackets(rows);
    s.upsertOffenders([offender('203.0.113.7', { state: 'banned', hits: 20 }), offender('2001:db8::9', { lastSeen: T0 + 5 * MIN })]);
    s.flush();
    return s;
  }

  it('pages newest first with totals, and filters by src, port, proto and prefix', () => {
    const s = seeded();
    const all = s.getPackets(0, 10);
    expect(all.total).toBe(27);
    expect(all.rows).toHaveLength(10);
    expect(all.rows[0]).toMatchObject({ src: '198.51.100.50', dpt: 22, prefix: 'PORTCULLIS BLOCK', flags: 'ACK SYN', in: 'eth0' });
    const last = s.getPackets(20, 10);
    expect(last.rows.map((r) => r.dpt)).toEqual([1006, 1005, 1004, 1003, 1002, 1001, 1000]);
    expect(s.getPackets(0, 5, { src: '203.0.113.7' })).toMatchObject({ total: 20 });
    // Any spelling of the address finds it; a partial address is a prefix.
    expect(s.getPackets(0, 5, { src: '2001:DB8:0::9' }).total).toBe(4);
    expect(s.getPackets(0, 50, { src: '198.51.' }).total).toBe(3);
    expect(s.getPackets(0, 5, { port: 22 }).total).toBe(3);
    const udp = s.getPackets(0, 5, { proto: 'udp' });
    expect(udp.total).toBe(4);
    expect(udp.rows[0]).toMatchObject({ proto: 'UDP', flags: '', spt: 40000 });
    expect(s.getPackets(0, 5, { prefix: 'PORTCULLIS BLOCK' }).total).toBe(3);
    expect(s.getPackets(0, 5, { src: '203.0.113.7', port: 1005 }).rows.map((r) => r.time)).toEqual([T0 + 5 * 6000]);
    expect(s.getPackets(0, 5, { src: '192.0.2.1' })).toEqual({ total: 0, rows: [] });
    s.close();
  });

  it('dashboard: every minute present, top ports and top offenders with their state', () => {
    const s = seeded();
    const d = s.dashboard(T0 + 7 * MIN, 10);
    expect(d.perMinute).toHaveLength(10);
    const minute0 = Math.floor(T0 / MIN) * MIN;
    const byT = new Map(d.perMinute.map((p) => [p.t, p.count]));
    expect(d.perMinute.reduce((a, p) => a + p.count, 0)).toBe(27);
    expect(byT.get(minute0 + 5 * MIN)).toBe(4);
    expect(byT.get(minute0 + 4 * MIN)).toBe(0);
    expect(d.topPorts[0]).toEqual({ port: 443, proto: 'UDP', hits: 4 });
    expect(d.topPorts[1]).toEqual({ port: 22, proto: 'TCP', hits: 3 });
    expect(d.topOffenders).toEqual([
      { ip: '203.0.113.7', hits: 20, state: 'banned' },
      { ip: '2001:db8::9', hits: 4, state: 'watching' },
      { ip: '198.51.100.50', hits: 3, state: 'watching' },
    ]);
    s.close();
  });

  it('dashboard: kmsg-dated packets (fractional ms, stored as REAL) land in their minute', () => {
    const s = new SqliteStore({ path: dbPath });
    const minute0 = Math.floor(T0 / MIN) * MIN;
    s.addPackets([
      pkt({ time: minute0 + 1234.567 }),
      pkt({ time: minute0 + 59_999.4 }),
      pkt({ time: minute0 + MIN + 0.25 }),
    ]);
    s.flush();
    const byT = new Map(s.dashboard(minute0 + MIN + 10, 2).perMinute.map((p) => [p.t, p.count]));
    expect(byT.get(minute0)).toBe(2);
    expect(byT.get(minute0 + MIN)).toBe(1);
    s.close();
  });

  it('offenders list by state, and offender detail with ports, timeline and bans', () => {
    const s = seeded();
    expect(s.offenders().map((o) => o.ip)).toEqual(['2001:db8::9', '203.0.113.7']);
    expect(s.offenders('banned').map((o) => o.ip)).toEqual(['203.0.113.7']);
    s.recordBan({ ip: '203.0.113.7', at: T0 + 2 * MIN, until: T0 + 62 * MIN, strikes: 1, reason: { kind: 'scan', ports: [1000], hits: 20, firstSeen: T0, lastSeen: T0 + MIN } });
    const d = s.offenderDetail('203.0.113.7')!;
    expect(d.offender.state).toBe('banned');
    expect(d.ports).toHaveLength(20);
    expect(d.timeline[0]!.dpt).toBe(1019);
    expect(d.bans.map((b) => b.until)).toEqual([T0 + 62 * MIN]);
    // Seen in the log but never tracked by the engine: summarised from its packets.
    const untracked = s.offenderDetail('198.51.100.50')!;
    expect(untracked.offender).toMatchObject({ hits: 3, distinctPorts: 1, firstSeen: T0 + 6 * MIN, state: 'watching' });
    expect(s.offenderDetail('192.0.2.99')).toBeNull();
    expect(s.offenderDetail('not an ip')).toBeNull();
    s.close();
  });

  it('packetsSince returns full packet events, oldest first, for threshold tests', () => {
    const s = seeded();
    const ev = s.packetsSince(T0 + 7 * MIN, 2);
    expect(ev).toHaveLength(7);
    expect(ev[0]).toEqual({
      time: T0 + 5 * MIN, framing: 'kmsg', trust: 'kernel', prefix: 'UFW BLOCK', in: 'eth0', out: '',
      src: '2001:db8::9', dst: '198.51.100.1', family: 6, proto: 'UDP', spt: 40000, dpt: 443,
    });
    expect(ev[6]!.tcpFlags).toBe(0x12);
    s.close();
  });

  it('formats TCP flags the way netfilter logs them', () => {
    expect(flagsText(0x29)).toBe('URG PSH FIN');
    expect(flagsText(0)).toBe('');
    expect(flagsText(undefined)).toBe('');
  });
});
