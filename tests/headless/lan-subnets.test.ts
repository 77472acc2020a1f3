import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { parseLanSubnets } from '../../electron/app/lan-subnets.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { EngineEvent } from '../../electron/shared/model.ts';
import { SettingsSchema, type SettingsInput } from '../../electron/shared/settings.ts';
import { sweep, T0 } from '../engine/detect/packets.ts';

const IP_ADDR = JSON.stringify([
  { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }, { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' }] },
  {
    ifname: 'eth0',
    addr_info: [
      { family: 'inet', local: '192.168.1.23', prefixlen: 24, scope: 'global' },
      { family: 'inet6', local: '2001:db8:1:2::23', prefixlen: 64, scope: 'global' },
      { family: 'inet6', local: 'fe80::5054:ff:fe12:3456', prefixlen: 64, scope: 'link' },
    ],
  },
  // A second address in the same subnet, a VPN point-to-point address, a too-wide prefix.
  { ifname: 'eth1', addr_info: [{ family: 'inet', local: '192.168.1.24', prefixlen: 24, scope: 'global' }] },
  { ifname: 'wg0', addr_info: [{ family: 'inet', local: '10.8.0.2', prefixlen: 32, scope: 'global' }] },
  { ifname: 'odd', addr_info: [{ family: 'inet', local: '11.0.0.1', prefixlen: 6, scope: 'global' }] },
]);

describe('parseLanSubnets: the subnets this host is on', () => {
  it('takes the network of each global address, once; skips loopback, link-local, lone addresses and over-wide prefixes', () => {
    expect(parseLanSubnets(IP_ADDR)).toEqual(['192.168.1.0/24', '2001:db8:1:2::/64']);
  });

  it('unreadable output is no subnet, not a throw', () => {
    expect(parseLanSubnets('not json')).toEqual([]);
    expect(parseLanSubnets('{"a":1}')).toEqual([]);
    expect(parseLanSubnets('[{"addr_info":[{"local":"192.168.1.2","prefixlen":"24"}]}, null]')).toEqual([]);
  });
});

describe('ScanEngine: whitelist.includeLanSubnets', () => {
  function make(s: SettingsInput) {
    const events: EngineEvent[] = [];
    const engine = new ScanEngine(
      { settings: SettingsSchema.parse(s), clock: new ManualClock(T0), hostAddresses: ['192.168.1.23'], lanSubnets: ['192.168.1.0/24', '2001:db8:1:2::/64'] },
      (e) => events.push(e),
    );
    const banned = () => events.filter((e) => e.type === 'ban').map((e) => (e as Extract<EngineEvent, { type: 'ban' }>).ban.ip);
    return { engine, banned };
  }

  it('is off by default: a LAN device that scans is still caught', () => {
    expect(SettingsSchema.parse({}).whitelist.includeLanSubnets).toBe(false);
    const { engine, banned } = make({});
    for (const p of sweep('192.168.1.50', 5, T0)) engine.ingestPacket(p);
    expect(banned()).toEqual(['192.168.1.50']);
  });

  it('when on, the LAN subnets are whitelisted (IPv4 and IPv6), nothing outside them', () => {
    const { engine, banned } = make({ whitelist: { includeLanSubnets: true } });
    expect(engine.isWhitelisted('192.168.1.50')).toBe(true);
    expect(engine.isWhitelisted('2001:db8:1:2::99')).toBe(true);
    expect(engine.isWhitelisted('192.168.2.50')).toBe(false);
    for (const p of sweep('192.168.1.50', 5, T0)) expect(engine.ingestPacket(p)).toBe('whitelisted');
    expect(banned()).toEqual([]);
  });

  it('follows the network: after setHostAddresses the new subnet is whitelisted and the old one no longer', () => {
    const { engine } = make({ whitelist: { includeLanSubnets: true } });
    engine.setHostAddresses(['10.20.30.40'], ['10.20.30.1'], undefined, undefined, undefined, ['10.20.30.0/24']);
    expect(engine.isWhitelisted('10.20.30.99')).toBe(true);
    expect(engine.isWhitelisted('192.168.1.50')).toBe(false);
    // Without new subnets given, the known ones stay.
    engine.setHostAddresses(['10.20.30.41']);
    expect(engine.isWhitelisted('10.20.30.99')).toBe(true);
  });
});
