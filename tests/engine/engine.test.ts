import { describe, expect, it } from 'vitest';
import { ScanEngine, type ScanEngineOptions } from '../../electron/engine/engine.ts';
import { MAX_LEARNED_HOST_ADDRESSES } from '../../electron/engine/configuration.ts';
import { ManualClock, type Ip } from '../../electron/shared/domain.ts';
import type { EngineEvent } from '../../electron/shared/model.ts';
import { SettingsSchema, type Settings, type SettingsInput } from '../../electron/shared/settings.ts';
import { pkt, sweep, syn, T0, udp } from './detect/packets.ts';

const H = 3600_000;

function settings(over: SettingsInput = {}): Settings {
  return SettingsSchema.parse(over);
}

function make(over: Partial<ScanEngineOptions> = {}, s: SettingsInput = {}) {
  const events: EngineEvent[] = [];
  const clock = new ManualClock(T0);
  const engine = new ScanEngine({ settings: settings(s), clock, ...over }, (e) => events.push(e));
  const bans = () => events.filter((e) => e.type === 'ban').map((e) => (e as Extract<EngineEvent, { type: 'ban' }>).ban);
  const of = <K extends EngineEvent['type']>(type: K) => events.filter((e): e is Extract<EngineEvent, { type: K }> => e.type === type);
  return { engine, events, clock, bans, of };
}

describe('prefix tracking leaves IPv4 sources alone', () => {
  it('live IPv4 sources (by text) get no tag in the address tracker while only IPv6 is tracked by network', () => {
    const { engine } = make();
    for (let i = 1; i <= 40; i++) engine.ingestPacket(syn(`203.0.113.${i}`, 22 + i, T0 + i));
    expect((engine as unknown as { tracker: { taggedCount: number } }).tracker.taggedCount).toBe(0);
  });
});

describe('ScanEngine: a scan is detected and banned in event time', () => {
  it('bans on the 5th probe over ≥3 ports, with the reason', () => {
    const { engine, bans } = make();
    const verdicts = sweep('203.0.113.7', 6, T0).map((p) => engine.ingestPacket(p));
    expect(verdicts).toEqual(['counted', 'counted', 'counted', 'counted', 'counted', 'already-banned']);
    expect(bans()).toHaveLength(1);
    const b = bans()[0]!;
    expect(b).toMatchObject({ ip: '203.0.113.7', at: T0 + 4000, until: T0 + 4000 + H, strikes: 1 });
    expect(b.reason).toEqual({ kind: 'scan', scanType: 'SYN', ports: [20, 21, 22, 23, 24], hits: 5, firstSeen: T0, lastSeen: T0 + 4000 });
    expect(engine.isBanned('203.0.113.7')).toBe(true);
    expect(engine.stats()).toMatchObject({ packets: 6, trackedSources: 0, activeBans: 1 });
  });

  it('emits a probe event per counted probe (ports null for pings)', () => {
    const { engine, of } = make();
    engine.ingestPacket(syn('198.51.100.1', 80, T0));
    engine.ingestPacket(pkt({ src: '198.51.100.1' as never, proto: 'ICMP', icmpType: 8, dpt: undefined, spt: undefined, tcpFlags: undefined, time: T0 + 1 }));
    expect(of('probe').map((e) => [e.port, e.scanType])).toEqual([[80, 'SYN'], [null, 'OTHER']]);
  });

  it('a record that leaves an IPv4 source as its value (src empty) is judged and banned the same, under its text', () => {
    const withText = make({ probeEvents: true }, { whitelist: { entries: ['198.51.100.0/24'] } });
    const withValue = make({ probeEvents: true }, { whitelist: { entries: ['198.51.100.0/24'] } });
    const packets = [...sweep('203.0.113.7', 6, T0), ...sweep('198.51.100.9', 5, T0 + 10), syn('203.0.113.8', 1, T0 + 20), syn('203.0.113.8', 2, T0 + 21)];
    const key = (ip: string) => ip.split('.').reduce((k, o) => k * 256 + Number(o), 0);
    const a = packets.map((p) => withText.engine.ingestPacket(p, key(p.src)));
    const b = packets.map((p) => withValue.engine.ingestPacket({ ...p, src: '' as never }, key(p.src)));
    expect(b).toEqual(a);
    expect(a).toContain('whitelisted');
    expect(a).toContain('already-banned');
    expect(withValue.events).toStrictEqual(withText.events);
    expect(withValue.bans().map((x) => x.ip)).toEqual(['203.0.113.7']);
    // The watched source is tracked under its text (made from its value on first sight).
    expect(withValue.engine.offenders().map((o) => [o.ip, o.state])).toStrictEqual(withText.engine.offenders().map((o) => [o.ip, o.state]));
    expect(withValue.engine.offenders().map((o) => o.ip)).toEqual(['203.0.113.7', '203.0.113.8']);
  });

  it('IPv6 scanners are banned like IPv4 ones', () => {
    const { engine, bans } = make();
    for (const p of sweep('2001:db8:bad::1', 5, T0)) engine.ingestPacket(p);
    expect(bans().map((b) => b.ip)).toEqual(['2001:db8:bad::1']);
  });

  it('the ban expires in event time; the source then starts afresh', () => {
    const { engine, of } = make();
    for (const p of sweep('203.0.113.7', 5, T0)) engine.ingestPacket(p);
    const until = T0 + 4000 + H;
    expect(engine.ingestPacket(syn('203.0.113.7', 99, until - 1))).toBe('already-banned');
    expect(engine.ingestPacket(syn('203.0.113.7', 99, until))).toBe('counted');
    expect(of('unban')).toEqual([{ type: 'unban', ip: '203.0.113.7', time: until, why: 'expired' }]);
  });

  it('a repeat offender gets bantime × 2^(strikes−1)', () => {
    const { engine, bans } = make();
    for (const p of sweep('203.0.113.7', 5, T0)) engine.ingestPacket(p);
    for (const p of sweep('203.0.113.7', 5, T0 + 2 * H)) engine.ingestPacket(p);
    for (const p of sweep('203.0.113.7', 5, T0 + 5 * H)) engine.ingestPacket(p);
    expect(bans().map((b) => [b.strikes, (b.until! - b.at) / H])).toEqual([[1, 1], [2, 2], [3, 4]]);
  });
});

