/**
 * The SQLite store: blocked packets, offenders, bans, settings and resume state.
 *
 * WHY node:sqlite: it is built into Node 24 (and the Node that Electron embeds), so there is no
 * native module to rebuild for Electron's ABI, nothing to download at install time, and the same
 * code runs in the headless CLI, the desktop app and the tests. better-sqlite3 would be faster on
 * bulk reads but needs electron-rebuild and a prebuilt binary per platform.
 *
 * Durability model:
 * - WAL + synchronous=NORMAL: a committed transaction survives a crash or kill -9 of this process
 *   (it is in the WAL file, written before COMMIT returns); only an OS crash / power loss may lose
 *   the last commits. That is the right trade for a log that writes all the time.
 * - Bans and unbans are committed immediately: a kill -9 must never lose a ban, or the restarted
 *   app would not know about a firewall rule it created (orphan) or would create it again (duplicate).
 * - Packets, offender updates and queued state (the log source's resume position) are buffered and
 *   written in ONE transaction by flush(). The resume position is queued with the packets it covers,
 *   so after a crash the source resumes exactly where the stored packets end: no stored packet is
 *   lost or stored twice (the engine may see the unflushed tail again, and banning is idempotent).
 * - The store is synchronous and owns no timer: the caller flushes every N ms (tick/flush), and
 *   addPackets flushes by itself once M rows are buffered — unless the owner holds the store's own
 *   flushes while writes of its own must go first (holdOwnFlushes).
 * - A write that fails (a full disk) loses nothing the firewall needs: addPackets, which runs on the
 *   log's read path, never throws (a throw there ended the process) and stops flushing by itself
 *   until the owner's flush succeeds again (`writeError` says why meanwhile); the buffers are
 *   bounded (maxBufferedPackets), and packets beyond the bound are counted as not stored, by minute,
 *   like those over the per-second cap. Reads answer from what is committed when their flush fails.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { canonicalIp, systemClock, type Clock } from '../../shared/domain.ts';
import type { BanRecord, Offender, OffenderState, UnbanReason } from '../../shared/model.ts';
import type { PacketEvent } from '../../shared/packet.ts';
import type { Dashboard, PacketFilter, PacketRow } from '../../shared/api.ts';
import type { StorePort } from '../ports.ts';
import { inTransaction } from './tx.ts';
import { openDatabase, StoreOpenError } from './open.ts';
import { STORE_BUSY_TIMEOUT_MS } from './unavailable.ts';
import { pruneOffenders, prunePackets, type PruneResult } from './prune.ts';
import { dashboardOf, offenderDetailOf, type OffenderDetail } from './queries.ts';
import { toBan, toEvent, toOffender, toRow, type BanDbRow, type OffenderDbRow, type PacketDbRow } from './rows.ts';

export { flagsText } from './rows.ts';

export interface StoreOptions {
  /** Database file, or ':memory:'. */
  path: string;
  /** addPackets flushes by itself once this many packets are buffered. Default 1000. */
  batchRows?: number;
  /**
   * Packets buffered at most (and offender rows, while flushes fail); beyond it packets are counted as
   * not stored (packetsNotStored) and new offender rows wait for the engine's next picture. Default 10 × batchRows.
   */
  maxBufferedPackets?: number;
  /** tick(now) flushes when the oldest buffered write is this old. Default 250 ms. */
  flushIntervalMs?: number;
  /** Packets older than this are deleted by prune(). Default 7 days. */
  retentionDays?: number;
  /** At most this many packets are kept; prune() deletes the oldest beyond it. Default 1,000,000. */
  maxStoredPackets?: number;
  /** At most this many offenders are kept (active bans excepted); prune() deletes the least recently seen. Default 100,000. */
  maxStoredOffenders?: number;
  /**
   * How long a statement waits for another connection's write lock (an `sqlite3` shell in a
   * transaction, a checkpoint, a second writer) before failing with SQLITE_BUSY. Default
   * STORE_BUSY_TIMEOUT_MS. node:sqlite is synchronous: the wait blocks the event loop, and a service
   * that waited 5 s read no log record and banned nothing for 5 s at each tick and each ban record.
   * A write that fails busy loses nothing (the tick writes the buffers again; a ban record waits in
   * the service's RecordRetry), and reads never wait for a writer in WAL mode.
   */
  busyTimeoutMs?: number;
  /** The same while the store opens (the WAL switch, the migration): the start may wait. Default 5000 ms. */
  openBusyTimeoutMs?: number;
  /** Time of buffered writes for tick(); the same clock the caller's tick(now) uses. */
  clock?: Clock;
}

