/** Issue 9 item 6: the root helper itself refuses to ban loopback, unspecified, multicast, broadcast and this host's own addresses. */
import { describe, expect, it } from 'vitest';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { hostAddresses, unbannableReason } from '../../electron/helper/ban-guard.ts';
import { fakeDeps } from './fakes.ts';

describe('helper: addresses it never bans', () => {
  const refused = ['127.0.0.1', '127.8.9.10', '::1', '0.0.0.0', '::', '224.0.0.1', '239.255.255.250', 'ff02::1', '255.255.255.255', '::ffff:127.0.0.1', '10.1.2.3', 'fd00::5'];
  for (const ip of refused) {
    it(`refuses ${ip} with the reason, runs nothing and audits nothing`, async () => {
      const { deps, fwCalls, calls, audit } = fakeDeps();
      deps.ownAddresses = () => ['10.1.2.3', 'fd00::5'];
      const r = await createHelperDispatcher(deps).handle({ id: 3, op: 'ban', args: { ip, timeoutSec: 600, comment: 'x', backend: 'set' } });
      expect(r).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringMatching(/^refusing to ban: .* is (a loopback|the unspecified|a multicast|the broadcast|an address of this host)/) } });
      expect(fwCalls).toEqual([]);
      expect(calls).toEqual([]);
      expect(audit.entries).toEqual([]);
    });
  }

  it('refuses a banMany batch whole when one entry is unbannable, naming it; runs nothing', async () => {
    const { deps, fwCalls, calls, audit } = fakeDeps();
    deps.ownAddresses = () => ['10.1.2.3'];
    const bans = [
      { ip: '203.0.113.7', timeoutSec: 600, comment: 'x' },
      { ip: '10.1.2.3', timeoutSec: 600, comment: 'x' },
    ];
    const r = await createHelperDispatcher(deps).handle({ id: 5, op: 'banMany', args: { bans, backend: 'set' } });
    expect(r).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringMatching(/^refusing to ban: 10\.1\.2\.3 is an address of this host/) } });
    expect(fwCalls).toEqual([]);
    expect(calls).toEqual([]);
    expect(audit.entries).toEqual([]);
  });

  for (const ip of ['127.0.0.1', '::1', '0.0.0.0', '10.1.2.3']) {
    it(`cutConnections refuses ${ip} (loopback or this host's own): runs nothing, audits nothing (audit F10a)`, async () => {
      const { deps, fwCalls, calls, audit } = fakeDeps();
      deps.ownAddresses = () => ['10.1.2.3'];
      const r = await createHelperDispatcher(deps).handle({ id: 6, op: 'cutConnections', args: { ip } });
      expect(r).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringMatching(/^refusing to cut connections: /) } });
      expect(fwCalls).toEqual([]);
      expect(calls).toEqual([]);
      expect(audit.entries).toEqual([]);
    });
  }

  it('cutConnections of an ordinary address still runs', async () => {
    const { deps, fwCalls } = fakeDeps();
    deps.ownAddresses = () => ['10.1.2.3'];
    const r = await createHelperDispatcher(deps).handle({ id: 7, op: 'cutConnections', args: { ip: '203.0.113.7' } });
    expect(r).toMatchObject({ ok: true });
    expect(fwCalls).toContain('cut 203.0.113.7');
  });

  it('still bans an ordinary address', async () => {
    const { deps, fwCalls } = fakeDeps();
    deps.ownAddresses = () => ['10.1.2.3'];
    const r = await createHelperDispatcher(deps).handle({ id: 4, op: 'ban', args: { ip: '203.0.113.7', timeoutSec: 600, comment: 'x', backend: 'set' } });
    expect(r).toMatchObject({ ok: true });
    expect(fwCalls.length).toBeGreaterThan(0);
  });

  it("by default knows this namespace's own addresses (loopback at least)", () => {
    expect(hostAddresses()).toContain('127.0.0.1');
    expect(unbannableReason('192.0.2.1', [])).toBeNull();
    expect(unbannableReason('not an ip', [])).toBeNull();
  });
});
