/**
 * The new-bans-per-minute cap cannot be used to hide a real scanner (issue 9.4): a flood of 20,000
 * throwaway IPv4 scanners (5 probes each, spread over many /24s) followed by one real scanner of 20
 * ports. With the cap at its default (30 a minute), the real scanner is banned within 60 s (event
 * time) of its 5th probe. With the old unbounded FIFO it waited behind all 20,000 (~11 hours).
 * The engine runs in event time (time injected by the packets), so the test cannot flake on a busy machine.
 */
import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { BanRecord, EngineEvent } from '../../electron/shared/model.ts';
import { DEFAULT_SETTINGS } from '../../electron/shared/settings.ts';
import { syn, T0 } from './detect/packets.ts';

const FLOOD = 20_000;
const REAL = '203.0.113.200';

function run(engine: ScanEngine, bans: BanRecord[]): { fifthProbeAt: number } {
  // 100 throwaway scanners a second for 200 s, each 5 SYN probes to 5 ports within a second.
  for (let i = 0; i < FLOOD; i++) {
    const ip = `10.${(i >> 8) & 255}.${i & 255}.${1 + (i % 7)}`;
    const at = T0 + Math.floor(i / 100) * 1000;
    for (let k = 0; k < 5; k++) engine.ingestPacket(syn(ip, 1000 + k, at + k * 10));
  }
  // The real scanner: 20 ports, one every 500 ms, right after the flood.
  const start = T0 + (FLOOD / 100) * 1000;
  let fifthProbeAt = 0;
  for (let k = 0; k < 20; k++) {
    const at = start + k * 500;
    if (k === 4) fifthProbeAt = at;
    engine.ingestPacket(syn(REAL, 20 + k, at));
  }
  // The log goes on (other traffic): event time passes a few minutes, one packet a second.
  for (let s = 1; s <= 300 && !bans.some((b) => b.ip === REAL); s++) engine.ingestPacket(syn('198.51.100.1', 80, start + 10_000 + s * 1000));
  return { fifthProbeAt };
}

describe('deferred bans under a flood of throwaway scanners', () => {
  it('a real scanner of 20 ports after 20,000 throwaway ones is banned within 60 s of its 5th probe, cap at default', () => {
    expect(DEFAULT_SETTINGS.ban.maxNewBansPerMinute).toBe(30);
    const bans: BanRecord[] = [];
    const deferred: EngineEvent[] = [];
    const engine = new ScanEngine({ settings: DEFAULT_SETTINGS, clock: new ManualClock(T0), probeEvents: false }, (e) => {
      if (e.type === 'ban') bans.push(e.ban);
      else if (e.type === 'ban-deferred') deferred.push(e);
    });
    const { fifthProbeAt } = run(engine, bans);
    const real = bans.find((b) => b.ip === REAL);
    expect(real, 'the real scanner is banned').toBeDefined();
    expect(real!.at - fifthProbeAt, 'within 60 s of its 5th probe').toBeLessThanOrEqual(60_000);
    expect(real!.reason.ports.length, 'with the evidence it gathered while waiting').toBeGreaterThanOrEqual(5);
    // The cap held: never more than 30 new bans in a minute.
    const times = bans.map((b) => b.at).sort((a, b) => a - b);
    for (let i = 30; i < times.length; i++) expect(times[i]! - times[i - 30]!).toBeGreaterThanOrEqual(60_000);
    // The queue is bounded, and what it could not keep is counted.
    const s = engine.stats();
    expect(s.deferredBans).toBeLessThanOrEqual(300);
    expect(s.deferredDropped.full + s.deferredDropped.aged).toBeGreaterThan(0);
  });
});