export interface PacketPage {
  total: number;
  rows: PacketRow[];
}

export type { PruneResult } from './prune.ts';
export type { OffenderDetail } from './queries.ts';
export { StoreOpenError } from './open.ts';
export { STORE_BUSY_TIMEOUT_MS } from './unavailable.ts';

/** Offender rows kept at most by default (~150 bytes each with their index entries). */
export const DEFAULT_MAX_STORED_OFFENDERS = 100_000;

const n = (v: number | undefined): number | null => (v === undefined ? null : v);

/** Packets counted by the minute (ms of its start) of their time, as countNotStored takes them. */
function notStoredByMinute(packets: readonly PacketEvent[]): Map<number, number> {
  const byMinute = new Map<number, number>();
  for (const p of packets) {
    const minute = Math.floor(p.time / 60_000) * 60_000;
    byMinute.set(minute, (byMinute.get(minute) ?? 0) + 1);
  }
  return byMinute;
}
/** State key of the id the next packet row gets (see nextPacketId). */
const PACKET_NEXT_ID_KEY = 'packets.nextId';

export class SqliteStore implements StorePort {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly batchRows: number;
  private readonly maxBuffered: number;
  private readonly flushIntervalMs: number;
  private readonly clock: Clock;
  private retentionMs: number;
  private maxStoredPackets: number;
  private readonly maxStoredOffenders: number;
  get maxOffenders(): number {
    return this.maxStoredOffenders;
  }
  /** What the last prune() deleted from offenders. */
  lastOffenderPrune: PruneResult = { byAge: 0, byCap: 0 };

  private packetBuf: PacketEvent[] = [];
  /** The id of packetBuf[0]: the buffer's ids follow it (ids handed to packets beyond the bound are never stored). */
  private packetBufFirstId = 0;
  /** Why the last flush failed; null once one succeeds. */
  private lastWriteError: string | null = null;
  /**
   * The id the next packet gets (addPackets hands ids out as it buffers, the row is inserted with
   * it): the live rows the UI streams carry the same id as the stored row it later pages, so the two
   * merge and sort as one list. Never reused, even when retention has emptied the table: kept in
   * the state table (PACKET_NEXT_ID_KEY) with each flush's packets.
   */
  private nextPacketId: number;
  private offenderBuf = new Map<string, Offender>();
  /** Whether the owner has writes to commit before the buffers (holdOwnFlushes). */
  private ownFlushesHeld: () => boolean = () => false;
  private stateBuf = new Map<string, string>();
  /** Packets over the per-second cap, by minute, waiting for the next flush. */
  private notStoredBuf = new Map<number, number>();
  /** Wall time of the oldest buffered write, for tick(). */
  private bufferedSince: number | null = null;
  /** Rows in packets, kept in memory so the unfiltered total costs nothing on a 1M-row table. */
  private packetCount: number;
  /** Sum of packets_not_stored (kept like packetCount), plus what notStoredBuf holds. */
  private notStoredCount: number;
  private closed = false;

  private readonly st: {
    insertPacket: StatementSync;
    upsertOffender: StatementSync;
    endOpenBans: StatementSync;
    insertBan: StatementSync;
    activeBans: StatementSync;
    openBans: StatementSync;
    strikes: StatementSync;
    getSetting: StatementSync;
    setSetting: StatementSync;
    getState: StatementSync;
    setState: StatementSync;
    maxPacketId: StatementSync;
    addNotStored: StatementSync;
  };

