/** The helper protocol takes a network as a ban target (a prefix ban) strictly, and the guard refuses networks that hold what is never banned. */
import { describe, expect, it } from 'vitest';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { decodeHelperRequest } from '../../electron/shared/helper-protocol.ts';
import { fakeDeps } from './fakes.ts';

const ban = (ip: unknown, op = 'ban') => ({ id: 1, op, args: op === 'cutConnections' ? { ip } : op === 'unban' ? { ip, backend: 'set' } : { ip, timeoutSec: 60, backend: 'set' } });

describe('helper protocol: networks as ban targets', () => {
  it('accepts a network in canonical form, IPv4 /16–/31 and IPv6 /48–/127, for ban, unban, banMany, unbanMany and cutConnections', () => {
    for (const net of ['2001:db8:1:2::/64', '2001:db8:1::/48', '2001:db8::/127', '198.51.100.0/24', '198.51.0.0/16', '198.51.100.6/31']) {
      for (const op of ['ban', 'unban', 'cutConnections']) expect(decodeHelperRequest(ban(net, op)).ok, `${op} ${net}`).toBe(true);
      expect(decodeHelperRequest({ id: 1, op: 'banMany', args: { bans: [{ ip: net, timeoutSec: null }], backend: 'ufw' } }).ok).toBe(true);
      expect(decodeHelperRequest({ id: 1, op: 'unbanMany', args: { ips: [net], backend: 'ufw', reason: 'stale' } }).ok).toBe(true);
    }
  });

  const refused: [string, RegExp][] = [
    ['2001:DB8:1:2::/64', /not in canonical form|not a network/],
    ['2001:db8:1:2::1/64', /not in canonical form \(2001:db8:1:2::\/64\)/],
    ['2001:db8:1:2:0:0:0:0/64', /not in canonical form/],
    ['198.51.100.7/24', /not in canonical form \(198\.51\.100\.0\/24\)/],
    ['2001:db8::/32', /IPv6 network is \/48 to \/127 \(got \/32\)/],
    ['10.0.0.0/8', /IPv4 network is \/16 to \/31 \(got \/8\)/],
    ['198.51.100.7/32', /IPv4 network is \/16 to \/31/],
    ['2001:db8::1/128', /IPv6 network is \/48 to \/127/],
    [' 198.51.100.0/24', /not a network/],
    ['198.51.100.0/24\n', /not a network/],
    ['198.51.100.0/024', /not in canonical form/],
    ['198.51.100.0/', /not a network/],
    ['198.51.100.0/24/24', /not a network/],
    ['fe80::/64%eth0', /not a network/],
  ];
  for (const [net, why] of refused) {
    it(`refuses ${JSON.stringify(net)} with the reason`, () => {
      const r = decodeHelperRequest(ban(net));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('invalid');
        expect(r.error.message).toMatch(why);
      }
    });
  }

  it('the guard refuses a network that holds loopback, a multicast range or one of this host\'s addresses, runs nothing, audits nothing', async () => {
    for (const [net, why] of [
      ['127.0.0.0/16', /127\.0\.0\.0\/16 overlaps 127\.0\.0\.0\/8/],
      ['224.1.0.0/16', /overlaps 224\.0\.0\.0\/4/],
      ['10.1.2.0/24', /10\.1\.2\.0\/24 holds 10\.1\.2\.3, an address of this host/],
      ['fd00::/64', /holds fd00::5/],
    ] as const) {
      for (const op of ['ban', 'cutConnections']) {
        const { deps, fwCalls, calls, audit } = fakeDeps();
        deps.ownAddresses = () => ['10.1.2.3', 'fd00::5'];
        const r = await createHelperDispatcher(deps).handle(ban(net, op));
        expect(r, `${op} ${net}`).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringMatching(why) } });
        expect(fwCalls).toEqual([]);
        expect(calls).toEqual([]);
        expect(audit.entries).toEqual([]);
      }
    }
  });

  it('a network beside this host is banned through the chosen backend', async () => {
    const { deps, fwCalls } = fakeDeps();
    deps.ownAddresses = () => ['10.1.2.3'];
    const r = await createHelperDispatcher(deps).handle({ id: 2, op: 'ban', args: { ip: '2001:db8:1:2::/64', timeoutSec: 600, comment: 'scan', backend: 'set' } });
    expect(r.ok).toBe(true);
    expect(fwCalls).toEqual(['set.ban 2001:db8:1:2::/64 600 scan']);
  });
});
