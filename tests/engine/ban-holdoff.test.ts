/**
 * ScanEngine.setBanHoldOff: scan bans of targets the caller holds off (the service: sources whose
 * last ban the firewall refused for a rule of the user's own) are not made — their probes still
 * count — so a source that keeps scanning is not banned, refused and ended every few probes.
 * Manual bans are not held off; without a hold-off nothing changes.
 */
import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { EngineEvent } from '../../electron/shared/model.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { sweep, T0 } from './detect/packets.ts';

function make() {
  const events: EngineEvent[] = [];
  const engine = new ScanEngine({ settings: SettingsSchema.parse({}), clock: new ManualClock(T0) }, (e) => events.push(e));
  const bans = () => events.filter((e) => e.type === 'ban').map((e) => (e as Extract<EngineEvent, { type: 'ban' }>).ban.ip);
  return { engine, bans };
}

describe('ScanEngine ban hold-off', () => {
  it('a held-off source scanning again and again is counted, never banned; others are banned; the hold-off ending lets the next scan ban it', () => {
    const { engine, bans } = make();
    let heldUntil = T0 + 60_000;
    const asked: string[] = [];
    engine.setBanHoldOff((target, time) => (asked.push(target), target === '198.51.100.7' && time < heldUntil));
    for (let round = 0; round < 4; round++) {
      const verdicts = sweep('198.51.100.7', 6, T0 + round * 10_000).map((p) => engine.ingestPacket(p));
      expect(verdicts.every((v) => v === 'counted')).toBe(true);
    }
    expect(bans()).toEqual([]);
    expect(engine.isBanned('198.51.100.7')).toBe(false);
    expect(asked.length).toBeGreaterThan(0);
    sweep('203.0.113.9', 5, T0 + 50_000).forEach((p) => engine.ingestPacket(p));
    expect(bans()).toEqual(['203.0.113.9']);
    heldUntil = 0;
    sweep('198.51.100.7', 5, T0 + 70_000).forEach((p) => engine.ingestPacket(p));
    expect(bans()).toEqual(['203.0.113.9', '198.51.100.7']);
  });

  it('a manual ban is not held off', () => {
    const { engine, bans } = make();
    engine.setBanHoldOff(() => true);
    engine.ban('198.51.100.7', { at: T0 });
    expect(bans()).toEqual(['198.51.100.7']);
  });

  it("a ban ended as refused by the firewall (refused-users-rule) is no strike: the next ban is the first again", () => {
    const { engine } = make();
    const first = engine.ban('198.51.100.7', { at: T0 });
    expect(first.strikes).toBe(1);
    expect(engine.unban('198.51.100.7', T0 + 1000, 'refused-users-rule')).toBe(true);
    const next = engine.ban('198.51.100.7', { at: T0 + 2000 });
    expect(next.strikes).toBe(1);
    expect(next.until! - next.at).toBe(first.until! - first.at);
    // A ban lifted by hand stays a strike.
    engine.unban('198.51.100.7', T0 + 3000, 'manual');
    expect(engine.ban('198.51.100.7', { at: T0 + 4000 }).strikes).toBe(2);
  });
});