  constructor(opts: StoreOptions) {
    this.path = opts.path;
    this.batchRows = opts.batchRows ?? 1000;
    this.maxBuffered = Math.max(1, opts.maxBufferedPackets ?? 10 * this.batchRows);
    this.flushIntervalMs = opts.flushIntervalMs ?? 250;
    this.clock = opts.clock ?? systemClock;
    this.retentionMs = (opts.retentionDays ?? 7) * 86_400_000;
    this.maxStoredPackets = opts.maxStoredPackets ?? 1_000_000;
    this.maxStoredOffenders = opts.maxStoredOffenders ?? DEFAULT_MAX_STORED_OFFENDERS;
    const db = openDatabase(opts.path, { openMs: opts.openBusyTimeoutMs ?? 5000, runMs: opts.busyTimeoutMs ?? STORE_BUSY_TIMEOUT_MS });
    this.db = db;
    try {
      const p = (sql: string) => db.prepare(sql);
      this.st = {
        insertPacket: p(`INSERT INTO packets (id, time, src, dst, family, proto, spt, dpt, prefix, iface_in, iface_out, tcp_flags,
          icmp_type, icmp_code, fragment, len, ttl, framing, trusted, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
        upsertOffender: p(`INSERT INTO offenders (ip, hits, distinct_ports, ports, first_seen, last_seen, scan_type, state, strikes, banned_until)
          VALUES (?,?,?,?,?,?,?,?,?,?)
          ON CONFLICT(ip) DO UPDATE SET
            hits=CASE WHEN excluded.hits = 0 THEN hits ELSE excluded.hits END,
            distinct_ports=CASE WHEN excluded.hits = 0 THEN distinct_ports ELSE excluded.distinct_ports END,
            ports=CASE WHEN excluded.hits = 0 THEN ports ELSE excluded.ports END,
            first_seen=MIN(first_seen, excluded.first_seen), last_seen=MAX(last_seen, excluded.last_seen),
            scan_type=CASE WHEN excluded.hits = 0 THEN scan_type ELSE excluded.scan_type END,
            state=excluded.state, strikes=excluded.strikes, banned_until=excluded.banned_until`),
        endOpenBans: p('UPDATE bans SET ended_at = ?, end_why = ? WHERE ip = ? AND ended_at IS NULL'),
        insertBan: p('INSERT INTO bans (ip, at, until, strikes, reason) VALUES (?,?,?,?,?)'),
        activeBans: p('SELECT * FROM bans WHERE ended_at IS NULL AND (until IS NULL OR until > ?) ORDER BY at'),
        openBans: p('SELECT * FROM bans WHERE ended_at IS NULL ORDER BY at'),
        // A ban the firewall refused (a rule of the user's) never took effect: no strike (engine.ts unban).
        strikes: p("SELECT ip, MAX(strikes) AS strikes, MAX(at) AS lastBanAt FROM bans WHERE end_why IS NOT 'refused-users-rule' GROUP BY ip"),
        getSetting: p('SELECT value FROM settings WHERE key = ?'),
        setSetting: p('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
        getState: p('SELECT value FROM state WHERE key = ?'),
        maxPacketId: p('SELECT MAX(id) AS m FROM packets'),
        setState: p('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
        addNotStored: p('INSERT INTO packets_not_stored (minute, count) VALUES (?, ?) ON CONFLICT(minute) DO UPDATE SET count = count + excluded.count'),
      };
      this.packetCount = (db.prepare('SELECT COUNT(*) AS c FROM packets').get() as { c: number }).c;
      const maxId = (this.st.maxPacketId.get() as { m: number | null }).m ?? 0;
      const kept = Number((this.st.getState.get(PACKET_NEXT_ID_KEY) as { value: string } | undefined)?.value ?? 0);
      this.nextPacketId = Math.max(maxId + 1, Number.isSafeInteger(kept) ? kept : 0, 1);
      this.notStoredCount = this.sumNotStored();
    } catch (e) {
      // A table damaged past the schema's reads: the error names the file, as openDatabase's do.
      db.close();
      throw new StoreOpenError(opts.path, e);
    }
  }

  // ------------------------------------------------------------------ writes

  /**
   * Buffers packets; returns the row id of the first (the others follow it: first + 1, …). Never
   * throws: a flush that fails here waits for the owner's next flush (see the header).
   */
  addPackets(packets: PacketEvent[]): number {
    const first = this.nextPacketId;
    if (packets.length === 0) return first;
    this.noteBuffered();
    if (this.packetBuf.length === 0) this.packetBufFirstId = first;
    const room = Math.max(0, this.maxBuffered - this.packetBuf.length);
    for (let i = 0; i < packets.length && i < room; i++) this.packetBuf.push(packets[i]!);
    if (packets.length > room) this.countNotStored(notStoredByMinute(packets.slice(room)));
    this.nextPacketId += packets.length;
    if (this.packetBuf.length >= this.batchRows && this.lastWriteError === null && !this.ownFlushesHeld()) {
      try {
        this.flush();
      } catch {
        // Kept in lastWriteError; the owner's flush reports it and retries.
      }
    }
    return first;
  }

  /**
   * The flushes the store makes by itself — a read's (so it sees what is buffered) and addPackets'
   * once a batch is buffered — wait while `held()` says the owner has writes that must be committed
   * before the buffers: the service's ban records that wait while the database was locked (an
   * offender row saying 'banned' committed ahead of its ban's record is what a crash then leaves).
   * Meanwhile reads answer from what is committed, and the owner's own flush() writes the buffers
   * after its writes.
   */
  holdOwnFlushes(held: () => boolean): void {
    this.ownFlushesHeld = held;
  }

  /** Why the last flush failed (a full disk), or null when the last one succeeded. */
  get writeError(): string | null {
    return this.lastWriteError;
  }

  upsertOffenders(offenders: Offender[]): void {
    if (offenders.length === 0) return;
    this.noteBuffered();
    // Only the latest picture of each offender matters: later updates replace earlier ones in the buffer.
    // A picture with no hits (the engine forgot the window, e.g. right after an unban) carries state
    // and strikes only: it keeps the counts already known, here as in the upsert's SQL.
    for (const o of offenders) {
      const prev = this.offenderBuf.get(o.ip);
      // While flushes fail (a full disk), new sources wait for the engine's next picture of them.
      if (!prev && this.lastWriteError !== null && this.offenderBuf.size >= this.maxBuffered) continue;
      this.offenderBuf.set(
        o.ip,
        prev && o.hits === 0
          ? { ...o, hits: prev.hits, distinctPorts: prev.distinctPorts, ports: prev.ports, scanType: prev.scanType, firstSeen: Math.min(prev.firstSeen, o.firstSeen), lastSeen: Math.max(prev.lastSeen, o.lastSeen) }
          : o,
      );
    }
  }

  /**
   * Counts blocked packets that were not stored (over logs.maxStoredPacketsPerSecond), by the minute
   * (ms of its start) of their time; committed with the next flush, like the packets.
   */
  countNotStored(byMinute: Iterable<[number, number]>): void {
    for (const [minute, count] of byMinute) {
      if (count <= 0) continue;
      this.noteBuffered();
      this.notStoredBuf.set(minute, (this.notStoredBuf.get(minute) ?? 0) + count);
      this.notStoredCount += count;
    }
  }

  /** Blocked packets counted but not stored, within the retention (pending ones included). */
  packetsNotStored(): number {
    return this.notStoredCount;
  }

  /**
   * Blocked packets not stored in the minutes that overlap [now − minutes, now]: counted per minute,
   * so a minute the window only partly covers counts whole (the answer errs towards "some are missing").
   */
  packetsNotStoredSince(now: number, minutes: number): number {
    this.flushForRead();
    const since = Math.floor((now - minutes * 60_000) / 60_000) * 60_000;
    return (this.db.prepare('SELECT COALESCE(SUM(count), 0) AS c FROM packets_not_stored WHERE minute >= ? AND minute <= ?').get(since, now) as { c: number }).c;
  }

  /** Queues a resume position (or other state) to be committed atomically with the next flush. */
  queueState(key: string, value: string): void {
    this.noteBuffered();
    this.stateBuf.set(key, value);
  }

  /** Written immediately: a kill -9 right after this returns keeps the ban. */
  recordBan(ban: BanRecord): void {
    this.immediate(() => {
      // Banning a banned host extends it: the previous row is closed so one ban per host stands.
      this.st.endOpenBans.run(ban.at, 'superseded', ban.ip);
      this.st.insertBan.run(ban.ip, ban.at, ban.until, ban.strikes, JSON.stringify(ban.reason));
    });
  }

  /** Many bans in one transaction (a bulk ban of 10k addresses is one commit, not 10k). */
  recordBans(bans: readonly BanRecord[]): void {
    if (bans.length === 0) return;
    this.immediate(() => {
      for (const ban of bans) {
        this.st.endOpenBans.run(ban.at, 'superseded', ban.ip);
        this.st.insertBan.run(ban.ip, ban.at, ban.until, ban.strikes, JSON.stringify(ban.reason));
      }
    });
  }

  /** Written immediately, like recordBan. */
  recordUnban(ip: string, at: number, why: UnbanReason): void {
    this.immediate(() => {
      this.st.endOpenBans.run(at, why, ip);
    });
  }

  setSetting(key: string, value: string): void {
    this.immediate(() => this.st.setSetting.run(key, value));
  }

  getSetting(key: string): string | null {
    const r = this.st.getSetting.get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  /** Immediate state write (use queueState for positions that must match the stored packets). */
  setState(key: string, value: string): void {
    this.immediate(() => this.st.setState.run(key, value));
  }

  /** Immediate state writes, all in one transaction (values that are only right together). */
  setStates(entries: Record<string, string>): void {
    this.immediate(() => {
      for (const [k, v] of Object.entries(entries)) this.st.setState.run(k, v);
    });
  }

  /** The committed value, or the queued one when a newer value waits for the next flush. */
  getState(key: string): string | null {
    const queued = this.stateBuf.get(key);
    if (queued !== undefined) return queued;
    const r = this.st.getState.get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  /** Writes everything buffered in one transaction. */
  flush(): void {
    if (this.closed) return;
    if (this.packetBuf.length === 0 && this.offenderBuf.size === 0 && this.stateBuf.size === 0 && this.notStoredBuf.size === 0) {
      this.bufferedSince = null;
      return;
    }
    const packets = this.packetBuf;
    const offenders = this.offenderBuf;
    const state = this.stateBuf;
    const notStored = this.notStoredBuf;
    // Keeps the buffers when it throws: the next flush retries (e.g. after SQLITE_BUSY from another
    // connection, or once a full disk has room again).
    try {
      this.writeBuffers(packets, offenders, state, notStored);
    } catch (e) {
      this.lastWriteError = e instanceof Error ? e.message : String(e);
      throw e;
    }
    this.lastWriteError = null;
    this.packetCount += packets.length;
    this.packetBuf = [];
    this.offenderBuf = new Map();
    this.stateBuf = new Map();
    this.notStoredBuf = new Map();
    this.bufferedSince = null;
  }

  private writeBuffers(packets: PacketEvent[], offenders: Map<string, Offender>, state: Map<string, string>, notStored: Map<number, number>): void {
    inTransaction(this.db, () => {
      // The buffer's rows carry the ids addPackets handed out, from packetBufFirstId on.
      // Another writer of this file (a run given this database with --db) may have taken them since:
      // then the rows go after its last one (their live rows showed other ids: rare, and only those).
      // Under the write lock BEGIN IMMEDIATE holds, so nobody takes ids between this look and the insert.
      const taken = (this.st.maxPacketId.get() as { m: number | null }).m ?? 0;
      let id = this.packetBufFirstId;
      if (packets.length !== 0 && taken >= id) {
        id = taken + 1;
        this.nextPacketId = Math.max(this.nextPacketId, id + packets.length);
      }
      for (const pk of packets) {
        this.st.insertPacket.run(
          id++,
          // Whole ms: a fractional time would be stored as REAL and break the per-minute integer buckets.
          Math.round(pk.time), pk.src, pk.dst, pk.family, pk.proto, n(pk.spt), n(pk.dpt), pk.prefix, pk.in, pk.out,
          n(pk.tcpFlags), n(pk.icmpType), n(pk.icmpCode), pk.fragment ? 1 : 0, n(pk.len), n(pk.ttl),
          pk.framing, pk.trust === 'kernel' ? 1 : 0, n(pk.seq),
        );
      }
      for (const o of offenders.values()) {
        this.st.upsertOffender.run(
          o.ip, o.hits, o.distinctPorts, JSON.stringify(o.ports), o.firstSeen, o.lastSeen, o.scanType, o.state,
          o.strikes, o.bannedUntil ?? null,
        );
      }
      for (const [minute, count] of notStored) this.st.addNotStored.run(minute, count);
      for (const [k, v] of state) this.st.setState.run(k, v);
      if (packets.length !== 0) this.st.setState.run(PACKET_NEXT_ID_KEY, String(this.nextPacketId));
    });
  }

  /** Called by the owner's timer: flushes when the oldest buffered write is flushIntervalMs old. */
  tick(now: number = this.clock.now()): boolean {
    if (this.bufferedSince === null || now - this.bufferedSince < this.flushIntervalMs) return false;
    this.flush();
    return true;
  }

  /** Buffered (not yet committed) packets: what a crash right now would lose. */
  pendingPackets(): number {
    return this.packetBuf.length;
  }

  setRetention(retentionDays: number, maxStoredPackets: number): void {
    this.retentionMs = retentionDays * 86_400_000;
    this.maxStoredPackets = maxStoredPackets;
  }

  /**
   * Deletes packets older than the retention and the oldest beyond the row cap, and the same for
   * offenders (maxStoredOffenders). Returns what it did to packets; lastOffenderPrune what it did to offenders.
   */
  prune(now: number): PruneResult {
    this.flush();
    const packets = prunePackets(this.db, now - this.retentionMs, this.maxStoredPackets, this.packetCount);
    this.packetCount -= packets.byAge + packets.byCap;
    this.lastOffenderPrune = pruneOffenders(this.db, now, now - this.retentionMs, this.maxStoredOffenders);
    // Counts of packets not stored go by age with the packets (a row a minute at most: no row cap).
    this.db.prepare('DELETE FROM packets_not_stored WHERE minute + 60000 <= ?').run(now - this.retentionMs);
    this.notStoredCount = this.sumNotStored();
    return packets;
  }

  /** How long statements wait for another connection's lock from now on (StoreOptions.busyTimeoutMs). */
  setBusyTimeout(ms: number): void {
    if (!this.closed) this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(ms))}`);
  }

  /** Hands the page cache's memory back (PRAGMA shrink_memory): a service at rest after a flood needs none of it. */
  releaseMemory(): void {
    this.db.exec('PRAGMA shrink_memory');
  }

  /** Flushes and closes; closed even when the last flush fails (its error is thrown after). */
  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.db.close();
    }
  }

