import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { canonicalIp } from '../../../electron/shared/domain.ts';
import { ALWAYS_WHITELISTED, v4ToInt, v6ToWords, Whitelist } from '../../../electron/engine/detect/whitelist.ts';

describe('Whitelist IPv4', () => {
  it('always holds loopback and the other never-ban ranges, whatever the entries', () => {
    const w = new Whitelist();
    expect(w.has('127.0.0.1')).toBe(true);
    expect(w.has('127.255.255.254')).toBe(true);
    expect(w.has('128.0.0.1')).toBe(false);
    expect(w.has('0.1.2.3')).toBe(true);
    expect(w.has('224.0.0.251')).toBe(true);
    expect(w.has('255.255.255.255')).toBe(true);
    expect(w.has('223.255.255.255')).toBe(false);
    expect(w.entries()).toEqual(['127.0.0.0/8', '::1/128', '0.0.0.0/8', '::/128', '224.0.0.0/4', 'ff00::/8', '255.255.255.255/32']);
  });

  it('matches a /24 from its first to its last address and nothing around it', () => {
    const w = new Whitelist(['192.168.1.0/24']);
    expect(w.has('192.168.1.0')).toBe(true);
    expect(w.has('192.168.1.255')).toBe(true);
    expect(w.has('192.168.0.255')).toBe(false);
    expect(w.has('192.168.2.0')).toBe(false);
  });

  it('normalises a CIDR written with host bits set, and handles /31, /32 and /0', () => {
    const w = new Whitelist(['10.1.2.3/16', '198.51.100.7/31', '203.0.113.9']);
    expect(w.entries()).toContain('10.1.0.0/16');
    expect(w.has('10.1.255.255')).toBe(true);
    expect(w.has('198.51.100.6')).toBe(true);
    expect(w.has('198.51.100.7')).toBe(true);
    expect(w.has('198.51.100.8')).toBe(false);
    expect(w.has('203.0.113.9')).toBe(true);
    expect(w.has('203.0.113.10')).toBe(false);
    expect(new Whitelist(['0.0.0.0/0']).has('8.8.8.8')).toBe(true);
  });

  it('addresses with the high bit set (unsigned arithmetic)', () => {
    const w = new Whitelist(['200.0.0.0/5']);
    expect(w.has('207.255.255.255')).toBe(true);
    expect(w.has('208.0.0.0')).toBe(false);
    expect(w.has('199.255.255.255')).toBe(false);
    expect(v4ToInt('255.255.255.255')).toBe(0xffffffff);
  });

  it('refuses entries that are not addresses, and text that is no address never matches', () => {
    const w = new Whitelist(['10.0.0.0/33', 'example.com', '1.2.3.999', '10.0.0.0/8']);
    expect(w.refused).toEqual(['10.0.0.0/33', 'example.com', '1.2.3.999']);
    expect(w.has('10.9.9.9')).toBe(true);
    expect(w.has('not an ip')).toBe(false);
    expect(w.has('10.0.0')).toBe(false);
    expect(w.matches('')).toBe(false);
  });

  it('matches() accepts other spellings: IPv4-mapped IPv6 is the IPv4 host', () => {
    const w = new Whitelist(['192.0.2.0/24']);
    expect(w.matches('::ffff:192.0.2.44')).toBe(true);
    expect(w.matches(' 192.0.2.1 ')).toBe(true);
  });
});

