/**
 * The fleet inside the service: the REAL engine, parser and SQLite store, a recording firewall and
 * the fake LAPI. Fleet bans take the same pipeline as local ones (store, firewall, origin shown),
 * the whitelist wins, maxBans bounds them, they are never pushed back, they leave when the decision
 * does; secrets never leave the service; local protection never depends on the LAPI.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { REDACTED } from '../../electron/shared/fleet.ts';
import type { FakeHelper } from '../headless/fakes.ts';
import { FakeLapi } from './fake-lapi.ts';
import { BOOT, fleetServiceBuilder, GATEWAY, scan, withFleet } from './fleet-service.ts';

const build = fleetServiceBuilder();

describe('fleet in the service', () => {
  it('pushes a local scan ban, named after this host; a fleet ban from another host is applied through the firewall with its origin and never pushed back', async () => {
    const t = await build({ settings: withFleet() });
    scan(t, '198.51.100.7');
    await t.service.idle();
    expect(t.firewall.bans.has('198.51.100.7')).toBe(true);
    await t.link().pumpOnce();
    expect(t.lapi.active().map((d) => [d.value, d.origin])).toEqual([['198.51.100.7', 'portcullis@hostA']]);

    t.lapi.add('203.0.113.5', 'portcullis@hostB');
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(true);
    const bans = await t.call('getBans');
    expect(bans.active.find((b) => b.ip === '203.0.113.5')?.reason.origin).toBe('portcullis@hostB');
    expect(bans.active.find((b) => b.ip === '198.51.100.7')?.reason.origin).toBeUndefined();
    expect(await t.link().pumpOnce()).toBe('empty'); // nothing queued for the fleet ban
    expect(t.lapi.active().filter((d) => d.origin === 'portcullis@hostA')).toHaveLength(1);
    expect((await t.call('getState')).fleet).toMatchObject({ status: 'ok', fleetBans: 1 });
  });

  it("a fleet ban extended by its host, or by another host's longer decision, stays a fleet ban with the origin whose end holds it: never pushed back as this host's own", async () => {
    const t = await build({ settings: withFleet() });
    const first = t.lapi.add('203.0.113.5', 'portcullis@hostB', 3_600_000);
    await t.link().pullOnce();
    await t.service.idle();
    // Host B extends its ban (a second strike there): a longer decision of the same origin.
    t.clock.advance(1000);
    t.lapi.add('203.0.113.5', 'portcullis@hostB', 4 * 3_600_000);
    t.lapi.remove(first.id);
    await t.link().pullOnce();
    await t.service.idle();
    // Host C bans it for longer still.
    t.clock.advance(1000);
    t.lapi.add('203.0.113.5', 'portcullis@hostC', 24 * 3_600_000);
    await t.link().pullOnce();
    await t.service.idle();
    const ban = (await t.call('getBans')).active.find((b) => b.ip === '203.0.113.5');
    expect(ban?.reason.origin).toBe('portcullis@hostC');
    expect(ban?.until).toBe(t.clock.now() + 24 * 3_600_000);
    expect(await t.link().pumpOnce()).toBe('empty'); // nothing of this host's to push
    expect(t.lapi.active().filter((d) => d.origin === 'portcullis@hostA')).toEqual([]);
  });

  it('a fleet ban of this host\'s gateway or a whitelisted address is refused and reported', async () => {
    const t = await build({ settings: { ...withFleet(), whitelist: { entries: ['203.0.113.0/24'] } } });
    t.lapi.add(GATEWAY, 'portcullis@hostB');
    t.lapi.add('203.0.113.9', 'cscli');
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.size).toBe(0);
    const st = (await t.call('getState')).fleet!;
    expect(st.refused.whitelisted).toBe(2);
    expect(st.lastRefusals.join('\n')).toContain(`${GATEWAY} from portcullis@hostB: whitelisted`);
    expect(t.notices.join('\n')).toContain(`Fleet ban refused: ${GATEWAY}`);
    // Reported once, not at every resync.
    t.clock.advance(6 * 60_000);
    await t.link().pullOnce();
    expect((await t.call('getState')).fleet!.refused.whitelisted).toBe(2);
  });

  it('fleet bans are bounded by fleet.maxBans and do not use the new-bans-per-minute budget', async () => {
    const t = await build({ settings: { ...withFleet({ maxBans: 3 }), ban: { maxNewBansPerMinute: 1 } } });
    for (let i = 1; i <= 5; i++) t.lapi.add(`203.0.113.${i}`, 'portcullis@hostB');
    await t.link().pullOnce();
    await t.service.idle();
    expect([...t.firewall.bans.keys()].filter((ip) => ip.startsWith('203.0.113.'))).toHaveLength(3);
    expect((await t.call('getState')).fleet!.refused.overLimit).toBe(2);
    scan(t, '198.51.100.7'); // the one local ban this minute still goes through at once
    await t.service.idle();
    expect(t.firewall.bans.has('198.51.100.7')).toBe(true);
    expect((await t.call('getState')).counts.deferredBans).toBe(0);
  });

  it('a deleted decision lifts the fleet ban; a local unban deletes this host\'s decision only', async () => {
    const t = await build({ settings: withFleet() });
    await t.link().pullOnce();
    const b = t.lapi.add('203.0.113.5', 'portcullis@hostB');
    t.clock.advance(1000);
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(true);
    t.lapi.remove(b.id);
    t.clock.advance(1000);
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(false);

    scan(t, '198.51.100.7');
    await t.service.idle();
    const other = t.lapi.add('198.51.100.7', 'portcullis@hostC');
    await t.link().pumpOnce();
    await t.call('unban', { ip: '198.51.100.7' });
    await t.link().pumpOnce();
    expect(t.lapi.active().map((d) => d.id)).toEqual([other.id]);
  });

  it('a fleet ban lifted here by hand stays lifted at the next resync, and the LAPI keeps the other host\'s decision', async () => {
    const t = await build({ settings: withFleet() });
    t.lapi.add('203.0.113.5', 'portcullis@hostB');
    await t.link().pullOnce();
    await t.service.idle();
    await t.call('unban', { ip: '203.0.113.5' });
    expect(await t.link().pumpOnce()).toBe('empty');
    t.clock.advance(6 * 60_000);
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(false);
    expect(t.lapi.active()).toHaveLength(1);
  });

  it("a local ban the firewall refuses (a rule of the user's own for the source) is never pushed as a decision; a refused fleet ban is not applied again at the next resync", async () => {
    const t = await build({ settings: withFleet() });
    t.firewall.usersRules.add('198.51.100.7');
    scan(t, '198.51.100.7');
    await t.service.idle();
    expect(t.firewall.calls).toContain('ban 198.51.100.7');
    while ((await t.link().pumpOnce()) === 'sent');
    expect(t.lapi.active()).toEqual([]);
    // Another host's decision for a source the user's rule here decides: refused and ended once,
    // then left alone — not banned, refused and ended again at every resync.
    t.firewall.usersRules.add('203.0.113.5');
    t.lapi.add('203.0.113.5', 'portcullis@hostB');
    await t.link().pullOnce();
    await t.service.idle();
    expect((await t.call('getBans')).history.find((b) => b.ip === '203.0.113.5')?.ended?.why).toBe('refused-users-rule');
    t.clock.advance(6 * 60_000);
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(t.firewall.calls.filter((c) => c === 'ban 203.0.113.5')).toHaveLength(1);
    expect((await t.call('getBans')).active.map((b) => b.ip)).not.toContain('203.0.113.5');
    expect(t.lapi.active().map((d) => d.value)).toEqual(['203.0.113.5']); // the other host's decision stays theirs
  });

  it("a fleet ban refused for the user's rule is applied again once the user's rules change (the rule deleted); one lifted by hand stays lifted", async () => {
    const t = await build({ settings: withFleet() });
    const helper = t.service.o.helper as FakeHelper;
    const trusting = { number: 2, v6: false, action: 'allow', direction: 'in', from: '203.0.113.5', to: 'any', port: '', proto: 'any', comment: '', portcullis: false } as const;
    helper.rules = [...helper.rules, trusting, { ...trusting, number: 3, from: '203.0.113.7' }];
    await t.service.refreshStatus(false);
    t.firewall.usersRules.add('203.0.113.5');
    t.firewall.usersRules.add('203.0.113.7'); // and its rule stays
    t.lapi.add('203.0.113.5', 'portcullis@hostB');
    t.lapi.add('203.0.113.6', 'portcullis@hostB');
    t.lapi.add('203.0.113.7', 'portcullis@hostB');
    await t.link().pullOnce();
    await t.service.idle();
    await t.call('unban', { ip: '203.0.113.6' }); // lifted by hand
    expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual([]);
    // The user deletes their `allow from 203.0.113.5`: the fleet's decision takes effect now.
    t.firewall.usersRules.delete('203.0.113.5');
    helper.rules = helper.rules.filter((r) => r.from !== '203.0.113.5');
    await t.service.refreshStatus(false);
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(true);
    expect((await t.call('getBans')).active.map((b) => [b.ip, b.reason.origin])).toEqual([['203.0.113.5', 'portcullis@hostB']]);
    // And at the next resync nothing changes: .5 stays banned, .6 stays lifted.
    t.clock.advance(6 * 60_000);
    expect(await t.link().pullOnce()).toBe('full');
    await t.service.idle();
    expect(t.firewall.calls.filter((c) => c === 'ban 203.0.113.5')).toHaveLength(2);
    expect(t.firewall.bans.has('203.0.113.6')).toBe(false);
    // The decision a rule of the user's still decides was not tried again: it would be refused again.
    expect(t.firewall.calls.filter((c) => c === 'ban 203.0.113.7')).toHaveLength(1);
  });

  it("a local ban of a fleet-banned address is this host's from its decision on: the fleet decision deleted while the firewall still applies the local ban does not lift it", async () => {
    const t = await build({ settings: withFleet() });
    const d = t.lapi.add('203.0.113.5', 'portcullis@hostB');
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(true);
    // The local (manual) ban's firewall call takes a while (ufw: 0.3–1.4 s) ...
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ban = t.firewall.ban.bind(t.firewall);
    t.firewall.ban = async (ip: string, until: number | null) => {
      await gate;
      return ban(ip, until);
    };
    const banned = t.call('ban', { ip: '203.0.113.5', note: 'mine' });
    await new Promise((r) => setTimeout(r, 0));
    // ... and meanwhile the other host's decision is deleted at the LAPI.
    t.lapi.remove(d.id);
    t.clock.advance(6 * 60_000);
    await t.link().pullOnce();
    release();
    await banned;
    await t.service.idle();
    const active = (await t.call('getBans')).active.find((b) => b.ip === '203.0.113.5');
    expect(active?.reason.note).toBe('mine');
    expect(t.firewall.bans.has('203.0.113.5')).toBe(true);
  });

  it('fleet bans lifted by hand are remembered at most maxBans at once, the oldest forgotten first (F6)', async () => {
    const t = await build({ settings: withFleet({ maxBans: 2 }) });
    const ips = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
    for (const ip of ips) t.lapi.add(ip, 'portcullis@hostB');
    const resync = async () => {
      t.clock.advance(6 * 60_000);
      expect(await t.link().pullOnce()).toBe('full');
      await t.service.idle();
    };
    await t.link().pullOnce();
    await t.service.idle();
    await t.call('unban', { ip: '203.0.113.1' });
    await t.call('unban', { ip: '203.0.113.2' });
    await resync(); // .1 and .2 stay lifted; .3 fits under maxBans now
    expect([...t.firewall.bans.keys()]).toEqual(['203.0.113.3']);
    await t.call('unban', { ip: '203.0.113.3' });
    await resync(); // three dismissals do not fit in maxBans 2: the oldest (.1) is forgotten and applies again
    expect([...t.firewall.bans.keys()]).toEqual(['203.0.113.1']);
  });

  it('a fleet ban expires with its decision', async () => {
    const t = await build({ settings: withFleet() });
    t.lapi.add('203.0.113.5', 'cscli', 60_000);
    await t.link().pullOnce();
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(true);
    t.clock.advance(61_000);
    await t.service.tick();
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(false);
  });

  it('LAPI down at start and wrong credentials: local protection goes on; state and doctor say what is wrong; it converges when the LAPI returns', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    lapi.down = true;
    const t = await build({ settings: withFleet(), lapi, clock });
    await t.link().pullOnce();
    scan(t, '198.51.100.7');
    await t.service.idle();
    expect(t.firewall.bans.has('198.51.100.7')).toBe(true);
    expect(await t.link().pumpOnce()).toBe('failed');
    const st = (await t.call('getState')).fleet!;
    expect(st).toMatchObject({ status: 'error', push: { queued: 1 } });
    const doctor = await t.call('getDoctor');
    expect(doctor.find((c) => c.id === 'fleet-pull')).toMatchObject({ level: 'error' });
    expect(doctor.find((c) => c.id === 'fleet-pull')!.detail).toMatch(/unreachable.*local protection is not affected/);
    lapi.add('203.0.113.5', 'portcullis@hostB');
    lapi.down = false;
    await t.link().pullOnce();
    await t.link().pumpOnce();
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.5')).toBe(true);
    expect(lapi.active().map((d) => d.value).sort()).toEqual(['198.51.100.7', '203.0.113.5']);
    expect((await t.call('getState')).fleet).toMatchObject({ status: 'ok', push: { queued: 0 } });
  });

  it('a wrong bouncer key shows as a clear doctor error', async () => {
    const t = await build({ settings: withFleet({}, { bouncerKey: 'wrong-key' }) });
    await t.link().pullOnce();
    const check = (await t.call('getDoctor')).find((c) => c.id === 'fleet-pull')!;
    expect(check.level).toBe('error');
    expect(check.detail).toMatch(/bouncer key refused/);
  });

  it('restart: fleet bans come back from the store with their origin, and a resync lifts those deleted meanwhile', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const lapi = new FakeLapi(() => clock.now());
    const a = await build({ settings: withFleet(), lapi, clock });
    const d1 = lapi.add('203.0.113.5', 'portcullis@hostB');
    lapi.add('203.0.113.6', 'portcullis@hostB');
    await a.link().pullOnce();
    await a.service.idle();
    await a.service.stop();
    lapi.remove(d1.id);
    clock.advance(5000);
    const b = await build({ dir: a.dir, lapi, clock });
    expect((await b.call('getBans')).active.map((x) => [x.ip, x.reason.origin]).sort()).toEqual([
      ['203.0.113.5', 'portcullis@hostB'],
      ['203.0.113.6', 'portcullis@hostB'],
    ]);
    await b.link().pullOnce();
    await b.service.idle();
    expect((await b.call('getBans')).active.map((x) => x.ip)).toEqual(['203.0.113.6']);
    await b.service.stop();
  });

  it('secrets never leave the service; a redacted secret sent back keeps the saved one', async () => {
    const t = await build({ settings: withFleet() });
    const shown = await t.call('getSettings');
    expect(shown.fleet.crowdsec).toMatchObject({ password: REDACTED, bouncerKey: REDACTED, machineId: 'hostA' });
    expect(JSON.stringify(await t.call('getState'))).not.toMatch(/pw-A|key-A/);
    expect(JSON.stringify(await t.call('getDoctor'))).not.toMatch(/pw-A|key-A/);
    const back = await t.call('updateSettings', { patch: { fleet: { crowdsec: { ...shown.fleet.crowdsec, pullIntervalMs: 500 } } } });
    expect(back.fleet.crowdsec).toMatchObject({ password: REDACTED, pullIntervalMs: 500 });
    const saved = t.repo.load() as { fleet: { crowdsec: { password: string; bouncerKey: string } } };
    expect(saved.fleet.crowdsec).toMatchObject({ password: 'pw-A', bouncerKey: 'key-A' });
    expect(t.notices.join('\n')).not.toMatch(/pw-A|key-A/);
  });

  it('a settings update that moves the link to another LAPI url never takes the saved secrets along (F1)', async () => {
    const t = await build({ settings: withFleet() });
    // Only the url changes: the saved password and bouncer key stay behind, so the settings are incomplete.
    await expect(t.call('updateSettings', { patch: { fleet: { crowdsec: { url: 'http://127.0.0.1:9999' } } } })).rejects.toThrow(/fleet\.crowdsec\.bouncerKey: bouncerKey is required \(give it again when the LAPI url changes/);
    // The placeholder sent back with another url is no secret either.
    await expect(t.call('updateSettings', { patch: { fleet: { crowdsec: { url: 'http://127.0.0.1:9999', password: REDACTED, bouncerKey: REDACTED } } } })).rejects.toThrow(/fleet\.crowdsec\./);
    expect((t.repo.load() as { fleet: { crowdsec: { url: string } } }).fleet.crowdsec.url).toBe('http://lapi.test:8080');
    // Real values given with the new url are taken.
    const moved = await t.call('updateSettings', { patch: { fleet: { crowdsec: { url: 'http://127.0.0.1:9999', password: 'pw-new', bouncerKey: 'key-new' } } } });
    expect(moved.fleet.crowdsec).toMatchObject({ url: 'http://127.0.0.1:9999', password: REDACTED });
    expect((t.repo.load() as { fleet: { crowdsec: { password: string } } }).fleet.crowdsec.password).toBe('pw-new');
    // Unchanged url: the saved secrets stay.
    const same = await t.call('updateSettings', { patch: { fleet: { crowdsec: { url: 'http://127.0.0.1:9999/', pullIntervalMs: 500 } } } });
    expect(same.fleet.crowdsec).toMatchObject({ pullIntervalMs: 500 });
    expect((t.repo.load() as { fleet: { crowdsec: { bouncerKey: string } } }).fleet.crowdsec.bouncerKey).toBe('key-new');
  });

  it('testFleet sends a credentials file only to the saved LAPI url (F1)', async () => {
    const t = await build({ settings: withFleet() });
    await expect(t.call('testFleet', { crowdsec: { url: 'http://127.0.0.1:9999', credentialsFile: '/etc/portcullis/x.yaml', bouncerKey: 'k' } })).rejects.toThrow(
      /credentialsFile: a credentials file is only tested against the saved LAPI url/,
    );
    await expect(t.call('testFleet', { crowdsec: { url: 'http://127.0.0.1:9999', machineId: 'hostA', password: REDACTED, bouncerKey: REDACTED } })).rejects.toThrow(/invalid|password|bouncerKey/);
  });

  it('turning the fleet off lifts the fleet bans and stops the link; local bans stay', async () => {
    const t = await build({ settings: withFleet() });
    t.lapi.add('203.0.113.5', 'portcullis@hostB');
    await t.link().pullOnce();
    scan(t, '198.51.100.7');
    await t.service.idle();
    expect([...t.firewall.bans.keys()].sort()).toEqual(['198.51.100.7', '203.0.113.5']);
    await t.call('updateSettings', { patch: { fleet: { crowdsec: null } } });
    await t.service.idle();
    expect([...t.firewall.bans.keys()]).toEqual(['198.51.100.7']);
    expect((await t.call('getState')).fleet?.status).toBe('off');
  });

  it('refuses invalid fleet settings with the field and the reason', async () => {
    const t = await build();
    await expect(t.call('updateSettings', { patch: { fleet: { crowdsec: { url: 'http://x:1', bouncerKey: 'k', pullIntervalMs: 50 } } } })).rejects.toThrow(
      /fleet\.crowdsec\.pullIntervalMs: pullIntervalMs is a whole number from 200/,
    );
    await expect(t.call('updateSettings', { patch: { fleet: { crowdsec: { url: 'http://x:1', bouncerKey: 'k' } } } })).rejects.toThrow(/machineId: give machineId and password, or credentialsFile/);
  });
});