  // ------------------------------------------------------------------ engine reads

  activeBans(now: number): BanRecord[] {
    return (this.st.activeBans.all(now) as unknown as BanDbRow[]).map(toBan);
  }

  /** Bans not lifted yet, including those whose time ran out while Portcullis was not running. */
  openBans(): BanRecord[] {
    return (this.st.openBans.all() as unknown as BanDbRow[]).map(toBan);
  }

  strikes(): { ip: string; strikes: number; lastBanAt: number }[] {
    return this.st.strikes.all() as unknown as { ip: string; strikes: number; lastBanAt: number }[];
  }

  // ------------------------------------------------------------------ UI queries

  packetCountTotal(): number {
    return this.packetCount;
  }

  /** Newest first. `src` is an exact address when it is one, otherwise a text prefix ("203.0.113."). */
  getPackets(offset: number, limit: number, filter: PacketFilter = {}): PacketPage {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.src !== undefined && filter.src.trim() !== '') {
      const text = filter.src.trim();
      const ip = canonicalIp(text);
      if (ip) {
        where.push('src = ?');
        args.push(ip);
      } else {
        // A range instead of LIKE so the src index is used; lower-case because v6 is stored lower-case.
        const prefix = text.toLowerCase();
        where.push('src >= ? AND src < ?');
        args.push(prefix, prefix + '\uffff');
      }
    }
    if (filter.port !== undefined) {
      where.push('dpt = ?');
      args.push(filter.port);
    }
    if (filter.proto !== undefined && filter.proto.trim() !== '') {
      where.push('proto = ?');
      args.push(filter.proto.trim().toUpperCase());
    }
    if (filter.prefix !== undefined && filter.prefix.trim() !== '') {
      where.push('prefix = ?');
      args.push(filter.prefix.trim());
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    this.flushForRead();
    const total = where.length
      ? (this.db.prepare(`SELECT COUNT(*) AS c FROM packets ${whereSql}`).get(...args) as { c: number }).c
      : this.packetCount;
    const rows = this.db
      .prepare(`SELECT * FROM packets ${whereSql} ORDER BY id DESC LIMIT ? OFFSET ?`)
      .all(...args, Math.max(1, Math.floor(limit)), Math.max(0, Math.floor(offset))) as unknown as PacketDbRow[];
    return { total, rows: rows.map(toRow) };
  }

