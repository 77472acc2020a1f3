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
  const F = 600_000; // findtime
  it('deferred bans of equal evidence come back in order, once each, and can be cancelled', () => {
    const p = new BanPolicy(base());
    expect(p.defer({ ip: 'a', queuedAt: 1, reason }, 1, F)).toBeNull();
    expect(p.defer({ ip: 'b', queuedAt: 2, reason }, 2, F)).toBeNull();
    expect(p.defer({ ip: 'a', queuedAt: 3, reason }, 3, F)).toBeNull(); // already queued
    expect(p.deferredCount).toBe(2);
    expect(p.defer({ ip: 'c', queuedAt: 4, reason }, 4, F)).toBeNull();
    expect(p.cancelDeferred('b')).toBe(true);
    expect(p.cancelDeferred('b')).toBe(false);
    expect(p.deferredIps()).toEqual(['a', 'c']);
    expect(p.nextDeferred(5, F)?.ip).toBe('a');
    expect(p.nextDeferred(5, F)?.ip).toBe('c');
    expect(p.nextDeferred(5, F)).toBeNull();
    expect(p.deferredCount).toBe(0);
  });
  it('the strongest evidence comes first (20 ports beat 5), then the freshest; evidence grows while it waits', () => {
    const p = new BanPolicy(base());
    p.defer({ ip: 'old5', queuedAt: 1, reason, ports: 5, lastSeen: 1 }, 1, F);
    p.defer({ ip: 'new5', queuedAt: 2, reason, ports: 5, lastSeen: 2 }, 2, F);
    p.defer({ ip: 'wide', queuedAt: 3, reason, ports: 5, lastSeen: 3 }, 3, F);
    p.refreshDeferred('wide', 20, 4);
    expect(p.deferredIps()).toEqual(['wide', 'new5', 'old5']);
    expect(p.nextDeferred(5, F)?.ip).toBe('wide');
    expect(p.nextDeferred(5, F)?.ip).toBe('new5');
  });
  it('is bounded: a full queue pushes out its weakest entry for a stronger one and refuses a weaker one', () => {
    const p = new BanPolicy(base(), 3);
    for (const [ip, ports, t] of [['a', 5, 1], ['b', 6, 2], ['c', 7, 3]] as const) p.defer({ ip, queuedAt: t, reason, ports, lastSeen: t }, t, F);
    expect(p.defer({ ip: 'd', queuedAt: 4, reason, ports: 20, lastSeen: 4 }, 4, F)?.ip).toBe('a');
    expect(p.defer({ ip: 'e', queuedAt: 5, reason, ports: 3, lastSeen: 5 }, 5, F)?.ip).toBe('e');
    expect(p.deferredIps()).toEqual(['d', 'c', 'b']);
    expect(p.deferredDropped).toEqual({ aged: 0, full: 2 });
    for (let i = 0; i < 5000; i++) p.defer({ ip: `s${i}`, queuedAt: 10 + i, reason, ports: 5, lastSeen: 10 + i }, 10 + i, F);
    expect(p.deferredCount).toBe(3);
  });
  it('drops entries whose evidence aged past findtime instead of banning them', () => {
    const p = new BanPolicy(base());
    p.defer({ ip: 'stale', queuedAt: 0, reason, ports: 30, lastSeen: 0 }, 0, F);
    p.defer({ ip: 'fresh', queuedAt: 1, reason, ports: 5, lastSeen: 100_000 }, 100_000, F);
    const dropped: string[] = [];
    expect(p.nextDeferred(F + 1, F, (d) => dropped.push(d.ip))?.ip).toBe('fresh');
    expect(dropped).toEqual(['stale']);
    expect(p.deferredDropped.aged).toBe(1);
  });
  it('saves and restores the cap window and the queue', () => {
    const p = new BanPolicy(base({ maxNewBansPerMinute: 2 }));
    p.spend(1000);
    p.spend(2000);
    p.defer({ ip: 'x', queuedAt: 2500, reason, ports: 9, lastSeen: 2500 }, 2500, F);
    const saved = JSON.parse(JSON.stringify(p.capState())) as ReturnType<BanPolicy['capState']>;
    const q = new BanPolicy(base({ maxNewBansPerMinute: 2 }));
    q.restoreCap(saved, 3000, F);
    expect(q.hasBudget(60_999)).toBe(false);
    expect(q.hasBudget(61_000)).toBe(true);
    expect(q.deferredIps()).toEqual(['x']);
  });
  it('lowering the cap keeps the most recent spends', () => {
    const p = new BanPolicy(base({ maxNewBansPerMinute: 5 }));
    for (const t of [0, 1, 2, 3, 4]) p.spend(t * 1000);
    p.configure(base({ maxNewBansPerMinute: 2 }));
    expect(p.hasBudget(60_000 + 2_999)).toBe(false);
    expect(p.hasBudget(60_000 + 3_000)).toBe(true);
  });
});
