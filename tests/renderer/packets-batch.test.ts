/**
 * A delivered batch of many 'packets' events (a scan storm, rows after a reconnect) must change the
 * live table at a cost linear in the batch's rows plus the list, not copy the whole list (up to
 * MAX_PACKET_ROWS rows) per event. Counted, not timed: every element of an array copied or walked
 * while the batch is reduced is counted (tests/support/counting.ts). And the table is what the
 * per-event append it replaced gave (kept here as the reference): same rows, order, bound, holes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApiEvent, PacketRow } from '../../electron/shared/api.ts';
import { reduceEvents } from '../../renderer/store/events.ts';
import { LivePackets, MAX_PACKET_ROWS, appendBounded } from '../../renderer/store/livePackets.ts';
import { type AppState, createAppStore } from '../../renderer/store/store.ts';
import { countArrayWork } from '../support/counting.ts';
import { createFakeApi } from './fakeApi.ts';

const T0 = 1_700_000_000_000;
const row = (id: number): PacketRow => ({ id, time: T0 + id, src: '203.0.113.5', dst: '10.0.0.2', proto: 'TCP', spt: 40000, dpt: 22, prefix: 'UFW BLOCK', in: 'eth0', flags: 'SYN' });
const rows = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => row(from + i));
const ids = (list: readonly PacketRow[]) => list.map((r) => r.id);

function baseState(over: Partial<AppState> = {}): AppState {
  const store = createAppStore({ api: createFakeApi({ now: () => T0 }), setInterval: () => 0, clearInterval: () => undefined, setTimeout: () => 0, clearTimeout: () => undefined });
  return { ...store.getState(), ...over };
}

describe('a batch of many packets events in the window', () => {
  it('copies the list once per batch, not per event (one row per event, in order)', () => {
    const n = 5000;
    const N = 2000;
    const state = baseState({ packets: rows(1, n), packetsReceived: n });
    const events: ApiEvent[] = Array.from({ length: N }, (_, i) => ({ type: 'packets', rows: [row(n + 1 + i)] }));
    const { result: patch, elements } = countArrayWork(() => reduceEvents(state, events, T0));
    expect(elements).toBeLessThanOrEqual(10 * (n + N));
    expect(ids(patch.packets!)).toEqual(ids(rows(1, n + N)));
    expect(patch.packetsReceived).toBe(n + N);
    expect(patch.packetsMissing).toBeUndefined();
    expect(ids(state.packets)).toEqual(ids(rows(1, n))); // the state before is not changed in place
  });

  it('at the bound, drops the oldest rows without copying the full list per event', () => {
    const N = 500;
    const state = baseState({ packets: rows(1, MAX_PACKET_ROWS) });
    const events: ApiEvent[] = Array.from({ length: N }, (_, i) => ({ type: 'packets', rows: [row(MAX_PACKET_ROWS + 1 + i)] }));
    const { result: patch, elements } = countArrayWork(() => reduceEvents(state, events, T0));
    expect(elements).toBeLessThanOrEqual(10 * (MAX_PACKET_ROWS + N));
    expect(patch.packets).toHaveLength(MAX_PACKET_ROWS);
    expect(patch.packets![0]!.id).toBe(N + 1);
    expect(patch.packets!.at(-1)!.id).toBe(MAX_PACKET_ROWS + N);
  });

  it('rows repeated after a reconnect are dropped and the new ones appended, without a copy or sort of the list per event', () => {
    const n = 5000;
    const N = 1000;
    const state = baseState({ packets: rows(1, n) });
    // Each event repeats the last two rows the window has, then brings a new one.
    const events: ApiEvent[] = Array.from({ length: N }, (_, i) => ({ type: 'packets', rows: rows(n - 1 + i, n + 1 + i) }));
    const { result: patch, elements } = countArrayWork(() => reduceEvents(state, events, T0));
    expect(elements).toBeLessThanOrEqual(10 * (n + 3 * N));
    expect(ids(patch.packets!)).toEqual(ids(rows(1, n + N)));
    expect(patch.packetsReceived).toBe(3 * N);
  });

  it('a late row is sorted in moving only the rows newer than it, not copying or sorting the list', () => {
    const n = 5000;
    const N = 2000;
    const state = baseState({ packets: rows(1, n) });
    // Rows in swapped pairs: each second one is one behind the newest, and not a repeat.
    const events: ApiEvent[] = Array.from({ length: N }, (_, i) => ({ type: 'packets', rows: [row(n + 1 + (i ^ 1))] }));
    const { result: patch, elements } = countArrayWork(() => reduceEvents(state, events, T0));
    expect(elements).toBeLessThanOrEqual(10 * (n + N));
    expect(ids(patch.packets!)).toEqual(ids(rows(1, n + N)));
  });

  it('while paused, rows are held (linearly too), the table unchanged; a late row is sorted in, a known one dropped', () => {
    const n = 3000;
    const N = 1000;
    const state = baseState({ packets: rows(1, n), packetsPaused: true });
    const events: ApiEvent[] = Array.from({ length: N }, (_, i) => ({ type: 'packets', rows: [row(n + 2 + 2 * i)] }));
    const counted = countArrayWork(() => reduceEvents(state, events, T0));
    expect(counted.elements).toBeLessThanOrEqual(10 * (n + N));
    const patch = counted.result;
    expect(patch.packets).toBeUndefined();
    expect(ids(patch.heldPackets!)).toEqual(Array.from({ length: N }, (_, i) => n + 2 + 2 * i));
    expect(patch.packetsMissing).toBe(N); // one id skipped before each row
    // A late row (one of the holes) and a repeat of the newest.
    const later = reduceEvents({ ...state, ...patch }, [{ type: 'packets', rows: [row(n + 3), row(n + 2 * N)] }], T0);
    expect(ids(later.heldPackets!)).toEqual([n + 2, n + 3, ...Array.from({ length: N - 1 }, (_, i) => n + 4 + 2 * i)]);
  });

  it('ends as the per-event append did (rows, order, bound, held rows, counts), on random batches', () => {
    const id = fc.integer({ min: 1, max: 40 });
    // Mostly as the service gives them (ids unique and in order), else anything.
    const list = fc.oneof(
      { weight: 3, arbitrary: fc.uniqueArray(id, { maxLength: 12 }).map((xs) => xs.sort((a, b) => a - b).map(row)) },
      { weight: 1, arbitrary: fc.array(id.map(row), { maxLength: 12 }) },
    );
    const event: fc.Arbitrary<ApiEvent> = fc.oneof(
      { weight: 3, arbitrary: fc.array(id, { maxLength: 5 }).map((xs): ApiEvent => ({ type: 'packets', rows: xs.map(row) })) },
      // Mostly in order, as the service sends them: a run of ids from a start.
      { weight: 3, arbitrary: fc.tuple(id, fc.integer({ min: 1, max: 6 })).map(([from, k]): ApiEvent => ({ type: 'packets', rows: rows(from, from + k - 1) })) },
      { weight: 1, arbitrary: id.map((upToId): ApiEvent => ({ type: 'packetsSkipped', upToId, count: 1 })) },
    );
    fc.assert(
      fc.property(
        list,
        list,
        fc.boolean(),
        fc.integer({ min: 0, max: 45 }),
        fc.array(event, { maxLength: 25 }),
        fc.integer({ min: 1, max: 10 }),
        (packetsOf, heldOf, packetsPaused, packetsSkippedUpTo, eventsOf, max) => {
          // Each row told apart from another of the same id (its source port), so their order shows.
          let seq = 0;
          const tag = (list: PacketRow[]) => list.map((r) => ({ ...r, spt: ++seq }));
          const packets = tag(packetsOf);
          const heldPackets = tag(heldOf);
          const events = eventsOf.map((e) => (e.type === 'packets' ? { ...e, rows: tag(e.rows) } : e));
          const s = { packets, heldPackets, packetsPaused, packetsReceived: 7, packetsMissing: 3, packetsSkippedUpTo };
          const live = new LivePackets(s, max);
          for (const ev of events) {
            if (ev.type === 'packets') live.rows(ev.rows);
            else if (ev.type === 'packetsSkipped') live.skipped(ev.upToId);
          }
          const got = { ...s, ...live.patch() };
          const want = referencePackets(s, events, max);
          expect(got.packets).toEqual(want.packets);
          expect(got.heldPackets).toEqual(want.heldPackets);
          expect([got.packetsReceived, got.packetsMissing, got.packetsSkippedUpTo]).toEqual([want.packetsReceived, want.packetsMissing, want.packetsSkippedUpTo]);
          // A batch without rows leaves both lists the same arrays (no re-render of the table for nothing).
          if (events.every((e) => e.type !== 'packets' || e.rows.length === 0)) {
            expect(got.packets).toBe(packets);
            expect(got.heldPackets).toBe(heldPackets);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

type PacketState = Pick<AppState, 'packets' | 'heldPackets' | 'packetsPaused' | 'packetsReceived' | 'packetsMissing' | 'packetsSkippedUpTo'>;

// ---- the per-event reduction of packet events, as it was (the reference), with the bound a parameter

function referencePackets(s: PacketState, events: ApiEvent[], max: number): PacketState {
  // It sorted a list in place when nothing was added to it: work on copies.
  let packets = s.packets.slice();
  let held = s.heldPackets.slice();
  let received = s.packetsReceived;
  let missing = s.packetsMissing;
  let skippedUpTo = s.packetsSkippedUpTo;
  for (const ev of events) {
    switch (ev.type) {
      case 'packets': {
        if (ev.rows.length === 0) break;
        received += ev.rows.length;
        const tail = held.length ? held[held.length - 1] : packets[packets.length - 1];
        const first = ev.rows[0]!.id;
        const seen = Math.max(tail?.id ?? 0, skippedUpTo);
        if (tail && first > seen + 1) missing += first - seen - 1;
        if (tail && first <= tail.id) {
          const known = new Set((held.length ? held : packets).slice(-ev.rows.length * 2).map((r: PacketRow) => r.id));
          const fresh = ev.rows.filter((r) => !known.has(r.id));
          if (s.packetsPaused) held = appendBounded(held, fresh, max).sort((a, b) => a.id - b.id);
          else packets = appendBounded(packets, fresh, max).sort((a, b) => a.id - b.id);
          break;
        }
        if (s.packetsPaused) held = appendBounded(held, ev.rows, max);
        else packets = appendBounded(packets, ev.rows, max);
        break;
      }
      case 'packetsSkipped': {
        const tail = held.length ? held[held.length - 1] : packets[packets.length - 1];
        const seen = Math.max(tail?.id ?? 0, skippedUpTo);
        if (ev.upToId > seen) {
          missing += ev.upToId - seen;
          skippedUpTo = ev.upToId;
        }
        break;
      }
      default:
        throw new Error(`not in the reference: ${ev.type}`);
    }
  }
  return { packets, heldPackets: held, packetsPaused: s.packetsPaused, packetsReceived: received, packetsMissing: missing, packetsSkippedUpTo: skippedUpTo };
}
