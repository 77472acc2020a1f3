/** How the engine shows bans and watched sources as offender rows (the Offenders screen, `getOffenders`). */
import type { BanRecord, Offender } from '../shared/model.ts';
import type { SourceTracker } from './detect/tracker.ts';

/** Ports listed in an offender row (most targeted first). */
export const OFFENDER_PORT_LIMIT = 20;

/** A banned source's row from its ban; a prefix ban (ip = network) carries the member addresses seen. */
export function offenderFromBan(b: BanRecord): Offender {
  const r = b.reason;
  return {
    ip: b.ip,
    hits: r.hits,
    distinctPorts: r.ports.length,
    ports: r.ports.slice(0, OFFENDER_PORT_LIMIT),
    firstSeen: r.firstSeen,
    lastSeen: r.lastSeen,
    scanType: r.scanType ?? 'OTHER',
    state: 'banned',
    strikes: b.strikes,
    bannedUntil: b.until,
    ...(r.members ? { members: [...r.members] } : {}),
  };
}

/** What a watched source's row needs besides its window: the whitelist and the strike records. */
export interface WatchedContext {
  whitelisted(ip: string): boolean;
  strikes(ip: string): number;
  /** Ports kept in a window's summary (the engine's limit for ban reasons). */
  summaryPorts: number;
}

/** A watched (not banned) source's row, from its window in the tracker. */
export function offenderFromWindow(t: SourceTracker, w: number, c: WatchedContext): Offender {
  const s = t.summary(w, c.summaryPorts);
  const ip = t.ipOf(w);
  return {
    ip,
    hits: s.hits,
    distinctPorts: s.distinctPorts,
    ports: t.topPorts(w, OFFENDER_PORT_LIMIT),
    firstSeen: s.firstSeen,
    lastSeen: s.lastSeen,
    scanType: s.scanType,
    state: c.whitelisted(ip) ? 'whitelisted' : 'watching',
    strikes: c.strikes(ip),
    bannedUntil: null,
  };
}

/** The `limit` most active watched sources (most hits, then latest seen, then address), as rows. */
export function watchedOffenders(t: SourceTracker, limit: number, c: WatchedContext): Offender[] {
  const watched = t.slots().map((slot) => ({ slot, ip: t.ipOf(slot), hits: t.hitsOf(slot), lastSeen: t.lastSeenOf(slot) }));
  watched.sort((a, b) => b.hits - a.hits || b.lastSeen - a.lastSeen || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  const out: Offender[] = [];
  for (let i = 0; i < watched.length && i < limit; i++) out.push(offenderFromWindow(t, watched[i]!.slot, c));
  return out;
}
