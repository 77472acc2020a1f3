/**
 * A local ban of an address the fleet bans already: the ban here lasts as long as the longer of the
 * two, but this host publishes only its own part — the fleet's decision (another host's) is never
 * echoed back to the LAPI as this host's own.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { FakeLapi } from './fake-lapi.ts';
import { BOOT, fleetServiceBuilder, withFleet } from './fleet-service.ts';

const build = fleetServiceBuilder();
const IP = '203.0.113.5';
const HOUR = 3_600_000;

async function drain(t: Awaited<ReturnType<typeof build>>): Promise<void> {
  await t.service.idle();
  while ((await t.link().pumpOnce()) === 'sent');
}

/** Host B bans IP for 4 h (applied here), then this host bans it by hand for `durationSec`, pushed. Returns host B's decision. */
async function fleetBanThenOwn(t: Awaited<ReturnType<typeof build>>, durationSec: number) {
  const b = t.lapi.add(IP, 'portcullis@hostB', 4 * HOUR);
  await t.link().pullOnce();
  await t.service.idle();
  await t.call('ban', { ip: IP, durationSec } as never);
  await drain(t);
  return b;
}

describe("a local ban of a fleet-banned address publishes only this host's part", () => {
  it("a 10-minute manual ban of an address another host bans for 4 h: pushed for 10 minutes; the address stays banned here until the fleet's end; host B's decision stays", async () => {
    const t = await build({ settings: withFleet() });
    const b = t.lapi.add(IP, 'portcullis@hostB', 4 * HOUR);
    await t.link().pullOnce();
    await t.service.idle();
    t.clock.advance(1000);
    await t.call('ban', { ip: IP, durationSec: 600, note: 'mine' } as never);
    await drain(t);
    const ours = t.lapi.active().filter((d) => d.origin === 'portcullis@hostA');
    expect(ours.map((d) => [d.value, d.until])).toEqual([[IP, t.clock.now() + 600_000]]);
    expect(t.lapi.active().find((d) => d.origin === 'portcullis@hostB')?.id).toBe(b.id);
    const ban = (await t.call('getBans')).active.find((x) => x.ip === IP);
    expect(ban?.until).toBe(b.until);
    expect(t.firewall.bans.get(IP)).toBe(b.until);
  });

  it('its own part is kept across a restart: a later local ban of the address is pushed with its own end, not the fleet\'s', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const t = await build({ settings: withFleet(), lapi, clock });
    lapi.add(IP, 'portcullis@hostB', 4 * HOUR);
    await t.link().pullOnce();
    await t.service.idle();
    await t.call('ban', { ip: IP, durationSec: 600 } as never);
    await drain(t);
    await t.service.stop();
    const t2 = await build({ dir: t.dir, lapi, clock });
    await t2.service.idle();
    clock.advance(60_000);
    // A second manual ban, 20 minutes: an extension of this host's part only.
    await t2.call('ban', { ip: IP, durationSec: 1200 } as never);
    await drain(t2);
    expect(lapi.active().filter((d) => d.origin === 'portcullis@hostA').map((d) => d.until)).toEqual([clock.now() + 1_200_000]);
  });

  it("lifted by hand: this host's decision is deleted and host B's ban applies here again", async () => {
    const t = await build({ settings: withFleet() });
    const b = await fleetBanThenOwn(t, 600);
    await t.call('unban', { ip: IP });
    await drain(t);
    expect(t.lapi.active().map((d) => d.id)).toEqual([b.id]);
    await expect.poll(async () => (await t.call('getBans')).active.map((x) => [x.ip, x.reason.origin, x.until])).toEqual([[IP, 'portcullis@hostB', b.until]]);
  });

  it("once its own part has ended, the ban kept for host B's decision ends with that decision (at the next full resync), and not before", async () => {
    const t = await build({ settings: withFleet() });
    const b = await fleetBanThenOwn(t, 600);
    // Host B's decision stands: past this host's own part the ban stays, until the fleet's end.
    t.clock.advance(11 * 60_000);
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(t.firewall.bans.has(IP)).toBe(true);
    // Host B lifts its ban: nothing holds the address any more.
    t.lapi.remove(b.id);
    t.clock.advance(6 * 60_000);
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(t.firewall.bans.has(IP)).toBe(false);
    expect((await t.call('getBans')).active.map((x) => x.ip)).not.toContain(IP);
    expect(await t.link().pumpOnce()).toBe('empty'); // this host's own decision expired at the LAPI already: nothing to delete
  });

  it.each([
    ['apply turned off', { apply: false }],
    ['the fleet removed', null],
  ] as const)("%s once its own part has ended: the ban kept for host B's decision ends then (no resync will), one whose part runs stays", async (_, change) => {
    const t = await build({ settings: withFleet() });
    t.lapi.add(IP, 'portcullis@hostB', 4 * HOUR);
    t.lapi.add('203.0.113.6', 'portcullis@hostB', 4 * HOUR);
    await t.link().pullOnce();
    await t.service.idle();
    await t.call('ban', { ip: IP, durationSec: 600 } as never);
    t.clock.advance(5 * 60_000);
    await t.call('ban', { ip: '203.0.113.6', durationSec: 600 } as never);
    await drain(t);
    t.clock.advance(6 * 60_000); // IP's own part is over, .6's runs 4 more minutes
    const shown = (await t.call('getSettings')).fleet.crowdsec!;
    await t.call('updateSettings', { patch: { fleet: { crowdsec: change === null ? null : { ...shown, ...change } } } });
    await t.service.idle();
    expect(t.firewall.bans.has(IP)).toBe(false);
    expect((await t.call('getBans')).active.map((x) => x.ip)).toEqual(['203.0.113.6']);
  });

  it("host B's decision deleted while this host's own part runs: the ban stays for that part", async () => {
    const t = await build({ settings: withFleet() });
    const b = await fleetBanThenOwn(t, 3600);
    t.lapi.remove(b.id);
    t.clock.advance(6 * 60_000);
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(t.firewall.bans.has(IP)).toBe(true);
    expect(t.lapi.active().map((d) => d.origin)).toEqual(['portcullis@hostA']);
  });
});
