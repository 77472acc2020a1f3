/**
 * Derived data. Selectors that build new arrays are memoised on the identity of their inputs, so
 * a component re-renders only when those inputs changed (zustand compares results with Object.is)
 * and 100k rows are filtered once per batch, not once per render.
 */
import type { PacketRow } from '../../electron/shared/api.ts';
import type { BanRecord, Offender, OffenderState } from '../../electron/shared/model.ts';
import { compilePacketFilter, type PacketFilterInput } from './packetFilter.ts';
import type { AppState } from './store.ts';

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

const sortOffenders = memoLast((m: Map<string, Offender>, state: OffenderState | 'all', sort: OffenderSort): Offender[] => {
  const list = [...m.values()].filter((o) => state === 'all' || o.state === state);
  list.sort((a, b) => b[sort] - a[sort] || (a.ip < b.ip ? -1 : 1));
  return list;
});

export const selectOffenderList = (state: OffenderState | 'all', sort: OffenderSort) => (s: AppState): Offender[] => sortOffenders(s.offenders, state, sort);

const countStates = memoLast((m: Map<string, Offender>): Record<OffenderState, number> => {
  const c: Record<OffenderState, number> = { watching: 0, banned: 0, whitelisted: 0, expired: 0 };
  for (const o of m.values()) c[o.state]++;
  return c;
});
export const selectOffenderStateCounts = (s: AppState) => countStates(s.offenders);

export const selectActiveBan = (ip: string) => (s: AppState): BanRecord | undefined => s.bans.active.find((b) => b.ip === ip);

export const selectIsBusy = (key: string) => (s: AppState): boolean => key in s.busy;

/** Whether the service can change anything (the root helper is connected). */
export const selectReadOnlyReason = (s: AppState): string | null => {
  if (!s.state) return null;
  if (s.state.helper.connected) return null;
  return s.state.helper.readOnlyReason ?? 'the privileged helper is not connected';
};

export type ProtectionView = { kind: 'loading' } | { kind: 'on' } | { kind: 'off' } | { kind: 'paused'; until: number | null };
export const selectProtection = (s: AppState): ProtectionView['kind'] => (s.state ? s.state.protection : 'loading');

const LOOPBACK = [
  { cidr: '127.0.0.0/8', why: 'loopback' },
  { cidr: '::1/128', why: 'loopback' },
];

/** Entries the engine always whitelists, whatever the settings say (loopback when the service does not list them). */
export const selectBuiltInWhitelist = (s: AppState): { cidr: string; why: string }[] => {
  const reported = s.state?.alwaysWhitelisted;
  return reported && reported.length > 0 ? reported : LOOPBACK;
};
