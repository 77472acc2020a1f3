/**
 * A first fleet pull delivers up to fleet.maxBans (100,000) 'ban' events in one batch: the window
 * (desktop or serve's browser) must reduce it at a cost linear in the events and the ban list, not
 * filter the list per event. Counted, not timed: every read of a ban's `ip` is counted. And the
 * reduction is the same as the per-event one it replaced (kept here as the reference), on mixed
 * random batches.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../electron/shared/api.ts';
import { type BanRecord, type Offender, UNBAN_REASONS } from '../../electron/shared/model.ts';
import { type AppState, createAppStore } from '../../renderer/store/store.ts';
import { MAX_BAN_HISTORY, mergeOffender, reduceEvents } from '../../renderer/store/events.ts';
import { withNotice } from '../../renderer/store/notices.ts';
import { readCounter } from '../support/counting.ts';
import { createFakeApi } from './fakeApi.ts';

const T0 = 1_700_000_000_000;
const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const makeBan = (ip: string, at: number, over: Partial<BanRecord> = {}): BanRecord => ({
  ip,
  at,
  until: at + 3_600_000,
  strikes: 1,
  reason: { kind: 'scan', scanType: 'SYN', ports: [21, 23, 25], hits: 5, firstSeen: at - 5000, lastSeen: at },
  ...over,
});

function baseState(): AppState {
  const store = createAppStore({ api: createFakeApi({ now: () => T0 }), setInterval: () => 0, clearInterval: () => undefined, setTimeout: () => 0, clearTimeout: () => undefined });
  return store.getState();
}

const ipReads = readCounter();
/** A ban whose every read of `ip` is counted. */
const counted = (b: BanRecord): BanRecord => ipReads.counted(b, 'ip');

describe('a batch of many ban events in the window', () => {
  it('reads each ban a bounded number of times (no list filtered or searched per event)', () => {
    const N = 2000;
    const s = baseState();
    const listed = Array.from({ length: N }, (_, i) => counted(makeBan(ipOf(i), T0 + i)));
    const state: AppState = { ...s, bans: { active: listed, history: [] } };
    // A fleet pull: N new bans, N re-bans of listed addresses, and N/2 unbans.
    const events: ApiEvent[] = [];
    for (let i = 0; i < N; i++) events.push({ type: 'ban', ban: counted(makeBan(ipOf(N + i), T0 + N + i)) });
    for (let i = 0; i < N; i++) events.push({ type: 'ban', ban: counted(makeBan(ipOf(i), T0 + 2 * N + i)) });
    for (let i = 0; i < N; i += 2) events.push({ type: 'unban', ip: ipOf(i), why: 'expired' });
    ipReads.reset();
    const patch = reduceEvents(state, events, T0 + 10 * N);
    const E = events.length;
    expect(ipReads.reads).toBeLessThanOrEqual(10 * (N + E));
    expect(patch.bans!.active).toHaveLength(N + N / 2);
    expect(patch.bans!.history).toHaveLength(N / 2 > MAX_BAN_HISTORY ? MAX_BAN_HISTORY : N / 2);
    expect(patch.offenders!.size).toBe(2 * N);
  });

  it('ends in the same state as the per-event reduction, on mixed random batches', () => {
    const s = baseState();
    const ip = fc.integer({ min: 0, max: 11 }).map(ipOf);
    const ban = fc.record({ ip, at: fc.integer({ min: 0, max: 100 }), permanent: fc.boolean(), strikes: fc.integer({ min: 1, max: 4 }) }).map(({ ip, at, permanent, strikes }) =>
      makeBan(ip, T0 + at * 1000, { strikes, until: permanent ? null : T0 + at * 1000 + 60_000 }),
    );
    const offender = fc.record({ ip, first: fc.integer({ min: 0, max: 100 }), state: fc.constantFrom('watching', 'banned', 'expired') }).map(
      ({ ip, first, state }): Offender => ({ ip, hits: 6, distinctPorts: 3, ports: [21, 23, 25], firstSeen: T0 + first * 1000, lastSeen: T0 + first * 1000 + 500, scanType: 'SYN', state: state as Offender['state'], strikes: 1 }),
    );
    const event: fc.Arbitrary<ApiEvent> = fc.oneof(
      { weight: 5, arbitrary: ban.map((b): ApiEvent => ({ type: 'ban', ban: b })) },
      { weight: 4, arbitrary: fc.record({ ip, why: fc.constantFrom(...UNBAN_REASONS) }).map((u): ApiEvent => ({ type: 'unban', ...u })) },
      { weight: 1, arbitrary: fc.array(offender, { maxLength: 3 }).map((offenders): ApiEvent => ({ type: 'offenders', offenders })) },
      { weight: 1, arbitrary: fc.constantFrom('a', 'b').map((message): ApiEvent => ({ type: 'notice', level: 'warn', message })) },
    );
    fc.assert(
      fc.property(
        fc.array(ban, { maxLength: 12 }), // duplicates of an address included
        fc.integer({ min: 0, max: MAX_BAN_HISTORY + 3 }),
        fc.array(offender, { maxLength: 6 }),
        fc.array(event, { maxLength: 40 }),
        fc.integer({ min: 0, max: 200 }),
        (active, historyLength, offenders, events, nowAt) => {
          const history = Array.from({ length: historyLength }, (_, i) => ({ ...makeBan(ipOf(100 + i), T0), ended: { at: T0, why: 'manual' } }));
          const state: AppState = { ...s, bans: { active, history }, offenders: new Map(offenders.map((o) => [o.ip, o])) };
          const now = T0 + nowAt * 1000;
          const got = reduceEvents(state, events, now);
          const want = referenceReduce(state, events, now);
          const noIds = (p: Partial<AppState>) => ({ ...p, notices: p.notices?.map(({ id: _id, ...n }) => n) });
          expect(noIds(got)).toEqual(noIds(want));
        },
      ),
      { numRuns: 500 },
    );
  });
});

