import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScanEngine, type ScanEngineOptions } from '../../electron/engine/engine.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { BanRecord, EngineEvent } from '../../electron/shared/model.ts';
import { cidrContains, prefixOf } from '../../electron/shared/prefix.ts';
import { SettingsSchema, type SettingsInput } from '../../electron/shared/settings.ts';
import { syn, T0 } from './detect/packets.ts';

function make(over: Partial<ScanEngineOptions> = {}, s: SettingsInput = {}) {
  const events: EngineEvent[] = [];
  const engine = new ScanEngine({ settings: SettingsSchema.parse(s), clock: new ManualClock(T0), ...over }, (e) => events.push(e));
  const bans = (): BanRecord[] => events.flatMap((e) => (e.type === 'ban' ? [e.ban] : []));
  return { engine, events, bans };
}

/** A scanner that uses a new address of 2001:db8:1:2::/64 for every probe, one port each. */
const rotating = (n: number, net = '2001:db8:1:2', start = T0) =>
  Array.from({ length: n }, (_, i) => syn(`${net}::${(i + 1).toString(16)}`, 20 + i, start + i * 1000));

describe('prefix bans: IPv6 sources are tracked by network as well as by address', () => {
  it('a scanner rotating its address within a /64 on every probe is banned as the /64, with its members', () => {
    const { engine, bans } = make();
    const verdicts = rotating(6).map((p) => engine.ingestPacket(p));
    expect(verdicts).toEqual(['counted', 'counted', 'counted', 'counted', 'counted', 'already-banned']);
    expect(bans()).toHaveLength(1);
    const b = bans()[0]!;
    expect(b.ip).toBe('2001:db8:1:2::/64');
    expect(b.reason).toMatchObject({ kind: 'scan', ports: [20, 21, 22, 23, 24], hits: 5 });
    expect(b.reason.members).toEqual(['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2::3', '2001:db8:1:2::4', '2001:db8:1:2::5']);
    expect(engine.isBanned('2001:db8:1:2::/64')).toBe(true);
    // A new address of the banned network is already banned; another network is not.
    expect(engine.ingestPacket(syn('2001:db8:1:2::ffff', 80, T0 + 9000))).toBe('already-banned');
    expect(engine.ingestPacket(syn('2001:db8:1:3::1', 80, T0 + 9000))).toBe('counted');
    expect(engine.offenders(10)[0]).toMatchObject({ ip: '2001:db8:1:2::/64', state: 'banned', members: b.reason.members });
  });

  it('unban PREFIX lifts the network ban (any spelling), and its addresses count again', () => {
    const { engine, events } = make();
    rotating(5).forEach((p) => engine.ingestPacket(p));
    expect(engine.unban('2001:DB8:1:2:0::/64')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'unban', ip: '2001:db8:1:2::/64', why: 'manual' });
    expect(engine.ingestPacket(syn('2001:db8:1:2::9', 80, T0 + 9000))).toBe('counted');
  });

  it('the prefix length is a setting (/48 here); /128 tracks addresses only', () => {
    const wide = make({}, { detection: { ipv6PrefixLength: 48 } });
    Array.from({ length: 5 }, (_, i) => syn(`2001:db8:1:${i + 1}::1`, 20 + i, T0 + i)).forEach((p) => wide.engine.ingestPacket(p));
    expect(wide.bans().map((b) => b.ip)).toEqual(['2001:db8:1::/48']);
    const off = make({}, { detection: { ipv6PrefixLength: 128 } });
    rotating(5).forEach((p) => off.engine.ingestPacket(p));
    expect(off.bans()).toEqual([]);
  });

  it('a network holding a whitelisted address is never banned: its addresses are judged one by one', () => {
    const { engine, bans } = make({}, { whitelist: { entries: ['2001:db8:1:2::99'] } });
    rotating(10).forEach((p) => engine.ingestPacket(p));
    expect(bans()).toEqual([]);
    // One of them scanning by itself is banned, as an address.
    Array.from({ length: 5 }, (_, i) => syn('2001:db8:1:2::3', 100 + i, T0 + 20_000 + i)).forEach((p) => engine.ingestPacket(p));
    expect(bans().map((b) => b.ip)).toEqual(['2001:db8:1:2::3']);
  });

  it("a network holding this host's or its gateway's address is never banned, even with the gateway not whitelisted", () => {
    const host = make({ hostAddresses: ['2001:db8:1:2::10'] });
    rotating(5).forEach((p) => host.engine.ingestPacket(p));
    expect(host.bans().map((b) => b.ip)).not.toContain('2001:db8:1:2::/64');
    const gw = make({ gatewayAddresses: ['2001:db8:1:2::fe'] }, { whitelist: { includeGateway: false } });
    rotating(5).forEach((p) => gw.engine.ingestPacket(p));
    expect(gw.bans()).toEqual([]);
  });

  it('one address probing a network is banned as the address, never as the network', () => {
    const { engine, bans } = make();
    Array.from({ length: 5 }, (_, i) => syn('2001:db8:1:2::7', 20 + i, T0 + i)).forEach((p) => engine.ingestPacket(p));
    expect(bans().map((b) => b.ip)).toEqual(['2001:db8:1:2::7']);
  });

  it('IPv4 aggregation is off by default; with ipv4PrefixLength 24 a rotating /24 is banned whole', () => {
    const v4 = (i: number) => syn(`198.51.100.${i + 1}`, 20 + i, T0 + i);
    const off = make();
    Array.from({ length: 5 }, (_, i) => v4(i)).forEach((p) => off.engine.ingestPacket(p));
    expect(off.bans()).toEqual([]);
    const on = make({}, { detection: { ipv4PrefixLength: 24 } });
    Array.from({ length: 5 }, (_, i) => v4(i)).forEach((p) => on.engine.ingestPacket(p));
    expect(on.bans().map((b) => b.ip)).toEqual(['198.51.100.0/24']);
    expect(on.engine.ingestPacket(syn('198.51.100.200', 80, T0 + 10))).toBe('already-banned');
    // A record carrying the source as its 32-bit value (the replay's) is judged the same.
    const key = (ip: string) => ip.split('.').reduce((k, o) => k * 256 + Number(o), 0);
    const val = make({}, { detection: { ipv4PrefixLength: 24 } });
    Array.from({ length: 5 }, (_, i) => v4(i)).forEach((p) => val.engine.ingestPacket({ ...p, src: '' as never }, key(p.src)));
    expect(val.bans().map((b) => [b.ip, b.reason.members])).toEqual(on.bans().map((b) => [b.ip, b.reason.members]));
  });

  it('settings outside /48–/128 (IPv6) and /16–/32 (IPv4) are refused with the field and the reason', () => {
    const bad6 = SettingsSchema.safeParse({ detection: { ipv6PrefixLength: 32 } });
    expect(bad6.success).toBe(false);
    expect(bad6.error!.issues[0]).toMatchObject({ path: ['detection', 'ipv6PrefixLength'], message: 'ipv6PrefixLength is a whole number from 48 to 128' });
    const bad4 = SettingsSchema.safeParse({ detection: { ipv4PrefixLength: 8 } });
    expect(bad4.error!.issues[0]).toMatchObject({ path: ['detection', 'ipv4PrefixLength'], message: 'ipv4PrefixLength is a whole number from 16 to 32' });
  });
});

