/**
 * A restart never restores a ban the whitelist now forbids (issue 9.3): after restore + reconcile at
 * start, every active ban that the whitelist covers — a user entry added while stopped, this host's
 * addresses, the gateway of the network a laptop woke up in — is lifted, not put back into the
 * firewall, with the reason `whitelisted` in the ban history and in the helper's audit log.
 * Real engine, store, dispatcher and set backend; only ipset is faked (real-helper.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { BOOT, build, DAY, FakeIpset, HOST, removeTempDbs, tempDb } from './real-helper.ts';

afterEach(removeTempDbs);

async function banThenStop(db: string, clock: ManualClock, ipset: FakeIpset, ips: string[]) {
  const a = build(db, clock, ipset);
  await a.service.start();
  for (const ip of ips) await a.call('ban', { ip, durationSec: 3 * 86400 });
  await a.service.stop();
  a.close();
}

function unbanAudit(t: ReturnType<typeof build>) {
  return t.audit.entries.filter((e) => e.op === 'unban').map((e) => e.args as { ip: string; reason?: string });
}

describe('restart with a whitelist that forbids restored bans', () => {
  it('a user entry added while stopped: the ban is lifted as whitelisted, not restored; others stay', async () => {
    const db = tempDb();
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    await banThenStop(db, clock, ipset, ['198.51.100.20', '203.0.113.9']);
    // A reboot empties the kernel set; the admin whitelisted their /24 to undo a lockout.
    ipset.sets.clear();
    clock.advance(DAY);
    const b = build(db, clock, ipset, { whitelist: { entries: ['198.51.100.0/24'] } });
    await b.service.start();
    try {
      await b.service.idle();
      expect(ipset.timeoutOf('198.51.100.20'), 'never put back into the kernel set').toBeUndefined();
      expect(ipset.argv.filter((a) => a[1] === 'add' && a.includes('198.51.100.20')), 'added once, by the first run').toHaveLength(1);
      expect(ipset.timeoutOf('203.0.113.9'), 'a ban the whitelist does not cover is restored').toBeGreaterThan(0);
      const { active, history } = await b.call('getBans');
      expect(active.map((x) => x.ip)).toEqual(['203.0.113.9']);
      expect(history.find((h) => h.ip === '198.51.100.20')?.ended?.why).toBe('whitelisted');
      expect(unbanAudit(b)).toContainEqual(expect.objectContaining({ ip: '198.51.100.20', reason: 'whitelisted' }));
    } finally {
      await b.service.stop();
      b.close();
    }
  });

  it('the gateway of the new network and this host\'s new address (always whitelisted) are lifted at start', async () => {
    const db = tempDb();
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    await banThenStop(db, clock, ipset, ['10.9.0.1', '10.9.0.77', '203.0.113.9']);
    clock.advance(3600_000);
    // The laptop woke up in another network: 10.9.0.1 is its gateway now, 10.9.0.77 its address.
    const moved = async () => ({ addresses: ['10.9.0.77', HOST], interfaces: ['eth0'], gateways: ['10.9.0.1'] });
    const b = build(db, clock, ipset, {}, moved);
    await b.service.start();
    try {
      await b.service.idle();
      expect(ipset.timeoutOf('10.9.0.1')).toBeUndefined();
      expect(ipset.timeoutOf('10.9.0.77')).toBeUndefined();
      expect(ipset.timeoutOf('203.0.113.9')).toBeGreaterThan(0);
      const { active, history } = await b.call('getBans');
      expect(active.map((x) => x.ip)).toEqual(['203.0.113.9']);
      for (const ip of ['10.9.0.1', '10.9.0.77']) expect(history.find((h) => h.ip === ip)?.ended?.why, ip).toBe('whitelisted');
      const audit = unbanAudit(b);
      for (const ip of ['10.9.0.1', '10.9.0.77']) expect(audit).toContainEqual(expect.objectContaining({ ip, reason: 'whitelisted' }));
    } finally {
      await b.service.stop();
      b.close();
    }
  });

  it('whitelisting a banned address while running lifts its ban as whitelisted too', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const t = build(tempDb(), clock, ipset);
    await t.service.start();
    try {
      await t.call('ban', { ip: '198.51.100.30', durationSec: 3600 });
      await t.call('whitelistAdd', { cidr: '198.51.100.30' });
      await t.service.idle();
      expect(ipset.timeoutOf('198.51.100.30')).toBeUndefined();
      expect((await t.call('getBans')).history.find((h) => h.ip === '198.51.100.30')?.ended?.why).toBe('whitelisted');
      expect(unbanAudit(t)).toContainEqual(expect.objectContaining({ ip: '198.51.100.30', reason: 'whitelisted' }));
    } finally {
      await t.service.stop();
      t.close();
    }
  });
});