describe('Whitelist IPv6', () => {
  it('always holds ::1 and :: (never banned) and nothing else around them', () => {
    const w = new Whitelist();
    expect(w.has('::1')).toBe(true);
    expect(w.has('::')).toBe(true);
    expect(w.has('ff02::1')).toBe(true);
    expect(w.has('fe80::1')).toBe(false);
    expect(w.has('::2')).toBe(false);
  });

  it('matches /32, /64, /127 boundaries', () => {
    const w = new Whitelist(['2001:db8::/32', 'fe80::/64', '2001:db9::/127']);
    expect(w.has('2001:db8::1')).toBe(true);
    expect(w.has('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(w.has('2001:db9::')).toBe(true);
    expect(w.has('2001:db9::1')).toBe(true);
    expect(w.has('2001:db9::2')).toBe(false);
    expect(w.has('2001:db7:ffff::1')).toBe(false);
    expect(w.has('fe80::abcd:1')).toBe(true);
    expect(w.has('fe80:0:0:1::1')).toBe(false);
  });

  it('a prefix length that is not a multiple of 16 (/33, /65, /100)', () => {
    const w = new Whitelist(['2001:db8:8000::/33', '2001:db8:1:2:8000::/65', '2001:db8:a::1:0/112']);
    expect(w.has('2001:db8:8000::1')).toBe(true);
    expect(w.has('2001:db8:7fff::1')).toBe(false);
    expect(w.has('2001:db8:1:2:8000::5')).toBe(true);
    expect(w.has('2001:db8:1:2:7fff::5')).toBe(false);
    expect(w.has('2001:db8:a::1:ffff')).toBe(true);
    expect(w.has('2001:db8:a::2:0')).toBe(false);
  });

  it('matches() canonicalises non-canonical spellings', () => {
    const w = new Whitelist(['2001:db8::5']);
    expect(w.matches('2001:0DB8:0000:0000:0000:0000:0000:0005')).toBe(true);
    expect(w.has('2001:db8::6')).toBe(false);
  });

  it('v6ToWords agrees with ipaddr.js on every canonical address', () => {
    const words = new Uint32Array(4);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (parts) => {
        const ip = new ipaddr.IPv6(parts).toRFC5952String();
        expect(v6ToWords(ip, words)).toBe(true);
        for (let w = 0; w < 4; w++) expect(words[w]).toBe(((parts[2 * w]! << 16) | parts[2 * w + 1]!) >>> 0);
      }),
      { numRuns: 500 },
    );
  });

  it('v6ToWords refuses malformed text', () => {
    const words = new Uint32Array(4);
    for (const bad of ['1::2::3', '12345::', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1', '1:']) {
      expect(v6ToWords(bad, words), bad).toBe(false);
    }
  });
});

describe('Whitelist agrees with ipaddr.js matching (property)', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((p) => new ipaddr.IPv6(p).toRFC5952String());
  it('for random CIDRs and addresses of both families', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.tuple(v4, fc.nat(32)), fc.tuple(v6, fc.nat(128))), { maxLength: 6 }),
        fc.array(fc.oneof(v4, v6), { minLength: 1, maxLength: 10 }),
        (cidrs, addrs) => {
          const entries = cidrs.map(([a, b]) => `${a}/${b}`);
          const w = new Whitelist(entries);
          const ranges = [...entries, ...ALWAYS_WHITELISTED].map((c) => ipaddr.parseCIDR(c));
          for (const a of addrs) {
            const ip = canonicalIp(a)!;
            const parsed = ipaddr.parse(ip);
            const expected = ranges.some(([net, bits]) => net.kind() === parsed.kind() && parsed.match(net, bits));
            expect(w.has(ip), `${ip} in ${entries.join(' ')}`).toBe(expected);
            // The same answer from an IPv4 address's 32-bit value (a replay record's).
            if (parsed.kind() === 'ipv4') expect(w.hasV4(v4ToInt(ip)), `${ip} (value) in ${entries.join(' ')}`).toBe(expected);
          }
          // The network address and the broadcast/last address of every range match.
          for (const c of entries) {
            const [net, bits] = ipaddr.parseCIDR(c);
            const first = net.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(c).toString() : (ipaddr.IPv6.networkAddressFromCIDR(c) as ipaddr.IPv6).toRFC5952String();
            const last = net.kind() === 'ipv4' ? ipaddr.IPv4.broadcastAddressFromCIDR(c).toString() : (ipaddr.IPv6.broadcastAddressFromCIDR(c) as ipaddr.IPv6).toRFC5952String();
            expect(w.has(canonicalIp(first)!), `${first} in ${c}`).toBe(true);
            expect(w.has(canonicalIp(last)!), `${last} in ${c} /${bits}`).toBe(true);
            if (net.kind() === 'ipv4') expect(w.hasV4(v4ToInt(first)) && w.hasV4(v4ToInt(last)), `${first}, ${last} (values) in ${c}`).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