describe('ScanEngine verdicts', () => {
  it('not-for-this-host: a shared kernel log carries other namespaces\' packets', () => {
    const { engine } = make({ hostFilter: { addresses: ['192.0.2.10'], interfaces: ['veth-fw'] } });
    expect(engine.ingestPacket(pkt({ dst: '192.0.2.99' as never }))).toBe('not-for-this-host');
    expect(engine.ingestPacket(pkt({ dst: '192.0.2.10' as never, in: 'veth-fw' }))).toBe('counted');
    expect(engine.ingestPacket(pkt({ dst: '192.0.2.99' as never, in: 'veth-fw', dpt: 81 }))).toBe('counted');
  });

  it('not-for-this-host: an interface of this host\'s name in another namespace is told apart by its Ethernet address', () => {
    const own = '52:54:00:12:34:56';
    const { engine } = make({ hostFilter: { addresses: ['192.0.2.10'], interfaces: ['eth0', 'wg0'], macs: { eth0: own } } });
    const other = '192.0.2.99' as never; // not one of this host's addresses: only the interface can claim it
    // A container's own eth0: same name, its own (veth) address as the destination.
    expect(engine.ingestPacket(pkt({ src: '198.51.100.1' as never, dst: other, in: 'eth0', mac: `0a:58:0a:f4:00:07:${own}:08:00`, dpt: 81 }))).toBe('not-for-this-host');
    expect(engine.ingestPacket(pkt({ src: '198.51.100.2' as never, dst: other, in: 'eth0', mac: `${own}:00:1b:21:0a:bc:de:08:00`, dpt: 82 }))).toBe('counted');
    expect(engine.ingestPacket(pkt({ src: '198.51.100.3' as never, dst: other, in: 'eth0', mac: `${own.toUpperCase()}:00:1b:21:0a:bc:de:08:00`, dpt: 83 }))).toBe('counted');
    // No MAC= to compare (the record has none; the interface has no Ethernet address): the name decides.
    expect(engine.ingestPacket(pkt({ src: '198.51.100.4' as never, dst: other, in: 'eth0', mac: undefined, dpt: 84 }))).toBe('counted');
    expect(engine.ingestPacket(pkt({ src: '198.51.100.5' as never, dst: other, in: 'wg0', mac: undefined, dpt: 85 }))).toBe('counted');
    // Addressed to this host's address but received by another namespace's eth0 (another MAC): not ours.
    expect(engine.ingestPacket(pkt({ src: '198.51.100.6' as never, dst: '192.0.2.10' as never, in: 'eth0', mac: `0a:58:0a:f4:00:07:${own}:08:00`, dpt: 86 }))).toBe('not-for-this-host');
    // The addresses follow the host (setHostAddresses), and so do the interfaces' Ethernet addresses.
    engine.setHostAddresses(['192.0.2.10'], [], ['eth0'], { eth0: '0a:58:0a:f4:00:07' });
    expect(engine.ingestPacket(pkt({ src: '198.51.100.7' as never, dst: other, in: 'eth0', mac: `0a:58:0a:f4:00:07:${own}:08:00`, dpt: 87 }))).toBe('counted');
    expect(engine.ingestPacket(pkt({ src: '198.51.100.8' as never, dst: other, in: 'eth0', mac: `${own}:00:1b:21:0a:bc:de:08:00`, dpt: 88 }))).toBe('not-for-this-host');
  });

  it('not-for-this-host: another namespace giving its interface our name AND our address bans no one here', () => {
    const own = '52:54:00:12:34:56';
    const { engine, bans } = make({ hostFilter: { addresses: ['192.0.2.10'], interfaces: ['soakf0', 'tun0'], macs: { soakf0: own } } });
    const ours = '192.0.2.10' as never;
    // The other namespace's soakf0 (its own MAC), addressed to "our" address: a whole sweep, no ban.
    for (let i = 0; i < 8; i++) {
      expect(engine.ingestPacket(pkt({ src: '198.51.100.20' as never, dst: ours, in: 'soakf0', mac: `0a:58:0a:f4:00:07:02:00:00:00:00:01:08:00`, dpt: 100 + i, time: T0 + i }))).toBe('not-for-this-host');
    }
    // An interface this host does not have at all, addressed to our address: not ours either.
    expect(engine.ingestPacket(pkt({ src: '198.51.100.21' as never, dst: ours, in: 'veth9', mac: undefined, dpt: 90 }))).toBe('not-for-this-host');
    expect(bans()).toEqual([]);
    // Our own soakf0 and our tun0 (no MAC) still count.
    expect(engine.ingestPacket(pkt({ src: '198.51.100.22' as never, dst: ours, in: 'soakf0', mac: `${own}:02:00:00:00:00:01:08:00`, dpt: 91 }))).toBe('counted');
    expect(engine.ingestPacket(pkt({ src: '198.51.100.23' as never, dst: ours, in: 'tun0', mac: undefined, dpt: 92 }))).toBe('counted');
  });

  it('not-for-this-host follows the host to a new address (setHostAddresses), and the new address is never banned', () => {
    const { engine } = make({ hostFilter: { addresses: ['192.0.2.10'], interfaces: ['eth0'] } });
    expect(engine.ingestPacket(pkt({ dst: '198.51.100.44' as never, in: 'wlan0' }))).toBe('not-for-this-host');
    engine.setHostAddresses(['198.51.100.44'], [], ['eth0', 'wlan0']);
    expect(engine.ingestPacket(pkt({ dst: '198.51.100.44' as never, in: 'wlan0', dpt: 82 }))).toBe('counted');
    expect(engine.ingestPacket(pkt({ dst: '192.0.2.10' as never, in: 'veth-other', dpt: 83 }))).toBe('not-for-this-host');
    expect(engine.isWhitelisted('198.51.100.44')).toBe(true);
  });

  it('untrusted records are refused when kernel trust is required, counted when not', () => {
    expect(make().engine.ingestPacket(pkt({ trust: 'spoofable' }))).toBe('untrusted');
    expect(make({}, { detection: { requireKernelTrust: false } }).engine.ingestPacket(pkt({ trust: 'spoofable' }))).toBe('counted');
  });

  it('allowed ports (as the firewall says) and ignored ports are not evidence', () => {
    const { engine } = make({ isAllowedPort: (_family, proto, port) => proto === 'tcp' && port === 22 }, { detection: { ignoredPorts: [8080] } });
    expect(engine.ingestPacket(syn('198.51.100.1', 22, T0))).toBe('allowed-port');
    expect(engine.ingestPacket(udp('198.51.100.1', 22, T0))).toBe('counted');
    expect(engine.ingestPacket(syn('198.51.100.1', 8080, T0))).toBe('ignored-port');
    engine.setAllowedPorts(() => false);
    expect(engine.ingestPacket(syn('198.51.100.1', 22, T0))).toBe('counted');
    const off = make({ isAllowedPort: () => true }, { detection: { ignoreAllowedPorts: false } });
    expect(off.engine.ingestPacket(syn('198.51.100.1', 22, T0))).toBe('counted');
  });

  it("the firewall is asked about the probe's own address family: a port open to IPv4 only is evidence from an IPv6 source, and the reverse", () => {
    const asked: unknown[][] = [];
    const v4Only = make({ isAllowedPort: (family, proto, port) => (asked.push([family, proto, port]), family === 4 && proto === 'tcp' && port === 80) });
    expect(v4Only.engine.ingestPacket(syn('198.51.100.1', 80, T0))).toBe('allowed-port');
    // An IPv6 scanner probing the port three times (three attempts: three source ports) and two closed ones: five probes over three ports, banned.
    const v6 = ['2001:db8:5::9', 80, 80, 80, 21, 23] as const;
    const verdicts = v6.slice(1).map((port, i) => v4Only.engine.ingestPacket(syn(v6[0], port as number, T0 + i * 1000, { spt: 40000 + i })));
    expect(verdicts).toEqual(['counted', 'counted', 'counted', 'counted', 'counted']);
    expect(v4Only.bans().map((b) => b.ip)).toEqual(['2001:db8:5::9']);
    expect(asked.slice(0, 2)).toEqual([[4, 'tcp', 80], [6, 'tcp', 80]]);
    // Open to IPv6 only: an IPv4 scanner's probes there count, an IPv6 source's do not.
    const v6Only = make({ isAllowedPort: (family, proto, port) => family === 6 && proto === 'tcp' && port === 80 });
    expect(v6Only.engine.ingestPacket(syn('2001:db8:5::9', 80, T0))).toBe('allowed-port');
    expect([80, 80, 80, 21, 23].map((port, i) => v6Only.engine.ingestPacket(syn('198.51.100.1', port, T0 + i * 1000, { spt: 40000 + i })))).toEqual(['counted', 'counted', 'counted', 'counted', 'counted']);
    expect(v6Only.bans().map((b) => b.ip)).toEqual(['198.51.100.1']);
  });

  it("a forwarded probe counts on a port this host allows: ufw's allow rules are the host's own ports (issue 12.2)", () => {
    const { engine } = make({ isAllowedPort: (_family, proto, port) => proto === 'tcp' && port === 22 });
    const fwd = { in: 'eth0', out: 'docker0', prefix: 'PORTCULLIS FORWARD', dst: '172.17.0.2' as Ip };
    expect(engine.ingestPacket(syn('198.51.100.1', 22, T0, fwd))).toBe('counted');
    expect(engine.ingestPacket(syn('198.51.100.1', 22, T0 + 1))).toBe('allowed-port');
  });

  it('reports each classifier reason', () => {
    const { engine } = make();
    expect(engine.ingestPacket(pkt({ prefix: 'UFW ALLOW' }))).toBe('prefix-not-counted');
    expect(engine.ingestPacket(pkt({ out: 'eth0', in: '' }))).toBe('not-inbound');
    expect(engine.ingestPacket(pkt({ tcpFlags: 0x12 }))).toBe('not-a-probe');
    expect(engine.ingestPacket(udp('198.51.100.1', 50000, T0, 53))).toBe('late-reply');
    expect(engine.ingestPacket(pkt({ proto: 'ICMP', icmpType: 3, tcpFlags: undefined, dpt: undefined }))).toBe('icmp-error');
    expect(engine.ingestPacket(pkt({ fragment: true }))).toBe('fragment');
    const st = engine.stats();
    for (const r of ['prefix-not-counted', 'not-inbound', 'not-a-probe', 'late-reply', 'icmp-error', 'fragment'] as const) expect(st.ignored[r]).toBe(1);
  });

  it('a custom prefix counts with or without its trailing colon', () => {
    const a = make({}, { detection: { prefixes: ['PORT DENIED'] } });
    expect(a.engine.ingestPacket(pkt({ prefix: 'PORT DENIED:' }))).toBe('counted');
    const b = make({}, { detection: { prefixes: ['[PORT DENIED: ]'] } });
    expect(b.engine.ingestPacket(pkt({ prefix: 'PORT DENIED:' }))).toBe('counted');
    expect(b.engine.ingestPacket(pkt({ prefix: 'UFW BLOCK' }))).toBe('prefix-not-counted');
  });
});

