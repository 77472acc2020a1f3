/**
 * Derived data. Selectors that build new arrays are memoised on the identity of their inputs, so
 * a component re-renders only when those inputs changed (zustand compares results with Object.is)
 * and 100k rows are filtered once per batch, not once per render.
 */
import type { PacketRow, State } from '../../electron/shared/api.ts';
import type { BanRecord, Offender, OffenderState } from '../../electron/shared/model.ts';
import { compilePacketFilter, type PacketFilterInput } from './packetFilter.ts';
import type { AppState } from './appState.ts';

/** Memoise a function of a few reference-compared inputs (last call only). */
export function memoLast<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  let lastArgs: A | null = null;
  let last!: R;
  return (...args: A) => {
    if (lastArgs && lastArgs.length === args.length && lastArgs.every((a, i) => Object.is(a, args[i]))) return last;
    lastArgs = args;
    last = fn(...args);
    return last;
  };
}

export interface FilteredPackets {
  rows: PacketRow[];
  /** Newest first, for the table. */
  newestFirst: PacketRow[];
  error: { field: keyof PacketFilterInput; message: string } | null;
}

const filterPackets = memoLast((packets: PacketRow[], filter: PacketFilterInput): FilteredPackets => {
  const f = compilePacketFilter(filter);
  if (!f.ok) return { rows: packets, newestFirst: packets.slice().reverse(), error: { field: f.field, message: f.error } };
  const rows = f.active ? packets.filter(f.test) : packets;
  return { rows, newestFirst: rows.slice().reverse(), error: null };
});

export const selectFilteredPackets = (s: AppState): FilteredPackets => filterPackets(s.packets, s.packetFilter);

export type OffenderSort = 'lastSeen' | 'hits' | 'distinctPorts';

/*
 * One definition per number. Every screen that shows an offender's state, hits or first sighting,
 * or counts scanners and bans, reads it from selectOffenders: the offenders the service reported,
 * with every active ban marked banned (a ban whose offender row had not arrived, or was capped
 * away, still counts once, as banned, everywhere).
 */
const mergeBans = memoLast((m: Map<string, Offender>, active: BanRecord[]): Map<string, Offender> => {
  let out: Map<string, Offender> | null = null;
  for (const b of active) {
    const o = m.get(b.ip);
    if (o && o.state === 'banned') continue;
    out ??= new Map(m);
    const r = b.reason;
    out.set(b.ip, {
      ...(o ?? { ip: b.ip, hits: r.hits, distinctPorts: r.ports.length, ports: r.ports, firstSeen: r.hits > 0 ? r.firstSeen : b.at, lastSeen: r.hits > 0 ? r.lastSeen : b.at, scanType: r.scanType ?? 'OTHER' }),
      state: 'banned',
      strikes: b.strikes,
      bannedUntil: b.until,
    });
  }
  return out ?? m;
});
export const selectOffenders = (s: AppState): Map<string, Offender> => mergeBans(s.offenders, s.bans.active);

const sortOffenders = memoLast((m: Map<string, Offender>, state: OffenderState | 'all', sort: OffenderSort): Offender[] => {
  const list = [...m.values()].filter((o) => state === 'all' || o.state === state);
  list.sort((a, b) => b[sort] - a[sort] || (a.ip < b.ip ? -1 : 1));
  return list;
});

export const selectOffenderList = (state: OffenderState | 'all', sort: OffenderSort) => (s: AppState): Offender[] => sortOffenders(selectOffenders(s), state, sort);

/** The Dashboard's "Top offenders": the Offenders list sorted by hits, so both show the same hits for a source. */
const firstN = memoLast((list: Offender[], n: number): Offender[] => list.slice(0, n));
export const selectTopOffenders = (n: number) => (s: AppState): Offender[] => firstN(sortOffenders(selectOffenders(s), 'all', 'hits'), n);

