/**
 * The service with the REAL engine, parser and SQLite store (temp file), fed /dev/kmsg-format
 * records; only the firewall is a recording fake. Covers what the system tests cannot without root:
 * stored packets and offenders, the UI queries, test-against-my-log, restart with reconcile.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { FakeFirewall, Journal, PushSource } from './fakes.ts';
import { BOOT, buildRealService, HOME_NETWORK, HOST, kmsg, tempDirsPerTest, type HostInfoFn } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-svc-');

function build(dbFile: string, clock: ManualClock, firewall: FakeFirewall, source = new PushSource(), hostInfo?: HostInfoFn) {
  return buildRealService({ dbFile, clock, firewall, source, hostInfo });
}

/** A service on a fresh database, started; restart tests build a second one on the same `db`. */
async function firstRun(hostInfo: HostInfoFn = HOME_NETWORK) {
  const dir = tempDir();
  const db = path.join(dir, 'db.sqlite');
  const clock = new ManualClock(BOOT + 10_000);
  const fw = new FakeFirewall(new Journal());
  const a = build(db, clock, fw, new PushSource(), hostInfo);
  await a.service.start();
  return { db, clock, fw, a };
}

describe('PortcullisService with the real engine and SQLite store', () => {
  it('detects a scan in kmsg records, stores packets and the ban, answers the UI queries', async () => {
    const dir = tempDir();
    const clock = new ManualClock(BOOT + 10_000);
    const fw = new FakeFirewall(new Journal());
    const t = build(path.join(dir, 'db.sqlite'), clock, fw);
    await t.service.start();
    await t.call('updateSettings', { patch: { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { bantimeSec: 120 } } });

    // Another namespace's record (shared kernel log), the gateway scanning, then a real scanner.
    t.source.push(kmsg('198.51.100.1', 1, 9000, '10.99.0.1', 'veth9'), ...[1, 2, 3, 4, 5, 6].map((p) => kmsg('192.0.2.1', p, 9000 + p)));
    t.source.push(...[21, 22, 23, 25, 80, 110, 143].map((p, i) => kmsg('203.0.113.5', p, 9500 + i)));
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual(['203.0.113.5']);
    expect(fw.bans.get('203.0.113.5')).toBe(BOOT + 9500 + 5 + 120_000); // the 5th counted probe (22 is allowed: not counted) + bantime

    const bans = await t.call('getBans');
    expect(bans.active.map((b) => b.ip)).toEqual(['203.0.113.5']);
    expect(bans.active[0]!.reason.ports).toEqual([21, 23, 25, 80, 110]);

    await t.service.tick();
    const page = await t.call('getPackets', { filter: { src: '203.0.113.5' } });
    expect(page.total).toBe(7);
    expect(page.rows.map((r) => r.dpt).sort((a, b) => a! - b!)).toEqual([21, 22, 23, 25, 80, 110, 143]);
    expect((await t.call('getPackets', {})).total).toBe(13); // not the other namespace's record
    const detail = await t.call('getOffender', { ip: '203.0.113.5' });
    expect(detail.offender.state).toBe('banned');
    expect(detail.bans).toHaveLength(1);
    const gateway = await t.call('getOffenders', { state: 'whitelisted' });
    expect(gateway.map((o) => o.ip)).not.toContain('203.0.113.5');
    const dash = await t.call('getDashboard', { minutes: 60 });
    expect(dash.topOffenders.map((o) => o.ip)).toContain('203.0.113.5');

    // "Test against my recent log": stricter thresholds would not have banned, looser ones would.
    clock.set(BOOT + 20_000);
    expect((await t.call('testThresholds', { patch: { detection: { maxretry: 50 } } })).wouldBan).toEqual([]);
    const loose = await t.call('testThresholds', { patch: { detection: { maxretry: 3 } } });
    expect(loose.wouldBan.map((b) => b.ip)).toEqual(['203.0.113.5']);
    expect(fw.calls.filter((c) => c.startsWith('ban'))).toHaveLength(1);
    await t.service.stop();
  });

  it('a restart restores the store’s bans into the engine and reconciles the firewall', async () => {
    const { db, clock, fw, a } = await firstRun();
    await a.call('updateSettings', { patch: { ban: { bantimeSec: 60 } } });
    await a.call('ban', { ip: '203.0.113.7', durationSec: 5 });
    await a.call('ban', { ip: '203.0.113.8', durationSec: 600 });
    await a.service.idle();
    // Crash: no stop(); the firewall loses one ban (e.g. a reboot emptied the set) and gains an orphan.
    fw.bans.delete('203.0.113.8');
    fw.bans.set('203.0.113.66', null);
    a.raw.close();
    clock.advance(10_000); // the 5 s ban ran out while nothing ran

    const b = build(db, clock, fw);
    await b.service.start();
    await b.service.idle(); // the restore runs behind log reading: wait for it
    expect([...fw.bans.keys()].sort()).toEqual(['203.0.113.8']);
    const bans = await b.call('getBans');
    expect(bans.active.map((x) => x.ip)).toEqual(['203.0.113.8']);
    expect(bans.history.map((x) => x.ip)).toContain('203.0.113.7');
    expect((await b.call('getSettings')).ban.bantimeSec).toBe(60); // settings survived in the store
    await b.service.stop();
  });

  it('Offenders still lists a scanner after its unban and a restart (from the store), re-judged as expired', async () => {
    const { db, clock, fw, a } = await firstRun();
    a.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('203.0.113.5', p, 9500 + i)));
    a.source.push(kmsg('198.51.100.9', 8080, 9600)); // one probe: watched, never banned
    await a.service.idle();
    await a.call('unban', { ip: '203.0.113.5' });
    await a.service.stop();

    clock.advance(3_600_000); // an hour later: both windows are long gone
    const b = build(db, clock, fw);
    await b.service.start();
    const all = await b.call('getOffenders', { limit: 100 });
    expect(all.map((o) => [o.ip, o.state])).toEqual([
      ['198.51.100.9', 'watching'],
      ['203.0.113.5', 'expired'],
    ]);
    expect(all.find((o) => o.ip === '203.0.113.5')!.ports).toEqual([21, 23, 25, 80, 110]);
    expect((await b.call('getOffenders', { state: 'expired', limit: 100 })).map((o) => o.ip)).toEqual(['203.0.113.5']);
    expect(await b.call('getOffenders', { limit: 1 })).toHaveLength(1);
    // Whitelisting it today changes how it is shown.
    await b.call('whitelistAdd', { cidr: '203.0.113.0/24' });
    expect((await b.call('getOffenders', { state: 'whitelisted', limit: 100 })).map((o) => o.ip)).toEqual(['203.0.113.5']);
    await b.service.stop();
  });

  it('"first seen" of a scanner banned, unbanned and banned again is its first sighting, not the second window\'s start', async () => {
    const { a: t } = await firstRun();
    await t.call('updateSettings', { patch: { detection: { maxretry: 5, minDistinctPorts: 3 } } });
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('203.0.113.5', p, 9500 + i)));
    await t.service.idle();
    const first = (await t.call('getOffenders', { limit: 100 })).find((o) => o.ip === '203.0.113.5')!;
    expect(first.state).toBe('banned');
    await t.call('unban', { ip: '203.0.113.5' });
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('203.0.113.5', p, 60_000 + i)));
    await t.service.idle();
    const again = (await t.call('getOffenders', { limit: 100 })).find((o) => o.ip === '203.0.113.5')!;
    expect(again.state).toBe('banned');
    expect(again.strikes).toBe(2);
    expect(again.lastSeen).toBeGreaterThan(first.lastSeen);
    expect(again.firstSeen).toBe(first.firstSeen);
    await t.service.stop();
  });

  it('the log source\'s health says how many records per minute were another host\'s (shared kernel log)', async () => {
    const { a: t } = await firstRun();
    t.source.push(kmsg('198.51.100.1', 1, 9000, '10.99.0.1', 'veth9'), kmsg('198.51.100.1', 2, 9001, '10.99.0.1', 'veth9'), kmsg('203.0.113.9', 21, 9002));
    await t.service.idle();
    expect((await t.call('getState')).source?.foreignPerMinute).toBe(2);
    await t.service.stop();
  });

  it('acts on records of this host\'s eth0 (its Ethernet address) but not on those of another namespace\'s eth0', async () => {
    const { fw, a: t } = await firstRun(async () => ({ ...(await HOME_NETWORK()), macs: { eth0: '52:54:00:12:34:56' } }));
    await t.call('updateSettings', { patch: { detection: { maxretry: 5, minDistinctPorts: 3 } } });
    // A container's eth0 (another namespace; the kernel log is shared): addressed to the container, on its own veth address.
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('198.51.100.7', p, 9000 + i, '10.244.0.7', 'eth0', '0a:58:0a:f4:00:07')));
    // This host's eth0, to an address it does not list (yet): the interface's own Ethernet address claims it.
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('198.51.100.8', p, 9100 + i, '10.244.0.8', 'eth0')));
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual(['198.51.100.8']);
    await t.service.stop();
  });

  it('whitelists the name servers this host uses like the gateway, refreshed with it, unless switched off (issue 9 item 7)', async () => {
    let info = { ...(await HOME_NETWORK()), nameservers: [] as string[] };
    const { clock, fw, a: t } = await firstRun(async () => info);
    await t.call('updateSettings', { patch: { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { bantimeSec: 600 } } });
    // Not (yet) a name server of ours: a spoofed scan "from" 203.0.113.53 bans it.
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('203.0.113.53', p, 9000 + i)));
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual(['203.0.113.53']);
    // resolv.conf now names it (read again with the gateway): lifted, shown as always whitelisted, never banned.
    info = { ...info, nameservers: ['203.0.113.53'] };
    clock.advance(60_000);
    await t.service.tick();
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual([]);
    const state = await t.call('getState');
    expect(state.alwaysWhitelisted).toEqual(expect.arrayContaining([{ cidr: '203.0.113.53/32', why: 'name server' }]));
    t.source.push(...[21, 23, 25, 80, 110, 143].map((p, i) => kmsg('203.0.113.53', p, 80_000 + i)));
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual([]);
    expect((await t.call('ban', { ip: '203.0.113.53' }).catch((e: Error) => e.message)) as string).toMatch(/whitelisted/);
    // The setting switches it off.
    await t.call('updateSettings', { patch: { whitelist: { includeNameservers: false } } });
    expect((await t.call('getState')).alwaysWhitelisted?.some((w) => w.why === 'name server')).toBe(false);
    await t.call('ban', { ip: '203.0.113.53' });
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual(['203.0.113.53']);
    await t.service.stop();
  });

  it('follows this host to another network: the new gateway is whitelisted (and unbanned), the new address is its own', async () => {
    let info = await HOME_NETWORK();
    const { clock, fw, a: t } = await firstRun(async () => info);
    await t.call('updateSettings', { patch: { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { bantimeSec: 600 } } });
    // On the home network, 198.51.100.1 is a stranger scanning us: banned.
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('198.51.100.1', p, 9000 + i)));
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual(['198.51.100.1']);

    // The laptop joins another network, where 198.51.100.1 is its router and 198.51.100.20 its address.
    info = { addresses: ['198.51.100.20'], interfaces: ['eth0'], gateways: ['198.51.100.1'] };
    clock.advance(60_000);
    await t.service.tick();
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual([]); // the router is no longer banned: the laptop would be cut off
    const state = await t.call('getState');
    expect((state.alwaysWhitelisted ?? []).map((w) => w.cidr)).toEqual(expect.arrayContaining(['198.51.100.20/32', '198.51.100.1/32']));

    // The router probing the laptop is never banned; the laptop's own address is never banned either.
    t.source.push(...[21, 23, 25, 80, 110, 143].map((p, i) => kmsg('198.51.100.1', p, 80_000 + i, '198.51.100.20')));
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual([]);
    expect((await t.call('ban', { ip: '198.51.100.20' }).catch((e: Error) => e.message)) as string).toMatch(/whitelisted/);
    await t.service.stop();
  });
});

