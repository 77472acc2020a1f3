/**
 * Sources whose window is over are forgotten (SourceTracker.forgetQuiet, run by the engine once
 * every findtime of event time): what is tracked is the sources of the last findtime, as
 * fail2ban's failmanager keeps the failures of its last findtime — not every source ever seen,
 * which held a busy host's whole day of sources until the bound evicted them. For records in time
 * order, short of the bound, forgetting must decide as keeping would (a quiet source's next probe
 * starts afresh whether it was kept or not); it is off where records may not be in order (a replay,
 * a syslog file) and stops at a record far back in time. The README says the rare cases it differs.
 */
import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { SourceTracker } from '../../electron/engine/detect/tracker.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { EngineEvent } from '../../electron/shared/model.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { prng } from '../../bench/gen-log.ts';
import { syn, T0, udp } from './detect/packets.ts';

const MIN = 60_000;
/** findtime 600 s (the default) plus the minute of slack forgetQuiet waits beyond it. */
const QUIET = 11 * MIN;

function make(detection: Record<string, unknown> = {}, maxNewBansPerMinute = 1000) {
  const events: EngineEvent[] = [];
  const settings = SettingsSchema.parse({ detection, ban: { maxNewBansPerMinute } });
  const engine = new ScanEngine({ settings, clock: new ManualClock(T0) }, (e) => events.push(e));
  return { engine, events };
}

const v4 = (i: number) => `198.51.${(i >> 8) & 255}.${i & 255}`;
const v6 = (i: number) => `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::1`;

