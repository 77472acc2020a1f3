/**
 * How one delivered batch of live events changes the store: a pure function of the state before
 * and the events, so a batch is one state update and the rules (what a ban or an unban does to
 * an offender and to the ban lists) are tested without a store.
 */
import type { ApiEvent } from '../../electron/shared/api.ts';
import type { BanRecord, Offender } from '../../electron/shared/model.ts';
import { withNotice } from './notices.ts';
import type { AppState } from './appState.ts';
import { LivePackets } from './livePackets.ts';

export const MAX_BAN_HISTORY = 1000;

/**
 * A newer report of an offender, merged with what the window already knew. The engine forgets a
 * source while it is banned and starts a new window when it comes back, so its report's
 * `firstSeen` is the start of that window: "first seen" is the earliest either side saw.
 */
export function mergeOffender(prev: Offender | undefined, next: Offender): Offender {
  if (!prev || prev.firstSeen >= next.firstSeen) return next;
  return { ...next, firstSeen: prev.firstSeen };
}

/** The offender a ban implies, for a source the window had not listed yet (a manual ban, a list capped by size). */
function offenderFromBan(ban: BanRecord, prev: Offender | undefined): Offender {
  const r = ban.reason;
  const base: Offender = prev ?? {
    ip: ban.ip,
    hits: r.hits,
    distinctPorts: r.ports.length,
    ports: r.ports,
    firstSeen: r.hits > 0 ? r.firstSeen : ban.at,
    lastSeen: r.hits > 0 ? r.lastSeen : ban.at,
    scanType: r.scanType ?? 'OTHER',
    state: 'banned',
    strikes: ban.strikes,
  };
  return { ...base, state: 'banned', strikes: ban.strikes, bannedUntil: ban.until };
}

/**
 * The active-ban list as a batch changes it, at a constant cost per event: a first fleet pull
 * delivers up to fleet.maxBans (100,000) 'ban' events in one batch, and filtering the list for each
 * froze the window. The list is indexed once, when the batch's first ban or unban comes; `list()`
 * gives what filtering per event gave: the bans the batch did not touch, in their order, then the
 * ones it banned, each where its last ban put it.
 */
class ActiveBans {
  /** The first listed ban of each address of the list before the batch (what `find` found). */
  private readonly listed = new Map<string, BanRecord>();
  /** Addresses the batch banned or unbanned: none of their bans before the batch stays. */
  private readonly touched = new Set<string>();
  /** The batch's bans, in the order of each address's last ban (a Map keeps insertion order). */
  private readonly added = new Map<string, BanRecord>();

  private readonly before: BanRecord[];

  constructor(before: BanRecord[]) {
    this.before = before;
    for (const b of before) if (!this.listed.has(b.ip)) this.listed.set(b.ip, b);
  }

  ban(ban: BanRecord): void {
    this.touched.add(ban.ip);
    this.added.delete(ban.ip);
    this.added.set(ban.ip, ban);
  }

  /** Takes the address's ban off the list; returns it (undefined when none was listed). */
  unban(ip: string): BanRecord | undefined {
    const ended = this.touched.has(ip) ? this.added.get(ip) : this.listed.get(ip);
    this.touched.add(ip);
    this.added.delete(ip);
    return ended;
  }

  list(): BanRecord[] {
    const kept = this.touched.size === 0 ? this.before.slice() : this.before.filter((b) => !this.touched.has(b.ip));
    for (const b of this.added.values()) kept.push(b);
    return kept;
  }
}

export function reduceEvents(s: AppState, events: ApiEvent[], now: number): Partial<AppState> {
  const patch: Partial<AppState> = {};
  let packets: LivePackets | null = null;
  let offenders: Map<string, Offender> | null = null;
  let active: ActiveBans | null = null;
  // The batch's history rows, oldest first: each goes on top of the history (see below).
  const ended: BanRecord[] = [];
  let notices = s.notices;
  const touchOffenders = () => (offenders ??= new Map(s.offenders));
  for (const ev of events) {
    switch (ev.type) {
      case 'packets':
        (packets ??= new LivePackets(s)).rows(ev.rows);
        break;
      case 'offenders': {
        const m = touchOffenders();
        for (const o of ev.offenders) m.set(o.ip, mergeOffender(m.get(o.ip), o));
        break;
      }
      case 'ban': {
        (active ??= new ActiveBans(s.bans.active)).ban(ev.ban);
        // Every active ban has its offender row, so "banned" counts the same on every screen.
        const m = touchOffenders();
        m.set(ev.ban.ip, offenderFromBan(ev.ban, m.get(ev.ban.ip)));
        break;
      }
      case 'unban': {
        const was = (active ??= new ActiveBans(s.bans.active)).unban(ev.ip);
        // The history row says when and why it ended, not the expiry it no longer reached.
        if (was) ended.push({ ...was, ended: { at: ev.why === 'expired' && was.until !== null ? Math.min(was.until, now) : now, why: ev.why } });
        const m = touchOffenders();
        // The source stays listed (its ban is over), also when only the ban list knew it.
        const o = m.get(ev.ip) ?? (was ? offenderFromBan(was, undefined) : undefined);
        if (o && o.state === 'banned') m.set(ev.ip, { ...o, state: 'expired', bannedUntil: null });
        break;
      }
      case 'state':
        patch.state = ev.state;
        break;
      case 'notice':
        notices = withNotice(notices, ev.level, ev.message);
        break;
      case 'packetsSkipped':
        (packets ??= new LivePackets(s)).skipped(ev.upToId);
        break;
    }
  }
  if (packets) Object.assign(patch, packets.patch());
  if (offenders) patch.offenders = offenders;
  if (active) {
    // The newest ended ban first, as if each had been put on top in turn, and the cap once: keeping
    // the first MAX_BAN_HISTORY after each row or only at the end keeps the same rows.
    const history = ended.length === 0 ? s.bans.history : ended.slice(-MAX_BAN_HISTORY).reverse().concat(s.bans.history).slice(0, MAX_BAN_HISTORY);
    patch.bans = { active: active.list(), history };
  }
  if (notices !== s.notices) patch.notices = notices;
  return patch;
}
