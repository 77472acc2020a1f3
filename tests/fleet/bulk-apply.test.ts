/**
 * The fleet's decisions of one pull reach the firewall as batches of its bulk ban (ufw: one edit of
 * its rules files per batch), not one `ufw prepend` (0.3–1.4 s) each; and those a resync finds gone
 * leave it as batches of its bulk unban, not one `ufw delete` (~0.3 s) each.
 */
import { describe, expect, it, vi } from 'vitest';
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

  it('a resync that finds 1,100 decisions gone lifts them as three bulk unbans, no single unban; each is ended as today (history, events)', async () => {
    const firewall = new BatchFirewall(new Journal());
    const t = await build({ settings: withFleet(), firewall });
    const unbanEvents: string[] = [];
    t.service.onEvents((events) => {
      for (const e of events) if (e.type === 'unban') unbanEvents.push(e.ip);
    });
    const ds = Array.from({ length: 1200 }, (_, i) => t.lapi.add(addr(i), 'portcullis@hostB', 4 * 3_600_000));
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(firewall.bans.size).toBe(1200);
    for (const d of ds.slice(100)) t.lapi.remove(d.id);
    t.clock.advance(6 * 60_000);
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(firewall.log.filter((l) => l.startsWith('unban'))).toEqual(['unbanMany 500', 'unbanMany 500', 'unbanMany 100']);
    // With the reason a single fleet unban carries (a decision gone: lifted, 'manual'), for the helper's audit log.
    expect(firewall.unbanReasons).toEqual(['manual', 'manual', 'manual']);
    expect(firewall.calls.filter((c) => c.startsWith('unban'))).toEqual([]);
    expect([...firewall.bans.keys()].sort()).toEqual(ds.slice(0, 100).map((d) => d.value).sort());
    const bans = await t.call('getBans');
    expect(bans.active).toHaveLength(100);
    const gone = new Set(ds.slice(100).map((d) => d.value));
    expect(bans.history.length).toBeGreaterThan(0); // the newest of them (the API lists a bounded history)
    expect(bans.history.every((b) => gone.has(b.ip) && b.ended !== undefined)).toBe(true);
    await vi.waitFor(() => expect(new Set(unbanEvents)).toEqual(gone)); // events go out in timed batches
  });

  it("a delta that deletes 12 decisions lifts them as ONE bulk unban, no single unban; another host's decision still standing, and a local ban of the address, keep theirs", async () => {
    const firewall = new BatchFirewall(new Journal());
    const t = await build({ settings: withFleet(), firewall });
    const unbanEvents: string[] = [];
    t.service.onEvents((events) => {
      for (const e of events) if (e.type === 'unban') unbanEvents.push(e.ip);
    });
    const ds = Array.from({ length: 20 }, (_, i) => t.lapi.add(addr(i), 'portcullis@hostB', 4 * 3_600_000));
    t.lapi.add(addr(0), 'portcullis@hostC', 2 * 3_600_000); // shorter: hidden behind hostB's in the stream
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    await t.call('ban', { ip: addr(1), note: 'mine' }); // this host's own ban of a fleet-banned address
    await t.service.idle();
    firewall.log.length = 0;
    for (const d of ds.slice(0, 12)) t.lapi.remove(d.id);
    t.clock.advance(1000);
    expect(await t.link().pullOnce()).toBe('delta');
    await t.service.idle();
    const lifted = ds.slice(2, 12).map((d) => d.value);
    expect(firewall.log.filter((l) => l.startsWith('unban'))).toEqual(['unbanMany 10']);
    expect(firewall.calls.filter((c) => c.startsWith('unban'))).toEqual([]);
    expect(firewall.unbanReasons.at(-1)).toBe('manual'); // as the single path's (unbanNow)
    for (const ip of lifted) expect(firewall.bans.has(ip), ip).toBe(false);
    const active = new Map((await t.call('getBans')).active.map((b) => [b.ip, b]));
    expect([...active.keys()].sort()).toEqual([addr(0), addr(1), ...ds.slice(12).map((d) => d.value)].sort());
    expect(active.get(addr(1))!.reason.note).toBe('mine');
    expect(firewall.bans.has(addr(0)) && firewall.bans.has(addr(1))).toBe(true);
    // Each is ended as a single unban is (history, events).
    const history = (await t.call('getBans')).history;
    for (const ip of lifted) expect(history.find((b) => b.ip === ip)?.ended?.why, ip).toBe('manual');
    await vi.waitFor(() => expect(new Set(unbanEvents)).toEqual(new Set(lifted)));
    // Gone at the LAPI, not lifted by hand: a new decision for one of them applies at the next pull.
    t.lapi.add(addr(5), 'portcullis@hostD');
    t.clock.advance(1000);
    await t.link().pullOnce();
    await t.service.idle();
    expect(firewall.bans.has(addr(5))).toBe(true);
  });

  it("a bulk unban the firewall warns of (ufw: a put-back of its files skipped for the user's edit) is one notice with the warning; the bans are lifted", async () => {
    const firewall = new BatchFirewall(new Journal());
    const t = await build({ settings: withFleet(), firewall });
    const ds = Array.from({ length: 10 }, (_, i) => t.lapi.add(addr(i), 'portcullis@hostB', 4 * 3_600_000));
    await t.link().pullOnce();
    await t.service.idle();
    const skipped = "ufw still lists 1 of the 10 bans taken out of its rules files (e.g. 198.18.0.1); /etc/ufw/user.rules changed since Portcullis wrote it (someone else's edit: a ufw command or an editor), so it was not put back; check ufw show added";
    firewall.unbanWarnings = [skipped];
    for (const d of ds) t.lapi.remove(d.id);
    t.clock.advance(6 * 60_000);
    await t.link().pullOnce();
    await t.service.idle();
    expect(firewall.log.filter((l) => l.startsWith('unban'))).toEqual(['unbanMany 10']);
    expect(firewall.bans.size).toBe(0);
    // A notice is logged at its level (and sent to the UI in the next event delivery, on a timer).
    expect(t.notices.filter((n) => n.includes('not put back'))).toEqual([`warn Lifting 10 bans in the firewall: ${skipped}`]);
  });

  it('an address banned again while its resync unban waits for its batch keeps its ban in the firewall', async () => {
    const firewall = new BatchFirewall(new Journal());
    const t = await build({ settings: withFleet(), firewall });
    const ds = Array.from({ length: 600 }, (_, i) => t.lapi.add(addr(i), 'portcullis@hostB', 4 * 3_600_000));
    await t.link().pullOnce();
    await t.service.idle();
    for (const d of ds) t.lapi.remove(d.id);
    t.clock.advance(6 * 60_000);
    let open!: () => void;
    firewall.gate = new Promise((r) => (open = r));
    // The pull's first batch of unbans is queued (and held by the gate) before its reply is handled.
    await t.link().pullOnce();
    // The last address, in the second batch, banned by hand meanwhile: its ban runs between the batches.
    const banned = t.call('ban', { ip: addr(599) });
    open();
    firewall.gate = null;
    await banned;
    await t.service.idle();
    expect([...firewall.bans.keys()]).toEqual([addr(599)]);
    expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual([addr(599)]);
  });
});
