/**
 * The one range check (shared/prefix.ts `covers`): the whitelist form's "already covered by" and
 * never-ban.ts's ranges both ask it, so they cannot disagree about what a CIDR holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { neverBanReason } from '../../electron/shared/never-ban.ts';
import { cidrCovers } from '../../electron/shared/prefix.ts';
import { coveringEntry } from '../../renderer/store/cidrCover.ts';

describe('cidrCovers', () => {
  it('holds a network inside it and an address in it, in any spelling; not a wider one, another family, or text that is none', () => {
    expect(cidrCovers('10.20.0.0/16', '10.20.30.0/24')).toBe(true);
    expect(cidrCovers('10.20.0.0/16', '10.20.0.0/16')).toBe(true);
    expect(cidrCovers('10.20.0.0/16', '10.20.255.9')).toBe(true);
    expect(cidrCovers('2001:db8::/32', '2001:0DB8:0:1::/64')).toBe(true);
    expect(cidrCovers('10.20.30.0/24', '10.20.0.0/16')).toBe(false);
    expect(cidrCovers('10.20.0.0/16', '10.21.0.0/24')).toBe(false);
    expect(cidrCovers('::/0', '10.0.0.0/8')).toBe(false);
    expect(cidrCovers('10.0.0.0/8', 'not-an-address')).toBe(false);
    expect(cidrCovers('10.0.0.0/33', '10.0.0.1')).toBe(false);
  });

  it('property: IPv4 outer covers inner exactly when inner is no wider and its network bits agree with outer\'s', () => {
    const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }));
    const text = ([n, bits]: [number, number]) => `${[24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')}/${bits}`;
    const top = (n: number, bits: number) => (bits === 0 ? 0 : n >>> (32 - bits));
    fc.assert(
      fc.property(v4, v4, ([on, ob], [inn, ib]) => {
        expect(cidrCovers(text([on, ob]), text([inn, ib]))).toBe(ob <= ib && top(on, ob) === top(inn, ob));
      }),
    );
  });
});

describe('its two users', () => {
  it('the whitelist form names the entry that covers a new one, never the entry itself', () => {
    const entries = [
      { cidr: '10.20.30.0/24', why: 'your entry' },
      { cidr: '10.20.0.0/16', why: 'your entry' },
      { cidr: '127.0.0.0/8', why: 'loopback' },
    ];
    expect(coveringEntry('10.20.30.0/24', entries)).toEqual({ cidr: '10.20.0.0/16', why: 'your entry' });
    expect(coveringEntry('127.0.0.5/32', entries)?.why).toBe('loopback');
    expect(coveringEntry('10.21.0.0/24', entries)).toBeNull();
  });

  it('never-ban ranges: each range by its first and last address, and the addresses just outside', () => {
    expect(neverBanReason('127.0.0.1')).toBe('127.0.0.1 is a loopback address');
    expect(neverBanReason('127.255.255.255')).toBe('127.255.255.255 is a loopback address');
    expect(neverBanReason('128.0.0.0')).toBeNull();
    expect(neverBanReason('0.255.255.255')).toMatch(/unspecified/);
    expect(neverBanReason('224.0.0.251')).toBe('224.0.0.251 is a multicast address');
    expect(neverBanReason('239.255.255.255')).toMatch(/multicast/);
    expect(neverBanReason('240.0.0.0')).toBeNull();
    expect(neverBanReason('255.255.255.255')).toBe('255.255.255.255 is the broadcast address');
    expect(neverBanReason('255.255.255.254')).toBeNull();
    expect(neverBanReason('::1')).toMatch(/loopback/);
    expect(neverBanReason('::2')).toBeNull();
    expect(neverBanReason('::')).toMatch(/unspecified/);
    expect(neverBanReason('FF02::1')).toBe('ff02::1 is a multicast address');
    expect(neverBanReason('fe80::1')).toBeNull();
    expect(neverBanReason('::ffff:127.0.0.1')).toMatch(/loopback/);
    expect(neverBanReason('nonsense')).toBeNull();
  });
});