// ---- the per-event reduction of bans, unbans, offenders and notices, as it was (the reference)

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

function referenceReduce(s: AppState, events: ApiEvent[], now: number): Partial<AppState> {
  const patch: Partial<AppState> = {};
  let offenders: Map<string, Offender> | null = null;
  let active = s.bans.active;
  let history = s.bans.history;
  let notices = s.notices;
  const touchOffenders = () => (offenders ??= new Map(s.offenders));
  for (const ev of events) {
    switch (ev.type) {
      case 'offenders': {
        const m = touchOffenders();
        for (const o of ev.offenders) m.set(o.ip, mergeOffender(m.get(o.ip), o));
        break;
      }
      case 'ban': {
        active = [...active.filter((b) => b.ip !== ev.ban.ip), ev.ban];
        const m = touchOffenders();
        m.set(ev.ban.ip, offenderFromBan(ev.ban, m.get(ev.ban.ip)));
        break;
      }
      case 'unban': {
        const ended = active.find((b) => b.ip === ev.ip);
        active = active.filter((b) => b.ip !== ev.ip);
        if (ended) history = [{ ...ended, ended: { at: ev.why === 'expired' && ended.until !== null ? Math.min(ended.until, now) : now, why: ev.why } }, ...history].slice(0, MAX_BAN_HISTORY);
        const m = touchOffenders();
        const o = m.get(ev.ip) ?? (ended ? offenderFromBan(ended, undefined) : undefined);
        if (o && o.state === 'banned') m.set(ev.ip, { ...o, state: 'expired', bannedUntil: null });
        break;
      }
      case 'notice':
        notices = withNotice(notices, ev.level, ev.message);
        break;
      default:
        throw new Error(`not in the reference: ${ev.type}`);
    }
  }
  if (offenders) patch.offenders = offenders;
  if (active !== s.bans.active || history !== s.bans.history) patch.bans = { active, history };
  if (notices !== s.notices) patch.notices = notices;
  return patch;
}