describe('ScanEngine whitelist', () => {
  it('loopback, host addresses, gateways (when includeGateway) and user entries', () => {
    const { engine } = make({ hostAddresses: ['192.0.2.10'], gatewayAddresses: ['192.0.2.1', 'fe80::1'] }, { whitelist: { entries: ['198.51.100.0/24', '2001:db8:1::/48'] } });
    for (const ip of ['127.0.0.1', '::1', '192.0.2.10', '192.0.2.1', 'fe80::1', '198.51.100.77', '2001:db8:1:2::3']) {
      expect(engine.ingestPacket(syn(ip, 80, T0)), ip).toBe('whitelisted');
      expect(engine.isWhitelisted(ip)).toBe(true);
    }
    expect(engine.ingestPacket(syn('198.51.101.1', 80, T0))).toBe('counted');
    const noGw = make({ gatewayAddresses: ['192.0.2.1'] }, { whitelist: { includeGateway: false } });
    expect(noGw.engine.ingestPacket(syn('192.0.2.1', 80, T0))).toBe('counted');
  });

  it('a scanner whitelisted while being watched is dropped and never banned', () => {
    const { engine, bans } = make();
    for (const p of sweep('203.0.113.7', 4, T0)) engine.ingestPacket(p);
    expect(engine.offender('203.0.113.7')?.state).toBe('watching');
    engine.updateSettings(settings({ whitelist: { entries: ['203.0.113.0/24'] } }));
    expect(engine.stats().trackedSources).toBe(0);
    expect(engine.ingestPacket(syn('203.0.113.7', 99, T0 + 5000))).toBe('whitelisted');
    expect(bans()).toEqual([]);
  });

  it('setHostAddresses replaces the host part of the whitelist', () => {
    const { engine } = make({ hostAddresses: ['192.0.2.10'] });
    engine.setHostAddresses(['192.0.2.20'], ['192.0.2.1']);
    expect(engine.isWhitelisted('192.0.2.10')).toBe(false);
    expect(engine.isWhitelisted('192.0.2.20')).toBe(true);
    expect(engine.isWhitelisted('192.0.2.1')).toBe(true);
  });
});

