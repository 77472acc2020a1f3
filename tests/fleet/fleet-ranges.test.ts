/**
 * Issue 10's leftovers with issue 12.1's prefix bans: CrowdSec `Range` decisions are applied here as
 * prefix bans (within the bounds the firewall takes, never over a protected address), and this
 * host's own prefix bans are pushed as alerts with a `Range` decision.
 */
import { describe, expect, it } from 'vitest';
import { fleetTarget, rangeTooWide } from '../../electron/engine/fleet/target.ts';
import { BOOT, fleetServiceBuilder, probe, withFleet } from './fleet-service.ts';

const buildService = fleetServiceBuilder();
/** The fleet on, with `settings` beside it. */
const build = (settings: Record<string, unknown> = {}) => buildService({ settings: { ...withFleet(), ...settings } });

describe('fleet Range decisions', () => {
  it('a Range decision is applied as a prefix ban with its origin, and lifted when the decision is deleted', async () => {
    const t = await build();
    await t.link().pullOnce();
    const d = t.lapi.add('2001:db8:bad:1::/64', 'portcullis@hostB', 3_600_000, 'Range');
    t.lapi.add('198.51.100.0/24', 'cscli', 3_600_000, 'Range');
    t.clock.advance(1000);
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.has('2001:db8:bad:1::/64')).toBe(true);
    expect(t.firewall.bans.has('198.51.100.0/24')).toBe(true);
    const bans = await t.call('getBans');
    expect(bans.active.find((b) => b.ip === '2001:db8:bad:1::/64')?.reason.origin).toBe('portcullis@hostB');
    // The network's addresses count as banned here: a probe from one is not a new source.
    t.source.push(probe('2001:db8:bad:1::77', 22, t.clock.now() - BOOT - 100));
    await t.service.idle();
    expect((await t.call('getState')).counts.scanners).toBe(0);

    t.lapi.remove(d.id);
    t.clock.advance(1000);
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.has('2001:db8:bad:1::/64')).toBe(false);
    expect(t.firewall.bans.has('198.51.100.0/24')).toBe(true);
  });

  it('a range too wide for the firewall, or holding this host, its gateway or a whitelisted address, is refused and reported', async () => {
    const t = await build({ whitelist: { entries: ['203.0.113.9'] } });
    for (const v of ['10.0.0.0/8', '2001:db8::/32', '192.0.2.0/24', '203.0.113.0/24']) t.lapi.add(v, 'portcullis@hostB', 3_600_000, 'Range');
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.size).toBe(0);
    const st = (await t.call('getState')).fleet!;
    expect(st.refused).toMatchObject({ unsupported: 2, whitelisted: 2 });
    expect(st.lastRefusals.join('\n')).toContain('10.0.0.0/8 from portcullis@hostB: ranges wider than /16 are not applied here');
  });

  it("this host's prefix ban is pushed as an alert with one Range decision", async () => {
    const t = await build();
    const ms = t.clock.now() - BOOT - 500;
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => probe(`2001:db8:bad:7::${i + 1}`, p, ms + i)));
    await t.service.idle();
    expect(t.firewall.bans.has('2001:db8:bad:7::/64')).toBe(true);
    await t.link().pumpOnce();
    expect(t.lapi.active().map((d) => [d.value, d.scope, d.origin])).toEqual([['2001:db8:bad:7::/64', 'Range', 'portcullis@hostA']]);
    // A local unban of the network deletes this host's Range decision.
    await t.call('unban', { ip: '2001:db8:bad:7::/64' });
    await t.link().pumpOnce();
    expect(t.lapi.active()).toEqual([]);
  });

  it('decision values: Ip and Range scopes, a /32 or /128 range is the address, other scopes none', () => {
    expect(fleetTarget('Ip', '203.0.113.5')).toBe('203.0.113.5');
    expect(fleetTarget('Range', '2001:DB8:BAD:1:0::/64')).toBe('2001:db8:bad:1::/64');
    expect(fleetTarget('range', '198.51.100.7/24')).toBe('198.51.100.0/24');
    expect(fleetTarget('Range', '198.51.100.7/32')).toBe('198.51.100.7');
    expect(fleetTarget('Range', '2001:db8::7/128')).toBe('2001:db8::7');
    expect(fleetTarget('Country', 'FR')).toBeNull();
    expect(fleetTarget('Range', 'nonsense')).toBeNull();
    expect(rangeTooWide('198.51.0.0/16')).toBeNull();
    expect(rangeTooWide('198.0.0.0/15')).toMatch(/wider than \/16/);
    expect(rangeTooWide('2001:db8::/47')).toMatch(/wider than \/48/);
  });
});
