import { describe, expect, it } from 'vitest';
import type { UfwRule } from '../../electron/shared/api.ts';
import { sourcesDecidedByUser } from '../../electron/app/users-rule-owners.ts';

const rule = (number: number, from: string, over: Partial<UfwRule> = {}): UfwRule => ({
  number,
  v6: from.includes(':'),
  action: 'allow',
  direction: 'in',
  from,
  to: 'any',
  port: '',
  proto: 'any',
  comment: '',
  portcullis: false,
  ...over,
});
const ours = (number: number, from: string) => rule(number, from, { action: 'deny', comment: 'portcullis:scan', portcullis: true });

describe('sourcesDecidedByUser: the first whole-source rule of a source decides, in ufw order', () => {
  it("the user's rule first: decided by the user; ours first: not", () => {
    const got = sourcesDecidedByUser([ours(3, '203.0.113.9'), rule(1, '198.51.100.7'), ours(2, '198.51.100.7'), rule(4, '203.0.113.9')]);
    expect([...got]).toEqual(['198.51.100.7']);
  });

  it('rules with a port, protocol, interface, destination or direction of their own do not decide the whole source', () => {
    const src = '198.51.100.7';
    const partial = [
      rule(1, src, { port: '22', proto: 'tcp' }),
      rule(2, src, { proto: 'udp' }),
      rule(3, src, { iface: 'eth0' }),
      rule(4, src, { to: '192.0.2.10' }),
      rule(5, src, { direction: 'out' }),
      rule(6, src, { fromPort: '53' }),
      rule(7, src, { app: 'OpenSSH' }),
    ];
    expect(sourcesDecidedByUser(partial).size).toBe(0);
    expect([...sourcesDecidedByUser([...partial, rule(8, src, { action: 'deny', comment: 'mine' })])]).toEqual([src]);
  });

  it('an IPv6 rule for an IPv4-mapped address does not decide the IPv4 address (it never meets IPv4 packets)', () => {
    expect(sourcesDecidedByUser([rule(1, '::ffff:198.51.100.7', { v6: true })]).size).toBe(0);
  });

  it('addresses and networks are compared in canonical form', () => {
    const got = sourcesDecidedByUser([rule(1, '2001:DB8:0::7'), rule(2, '2001:db8:1::/64'), ours(3, '2001:db8::7')]);
    expect([...got].sort()).toEqual(['2001:db8:1::/64', '2001:db8::7']);
  });
});
