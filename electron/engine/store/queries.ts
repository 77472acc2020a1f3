/**
 * The store's read-only queries for the UI that need more than one statement (the dashboard, an
 * offender's detail): plain functions over the connection, kept out of sqlite.ts so that file stays
 * about writing (its buffers, transactions and durability).
 */
import type { DatabaseSync } from 'node:sqlite';
import { canonicalIp } from '../../shared/domain.ts';
import type { BanRecord, Offender, OffenderState, ScanType } from '../../shared/model.ts';
import { OffenderStateSchema } from '../../shared/model.ts';
import type { Dashboard, PacketRow } from '../../shared/api.ts';
import { toBan, toOffender, toRow, type BanDbRow, type OffenderDbRow, type PacketDbRow } from './rows.ts';

export interface OffenderDetail {
  offender: Offender;
  ports: { port: number; proto: string; hits: number }[];
  timeline: PacketRow[];
  bans: BanRecord[];
}

/** The dashboard's numbers for the `minutes` before `now` (SqliteStore.dashboard flushes first). */
export function dashboardOf(db: DatabaseSync, now: number, minutes: number, top: number): Dashboard {
  const since = now - minutes * 60_000;
  const perMinuteRows = db
    .prepare('SELECT CAST(time / 60000 AS INTEGER) * 60000 AS t, COUNT(*) AS count FROM packets WHERE time >= ? AND time <= ? GROUP BY t ORDER BY t')
    .all(since, now) as { t: number; count: number }[];
  // Every minute of the range is present (zero when nothing was blocked), so the chart has no gaps.
  const counts = new Map(perMinuteRows.map((r) => [r.t, r.count]));
  // Packets over the per-second cap were counted, not stored: they are blocked packets of their minute too.
  const notStored = db
    .prepare('SELECT minute AS t, count FROM packets_not_stored WHERE minute >= ? AND minute <= ?')
    .all(Math.floor(since / 60_000) * 60_000, now) as { t: number; count: number }[];
  for (const r of notStored) counts.set(r.t, (counts.get(r.t) ?? 0) + r.count);
  const perMinute: { t: number; count: number }[] = [];
  const lastMinute = Math.floor(now / 60_000) * 60_000;
  for (let t = lastMinute - (minutes - 1) * 60_000; t <= lastMinute; t += 60_000) perMinute.push({ t, count: counts.get(t) ?? 0 });
  const topPorts = db
    .prepare(`SELECT dpt AS port, proto, COUNT(*) AS hits FROM packets WHERE time >= ? AND time <= ? AND dpt IS NOT NULL
      GROUP BY dpt, proto ORDER BY hits DESC, port LIMIT ?`)
    .all(since, now, top) as { port: number; proto: string; hits: number }[];
  const topOffenders = (db
    .prepare(`SELECT p.src AS ip, COUNT(*) AS hits, o.state AS state FROM packets p LEFT JOIN offenders o ON o.ip = p.src
      WHERE p.time >= ? AND p.time <= ? GROUP BY p.src ORDER BY hits DESC, ip LIMIT ?`)
    .all(since, now, top) as { ip: string; hits: number; state: string | null }[]).map((r) => ({
    ip: r.ip,
    hits: r.hits,
    state: (OffenderStateSchema.safeParse(r.state).data ?? 'watching') as OffenderState,
  }));
  return { perMinute: perMinute.map((p) => ({ t: p.t, count: p.count })), topPorts: topPorts.map((p) => ({ ...p })), topOffenders };
}

/** An offender with its ports, recent packets and bans; null when the address was never seen (SqliteStore.offenderDetail flushes first). */
export function offenderDetailOf(db: DatabaseSync, ip: string, timelineLimit: number): OffenderDetail | null {
  const canon = canonicalIp(ip);
  if (!canon) return null;
  const row = db.prepare('SELECT * FROM offenders WHERE ip = ?').get(canon) as OffenderDbRow | undefined;
  const ports = db
    .prepare('SELECT dpt AS port, proto, COUNT(*) AS hits FROM packets WHERE src = ? AND dpt IS NOT NULL GROUP BY dpt, proto ORDER BY hits DESC, port')
    .all(canon) as { port: number; proto: string; hits: number }[];
  const timeline = (db
    .prepare('SELECT * FROM packets WHERE src = ? ORDER BY id DESC LIMIT ?')
    .all(canon, timelineLimit) as unknown as PacketDbRow[]).map(toRow);
  const bans = banHistoryOf(db, canon);
  let offender: Offender;
  if (row) offender = toOffender(row);
  else if (timeline.length || bans.length) {
    // Seen in the log (or banned by hand) but never tracked by the engine: summarise from the packets.
    const agg = db
      .prepare('SELECT COUNT(*) AS hits, COUNT(DISTINCT dpt) AS dp, MIN(time) AS f, MAX(time) AS l FROM packets WHERE src = ?')
      .get(canon) as { hits: number; dp: number; f: number | null; l: number | null };
    const lastBan = bans[0];
    offender = {
      ip: canon,
      hits: agg.hits,
      distinctPorts: agg.dp,
      ports: ports.map((p) => p.port).slice(0, 50),
      firstSeen: agg.f ?? lastBan?.at ?? 0,
      lastSeen: agg.l ?? lastBan?.at ?? 0,
      scanType: 'OTHER' as ScanType,
      state: 'watching',
      strikes: lastBan?.strikes ?? 0,
      bannedUntil: null,
    };
  } else return null;
  return { offender, ports, timeline, bans };
}

function banHistoryOf(db: DatabaseSync, ip: string): BanRecord[] {
  return (db.prepare('SELECT * FROM bans WHERE ip = ? ORDER BY at DESC, id DESC').all(ip) as unknown as BanDbRow[]).map(toBan);
}