const countStates = memoLast((m: Map<string, Offender>): Record<OffenderState, number> => {
  const c: Record<OffenderState, number> = { watching: 0, banned: 0, whitelisted: 0, expired: 0 };
  for (const o of m.values()) c[o.state]++;
  return c;
});
export const selectOffenderStateCounts = (s: AppState) => countStates(selectOffenders(s));

export interface Counts {
  /** Stored blocked packets (the service's count), null before it answered. */
  blockedPackets: number | null;
  /** Sources seen probing that are being watched or are banned now (not whitelisted, not over). */
  scanners: number;
  watching: number;
  activeBans: number;
  deferredBans: number;
}
const makeCounts = memoLast((c: Record<OffenderState, number>, blocked: number | null, deferred: number): Counts => ({
  blockedPackets: blocked,
  scanners: c.watching + c.banned,
  watching: c.watching,
  activeBans: c.banned,
  deferredBans: deferred,
}));
export const selectCounts = (s: AppState): Counts =>
  makeCounts(selectOffenderStateCounts(s), s.state?.counts.blockedPackets ?? null, s.state?.counts.deferredBans ?? 0);

/** How each source's last ban ended ('manual': lifted by an unban or a whitelist entry), from the ban history. */
const endings = memoLast((history: BanRecord[]): Map<string, { at: number; why: string }> => {
  const m = new Map<string, { at: number; why: string }>();
  for (const b of history) {
    if (!b.ended) continue;
    const prev = m.get(b.ip);
    if (!prev || prev.at < b.ended.at) m.set(b.ip, b.ended);
  }
  return m;
});

/**
 * What the state badge says: "unbanned" for a ban that was lifted, "expired" for one that ran out,
 * "your rule" for one the firewall refused because a rule of the user's own decides that source.
 */
export const selectStateLabel = (o: Pick<Offender, 'ip' | 'state'>) => (s: AppState): string => {
  if (o.state !== 'expired') return o.state;
  const why = endings(s.bans.history).get(o.ip)?.why;
  if (why === 'refused-users-rule') return 'your rule';
  return why && why !== 'expired' ? 'unbanned' : 'expired';
};

export const selectActiveBan = (ip: string) => (s: AppState): BanRecord | undefined => s.bans.active.find((b) => b.ip === ip);

export const selectIsBusy = (key: string) => (s: AppState): boolean => key in s.busy;

/** Whether the service can change anything (the root helper is connected). */
export const selectReadOnlyReason = (s: AppState): string | null => {
  if (!s.state) return null;
  if (s.state.helper.connected) return null;
  return s.state.helper.readOnlyReason ?? 'the privileged helper is not connected';
};

/** The store's trouble the service last said, while it can be reached (as selectProtection: an old state is not shown as current). */
export const selectStoreTrouble = (s: AppState): Extract<NonNullable<State['store']>, { ok: false }> | null => {
  if (s.connection !== 'open') return null;
  const store = s.state?.store;
  return store && !store.ok ? store : null;
};

/**
 * What can be said about protection now. 'unknown' while the service cannot be reached (or refuses
 * this page): the last state it sent may no longer be true, so it is not shown as current.
 */
export type ProtectionKind = 'loading' | 'unknown' | 'on' | 'off' | 'paused';
export const selectProtection = (s: AppState): ProtectionKind => {
  if (s.connection !== 'open') return s.state || s.connection === 'refused' ? 'unknown' : 'loading';
  return s.state ? s.state.protection : 'loading';
};

const LOOPBACK = [
  { cidr: '127.0.0.0/8', why: 'loopback' },
  { cidr: '::1/128', why: 'loopback' },
];

/** Entries the engine always whitelists, whatever the settings say (loopback when the service does not list them). */
export const selectBuiltInWhitelist = (s: AppState): { cidr: string; why: string }[] => {
  const reported = s.state?.alwaysWhitelisted;
  return reported && reported.length > 0 ? reported : LOOPBACK;
};