  /** Packets of the last `minutes` before `now`, oldest first, as the engine consumes them ("test thresholds"). */
  packetsSince(now: number, minutes: number, limit = 1_000_000): PacketEvent[] {
    this.flushForRead();
    const rows = this.db
      .prepare('SELECT * FROM packets WHERE time >= ? AND time <= ? ORDER BY time, id LIMIT ?')
      .all(now - minutes * 60_000, now, limit) as unknown as PacketDbRow[];
    return rows.map(toEvent);
  }

  dashboard(now: number, minutes: number, top = 10): Dashboard {
    this.flushForRead();
    return dashboardOf(this.db, now, minutes, top);
  }

  /** Most recently seen first. */
  offenders(state?: OffenderState, limit = 5000): Offender[] {
    this.flushForRead();
    const rows = state
      ? this.db.prepare('SELECT * FROM offenders WHERE state = ? ORDER BY last_seen DESC LIMIT ?').all(state, limit)
      : this.db.prepare('SELECT * FROM offenders ORDER BY last_seen DESC LIMIT ?').all(limit);
    return (rows as unknown as OffenderDbRow[]).map(toOffender);
  }

  /** An offender with its ports, recent packets and bans; null when the address was never seen. */
  offenderDetail(ip: string, timelineLimit = 200): OffenderDetail | null {
    this.flushForRead();
    return offenderDetailOf(this.db, ip, timelineLimit);
  }