describe('ScanEngine new-bans-per-minute cap', () => {
  const scanners = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'];
  const flood = (engine: ScanEngine) => {
    for (const ip of scanners) for (const p of sweep(ip, 5, T0, 1)) engine.ingestPacket(p);
  };

  it('holds back bans over the cap, reports them, and releases them in order as event time passes', () => {
    const { engine, bans, of } = make({}, { ban: { maxNewBansPerMinute: 2 } });
    flood(engine);
    expect(bans().map((b) => b.ip)).toEqual(scanners.slice(0, 2));
    expect(of('ban-deferred').map((e) => [e.ip, e.queued])).toEqual([['203.0.113.3', 1], ['203.0.113.4', 2]]);
    expect(engine.stats().deferredBans).toBe(2);
    // A deferred source keeps probing: counted, not banned, not queued twice.
    expect(engine.ingestPacket(syn('203.0.113.3', 999, T0 + 10))).toBe('counted');
    expect(of('ban-deferred')).toHaveLength(2);
    // The budget was spent at T0+4 ms: a record just before a minute later frees nothing, one after does.
    engine.ingestPacket(syn('198.51.100.9', 1, T0 + 60_003));
    expect(bans()).toHaveLength(2);
    engine.ingestPacket(syn('198.51.100.9', 2, T0 + 60_004));
    expect(bans().map((b) => b.ip)).toEqual(scanners);
    const released = bans()[2]!;
    expect(released.at).toBe(T0 + 60_004);
    expect(released.reason.ports).toContain(999); // evidence gathered while it waited
    expect(engine.stats().deferredBans).toBe(0);
  });

  it('tick(now) releases them in live mode; extending an active ban is not a new ban', () => {
    const { engine, bans, clock } = make({}, { ban: { maxNewBansPerMinute: 2 } });
    flood(engine);
    engine.ban('203.0.113.1', { at: T0 + 100, note: 'extend' }); // manual: no budget needed, extends
    expect(bans()).toHaveLength(3);
    clock.set(T0 + 30_000);
    engine.tick();
    expect(bans()).toHaveLength(3);
    clock.set(T0 + 60_010);
    engine.tick();
    expect(bans().slice(3).map((b) => b.ip)).toEqual(['203.0.113.3', '203.0.113.4']);
  });

  it('unban of a queued ban cancels it', () => {
    const { engine, bans } = make({}, { ban: { maxNewBansPerMinute: 1 } });
    flood(engine);
    expect(engine.unban('203.0.113.2')).toBe(true);
    // (Within findtime of their probes: a queued ban whose evidence aged past it is dropped, not made.)
    engine.tick(T0 + 90_000);
    // One per minute: the next queued ban waits for the following minute.
    expect(bans().map((b) => b.ip)).toEqual(['203.0.113.1', '203.0.113.3']);
    engine.tick(T0 + 150_000);
    expect(bans().map((b) => b.ip)).toEqual(['203.0.113.1', '203.0.113.3', '203.0.113.4']);
  });
});

