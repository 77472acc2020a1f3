/**
 * An API ban, bulk ban or unban whose firewall call fails is answered with the failure (the API's
 * 'failed' error, with the firewall's reason), never with success; a failed unban leaves the ban
 * active in the engine and the store, as it is in the firewall. Real engine and SQLite store; the
 * firewall is a recording fake that can be made to throw. Automatic bans are not concerned here
 * (users-rule.test.ts: a failed automatic ban stays active, for the next start to restore).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatch, type ApiMethod } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { FailingFirewall, Journal } from './fakes.ts';
import { BOOT, buildRealService, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-fwfail-');

async function started() {
  const fw = new FailingFirewall(new Journal());
  const t = buildRealService({ dbFile: path.join(tempDir(), 'db.sqlite'), clock: new ManualClock(BOOT + 10_000), firewall: fw });
  await t.service.start();
  await t.service.idle();
  const h = t.service.handlers();
  /** The wire reply, success or error. */
  const reply = (m: ApiMethod, p: unknown) => dispatch(h, m, p);
  return { ...t, fw, reply };
}

const IP = '198.51.100.9';

describe('an API request whose firewall call fails is answered with the failure', () => {
  it('unban: failed with the reason; the ban stays active in the engine and the store, as in the firewall; lifted once the firewall takes it', async () => {
    const t = await started();
    await t.call('ban', { ip: IP, durationSec: 3600 });
    t.fw.failUnban = true;
    expect(await t.reply('unban', { ip: IP })).toEqual({
      ok: false,
      error: { code: 'failed', message: expect.stringMatching(/198\.51\.100\.9.*Could not delete rule.*stays active/) },
    });
    expect(t.fw.bans.has(IP)).toBe(true);
    expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual([IP]);
    expect(t.raw.activeBans(t.clock.now()).map((b) => b.ip)).toEqual([IP]);
    expect(t.raw.bans(t.clock.now()).history).toEqual([]);
    t.fw.failUnban = false;
    t.fw.calls.length = 0;
    expect(await t.reply('unban', { ip: IP })).toEqual({ ok: true, result: { ok: true } });
    expect(t.fw.bans.has(IP)).toBe(false);
    expect(t.fw.calls).toEqual([`unban ${IP}`]); // lifted once: the store's unban does not call the firewall again
    expect(t.raw.activeBans(t.clock.now())).toEqual([]);
    expect(t.raw.bans(t.clock.now()).history.map((b) => [b.ip, b.ended?.why])).toEqual([[IP, 'manual']]);
    await t.service.stop();
  });

  it('unban whose store write fails after the firewall lifted it: answered ok, since it went through (its record waits for the store, record-retry.ts), and the state says the store cannot write', async () => {
    const t = await started();
    await t.call('ban', { ip: IP, durationSec: 3600 });
    (t.raw as { recordUnban: unknown }).recordUnban = () => {
      throw new Error('database is locked');
    };
    expect(await t.reply('unban', { ip: IP })).toMatchObject({ ok: true });
    expect(t.fw.bans.has(IP)).toBe(false);
    expect((await t.call('getState')).store).toMatchObject({ ok: false, error: 'database is locked' });
    await t.service.stop();
  });

  it('unban whose record the store refuses for its content (not for room or access): answered failed, not ok — its history will not have it', async () => {
    const t = await started();
    await t.call('ban', { ip: IP, durationSec: 3600 });
    (t.raw as { recordUnban: unknown }).recordUnban = () => {
      throw Object.assign(new Error('CHECK constraint failed: end_why'), { errcode: 275 });
    };
    expect(await t.reply('unban', { ip: IP })).toEqual({ ok: false, error: { code: 'failed', message: expect.stringContaining('CHECK constraint failed') } });
    await t.service.stop();
  });

  it('ban: failed with the reason (the ban stays recorded as active, for the next start to restore); a second ban that the firewall takes succeeds', async () => {
    const t = await started();
    t.fw.failBan = true;
    expect(await t.reply('ban', { ip: IP })).toEqual({
      ok: false,
      error: { code: 'failed', message: expect.stringMatching(/198\.51\.100\.9 is not banned in the firewall: .*Could not update running firewall/) },
    });
    expect(t.fw.bans.has(IP)).toBe(false);
    expect(t.raw.activeBans(t.clock.now()).map((b) => b.ip)).toEqual([IP]);
    t.fw.failBan = false;
    expect(await t.reply('ban', { ip: IP })).toMatchObject({ ok: true, result: { ip: IP } });
    expect(t.fw.bans.has(IP)).toBe(true);
    await t.service.stop();
  });

  it('a ban decided while an unban waits for the firewall is lifted too, in the firewall as well: engine, store and firewall agree', async () => {
    class SlowUnban extends FailingFirewall {
      gate: Promise<void> | null = null;
      override async unban(ip: string): Promise<void> {
        if (this.gate) await this.gate;
        return super.unban(ip);
      }
    }
    const fw = new SlowUnban(new Journal());
    const t = buildRealService({ dbFile: path.join(tempDir(), 'db.sqlite'), clock: new ManualClock(BOOT + 10_000), firewall: fw });
    await t.service.start();
    await t.call('ban', { ip: IP, durationSec: 3600 });
    let open!: () => void;
    fw.gate = new Promise((r) => (open = r));
    const unban = t.call('unban', { ip: IP });
    await new Promise((r) => setImmediate(r)); // the firewall is lifting it now
    const again = t.call('ban', { ip: IP, durationSec: 7200 }); // its firewall call queues behind the lift
    open();
    await Promise.all([unban, again]);
    await t.service.idle();
    expect([fw.bans.has(IP), (await t.call('getBans')).active.length, t.raw.activeBans(t.clock.now()).length]).toEqual([false, 0, 0]);
    await t.service.stop();
  });

  it('unban of a ban the firewall alone holds (an orphan): failed with the reason, not ok', async () => {
    const t = await started();
    t.fw.bans.set(IP, null);
    t.fw.failUnban = true;
    expect(await t.reply('unban', { ip: IP })).toEqual({ ok: false, error: { code: 'failed', message: expect.stringMatching(/Could not delete rule/) } });
    expect(t.fw.bans.has(IP)).toBe(true);
    await t.service.stop();
  });

  it('banMany: failed with the reason, not "banned N"', async () => {
    const t = await started();
    t.fw.failBan = true;
    expect(await t.reply('banMany', { ips: [IP, '198.51.100.10'], durationSec: 3600 })).toEqual({
      ok: false,
      error: { code: 'failed', message: expect.stringMatching(/did not take the 2 bans: .*Could not update running firewall/) },
    });
    expect(t.fw.bans.size).toBe(0);
    await t.service.stop();
  });
});
