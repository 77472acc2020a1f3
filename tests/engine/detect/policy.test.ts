import { describe, expect, it } from 'vitest';
import { BanPolicy } from '../../../electron/engine/detect/policy.ts';
import { BanSettingsSchema, type BanSettings } from '../../../electron/shared/settings.ts';

const base = (over: Partial<BanSettings> = {}): BanSettings => BanSettingsSchema.parse({ bantimeSec: 3600, maxbantimeSec: 86400, ...over });
const H = 3600_000;
const reason = { kind: 'scan' as const, ports: [1, 2, 3], hits: 5, firstSeen: 0, lastSeen: 0 };

describe('BanPolicy durations', () => {
  it('doubles per strike and caps at maxbantime', () => {
    const p = new BanPolicy(base());
    expect([1, 2, 3, 4, 5, 6].map((s) => p.durationMs(s))).toEqual([H, 2 * H, 4 * H, 8 * H, 16 * H, 24 * H]);
    expect(p.durationMs(500)).toBe(24 * H);
  });
  it('without increment every ban lasts bantime', () => {
    const p = new BanPolicy(base({ increment: false }));
    expect(p.durationMs(7)).toBe(H);
  });
  it('permanent from permanentAfterStrikes on', () => {
    const p = new BanPolicy(base({ permanentAfterStrikes: 3 }));
    expect(p.durationMs(2)).toBe(2 * H);
    expect(p.durationMs(3)).toBeNull();
    expect(p.strike('x', 0).until).toBe(H);
    p.strike('x', 10 * H);
    expect(p.strike('x', 20 * H)).toEqual({ strikes: 3, until: null });
  });
  it('strike() escalates per address and forgets after strikeForgetSec', () => {
    const p = new BanPolicy(base({ strikeForgetSec: 86400 }));
    expect(p.strike('a', 0)).toEqual({ strikes: 1, until: H });
    expect(p.strike('a', 2 * H)).toEqual({ strikes: 2, until: 4 * H });
    expect(p.strike('b', 2 * H)).toEqual({ strikes: 1, until: 3 * H });
    // More than a day after a's last ban: forgotten, a first offence again.
    expect(p.strikesAt('a', 2 * H + 24 * H + 1)).toBe(0);
    expect(p.strike('a', 2 * H + 24 * H + 1).strikes).toBe(1);
  });
  it('restored strikes continue the escalation; forgetOldStrikes bounds memory', () => {
    const p = new BanPolicy(base({ strikeForgetSec: 86400 }));
    p.restoreStrikes([{ ip: 'a', strikes: 3, lastBanAt: 0 }, { ip: 'b', strikes: 1, lastBanAt: -10 * 24 * H }, { ip: 'bad', strikes: Number.NaN, lastBanAt: 0 }]);
    expect(p.strike('a', H).strikes).toBe(4);
    expect(p.strikeCount).toBe(2);
    expect(p.forgetOldStrikes(0)).toBe(1);
    expect(p.strikeRecord('b')).toBeUndefined();
  });
});

describe('BanPolicy new-bans-per-minute cap', () => {
  it('allows maxNewBansPerMinute in any sliding minute', () => {
    const p = new BanPolicy(base({ maxNewBansPerMinute: 3 }));
    for (const t of [0, 10_000, 20_000]) {
      expect(p.hasBudget(t)).toBe(true);
      p.spend(t);
    }
    expect(p.hasBudget(59_999)).toBe(false);
    expect(p.budgetFreesAt()).toBe(60_000);
    expect(p.hasBudget(60_000)).toBe(true);
    p.spend(60_000);
    expect(p.hasBudget(69_999)).toBe(false);
    expect(p.hasBudget(70_000)).toBe(true);
  });
  it('deferred bans come back in order, once each, and can be cancelled', () => {
    const p = new BanPolicy(base());
    expect(p.defer({ ip: 'a', queuedAt: 1, reason })).toBe(1);
    expect(p.defer({ ip: 'b', queuedAt: 2, reason })).toBe(2);
    expect(p.defer({ ip: 'a', queuedAt: 3, reason })).toBe(2); // already queued
    expect(p.defer({ ip: 'c', queuedAt: 4, reason })).toBe(3);
    expect(p.cancelDeferred('b')).toBe(true);
    expect(p.cancelDeferred('b')).toBe(false);
    expect(p.deferredIps()).toEqual(['a', 'c']);
    expect(p.nextDeferred()?.ip).toBe('a');
    expect(p.nextDeferred()?.ip).toBe('c');
    expect(p.nextDeferred()).toBeNull();
    expect(p.deferredCount).toBe(0);
  });
  it('a long queue is never lost while it drains', () => {
    const p = new BanPolicy(base());
    for (let i = 0; i < 5000; i++) p.defer({ ip: `s${i}`, queuedAt: i, reason });
    const out: string[] = [];
    for (let d = p.nextDeferred(); d; d = p.nextDeferred()) out.push(d.ip);
    expect(out.length).toBe(5000);
    expect(out[0]).toBe('s0');
    expect(out[4999]).toBe('s4999');
  });
  it('lowering the cap keeps the most recent spends', () => {
    const p = new BanPolicy(base({ maxNewBansPerMinute: 5 }));
    for (const t of [0, 1, 2, 3, 4]) p.spend(t * 1000);
    p.configure(base({ maxNewBansPerMinute: 2 }));
    expect(p.hasBudget(60_000 + 2_999)).toBe(false);
    expect(p.hasBudget(60_000 + 3_000)).toBe(true);
  });
});