describe('property: no prefix ban ever covers a whitelisted or protected address', () => {
  it('holds for random scanners, whitelists, host and gateway addresses', () => {
    const hex = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
    // Few networks and few host parts, so whitelist entries and scanners often share a network.
    const net = fc.constantFrom('2001:db8:1:2', '2001:db8:1:3', '2001:db8:2:2');
    const addr6 = fc.tuple(net, hex).map(([n, h]) => `${n}::${h}`);
    const addr4 = fc.tuple(fc.constantFrom('198.51.100', '198.51.101'), fc.integer({ min: 1, max: 254 })).map(([n, h]) => `${n}.${h}`);
    const addr = fc.oneof(addr6, addr4);
    const entry = fc.oneof(addr, fc.tuple(addr6, fc.integer({ min: 56, max: 128 })).map(([a, b]) => prefixOf(a, b)!));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(addr, fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 120 }),
        fc.array(entry, { maxLength: 4 }),
        fc.array(addr, { maxLength: 2 }),
        fc.array(addr, { maxLength: 2 }),
        fc.constantFrom(48, 56, 64, 128),
        fc.constantFrom(null, 16, 24),
        (probes, entries, hosts, gateways, v6, v4) => {
          const { engine, bans } = make(
            { hostAddresses: hosts, gatewayAddresses: gateways },
            { whitelist: { entries, includeGateway: false }, detection: { ipv6PrefixLength: v6, ipv4PrefixLength: v4, maxretry: 3, minDistinctPorts: 2 } },
          );
          probes.forEach(([src, port], i) => engine.ingestPacket(syn(src, port, T0 + i * 100)));
          const protectedAddrs = [...entries, ...hosts, ...gateways];
          for (const b of bans()) {
            if (!b.ip.includes('/')) continue;
            for (const p of protectedAddrs) {
              const probe = p.includes('/') ? p.slice(0, p.indexOf('/')) : p;
              expect(cidrContains(b.ip, probe), `${b.ip} holds ${p}`).toBe(false);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
