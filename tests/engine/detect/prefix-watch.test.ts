import { describe, expect, it } from 'vitest';
import { PrefixWatch } from '../../../electron/engine/detect/prefix-watch.ts';
import { ipv4Key, NO_SLOT, SourceTracker } from '../../../electron/engine/detect/tracker.ts';
import { DEFAULT_SETTINGS, type DetectionSettings } from '../../../electron/shared/settings.ts';

const S: DetectionSettings = { ...DEFAULT_SETTINGS.detection, maxretry: 5, minDistinctPorts: 3 };

/** An address tracker and a PrefixWatch over it; `probe` counts like the engine (address first, then network). */
function watch(s: DetectionSettings = S) {
  const addresses = new SourceTracker(s);
  const w = new PrefixWatch(s, addresses);
  const probe = (ip: string, time: number, port: number, v4 = -1): string | null => {
    addresses.probe(ip, time, port, 'SYN');
    return w.probe(v4 >= 0 ? '' : ip, v4, null, addresses.lastSlot, time, port, 'SYN');
  };
  return { addresses, w, probe };
}

describe('PrefixWatch', () => {
  it('does no work for an IPv4 source (given as its value) while IPv4 aggregation is off: no network noted on its slot', () => {
    const { addresses, w, probe } = watch();
    expect(probe('198.51.100.7', 1000, 22, ipv4Key('198.51.100.7'))).toBeNull();
    expect(addresses.tagOf(addresses.get('198.51.100.7'))).toBeUndefined();
    expect(w.tracker.size).toBe(0);
  });

  it('IPv4 aggregation on: an IPv4 source given as its value is counted under its /24', () => {
    const { w, probe } = watch({ ...S, ipv4PrefixLength: 24 });
    probe('198.51.100.7', 1000, 22, ipv4Key('198.51.100.7'));
    expect(w.membersOf('198.51.100.0/24')).toEqual(['198.51.100.7']);
  });

  it('members: one address, then a list of the distinct ones first seen first; forget drops them', () => {
    const { w, probe } = watch();
    probe('2001:db8:1:2::a', 1000, 22);
    expect(w.membersOf('2001:db8:1:2::/64')).toEqual(['2001:db8:1:2::a']);
    probe('2001:db8:1:2::a', 1001, 23);
    probe('2001:db8:1:2::b', 1002, 24);
    probe('2001:db8:1:2::a', 1003, 25);
    expect(w.membersOf('2001:db8:1:2::/64')).toEqual(['2001:db8:1:2::a', '2001:db8:1:2::b']);
    w.forget('2001:db8:1:2::/64');
    expect(w.membersOf('2001:db8:1:2::/64')).toEqual([]);
    probe('2001:db8:1:2::c', 1004, 26);
    expect(w.membersOf('2001:db8:1:2::/64')).toEqual(['2001:db8:1:2::c']);
  });

  it('a network evicted by the bound loses its members; its reused slot does not inherit them', () => {
    const { w, probe } = watch({ ...S, maxTrackedSources: 1 });
    probe('2001:db8:1:2::a', 1000, 22);
    probe('2001:db8:9:9::b', 1001, 22);
    expect(w.tracker.get('2001:db8:1:2::/64')).toBe(NO_SLOT);
    expect(w.membersOf('2001:db8:9:9::/64')).toEqual(['2001:db8:9:9::b']);
  });

  it('members survive a re-layout of the windows (maxretry changed), each with its own network', () => {
    const { w, probe } = watch();
    probe('2001:db8:1:2::a', 1000, 22);
    probe('2001:db8:1:2::b', 1001, 23);
    probe('2001:db8:3:4::c', 1002, 24);
    probe('2001:db8:1:2::a', 1003, 25); // 1:2 is now the most recently seen: the re-layout renumbers slots
    w.configure({ ...S, maxretry: 7 });
    expect(w.membersOf('2001:db8:1:2::/64')).toEqual(['2001:db8:1:2::a', '2001:db8:1:2::b']);
    expect(w.membersOf('2001:db8:3:4::/64')).toEqual(['2001:db8:3:4::c']);
    expect(w.portCount('2001:db8:1:2::/64')).toBe(3);
  });

  it('a network of one address is kept in that address: no window of its own until a second address, then a copy of the first one\'s', () => {
    const { w, probe } = watch();
    probe('2001:db8:1:2::a', 1000, 22);
    probe('2001:db8:1:2::a', 1001, 23);
    expect(w.has('2001:db8:1:2::/64')).toBe(true);
    expect(w.tracker.size).toBe(0);
    expect(w.size).toBe(1);
    expect(w.summary('2001:db8:1:2::/64', 64)).toMatchObject({ hits: 2, ports: [22, 23] });
    probe('2001:db8:1:2::b', 1002, 24);
    expect(w.tracker.size).toBe(1);
    expect(w.summary('2001:db8:1:2::/64', 64)).toMatchObject({ hits: 3, ports: [22, 23, 24], firstSeen: 1000, lastSeen: 1002 });
    expect(w.membersOf('2001:db8:1:2::/64')).toEqual(['2001:db8:1:2::a', '2001:db8:1:2::b']);
  });

  it('a network kept in its address gets its window before a probe that could meet the rule, and when the address is dropped', () => {
    const { addresses, w, probe } = watch(); // maxretry 5
    for (let i = 0; i < 3; i++) probe('2001:db8:1:2::a', 1000 + i, 22 + i);
    expect(w.tracker.size).toBe(0);
    probe('2001:db8:1:2::a', 1003, 25); // 4 probes: the 5th could make a scan of the address, which the network would not count
    expect(w.tracker.size).toBe(1);
    probe('2001:db8:3:4::c', 1004, 22);
    expect(w.tracker.size).toBe(1);
    addresses.delete('2001:db8:3:4::c'); // banned, whitelisted or evicted: the network keeps what it had
    expect(w.tracker.size).toBe(2);
    expect(w.summary('2001:db8:3:4::/64', 64)).toMatchObject({ hits: 1, ports: [22] });
  });
});