describe('PortcullisService: whitelist my LAN subnet(s) (issue 12 part 4)', () => {
  it('off by default; when on, the LAN subnets are listed as always whitelisted and followed as the network changes', async () => {
    let info = { ...(await HOME_NETWORK()), lanSubnets: ['192.0.2.0/24'] };
    const { clock, fw, a: t } = await firstRun(async () => info);
    await t.call('updateSettings', { patch: { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { bantimeSec: 600 } } });
    const lan = async () => (await t.call('getState')).alwaysWhitelisted?.filter((w) => w.why === 'LAN subnet');
    // Off: a LAN device that scans is caught, and no LAN subnet is listed.
    expect(await lan()).toEqual([]);
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('192.0.2.77', p, 9000 + i)));
    await t.service.idle();
    expect([...fw.bans.keys()]).toEqual(['192.0.2.77']);
    // On: listed, and another LAN device scanning is not banned.
    await t.call('updateSettings', { patch: { whitelist: { includeLanSubnets: true } } });
    expect(await lan()).toEqual([{ cidr: '192.0.2.0/24', why: 'LAN subnet' }]);
    t.source.push(...[21, 23, 25, 80, 110, 143].map((p, i) => kmsg('192.0.2.78', p, 20_000 + i)));
    await t.service.idle();
    expect([...fw.bans.keys()]).not.toContain('192.0.2.78');
    // The host moves to another network: the new subnet is whitelisted, the old one is not any more.
    info = { addresses: ['198.51.100.20'], interfaces: ['eth0'], gateways: ['198.51.100.1'], lanSubnets: ['198.51.100.0/24'] };
    clock.advance(60_000);
    await t.service.tick();
    await t.service.idle();
    expect(await lan()).toEqual([{ cidr: '198.51.100.0/24', why: 'LAN subnet' }]);
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('198.51.100.66', p, 90_000 + i, '198.51.100.20')));
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('192.0.2.79', p, 91_000 + i, '198.51.100.20')));
    await t.service.idle();
    expect([...fw.bans.keys()]).not.toContain('198.51.100.66');
    expect([...fw.bans.keys()]).toContain('192.0.2.79');
    await t.service.stop();
  });
});
