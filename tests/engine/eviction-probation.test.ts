/**
 * The tracked-source bound under a flood of one-packet sources: sources seen once wait in a
 * probation area and are forgotten first, so spoofed single SYNs cannot push a real scanner's
 * partial window out of the table (source-table.ts). The bound itself still holds.
 */
import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { EngineEvent } from '../../electron/shared/model.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { sweep, syn, T0 } from './detect/packets.ts';

const BOUND = 200;

function make() {
  const events: EngineEvent[] = [];
  const settings = SettingsSchema.parse({ detection: { maxTrackedSources: BOUND } });
  const engine = new ScanEngine({ settings, clock: new ManualClock(T0) }, (e) => events.push(e));
  const bans = () => events.filter((e) => e.type === 'ban').map((e) => (e as Extract<EngineEvent, { type: 'ban' }>).ban.ip);
  const evicted = () => events.filter((e): e is Extract<EngineEvent, { type: 'evicted' }> => e.type === 'evicted').map((e) => e.ip);
  return { engine, bans, evicted };
}

/** The i-th spoofed source: a single SYN, a different source address each. */
const spoofed = (i: number) => `198.51.${i >> 8}.${i & 255}`;

describe('tracked-source bound: one-packet sources are forgotten before sources seen again', () => {
  it('a scanner whose probes are split by maxTrackedSources spoofed one-probe sources is still banned', () => {
    const { engine, bans, evicted } = make();
    const probes = sweep('203.0.113.7', 5, T0);
    for (const p of probes.slice(0, 4)) engine.ingestPacket(p);
    for (let i = 0; i < BOUND; i++) engine.ingestPacket(syn(spoofed(i), 23, T0 + 4000 + i));
    engine.ingestPacket({ ...probes[4]!, time: T0 + 5000 });
    expect(bans()).toEqual(['203.0.113.7']);
    // The bound held: the oldest one-probe source went instead of the scanner.
    expect(evicted()).toEqual([spoofed(0)]);
    expect(engine.stats()).toMatchObject({ evicted: 1, trackedSources: BOUND - 1 });
  });

  it('a table full of sources seen twice still keeps the bound and forgets the least recently seen of them', () => {
    const { engine, evicted } = make();
    // Two probes each (no scan: 2 < maxretry); the second round in reverse, so the least recently seen is the last one filed.
    for (let i = 0; i < BOUND; i++) engine.ingestPacket(syn(spoofed(i), 1, T0 + i));
    for (let i = BOUND - 1; i >= 0; i--) engine.ingestPacket(syn(spoofed(i), 2, T0 + 1000 + (BOUND - 1 - i)));
    expect(evicted()).toEqual([]);
    for (let k = 0; k < 10; k++) engine.ingestPacket(syn(`203.0.113.${k}`, 1, T0 + 2000 + k));
    expect(evicted()).toEqual(Array.from({ length: 10 }, (_, k) => spoofed(BOUND - 1 - k)));
    expect(engine.stats()).toMatchObject({ evicted: 10, trackedSources: BOUND });
    // The newcomers were kept (they are not evicted as soon as they come).
    const watched = new Set(engine.offenders(BOUND).map((o) => o.ip));
    for (let k = 0; k < 10; k++) expect(watched.has(`203.0.113.${k}`)).toBe(true);
  });

  it("sources whose window is over go before a scanner's fresh first probe: the main area does not stay full of sources seen days ago", () => {
    const { engine, bans, evicted } = make();
    // 3/4 of the bound seen twice (the main area's whole share), three days ago.
    const old = (i: number) => `192.0.2.${i}`;
    for (let i = 0; i < (3 * BOUND) / 4; i++) {
      engine.ingestPacket(syn(old(i), 1, T0 + i));
      engine.ingestPacket(syn(old(i), 2, T0 + 200 + i));
    }
    const later = T0 + 3 * 86_400_000;
    const probes = sweep('203.0.113.7', 5, later);
    engine.ingestPacket(probes[0]!);
    // As many newcomers as the whole table: before, the scanner's first probe went after BOUND / 4 of them.
    for (let i = 0; i < BOUND - 1; i++) engine.ingestPacket(syn(spoofed(i), 23, later + 1000 + i));
    expect(evicted().slice(0, (3 * BOUND) / 4).every((ip) => ip.startsWith('192.0.2.')), 'the stale ones went first').toBe(true);
    for (const p of probes.slice(1)) engine.ingestPacket({ ...p, time: p.time + 2000 });
    expect(bans()).toEqual(['203.0.113.7']);
    expect(engine.stats().trackedSources).toBeLessThanOrEqual(BOUND);
  });
});