describe('sources whose window is over are forgotten', () => {
  it('a day of single probes from 2,000 sources (one every 30 s) leaves only the last findtime’s sources tracked', () => {
    const { engine } = make();
    for (let i = 0; i < 2000; i++) engine.ingestPacket(syn(i % 5 === 0 ? v6(i) : v4(i), 22 + (i % 7), T0 + i * 30_000));
    // 600 s of findtime + the minute of slack, + at most a findtime between two sweeps: 660-1260 s, 22-42 sources of one every 30 s (all 2,000 before).
    const tracked = engine.stats().trackedSources;
    expect(tracked).toBeGreaterThanOrEqual(22);
    expect(tracked).toBeLessThanOrEqual(43);
    expect(engine.stats().evicted).toBe(0);
  });

  it('a source forgotten after a quiet findtime is tracked again from its next probe, as a source seen for the first time', () => {
    const { engine, events } = make({ maxretry: 3, minDistinctPorts: 3 });
    engine.ingestPacket(syn('203.0.113.7', 22, T0));
    engine.ingestPacket(syn('203.0.113.7', 23, T0 + 1000));
    // Other sources' probes move event time on past the window (and the slack): the sweep runs (at
    // a record within findtime of the one before: a lone record far ahead sweeps nothing).
    engine.ingestPacket(syn('192.0.2.201', 81, T0 + 6 * MIN));
    engine.ingestPacket(syn('192.0.2.200', 80, T0 + QUIET + 1000));
    expect(engine.stats().trackedSources).toBe(2);
    // Two more probes make three in the new window, not four: no ban yet.
    engine.ingestPacket(syn('203.0.113.7', 24, T0 + QUIET + 2000));
    engine.ingestPacket(syn('203.0.113.7', 25, T0 + QUIET + 3000));
    expect(events.filter((e) => e.type === 'ban')).toEqual([]);
    engine.ingestPacket(syn('203.0.113.7', 26, T0 + QUIET + 4000));
    expect(events.filter((e) => e.type === 'ban').map((e) => (e as Extract<EngineEvent, { type: 'ban' }>).ban.reason.ports)).toEqual([[24, 25, 26]]);
  });

  it('the tracker forgets exactly the sources quiet for findtime and a minute, except one whose ban is pending', () => {
    const t = new SourceTracker({ findtimeSec: 600, maxretry: 5, minDistinctPorts: 3, maxTrackedSources: 100 });
    t.probe('203.0.113.1', T0, 22, 'SYN');
    t.probe('203.0.113.2', T0, 22, 'SYN');
    t.setPending(t.get('203.0.113.2'), true);
    t.probe('2001:db8::3', T0 + 1000, 22, 'SYN');
    t.probe('203.0.113.4', T0 + 2 * MIN, 22, 'SYN');
    expect(t.forgetQuiet(T0 + QUIET - 1)).toBe(0);
    expect(t.forgetQuiet(T0 + QUIET)).toBe(1); // .1 only: .2 is pending, ::3 was seen a second later
    expect(t.forgetQuiet(T0 + QUIET + 1000)).toBe(1);
    expect(['203.0.113.1', '203.0.113.2', '2001:db8::3', '203.0.113.4'].map((ip) => t.get(ip) !== -1)).toEqual([false, true, false, true]);
    expect(t.size).toBe(2);
  });

  it('forgetting changes no decision for records in time order short of the bound: random streams give the same events with and without it', () => {
    // The engine without the sweep: the same engine whose trackers are told to forget nothing.
    const without = (e: ScanEngine) => {
      const inside = e as unknown as { tracker: SourceTracker; networks: { forgetQuiet(now: number): number } };
      inside.tracker.forgetQuiet = () => 0;
      inside.networks.forgetQuiet = () => 0;
      return e;
    };
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = prng(seed);
      const detection = { maxretry: 3, minDistinctPorts: 2, findtimeSec: 30 + Math.floor(rnd() * 60), maxTrackedSources: 100_000, ipv6PrefixLength: 64 };
      const a = make(detection);
      const b = make(detection);
      without(b.engine);
      let t = T0;
      const packets: PacketEvent[] = [];
      for (let i = 0; i < 1500; i++) {
        t += Math.floor(rnd() * 4000);
        const n = Math.floor(rnd() * 60);
        const src = n < 20 ? v4(n) : n < 40 ? v6(n) : `2001:db8:77::${(n - 39).toString(16)}`; // the last: one /64, many addresses
        packets.push(rnd() < 0.2 ? udp(src, 1000 + Math.floor(rnd() * 8), t) : syn(src, 20 + Math.floor(rnd() * 8), t));
      }
      for (const p of packets) {
        expect(a.engine.ingestPacket(p)).toBe(b.engine.ingestPacket(p));
      }
      expect(a.events).toEqual(b.events);
      expect(a.engine.stats().trackedSources).toBeLessThanOrEqual(b.engine.stats().trackedSources);
    }
  });

  it('one record stamped a day ahead sweeps nothing, and records back in time turn forgetting off: the windows in progress are kept', () => {
    const { engine, events } = make();
    const S = '203.0.113.7';
    for (let i = 0; i < 3; i++) engine.ingestPacket(syn(S, 22 + i, T0 + i * 1000));
    engine.ingestPacket(syn('198.51.100.9', 80, T0 + 86_400_000)); // a wrong clock, a merged log
    engine.ingestPacket(syn(S, 25, T0 + 3000));
    engine.ingestPacket(syn(S, 26, T0 + 4000));
    expect(events.filter((e) => e.type === 'ban').map((e) => (e as Extract<EngineEvent, { type: 'ban' }>).ban.ip)).toEqual([S]);
    // Forgetting stays off: an hour of sources later, all are still tracked.
    for (let i = 0; i < 120; i++) engine.ingestPacket(syn(v4(i), 22, T0 + 5000 + i * 30_000));
    expect(engine.stats().trackedSources).toBe(121);
  });

  it('forgetting is off when the caller says so (a replay, a syslog file source): every source is kept', () => {
    const engine = new ScanEngine({ settings: SettingsSchema.parse({}), clock: new ManualClock(T0), forgetQuiet: false }, () => undefined);
    for (let i = 0; i < 100; i++) engine.ingestPacket(syn(v4(i), 22, T0 + i * 30_000));
    expect(engine.stats().trackedSources).toBe(100);
  });

  it('a network banned after its window started afresh: its earlier members are banned with it (no second ban of the /64), with forgetting or without', () => {
    // A guard: a version that listed only the members since the window started afresh left A's and
    // B's own windows tracked through the ban, so their probes were counted and banned the /64 again.
    for (const forgetQuiet of [true, false]) {
      const events: EngineEvent[] = [];
      const settings = SettingsSchema.parse({ detection: { ipv6PrefixLength: 64 }, ban: { maxNewBansPerMinute: 1000 } });
      const engine = new ScanEngine({ settings, clock: new ManualClock(T0), forgetQuiet }, (e) => events.push(e));
      const [A, B, C, D] = ['a', 'b', 'c', 'd'].map((h) => `2001:db8:1:2::${h}`) as [string, string, string, string];
      engine.ingestPacket(syn(A, 22, T0));
      engine.ingestPacket(syn(B, 23, T0 + 1000));
      const t1 = T0 + 630_000; // the /64 quiet for findtime: its window starts afresh at C
      for (let k = 0; k < 3; k++) engine.ingestPacket(syn(C, 30 + k, t1 + k * 1000));
      for (let k = 0; k < 2; k++) engine.ingestPacket(syn(D, 40 + k, t1 + 5000 + k * 1000));
      const verdicts: string[] = [];
      for (let k = 0; k < 3; k++) verdicts.push(engine.ingestPacket(syn(A, 50 + k, t1 + 20_000 + k * 1000)));
      for (let k = 0; k < 3; k++) verdicts.push(engine.ingestPacket(syn(B, 60 + k, t1 + 30_000 + k * 1000)));
      const bans = events.filter((e): e is Extract<EngineEvent, { type: 'ban' }> => e.type === 'ban').map((e) => `${e.ban.ip} strike ${e.ban.strikes}`);
      expect([forgetQuiet, bans, verdicts]).toEqual([forgetQuiet, ['2001:db8:1:2::/64 strike 1'], Array(6).fill('already-banned')]);
    }
  });
});
