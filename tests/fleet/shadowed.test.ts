/**
 * The decision stream keeps one decision per value, the longest (measured on 1.4.6): when that is
 * this host's own, another host's shorter one for the address is never streamed. When the local
 * ban ends, the other host's still stands and applies here.
 */
import { describe, expect, it } from 'vitest';
import { fleetServiceBuilder, withFleet } from './fleet-service.ts';

const build = fleetServiceBuilder();

describe("another host's decision hidden behind this host's own", () => {
  it("a local 10 h ban lifted by hand: another host's 6 h decision for the address applies here", async () => {
    const t = await build({ settings: withFleet() });
    await t.link().pullOnce();
    t.lapi.add('198.51.100.7', 'portcullis@hostB', 6 * 3_600_000);
    await t.call('ban', { ip: '198.51.100.7', durationSec: 10 * 3600 } as never);
    await t.service.idle();
    while ((await t.link().pumpOnce()) === 'sent');
    t.clock.advance(1000);
    expect(await t.link().pullOnce()).toBe('delta');
    await t.service.idle();
    expect(t.link().remoteFor('198.51.100.7')).toBeNull(); // hidden behind this host's own decision
    await t.call('unban', { ip: '198.51.100.7' });
    await t.service.idle();
    await expect.poll(async () => (await t.call('getBans')).active.map((b) => [b.ip, b.reason.origin])).toEqual([['198.51.100.7', 'portcullis@hostB']]);
    expect(t.firewall.bans.has('198.51.100.7')).toBe(true);
    // It stays: the next pulls and the deletion of this host's decision do not lift it.
    while ((await t.link().pumpOnce()) === 'sent');
    for (let i = 0; i < 3; i++) {
      t.clock.advance(1000);
      await t.link().pullOnce();
      await t.service.idle();
    }
    expect(t.firewall.bans.has('198.51.100.7')).toBe(true);
    expect(t.lapi.active().map((d) => d.origin)).toEqual(['portcullis@hostB']);
  });

  it('the same after a full resync showed only this host\'s decision', async () => {
    const t = await build({ settings: withFleet() });
    t.lapi.add('198.51.100.7', 'portcullis@hostB', 6 * 3_600_000);
    await t.call('ban', { ip: '198.51.100.7', durationSec: 10 * 3600 } as never);
    await t.service.idle();
    while ((await t.link().pumpOnce()) === 'sent');
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    await t.call('unban', { ip: '198.51.100.7' });
    await t.service.idle();
    await expect.poll(() => t.firewall.bans.has('198.51.100.7')).toBe(true);
  });
});
