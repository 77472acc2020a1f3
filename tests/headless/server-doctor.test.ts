/**
 * Issue 11.5: Doctor checks for servers — IPV6=no in /etc/default/ufw, log prefixes seen in the live
 * log that are not counted, and forwarded traffic (Docker's DNAT) that ufw's INPUT rules never see —
 * each with its fix.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch, type DoctorCheck } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import type { Exec } from '../../electron/helper/exec.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import { forwardedTraffic, forwardedTrafficCheck, ipv6Check, PrefixTally, prefixesToCount, ufwIpv6Setting, uncountedPrefixesCheck } from '../../electron/app/server-doctor.ts';
import { runFix } from '../../electron/app/doctor.ts';
import { FakeEngine, FakeFirewall, FakeHelper, fakeParser, Journal, MemorySettings, MemoryStore, PushSource } from './fakes.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// `iptables -S` / `iptables -t nat -S PREROUTING` as Docker leaves them (docker run -p 8080:80).
const DOCKER_NAT = '-P PREROUTING ACCEPT\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n';
const DOCKER_FILTER = '-P INPUT DROP\n-N DOCKER\n-N DOCKER-USER\n-A FORWARD -j DOCKER-USER\n-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT\n-A DOCKER-USER -j RETURN\n';

function execOf(nat: string, filter: string): Exec {
  return async (bin, args) => {
    expect(bin).toBe('iptables');
    expect(args).toContain('-S'); // read only
    return { code: 0, stdout: args.includes('nat') ? nat : filter, stderr: '' };
  };
}

describe('IPv6 in ufw', () => {
  it('reads IPV6= with or without quotes', () => {
    expect(ufwIpv6Setting('# comment\nIPV6=no\n')).toBe(false);
    expect(ufwIpv6Setting('IPV6="yes"\n')).toBe(true);
    expect(ufwIpv6Setting('DEFAULT_INPUT_POLICY="DROP"\n')).toBeNull();
  });
  it('reads IPV6= as ufw does: the last first-column line wins, an indented one does not count', () => {
    expect(ufwIpv6Setting('IPV6=yes\nIPV6=no\n')).toBe(false); // ufw: no IPv6 rules loaded
    expect(ufwIpv6Setting('  IPV6=yes\n')).toBeNull(); // ufw skips the line
  });
  it('no IPV6= line: says ufw then loads no IPv6 rules (not "ufw\'s default is yes")', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'pc-doc-'));
    dirs.push(d);
    writeFileSync(path.join(d, 'ufw'), 'DEFAULT_INPUT_POLICY="DROP"\n');
    const c = await ipv6Check(path.join(d, 'ufw'));
    expect(c).toMatchObject({ id: 'ipv6', level: 'warn' });
    expect(c.detail).toMatch(/no IPV6= line.*loads no IPv6 rules/);
  });
  it('warns on IPV6=no with the fix', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'pc-doc-'));
    dirs.push(d);
    writeFileSync(path.join(d, 'ufw'), 'IPV6=no\n');
    const c = await ipv6Check(path.join(d, 'ufw'));
    expect(c).toMatchObject({ id: 'ipv6', level: 'warn' });
    expect(c.detail).toMatch(/never logged or banned.*Fix: set IPV6=yes/);
    writeFileSync(path.join(d, 'ufw'), 'IPV6=yes\n');
    expect((await ipv6Check(path.join(d, 'ufw'))).level).toBe('ok');
  });
});

describe('forwarded traffic', () => {
  it("sees Docker's DNAT and says bans do not reach published ports, with the fix", async () => {
    expect(forwardedTraffic(DOCKER_NAT, DOCKER_FILTER)).toMatchObject({ dockerChains: true, dockerUserBan: false });
    const c = await forwardedTrafficCheck(execOf(DOCKER_NAT, DOCKER_FILTER));
    expect(c).toMatchObject({ id: 'forwarded-traffic', level: 'warn' });
    expect(c.detail).toMatch(/bypass ufw's INPUT rules/);
    expect(c.detail).toMatch(/doctor --fix install-forward-block/);
    expect(c.fix).toMatchObject({ id: 'install-forward-block' });
  });
  it('the forward block loaded (and jumped from DOCKER-USER) is ok; loaded without the DOCKER-USER jump is not (issue 12.2)', async () => {
    const block = '-N portcullis-forward\n-A ufw-before-forward -j portcullis-forward\n';
    const jumped = DOCKER_FILTER + block + '-A DOCKER-USER -m comment --comment portcullis-forward -j portcullis-forward\n';
    expect(forwardedTraffic(DOCKER_NAT, jumped)).toMatchObject({ dockerUserBan: true, forwardBlock: true });
    expect(await forwardedTrafficCheck(execOf(DOCKER_NAT, jumped))).toMatchObject({ level: 'ok' });
    expect(await forwardedTrafficCheck(execOf(DOCKER_NAT, DOCKER_FILTER + block))).toMatchObject({ level: 'warn', fix: { id: 'install-forward-block' } });
    const nat = '-P PREROUTING ACCEPT\n-A PREROUTING -i eth0 -p tcp --dport 2222 -j DNAT --to-destination 10.0.0.5:22\n';
    expect(await forwardedTrafficCheck(execOf(nat, block))).toMatchObject({ level: 'ok' });
  });
  it('a plain DNAT rule counts too; a DOCKER-USER ban match is acknowledged', async () => {
    const nat = '-P PREROUTING ACCEPT\n-A PREROUTING -i eth0 -p tcp --dport 2222 -j DNAT --to-destination 10.0.0.5:22\n';
    expect(forwardedTraffic(nat, '').dnat).toHaveLength(1);
    const filter = DOCKER_FILTER + '-A DOCKER-USER -m set --match-set portcullis-ban4 src -j DROP\n';
    expect((await forwardedTrafficCheck(execOf(DOCKER_NAT, filter))).detail).toMatch(/bans do reach them/);
  });
  it('no DNAT: ok', async () => {
    expect((await forwardedTrafficCheck(execOf('-P PREROUTING ACCEPT\n', '-P INPUT DROP\n'))).level).toBe('ok');
  });
});

describe('log prefixes not counted (live)', () => {
  it('tallies at most cap distinct prefixes, most frequent first', () => {
    const t = new PrefixTally(2);
    for (const p of ['UFW AUDIT', 'UFW ALLOW', 'UFW AUDIT', 'MY DROP']) t.note(p);
    expect(t.top()).toEqual([
      { prefix: 'UFW AUDIT', records: 2 },
      { prefix: 'UFW ALLOW', records: 1 },
    ]);
    expect(uncountedPrefixesCheck(new PrefixTally(), ['UFW BLOCK']).level).toBe('ok');
  });

  it("the running service's Doctor reports prefixes of live records it did not count, with the fix", async () => {
    const { service, source } = await prefixService();
    source.push('203.0.113.9 10.0.0.1 22 eth0 MY DROP', '203.0.113.9 10.0.0.1 23 eth0 MY DROP', '203.0.113.9 10.0.0.1 24 eth0 UFW BLOCK');
    const r = (await dispatch(service.handlers(), 'getDoctor', {})) as { ok: true; result: DoctorCheck[] };
    const check = r.result.find((c) => c.id === 'uncounted-prefixes')!;
    expect(check.level).toBe('warn');
    expect(check.detail).toMatch(/"MY DROP" ×2/);
    expect(check.detail).toMatch(/add them to detection\.prefixes/);
    expect(check.fix).toEqual({ id: 'count-seen-prefixes', label: 'Count these prefixes as blocked' });
    expect(r.result.some((c) => c.id === 'ipv6')).toBe(true);
    await service.stop();
  });

  it('ufw\'s prefixes of accepted packets alone are no problem, and are never offered', () => {
    const t = new PrefixTally();
    for (const p of ['UFW ALLOW', 'UFW AUDIT', 'UFW AUDIT INVALID']) t.note(p);
    const c = uncountedPrefixesCheck(t, ['UFW BLOCK']);
    expect(c).toMatchObject({ level: 'ok' });
    expect(c.fix).toBeUndefined();
    expect(c.detail).toMatch(/"UFW ALLOW".*rightly not counted/);
    expect(prefixesToCount(t, ['UFW BLOCK'])).toEqual([]);
    t.note('MY DROP');
    expect(prefixesToCount(t, ['UFW BLOCK'])).toEqual(['MY DROP']);
    expect(prefixesToCount(t, ['UFW BLOCK', 'MY DROP'])).toEqual([]);
  });

  it('the fix never offers a prefix whose name says it logs accepted packets (an own `LOG --log-prefix "SSH ACCEPT"`)', () => {
    // Counted, such a prefix makes every accepted connection (the admin's own SSH) a probe.
    const t = new PrefixTally();
    for (const p of ['SSH ACCEPT', 'ALLOWED-IN', 'nft accept ', 'MY DROP']) t.note(p);
    expect(prefixesToCount(t, ['UFW BLOCK'])).toEqual(['MY DROP']);
    expect(uncountedPrefixesCheck(t, ['UFW BLOCK']).detail).toMatch(/"SSH ACCEPT".*right to stay out/);
  });

  it('the fix adds only the prefixes the check names (at most five), not every one seen', () => {
    const t = new PrefixTally();
    for (let i = 0; i < 8; i++) for (let n = 0; n <= i; n++) t.note(`DROP ${i}`);
    const named = uncountedPrefixesCheck(t, ['UFW BLOCK']).detail;
    const added = prefixesToCount(t, ['UFW BLOCK']);
    expect(added).toHaveLength(5);
    for (const p of added) expect(named).toContain(`"${p}"`);
  });

  it('the fix count-seen-prefixes adds the seen prefixes to the settings (saved), and their records count from then on', async () => {
    const { service, source, settings, engines } = await prefixService();
    source.push('203.0.113.9 10.0.0.1 22 eth0 MY DROP', '203.0.113.9 10.0.0.1 23 eth0 MY DROP', '203.0.113.9 10.0.0.1 24 eth0 UFW ALLOW');
    const r = (await dispatch(service.handlers(), 'runDoctorFix', { fixId: 'count-seen-prefixes' })) as { ok: true; result: DoctorCheck[] };
    expect(r.ok).toBe(true);
    expect(r.result.find((c) => c.id === 'uncounted-prefixes')).toMatchObject({ level: 'ok' });
    const prefixes = (settings.saved as { detection: { prefixes: string[] } }).detection.prefixes;
    expect(prefixes).toContain('MY DROP');
    expect(prefixes).not.toContain('UFW ALLOW');
    expect(prefixes).toContain('UFW BLOCK'); // added to, not replaced
    expect(engines.at(-1)!.settings.detection.prefixes).toContain('MY DROP');
    expect(engines.at(-1)!.ingestPacket({ ...packet(), prefix: 'MY DROP' })).not.toBe('prefix-not-counted');
    // Nothing left to add: refused with the reason, settings unchanged.
    const again = (await dispatch(service.handlers(), 'runDoctorFix', { fixId: 'count-seen-prefixes' })) as { ok: false; error: { code: string; message: string } };
    expect(again).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringMatching(/nothing to add/) } });
    await service.stop();
  });

  it('count-seen-prefixes without a running instance says it needs one', async () => {
    const helper = new FakeHelper();
    await expect(runFix('count-seen-prefixes', { helper: () => helper, guardEnable: async () => undefined })).rejects.toThrow(/needs the running instance/);
  });
});

describe('the fix enable-ufw-ipv6', () => {
  it('the service runs it through the helper, offered by the ipv6 check', async () => {
    const { service, helper } = await prefixService();
    const r = (await dispatch(service.handlers(), 'runDoctorFix', { fixId: 'enable-ufw-ipv6' })) as { ok: boolean };
    expect(r.ok).toBe(true);
    expect(helper.calls).toContain('enableUfwIpv6');
    const d = mkdtempSync(path.join(tmpdir(), 'pc-doc-'));
    dirs.push(d);
    writeFileSync(path.join(d, 'ufw'), 'IPV6=no\n');
    expect((await ipv6Check(path.join(d, 'ufw'))).fix).toEqual({ id: 'enable-ufw-ipv6', label: 'Turn on IPv6 in ufw' });
    await service.stop();
  });
});

function packet(): PacketEvent {
  const r = fakeParser(new ManualClock(1_700_000_000_000))('203.0.113.9 10.0.0.1 22 eth0');
  if (!r.ok) throw new Error('fake parser');
  return r.packet;
}

/** A service whose engine counts only the settings' prefixes (the fake parser, plus a prefix after the 4th word). */
async function prefixService() {
  const journal = new Journal();
  const clock = new ManualClock(1_700_000_000_000);
  const base = fakeParser(clock);
  const parseLine = (line: string) => {
    const r = base(line);
    const prefix = line.trim().split(/\s+/).slice(4).join(' ');
    return r.ok && prefix ? { ...r, packet: { ...r.packet, prefix } } : r;
  };
  class PrefixAwareEngine extends FakeEngine {
    override ingestPacket(p: PacketEvent) {
      return this.settings.detection.prefixes.includes(p.prefix) ? super.ingestPacket(p) : ('prefix-not-counted' as const);
    }
  }
  const engines: PrefixAwareEngine[] = [];
  const source = new PushSource();
  const settings = new MemorySettings({});
  const helper = new FakeHelper();
  const service = new PortcullisService({
    clock,
    settingsRepo: settings,
    createEngine: (o, sink) => {
      const e = new PrefixAwareEngine(o, sink);
      engines.push(e);
      return e;
    },
    parseLine,
    store: new MemoryStore(journal),
    source,
    firewall: new FakeFirewall(journal),
    helper,
    hostInfo: async () => ({ addresses: ['10.0.0.1'], interfaces: ['eth0'], gateways: [] }),
    tickMs: 3_600_000,
    serverChecks: async () => [{ id: 'ipv6', title: 'IPv6 in ufw', level: 'ok', detail: 'test' }],
  });
  await service.start();
  return { service, source, settings, helper, engines };
}
