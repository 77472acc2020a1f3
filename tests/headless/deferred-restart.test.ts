/**
 * Bans held back by the per-minute cap survive a kill -9 (issue 16.3), and the cap warns once a
 * minute with counts rather than once per held-back ban (issue 9.4). Real engine, SQLite store,
 * dispatcher and set backend; only ipset is faked (real-helper.ts). A "kill -9" here: the first
 * service is abandoned without stop() (nothing flushed or saved at exit); a second one opens the
 * same database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { BOOT, build, FakeIpset, kmsg, removeTempDbs, tempDb } from './real-helper.ts';

afterEach(removeTempDbs);

const CAP = { ban: { maxNewBansPerMinute: 2 } };
/** Five SYN probes to five ports from `ip`, `ms` after boot. */
const scan = (ip: string, ms: number) => [21, 23, 25, 80, 110].map((p, i) => kmsg(ip, p, ms + i));
const scanners = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'];

describe('held-back bans across a kill -9', () => {
  it('the queue and the cap window come back: held-back scanners are banned, and the cap does not start from zero', async () => {
    const db = tempDb();
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const a = build(db, clock, ipset, CAP);
    await a.service.start();
    for (const [i, ip] of scanners.entries()) a.source.push(...scan(ip, 10_000 + i * 10));
    await a.service.idle();
    expect((await a.call('getBans')).active.map((b) => b.ip)).toEqual(scanners.slice(0, 2));
    expect((await a.call('getState')).counts.deferredBans).toBe(3);
    clock.advance(1000);
    await a.service.tick(); // the state is saved as the service runs…
    // …then kill -9: no stop(), nothing more written. The kernel ring no longer holds the probes.
    a.close();

    clock.advance(2000);
    const b = build(db, clock, ipset, CAP);
    await b.service.start();
    try {
      expect((await b.call('getState')).counts.deferredBans, 'held-back bans remembered').toBe(3);
      // The cap's window is the one before the crash: a new scanner right now is held back too.
      b.source.push(...scan('198.51.100.9', 13_000));
      await b.service.idle();
      expect((await b.call('getBans')).active.map((x) => x.ip)).toEqual(scanners.slice(0, 2));
      expect((await b.call('getState')).counts.deferredBans).toBe(4);
      // A minute after the first bans the budget frees: the held-back scanners are banned.
      clock.advance(60_000);
      await b.service.tick();
      await b.service.idle();
      const active = (await b.call('getBans')).active.map((x) => x.ip);
      expect(active).toHaveLength(4);
      for (const ip of active) expect(ipset.timeoutOf(ip), ip).toBeGreaterThan(0);
    } finally {
      await b.service.stop();
      b.close();
    }
  });

  it('warns once a minute with counts, not once per held-back ban', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const t = build(tempDb(), clock, new FakeIpset(), CAP);
    await t.service.start();
    try {
      for (const [i, ip] of scanners.entries()) t.source.push(...scan(ip, 10_000 + i * 10));
      for (let i = 0; i < 20; i++) t.source.push(...scan(`203.0.113.${i + 1}`, 11_000 + i * 10));
      await t.service.idle();
      const warnings = () => t.logs.filter((l) => l.includes('held back by the new-bans-per-minute cap'));
      expect(warnings()).toHaveLength(1);
      clock.advance(30_000);
      for (let i = 0; i < 5; i++) t.source.push(...scan(`203.0.113.${i + 101}`, 40_000 + i * 10));
      await t.service.tick();
      expect(warnings(), 'not again within the minute').toHaveLength(1);
      clock.advance(31_000);
      await t.service.tick();
      expect(warnings()).toHaveLength(2);
      // 28 held back in all (3 + 20 + 5): the first at once, the other 27 summed up a minute later.
      expect(warnings()[0]).toMatch(/^warn: 1 new ban\(s\) held back .* just now; 1 waiting/);
      expect(warnings()[1]).toMatch(/^warn: 27 new ban\(s\) held back .* in the last minute; \d+ waiting/);
    } finally {
      await t.service.stop();
      t.close();
    }
  });
});