describe('ScanEngine manual ban/unban and restore', () => {
  it('manual ban: reason kept, durations, permanent, refusals', () => {
    const { engine, of } = make({ hostAddresses: ['192.0.2.10'] });
    const b = engine.ban('198.51.100.5', { durationSec: 60, note: 'seen in the web log', at: T0 });
    expect(b).toMatchObject({ ip: '198.51.100.5', at: T0, until: T0 + 60_000, strikes: 1, reason: { kind: 'manual', note: 'seen in the web log' } });
    expect(engine.ban('2001:DB8::0005', { durationSec: Infinity }).until).toBeNull();
    expect(engine.isBanned('2001:db8::5')).toBe(true);
    expect(() => engine.ban('192.0.2.10')).toThrow(/whitelisted/);
    expect(() => engine.ban('127.0.0.1')).toThrow(/127\.0\.0\.1 is a loopback address/);
    for (const ip of ['0.0.0.0', '0.1.2.3', '224.0.0.251', '255.255.255.255', 'ff02::1', '::']) expect(() => engine.ban(ip), ip).toThrow(/^refusing to ban: .* is (the unspecified|a multicast|the broadcast)/);
    expect(() => engine.ban('224.0.0.251', { origin: 'crowdsec' }), 'a fleet ban too').toThrow(/multicast/);
    expect(() => engine.ban('not-an-ip')).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => engine.ban('198.51.100.6', { durationSec: 0 })).toThrow(/more than 0 seconds/);
    expect(engine.unban('198.51.100.5', T0 + 5)).toBe(true);
    expect(engine.unban('198.51.100.5', T0 + 6)).toBe(false);
    expect(of('unban')).toEqual([{ type: 'unban', ip: '198.51.100.5', time: T0 + 5, why: 'manual' }]);
  });

  it('manual ban of a watched source keeps its evidence', () => {
    const { engine } = make();
    for (const p of sweep('203.0.113.7', 3, T0)) engine.ingestPacket(p);
    const b = engine.ban('203.0.113.7', { at: T0 + 10_000 });
    expect(b.reason).toMatchObject({ kind: 'manual', ports: [20, 21, 22], hits: 3, scanType: 'SYN' });
    expect(engine.stats().trackedSources).toBe(0);
  });

  it('restore: bans are active and expire at tick, strikes continue', () => {
    const { engine, clock, of, bans } = make();
    engine.restore(
      [
        { ip: '198.51.100.1', at: T0 - H, until: T0 + H, strikes: 2, reason: { kind: 'scan', scanType: 'SYN', ports: [1, 2, 3], hits: 5, firstSeen: T0 - H, lastSeen: T0 - H } },
        { ip: '198.51.100.2', at: T0 - 2 * H, until: T0 - 1, strikes: 1, reason: { kind: 'manual', ports: [], hits: 0, firstSeen: 0, lastSeen: 0 } },
      ],
      [{ ip: '198.51.100.3', strikes: 3, lastBanAt: T0 - H }],
    );
    expect(of('ban')).toEqual([]); // restoring is not banning again
    expect(engine.activeBans().map((b) => b.ip)).toEqual(['198.51.100.2', '198.51.100.1']);
    expect(engine.ingestPacket(syn('198.51.100.1', 80, T0))).toBe('already-banned');
    clock.set(T0);
    engine.tick();
    expect(of('unban').map((e) => e.ip)).toEqual(['198.51.100.2']);
    for (const p of sweep('198.51.100.3', 5, T0)) engine.ingestPacket(p);
    expect(bans()[0]).toMatchObject({ ip: '198.51.100.3', strikes: 4 });
    expect((bans()[0]!.until! - bans()[0]!.at) / H).toBe(8);
  });
});