  /** Active bans, and ended or expired ones newest first. */
  bans(now: number, historyLimit = 1000): { active: BanRecord[]; history: BanRecord[] } {
    const active = this.activeBans(now);
    const history = (this.db
      .prepare('SELECT * FROM bans WHERE ended_at IS NOT NULL OR (until IS NOT NULL AND until <= ?) ORDER BY at DESC, id DESC LIMIT ?')
      .all(now, historyLimit) as unknown as BanDbRow[]).map(toBan);
    return { active, history };
  }

  // ------------------------------------------------------------------ internals

  private sumNotStored(): number {
    return (this.db.prepare('SELECT COALESCE(SUM(count), 0) AS c FROM packets_not_stored').get() as { c: number }).c;
  }

  /** A read's flush: when it fails (lastWriteError) or is held (holdOwnFlushes), the read answers from what is committed. */
  private flushForRead(): void {
    if (this.ownFlushesHeld()) return;
    try {
      this.flush();
    } catch {
      // Reported by the owner's own flush.
    }
  }

  private noteBuffered(): void {
    if (this.bufferedSince === null) this.bufferedSince = this.clock.now();
  }

  private immediate(fn: () => void): void {
    if (this.closed) throw new Error('the store is closed');
    inTransaction(this.db, fn);
  }
}
