/**
 * A fleet delta lifts the values its deletions left without a decision together, once every deletion
 * is looked up: a fleet ban applied meanwhile for one of them (another host decided it) must stand.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { BatchFirewall, Journal } from '../headless/fakes.ts';
import { BOOT, fleetServiceBuilder, withFleet } from './fleet-service.ts';
import { FakeLapi } from './fake-lapi.ts';

const build = fleetServiceBuilder();
const X = '198.18.0.1';
const Y = '198.18.0.2';

describe('fleet delta: removals lifted together after every lookup', () => {
  it("a decision of hostC applied for X while the delta awaits Y's lookup is not lifted by the delta's batch", async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const orig = lapi.fetch;
    let hold = false;
    let reached!: () => void;
    const atY = new Promise<void>((r) => (reached = r));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    Object.defineProperty(lapi, 'fetch', {
      value: async (url: string, init: never) => {
        if (hold && url.includes('/v1/decisions?') && url.includes(`ip=${Y}`)) {
          reached();
          await gate;
        }
        return orig(url, init);
      },
    });
    const firewall = new BatchFirewall(new Journal());
    const t = await build({ settings: withFleet(), firewall, lapi, clock });
    expect(await t.link().pullOnce()).toBe('full');
    // This host's own ban of X, pushed: the stream shows it (showsOwn).
    await t.call('ban', { ip: X, durationSec: 3600 });
    await t.service.idle();
    await t.link().pumpOnce();
    t.clock.advance(1000);
    expect(await t.link().pullOnce()).toBe('delta');
    expect(t.link().showsOwn(X)).toBe(true);
    // hostB's longer decisions for X and Y: X's stays behind the local ban, Y is applied.
    const bx = t.lapi.add(X, 'portcullis@hostB', 4 * 3_600_000);
    const by = t.lapi.add(Y, 'portcullis@hostB', 4 * 3_600_000);
    t.clock.advance(1000);
    expect(await t.link().pullOnce()).toBe('delta');
    await t.service.idle();
    expect(t.link().remoteFor(X)?.origin).toBe('portcullis@hostB');
    expect(firewall.bans.has(Y)).toBe(true);
    // Both of hostB's decisions deleted; the delta looks up X (none), then Y (held).
    t.lapi.remove(bx.id);
    t.lapi.remove(by.id);
    t.clock.advance(500);
    hold = true;
    const pull = t.link().pullOnce();
    await atY;
    // Meanwhile: hostC decides X, and the user lifts this host's own ban of X: the bridge looks the
    // fleet up (showsOwn) and applies hostC's decision.
    t.lapi.add(X, 'portcullis@hostC', 2 * 3_600_000);
    await t.call('unban', { ip: X });
    // The bridge's lookup runs on its own: wait (bounded in steps, not in time) until hostC's ban stands.
    let mid: { reason: { origin?: string } } | undefined;
    for (let i = 0; i < 1000 && mid?.reason.origin !== 'portcullis@hostC'; i++) {
      await new Promise((r) => setImmediate(r));
      await t.service.idle();
      mid = (await t.call('getBans')).active.find((b) => b.ip === X);
    }
    open();
    expect(await pull).toBe('delta');
    await t.service.idle();
    const after = (await t.call('getBans')).active.find((b) => b.ip === X);
    expect(mid?.reason.origin).toBe('portcullis@hostC');
    // hostC's decision stands at the LAPI; the ban should still stand here.
    expect(after?.reason.origin).toBe('portcullis@hostC');
    expect(firewall.bans.has(X)).toBe(true);
    expect(firewall.bans.has(Y)).toBe(false); // Y's decision is gone: lifted
  });
});
