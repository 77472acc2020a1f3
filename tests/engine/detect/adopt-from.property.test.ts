/**
 * SourceTracker.adoptFrom (PrefixWatch gives a network kept in its only member a window of its own
 * with it): a window copied record for record (SourceWindows.copyFrom) must be the window that a
 * copy through plain values (adopt of windowOf: copyOut, then copyIn) stores — what it says at once
 * and how it goes on counting: every later probe, crossing or not, the summary, the top ports, the
 * ring's times. Random probe streams (many ports, so that port records past the inline three are
 * copied too; quiet gaps that restart windows; pending flags), inline layouts and the large one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NO_SLOT, SourceTracker, type TrackerSettings } from '../../../electron/engine/detect/tracker.ts';
import type { ScanType } from '../../../electron/shared/model.ts';

type Op =
  | { op: 'probe'; src: number; dt: number; port: number | null; kind: ScanType }
  | { op: 'copy'; src: number }
  | { op: 'pending'; src: number; on: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant('probe' as const),
      src: fc.integer({ min: 0, max: 3 }),
      dt: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.constant(0), fc.integer({ min: 5_000, max: 90_000 })),
      port: fc.option(fc.integer({ min: 1, max: 20 }), { freq: 8 }),
      kind: fc.constantFrom<ScanType>('SYN', 'SYN', 'UDP', 'FIN', 'OTHER'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('copy' as const), src: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pending' as const), src: fc.integer({ min: 0, max: 3 }), on: fc.boolean() }) },
);

const settingsArb: fc.Arbitrary<TrackerSettings> = fc.oneof(
  fc.record({ findtimeSec: fc.integer({ min: 5, max: 60 }), maxretry: fc.integer({ min: 1, max: 8 }), minDistinctPorts: fc.integer({ min: 1, max: 6 }), maxTrackedSources: fc.constant(100) }),
  // Past the inline layout's size: each slot's own arrays (copyFrom declines, copyIn does it).
  fc.record({ findtimeSec: fc.integer({ min: 5, max: 60 }), maxretry: fc.integer({ min: 60, max: 80 }), minDistinctPorts: fc.integer({ min: 1, max: 6 }), maxTrackedSources: fc.constant(100) }),
);

const SOURCES = ['2001:db8::1', '2001:db8::2', '198.51.100.1', '198.51.100.2'];

function run(s: TrackerSettings, ops: Op[]): void {
  const members = new SourceTracker(s);
  // The same copies into two trackers: through plain values, and record for record.
  const viaValues = new SourceTracker<string>(s);
  const direct = new SourceTracker<string>(s);
  const copied = new Set<number>();
  let t = 1_000_000;
  for (const op of ops) {
    const ip = SOURCES[op.src]!;
    const net = `net-${op.src}`;
    if (op.op === 'probe') {
      t += op.dt;
      members.probe(ip, t, op.port, op.kind);
      if (copied.has(op.src)) {
        const a = viaValues.probe(net, t, op.port, op.kind);
        const b = direct.probe(net, t, op.port, op.kind);
        expect(b === NO_SLOT).toBe(a === NO_SLOT);
      }
    } else if (op.op === 'pending') {
      const slot = members.get(ip);
      if (slot !== NO_SLOT) members.setPending(slot, op.on);
    } else {
      const from = members.get(ip);
      if (from === NO_SLOT) continue;
      // The member's note (PrefixWatch keeps where its network is there) is the member's: a copy starts without one.
      members.setNote(from, 5 + op.src);
      viaValues.delete(net);
      direct.delete(net);
      viaValues.adopt(net, members.windowOf(from));
      direct.adoptFrom(net, members, from);
      copied.add(op.src);
    }
    for (const src of copied) {
      const net2 = `net-${src}`;
      const a = viaValues.get(net2);
      const b = direct.get(net2);
      expect(b === NO_SLOT).toBe(a === NO_SLOT);
      if (a === NO_SLOT) continue;
      expect(direct.windowOf(b)).toEqual(viaValues.windowOf(a));
      expect(direct.summary(b)).toEqual(viaValues.summary(a));
      expect(direct.topPorts(b, 10)).toEqual(viaValues.topPorts(a, 10));
      expect(direct.noteOf(b)).toBe(viaValues.noteOf(a));
      expect(direct.probesOf(b)).toBe(viaValues.probesOf(a));
      expect(direct.isPending(b)).toBe(viaValues.isPending(a));
    }
  }
}

describe('SourceTracker.adoptFrom', () => {
  it('stores the window a copy through plain values stores, and it goes on counting alike', () => {
    fc.assert(fc.property(settingsArb, fc.array(opArb, { minLength: 10, maxLength: 150 }), run), { numRuns: 300 });
  });

  it('copies a port record (more ports than a record holds itself) into one of its own', () => {
    const s: TrackerSettings = { findtimeSec: 600, maxretry: 5, minDistinctPorts: 3, maxTrackedSources: 100 };
    run(s, [
      ...[1, 2, 3, 4, 5, 6].map((port): Op => ({ op: 'probe', src: 0, dt: 10, port, kind: 'SYN' })),
      { op: 'copy', src: 0 },
      // The member's port record changes after the copy; the copy's must not.
      ...[7, 8, 9].map((port): Op => ({ op: 'probe', src: 1, dt: 10, port, kind: 'SYN' })),
      ...[1, 7, 8].map((port): Op => ({ op: 'probe', src: 0, dt: 10, port, kind: 'SYN' })),
    ]);
  });
});
