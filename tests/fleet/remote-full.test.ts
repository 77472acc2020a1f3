/**
 * Of two fleet bans the newer one holds, even with an earlier end (3a43f08) — only because the link
 * hands on nothing but the decision that stands (a shorter one only once the longer one is gone).
 * Once the link remembers fleet.maxBans values it cannot say that of an address it does not
 * remember: then the ban keeps the later of the two ends, as before 3a43f08, and a longer decision
 * that still stands is not cut short.
 */
import { expect, it } from 'vitest';
import { fleetServiceBuilder, HOST, withFleet } from './fleet-service.ts';

const build = fleetServiceBuilder();
const X = '203.0.113.5';

it("with the link's memory full, a delta's 1-minute decision of host C does not cut short a fleet ban host A's 4 h decision still holds", async () => {
  const t = await build({ settings: withFleet({ maxBans: 1 }) });
  t.lapi.add(HOST, 'portcullis@hostB', 4 * 3_600_000); // refused here (this host), but remembered first
  const a = t.lapi.add(X, 'portcullis@hostA2', 4 * 3_600_000);
  expect(await t.link().pullOnce()).toBe('full');
  await t.service.idle();
  expect(t.firewall.bans.get(X)).toBe(a.until);
  t.clock.advance(1000);
  t.lapi.add(X, 'portcullis@hostC', 60_000);
  expect(await t.link().pullOnce()).toBe('delta');
  await t.service.idle();
  expect(t.firewall.bans.get(X)).toBe(a.until);
  t.clock.advance(61_000);
  await t.service.tick();
  await t.service.idle();
  expect(t.lapi.active().some((d) => d.id === a.id)).toBe(true);
  expect(t.firewall.bans.has(X)).toBe(true);
  await t.service.stop();
});

it("with the link's memory full, once host A's longer decision is deleted the ban follows host C's that stands", async () => {
  const t = await build({ settings: withFleet({ maxBans: 1 }) });
  t.lapi.add(HOST, 'portcullis@hostB', 4 * 3_600_000);
  const a = t.lapi.add(X, 'portcullis@hostA2', 4 * 3_600_000);
  expect(await t.link().pullOnce()).toBe('full');
  await t.service.idle();
  t.clock.advance(1000);
  const c = t.lapi.add(X, 'portcullis@hostC', 2 * 3_600_000);
  expect(await t.link().pullOnce()).toBe('delta');
  await t.service.idle();
  expect(t.firewall.bans.get(X)).toBe(a.until);
  t.lapi.remove(a.id);
  t.clock.advance(1000);
  expect(await t.link().pullOnce()).toBe('delta');
  await t.service.idle();
  expect(t.firewall.bans.get(X)).toBe(c.until);
  expect((await t.call('getBans')).active.map((b) => [b.ip, b.reason.origin])).toEqual([[X, 'portcullis@hostC']]);
  await t.service.stop();
});