describe('ScanEngine questions', () => {
  it('offenders: banned first, then watched by hits; offender states', () => {
    const { engine } = make();
    for (const p of sweep('203.0.113.7', 5, T0)) engine.ingestPacket(p);
    for (const p of sweep('198.51.100.1', 2, T0)) engine.ingestPacket(p);
    for (const p of sweep('198.51.100.2', 3, T0, 1000, 80)) engine.ingestPacket(p);
    const list = engine.offenders();
    expect(list.map((o) => [o.ip, o.state])).toEqual([
      ['203.0.113.7', 'banned'],
      ['198.51.100.2', 'watching'],
      ['198.51.100.1', 'watching'],
    ]);
    expect(list[0]).toMatchObject({ hits: 5, distinctPorts: 5, strikes: 1, scanType: 'SYN' });
    expect(engine.offenders(1)).toHaveLength(1);
    engine.tick(T0 + 2 * H);
    expect(engine.offender('203.0.113.7')).toMatchObject({ state: 'expired', strikes: 1 });
    expect(engine.offender('192.0.2.200')).toBeNull();
    expect(engine.offender('garbage')).toBeNull();
  });

  it('ingestLine counts rejected lines by reason and parses real records', () => {
    const { engine, bans } = make({}, { detection: { requireKernelTrust: false } });
    engine.ingestLine('');
    engine.ingestLine('this is not a log line');
    for (let i = 0; i < 5; i++) {
      engine.ingestLine(`4,${100 + i},${1000000 + i * 1000},-;[UFW BLOCK] IN=eth0 OUT= MAC= SRC=203.0.113.9 DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=45 ID=1 PROTO=TCP SPT=4000 DPT=${100 + i} WINDOW=1024 RES=0x00 SYN URGP=0`);
    }
    const st = engine.stats();
    expect(st.lines).toBe(7);
    expect(st.packets).toBe(5);
    expect(st.rejected.empty).toBe(1);
    expect(Object.values(st.rejected).reduce((a, b) => a + b, 0)).toBe(2);
    expect(bans().map((b) => b.ip)).toEqual(['203.0.113.9']);
  });

  it('updateSettings changes thresholds live', () => {
    const { engine, bans } = make();
    for (const p of sweep('203.0.113.7', 3, T0)) engine.ingestPacket(p);
    engine.updateSettings(settings({ detection: { maxretry: 3 } }));
    engine.ingestPacket(syn('203.0.113.7', 1000, T0 + 5000));
    expect(bans().map((b) => b.ip)).toEqual(['203.0.113.7']);
  });

  it('the tracked-source cap evicts the least recently seen and says so', () => {
    const { engine, of } = make({}, { detection: { maxTrackedSources: 100 } });
    for (let i = 0; i < 150; i++) engine.ingestPacket(syn(`198.51.${i >> 8}.${i & 255}`, 80, T0 + i));
    expect(engine.stats()).toMatchObject({ trackedSources: 100, evicted: 50 });
    expect(of('evicted')[0]).toEqual({ type: 'evicted', ip: '198.51.0.0', time: T0 + 100 });
  });
});

