/**
 * A fleet ban lifted here by hand stays lifted for that decision — across restarts too (the
 * dismissals live in the fleet queue's database), bounded, and forgotten once the decision is gone.
 * A dismissal that waits for a database another process holds locked is written at the stop when
 * the lock goes within the stop's wait, like the unban's own store record.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { holdWriteLock, lockInChild } from '../support/db-locks.ts';
import { FakeLapi } from './fake-lapi.ts';
import { BOOT, fleetServiceBuilder, withFleet } from './fleet-service.ts';

const build = fleetServiceBuilder();

async function pulled(t: Awaited<ReturnType<typeof build>>): Promise<void> {
  await t.link().pullOnce();
  await t.service.idle();
}

describe('fleet bans lifted by hand, across restarts', () => {
  it('a fleet ban lifted by hand does not come back after a restart; another decision for the address does apply', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const t = await build({ settings: withFleet(), lapi, clock });
    lapi.add('203.0.113.5', 'portcullis@hostB');
    await pulled(t);
    expect(t.firewall.bans.has('203.0.113.5')).toBe(true);
    await t.call('unban', { ip: '203.0.113.5' });
    await t.service.idle();
    await t.service.stop();

    const t2 = await build({ dir: t.dir, lapi, clock });
    clock.advance(1000);
    await pulled(t2);
    expect((await t2.call('getBans')).active.map((b) => b.ip)).not.toContain('203.0.113.5');
    expect(t2.firewall.bans.has('203.0.113.5')).toBe(false);
    // A new, longer decision of another host is not the one lifted: it applies.
    lapi.add('203.0.113.5', 'portcullis@hostC', 7_200_000);
    clock.advance(1000);
    await pulled(t2);
    expect((await t2.call('getBans')).active.map((b) => [b.ip, b.reason.origin])).toEqual([['203.0.113.5', 'portcullis@hostC']]);
  });

  it('a restored fleet ban lifted before the first pull (no decision id known yet) stays lifted after a restart', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const t = await build({ settings: withFleet(), lapi, clock });
    lapi.add('203.0.113.5', 'portcullis@hostB');
    await pulled(t);
    await t.service.stop();
    const t2 = await build({ dir: t.dir, lapi, clock });
    await t2.service.idle();
    await t2.call('unban', { ip: '203.0.113.5' }); // before t2 pulled anything
    await t2.service.idle();
    await t2.service.stop();
    const t3 = await build({ dir: t.dir, lapi, clock });
    clock.advance(1000);
    await pulled(t3);
    expect(t3.firewall.bans.has('203.0.113.5')).toBe(false);
  });

  it("a fleet ban extended by another host's longer decision, which is then deleted, and lifted by hand after a restart before any pull stays lifted", async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const t = await build({ settings: withFleet(), lapi, clock });
    await pulled(t);
    const b = lapi.add('203.0.113.5', 'portcullis@hostB', 3_600_000);
    clock.advance(1000);
    await pulled(t);
    // Host C's longer decision extends it; then host C's is deleted: host B's holds it again.
    const c = lapi.add('203.0.113.5', 'portcullis@hostC', 24 * 3_600_000);
    clock.advance(1000);
    await pulled(t);
    expect((await t.call('getBans')).active.map((b) => b.reason.origin)).toEqual(['portcullis@hostC']);
    lapi.remove(c.id);
    clock.advance(1000);
    await pulled(t);
    // The ban is host B's again, until host B's decision ends (what a restart restores).
    expect((await t.call('getBans')).active.map((x) => [x.ip, x.reason.origin, x.until])).toEqual([['203.0.113.5', 'portcullis@hostB', b.until]]);
    expect(t.firewall.bans.get('203.0.113.5')).toBe(b.until);
    await t.service.stop();

    const t2 = await build({ dir: t.dir, lapi, clock });
    await t2.service.idle();
    await t2.call('unban', { ip: '203.0.113.5' }); // before t2 pulled anything
    await t2.service.idle();
    clock.advance(1000);
    await pulled(t2);
    expect(t2.firewall.bans.has('203.0.113.5')).toBe(false);
    expect((await t2.call('getBans')).active.map((b) => b.ip)).not.toContain('203.0.113.5');
    clock.advance(6 * 60_000);
    await pulled(t2); // and at the next full resync
    expect(t2.firewall.bans.has('203.0.113.5')).toBe(false);
  });

  it('a dismissal is forgotten once its decision is gone at the LAPI: a later decision for the address applies, also after a restart', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const t = await build({ settings: withFleet(), lapi, clock });
    const d = lapi.add('203.0.113.5', 'portcullis@hostB');
    await pulled(t);
    await t.call('unban', { ip: '203.0.113.5' });
    await t.service.idle();
    lapi.remove(d.id);
    clock.advance(6 * 60_000);
    await pulled(t); // full resync: the decision is gone
    await t.service.stop();
    const t2 = await build({ dir: t.dir, lapi, clock });
    lapi.add('203.0.113.5', 'portcullis@hostB'); // the same host bans it again: a new decision
    clock.advance(1000);
    await pulled(t2);
    expect(t2.firewall.bans.has('203.0.113.5')).toBe(true);
  });

  it('at most maxBans dismissals are kept across a restart, the oldest forgotten first', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const t = await build({ settings: withFleet({ maxBans: 2 }), lapi, clock });
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) lapi.add(ip, 'portcullis@hostB');
    await pulled(t);
    await t.call('unban', { ip: '203.0.113.1' });
    await t.call('unban', { ip: '203.0.113.2' });
    clock.advance(6 * 60_000);
    await pulled(t); // a full resync: .3 fits now
    await t.call('unban', { ip: '203.0.113.3' });
    await t.service.idle();
    await t.service.stop();
    const t2 = await build({ dir: t.dir, lapi, clock });
    clock.advance(1000);
    await pulled(t2);
    expect([...t2.firewall.bans.keys()]).toEqual(['203.0.113.1']);
  });

  it('a fleet ban lifted by hand while the database is locked, then a lock held 500 ms through the stop: stays lifted after the restart', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const t = await build({ settings: withFleet(), lapi, clock });
    lapi.add('203.0.113.5', 'portcullis@hostB');
    await pulled(t);
    const file = path.join(t.dir, 'p.db');
    // The dismissal waits in the queue's memory (and the unban's record in the pipeline's); then
    // another process takes the lock over for 500 ms, through the stop.
    const lock = holdWriteLock(file);
    let holder: ReturnType<typeof lockInChild>;
    try {
      await t.call('unban', { ip: '203.0.113.5' });
      await t.service.idle();
      expect(t.firewall.bans.has('203.0.113.5')).toBe(false);
      holder = lockInChild(file, 500);
    } finally {
      lock.release();
    }
    await holder.locked;
    await t.service.stop();
    await holder.exited;
    expect(t.notices.filter((n) => /before the stop/.test(n))).toEqual([]);
    const check = new DatabaseSync(file, { readOnly: true });
    expect(check.prepare("SELECT ip FROM fleet_dismissed WHERE ip = '203.0.113.5'").all()).toHaveLength(1);
    check.close();

    const t2 = await build({ dir: t.dir, lapi, clock });
    clock.advance(1000);
    await pulled(t2);
    expect(t2.firewall.bans.has('203.0.113.5'), 'the ban lifted by hand came back after the restart').toBe(false);
    await t2.service.stop();
  }, 60_000);
});
