/**
 * Bans longer than the kernel can count down (ipset's largest timeout, ~24.8 days) are enforced
 * (issue 9.2): the service, the real engine and SQLite store, the REAL helper dispatcher and set
 * backend, with only `ipset` faked (real-helper.ts). Such a ban goes into the set without a timeout
 * and Portcullis removes it at its end — while running, and after a restart (reconcile).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { MAX_BAN_SEC } from '../../electron/shared/helper-protocol.ts';
import { validateSettings } from '../../electron/shared/settings.ts';
import { firewallTimeoutSec } from '../../electron/app/helper-adapter.ts';
import { BOOT, build, DAY, FakeIpset, kmsg, removeTempDbs, tempDb } from './real-helper.ts';

afterEach(removeTempDbs);

describe('bans longer than the kernel timeout', () => {
  it('a timeout over ipset maximum becomes "no timeout"; shorter ones are kept, rounded up', () => {
    expect(firewallTimeoutSec(BOOT + 30 * DAY, BOOT)).toBeNull();
    expect(firewallTimeoutSec(BOOT + MAX_BAN_SEC * 1000, BOOT)).toBe(MAX_BAN_SEC);
    expect(firewallTimeoutSec(BOOT + 1500, BOOT)).toBe(2);
    expect(firewallTimeoutSec(null, BOOT)).toBeNull();
  });

  it('`portcullis ban --duration 30d` puts the host in the kernel set without a timeout, and Portcullis lifts it after 30 days', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const t = build(tempDb(), clock, ipset);
    await t.service.start();
    try {
      const ban = await t.call('ban', { ip: '203.0.113.50', durationSec: 30 * 86400 });
      expect(ban.until).toBe(BOOT + 10_000 + 30 * DAY);
      expect(ipset.timeoutOf('203.0.113.50'), 'in the kernel set, without a timeout').toBe(0);
      clock.advance(30 * DAY - 1000);
      await t.service.tick();
      await t.service.idle();
      expect(ipset.timeoutOf('203.0.113.50'), 'still banned a second before its end').toBe(0);
      clock.advance(2000);
      await t.service.tick();
      await t.service.idle();
      expect(ipset.timeoutOf('203.0.113.50'), 'lifted at its end').toBeUndefined();
      const { active, history } = await t.call('getBans');
      expect(active).toEqual([]);
      expect(history[0]).toMatchObject({ ip: '203.0.113.50', ended: { why: 'expired' } });
    } finally {
      await t.service.stop();
      t.close();
    }
  });

  it('an escalated scan ban (bantime 40 days) reaches the kernel set without a timeout', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const t = build(tempDb(), clock, ipset, { ban: { bantimeSec: 40 * 86400, maxbantimeSec: 80 * 86400 } });
    await t.service.start();
    try {
      t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('198.51.100.7', p, 10_000 + i)));
      await t.service.idle();
      expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual(['198.51.100.7']);
      expect(ipset.timeoutOf('198.51.100.7')).toBe(0);
    } finally {
      await t.service.stop();
      t.close();
    }
  });

  it('after a restart, reconcile keeps a long ban that is in the set without a timeout, and it is lifted at its end', async () => {
    const db = tempDb();
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const a = build(db, clock, ipset);
    await a.service.start();
    await a.call('ban', { ip: '203.0.113.51', durationSec: 30 * 86400 });
    await a.service.stop();
    a.close();

    clock.advance(10 * DAY);
    const argvBefore = ipset.argv.length;
    const b = build(db, clock, ipset);
    await b.service.start();
    await b.service.idle();
    try {
      expect(ipset.timeoutOf('203.0.113.51')).toBe(0);
      expect(ipset.argv.slice(argvBefore).filter((a) => a[1] === 'add' || a[1] === 'del'), 'reconcile leaves it alone').toEqual([]);
      clock.advance(20 * DAY + 1000);
      await b.service.tick();
      await b.service.idle();
      expect(ipset.timeoutOf('203.0.113.51')).toBeUndefined();
    } finally {
      await b.service.stop();
      b.close();
    }
    // Stopped past its end: the next start's reconcile removes it from the set.
    const c0 = build(db, clock, ipset);
    await c0.service.start();
    await c0.call('ban', { ip: '203.0.113.52', durationSec: 30 * 86400 });
    await c0.service.stop();
    c0.close();
    clock.advance(31 * DAY);
    const c = build(db, clock, ipset);
    await c.service.start();
    await c.service.idle(); // reconcile runs beside start (a restore must not hold up log reading)
    try {
      expect(ipset.timeoutOf('203.0.113.52')).toBeUndefined();
    } finally {
      await c.service.stop();
      c.close();
    }
  });

  it('settings refuse bantime and maxbantime over 365 days, with the field and the reason', () => {
    const r = validateSettings({ ban: { bantimeSec: 400 * 86400, maxbantimeSec: 400 * 86400 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toContain('ban.bantimeSec: bantime is at most 365 days');
    expect(r.error).toContain('ban.maxbantimeSec: maxbantime is at most 365 days');
    expect(validateSettings({ ban: { bantimeSec: 40 * 86400, maxbantimeSec: 365 * 86400 } }).ok).toBe(true);
  });
});