describe('ScanEngine: SYN resends are one probe', () => {
  // A mail client's autoconfig: 993, 587, 465 once each; DROP, so the kernel resends each SYN after 1 s and 3 s, every resend logged.
  const attempts: [number, number, number][] = [[0, 993, 51000], [1000, 993, 51000], [1000, 587, 51002], [2000, 587, 51002], [2000, 465, 51004], [3000, 993, 51000], [3000, 465, 51004], [4000, 587, 51002], [5000, 465, 51004]];

  it('a client trying three closed ports is not banned — live (text), replay (value) and IPv6 (text and words) alike', () => {
    const key = (ip: string) => ip.split('.').reduce((k, o) => k * 256 + Number(o), 0);
    for (const [src, how] of [['198.51.100.77', 'text'], ['198.51.100.77', 'value'], ['2001:db8:7::77', 'text'], ['2001:db8:7::77', 'words']] as const) {
      const { engine, bans } = make();
      const words = new Uint32Array([0x20010db8, 0x00070000, 0, 0x77]);
      const verdicts = attempts.map(([dt, dpt, spt]) => {
        const p = syn(src, dpt, T0 + dt, { spt });
        if (how === 'value') return engine.ingestPacket({ ...p, src: '' as never }, key(src));
        return engine.ingestPacket(p, -1, how === 'words' ? words : null);
      });
      expect(verdicts.every((v) => v === 'counted'), `${src} ${how}`).toBe(true);
      expect(bans(), `${src} ${how}`).toEqual([]);
      expect(engine.offender(src), `${src} ${how}`).toMatchObject({ hits: 9, distinctPorts: 3 });
    }
  });

  it('two addresses of one /64 resending: the network counts each attempt once too', () => {
    const { engine, bans } = make();
    // Two clients on one /64 (same source port), trying 22 + 80 and 22 + 443 once each, every SYN resent twice:
    // 4 attempts on 3 ports — no network scan (12 logged packets counted as probes were one).
    for (const [src, ports] of [['2001:db8:9::a', [22, 80]], ['2001:db8:9::b', [22, 443]]] as const) {
      for (const dt of [0, 1000, 3000]) for (const dpt of ports) engine.ingestPacket(syn(src, dpt, T0 + dt, { spt: 40000 }));
    }
    expect(bans()).toEqual([]);
  });
});

