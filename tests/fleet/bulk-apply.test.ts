/**
 * The fleet's decisions of one pull reach the firewall as batches of its bulk ban (ufw: one edit of
 * its rules files per batch), not one `ufw prepend` (0.3–1.4 s) each.
 */
import { describe, expect, it } from 'vitest';
import { BatchFirewall, Journal } from '../headless/fakes.ts';
import { fleetServiceBuilder, scan, withFleet } from './fleet-service.ts';

const build = fleetServiceBuilder();
const addr = (i: number) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;

describe('fleet decisions applied in batches', () => {
  it('a full sync of 1,200 decisions: three bulk bans, no single ban; each is active and in the firewall', async () => {
    const firewall = new BatchFirewall(new Journal());
    const t = await build({ settings: withFleet({}, {}), firewall });
    for (let i = 0; i < 1200; i++) t.lapi.add(addr(i), 'portcullis@hostB');
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(firewall.log).toEqual(['banMany 500', 'banMany 500', 'banMany 200']);
    expect(firewall.bans.size).toBe(1200);
    const active = (await t.call('getBans')).active;
    expect(active).toHaveLength(1200);
    expect(new Set(active.map((b) => b.reason.origin))).toEqual(new Set(['portcullis@hostB']));
  });

  it('a delta of many decisions is one bulk ban too; a live scan ban meanwhile still goes at once', async () => {
    const firewall = new BatchFirewall(new Journal());
    const t = await build({ settings: withFleet(), firewall });
    await t.link().pullOnce();
    t.clock.advance(1000);
    for (let i = 0; i < 30; i++) t.lapi.add(addr(i), 'cscli');
    expect(await t.link().pullOnce()).toBe('delta');
    scan(t, '203.0.113.9');
    await t.service.idle();
    expect(firewall.log.filter((l) => l.startsWith('banMany'))).toEqual(['banMany 30']);
    expect(firewall.log).toContain('ban 203.0.113.9');
    expect(firewall.bans.size).toBe(31);
  });

  it("a decision the firewall refuses for a user's rule ends that ban only, and stays lifted at the next sync", async () => {
    const firewall = new BatchFirewall(new Journal());
    const t = await build({ settings: withFleet(), firewall });
    firewall.usersRules.add(addr(3));
    for (let i = 0; i < 10; i++) t.lapi.add(addr(i), 'portcullis@hostB');
    await t.link().pullOnce();
    await t.service.idle();
    expect(firewall.bans.size).toBe(9);
    expect((await t.call('getBans')).history.find((b) => b.ip === addr(3))?.ended?.why).toBe('refused-users-rule');
    t.clock.advance(6 * 60_000);
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect((await t.call('getBans')).active.map((b) => b.ip)).not.toContain(addr(3));
  });
});