describe('ScanEngine: networks never banned whole', () => {
  it('a link-local /64 (fe80::) is judged address by address, whatever addresses the host was told', () => {
    const { engine, bans } = make({ hostAddresses: ['2001:db8:1:2::10'] });
    [22, 23, 25, 80, 110].forEach((port, i) => engine.ingestPacket(syn(['fe80::a', 'fe80::b'][i % 2]!, port, T0 + i * 1000, { spt: 40000 + i })));
    expect(bans()).toEqual([]);
    expect(engine.isWhitelisted('fe80::/64')).toBe(true);
  });

  it('addHostAddress (a replay learning the host from its records) protects the networks holding it', () => {
    const { engine, bans } = make();
    engine.addHostAddress('2001:db8:1:2::10');
    [22, 23, 25, 80, 110].forEach((port, i) => engine.ingestPacket(syn(['2001:db8:1:2::a', '2001:db8:1:2::b'][i % 2]!, port, T0 + i * 1000, { spt: 40000 + i })));
    expect(bans()).toEqual([]);
  });

  it('addHostAddress learns at most MAX_LEARNED_HOST_ADDRESSES (each network decision looks at them all), and never whitelists a source', () => {
    const { engine } = make();
    for (let i = 0; i < MAX_LEARNED_HOST_ADDRESSES; i++) engine.addHostAddress(`2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::10`);
    engine.addHostAddress('2001:db8:ffff:1::10'); // one past the bound
    expect(engine.isWhitelisted('2001:db8:0:5::/64')).toBe(true);
    expect(engine.isWhitelisted('2001:db8:ffff:1::/64')).toBe(false);
    expect(engine.isWhitelisted('2001:db8:0:5::10')).toBe(false); // learned: protects its networks, is not whitelisted as a source
  });
});

describe('ScanEngine: held-back bans and a ban of their network', () => {
  it('a held-back address ban is not made once its /64 was banned (no second rule, strike or notification)', () => {
    const { engine, bans } = make({}, { ban: { maxNewBansPerMinute: 1 } });
    let t = T0;
    [1, 2, 3, 4, 5].forEach((p) => engine.ingestPacket(syn('198.51.100.1', p, (t += 100), { spt: 40000 + p }))); // the budget spent
    [20, 21, 22, 23, 24].forEach((p) => engine.ingestPacket(syn('2001:db8:1:2::a', p, (t += 100), { spt: 40000 + p }))); // held back
    engine.ingestPacket(syn('2001:db8:1:2::b', 30, (t += 100), { spt: 40030 })); // its /64 crosses: held back too
    engine.tick(t + 61_000);
    engine.tick(t + 122_000);
    expect(bans().map((b) => b.ip)).toEqual(['198.51.100.1', '2001:db8:1:2::/64']);
  });
});

