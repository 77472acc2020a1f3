import { describe, expect, it } from 'vitest';
import { parseAppList, parseRuleLine, parseUfwConf, parseUfwDefaults, parseUfwStatus, PORTCULLIS_TAG } from '../../electron/helper/ufw-status.ts';
import { UfwRuleSchema } from '../../electron/shared/api.ts';
import { fixture } from './fakes.ts';

// Fixtures captured from real ufw 0.36.2 inside a network namespace (see tests/system/helper-ufw.test.ts).
describe('ufw status parsing (real ufw output)', () => {
  const numbered = parseUfwStatus(fixture('ufw-status-numbered.txt'));
  const byNumber = (n: number) => numbered.rules.find((r) => r.number === n)!;

  it('reads every numbered rule, in order, each valid against the shared schema', () => {
    expect(numbered.active).toBe(true);
    expect(numbered.rules.map((r) => r.number)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    for (const r of numbered.rules) expect(UfwRuleSchema.safeParse(r).success).toBe(true);
  });

  it('plain port rules, v4 and v6', () => {
    expect(byNumber(1)).toEqual({ number: 1, v6: false, action: 'allow', direction: 'in', from: 'any', to: 'any', port: '22', proto: 'tcp', comment: '', portcullis: false });
    expect(byNumber(21)).toMatchObject({ v6: true, port: '22', proto: 'tcp', from: 'any' });
  });

  it('interfaces, comments, ranges, lists, out, limit, reject', () => {
    expect(byNumber(2)).toMatchObject({ port: '8080', iface: 'lo', comment: 'local dev' });
    expect(byNumber(4)).toMatchObject({ port: '8000:8100', proto: 'udp', to: 'any' });
    expect(byNumber(5)).toMatchObject({ port: '80,443', proto: 'tcp', from: '10.0.0.0/8' });
    expect(byNumber(6)).toMatchObject({ action: 'reject', direction: 'out', port: '25' });
    expect(byNumber(7)).toMatchObject({ action: 'limit', port: '2222' });
    expect(byNumber(8)).toMatchObject({ to: '192.168.1.10', port: '53', proto: 'udp', iface: 'eth0', from: '192.168.1.0/24' });
    expect(byNumber(16)).toMatchObject({ direction: 'out', port: '587', iface: 'eth1' });
  });

  it('route rules: incoming interface under From, outgoing under To', () => {
    expect(byNumber(9)).toMatchObject({ direction: 'fwd', to: '10.1.0.0/16', port: '80', iface: 'eth0', ifaceOut: 'eth1' });
  });

  it('app profiles, source ports, logging, other protocols', () => {
    expect(byNumber(10)).toMatchObject({ app: 'WWW Full', port: '', proto: 'any' });
    expect(byNumber(26)).toMatchObject({ app: 'WWW Full', v6: true });
    expect(byNumber(13)).toMatchObject({ from: '10.0.0.1', fromPort: '53', proto: 'udp', to: 'any', port: '' });
    expect(byNumber(14)).toMatchObject({ port: '2200', log: 'log' });
    expect(byNumber(17)).toMatchObject({ from: '10.9.0.0/16', proto: 'esp' });
    expect(byNumber(18)).toMatchObject({ from: '10.0.0.2', fromApp: 'SSH' });
    expect(byNumber(19)).toMatchObject({ to: '192.168.1.10', app: 'WWW' });
  });

  it('v6 rules with an explicit address carry no "(v6)" but are v6', () => {
    expect(byNumber(28)).toMatchObject({ v6: true, from: '2001:db8:1::/48', port: '443', comment: 'v6 only' });
  });

  it('flags Portcullis ban rules by their comment tag', () => {
    expect(numbered.rules.filter((r) => r.portcullis).map((r) => [r.number, r.from])).toEqual([[3, '203.0.113.7'], [20, '2001:db8::7']]);
    expect(byNumber(3).comment.startsWith(PORTCULLIS_TAG)).toBe(true);
  });

  it('verbose: status, logging, defaults, and the rules (with app ports shown)', () => {
    const v = parseUfwStatus(fixture('ufw-status-verbose.txt'));
    expect(v).toMatchObject({ active: true, logging: 'low', defaults: { incoming: 'deny', outgoing: 'allow', routed: 'disabled' } });
    expect(v.rules).toHaveLength(31);
    expect(v.rules.find((r) => r.app === 'WWW Full' && !r.v6)).toMatchObject({ port: '80,443', proto: 'tcp' });
    expect(v.rules.find((r) => r.fromApp === 'SSH')).toMatchObject({ from: '10.0.0.2', fromPort: '22', proto: 'tcp' });
  });

  it('inactive firewall and logging off', () => {
    expect(parseUfwStatus('Status: inactive\n')).toEqual({ active: false, logging: null, defaults: null, rules: [] });
    expect(parseUfwStatus('Status: active\nLogging: off\n').logging).toBe('off');
  });

  it('a comment containing " # " and an action word stays whole', () => {
    const r = parseRuleLine('[ 4] 22/tcp                     ALLOW IN    Anywhere                   # keep # ALLOW IN here', 0)!;
    expect(r).toMatchObject({ number: 4, port: '22', from: 'any', comment: 'keep # ALLOW IN here' });
  });

  it('non-rule lines are not rules', () => {
    expect(parseRuleLine('Status: active', 1)).toBeNull();
    expect(parseRuleLine('', 1)).toBeNull();
  });

  it('app list', () => {
    const apps = parseAppList(fixture('ufw-app-list.txt'));
    expect(apps).toContain('WWW Full');
    expect(apps).toContain('Kerberos Admin');
    expect(apps[0]).toBe('AIM');
  });

  it('config files: defaults and logging level', () => {
    expect(parseUfwDefaults('IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\nDEFAULT_FORWARD_POLICY="REJECT"\n')).toEqual({ incoming: 'deny', outgoing: 'allow', routed: 'reject', ipv6: true });
    expect(parseUfwConf('# c\nENABLED=yes\nLOGLEVEL=high\n')).toEqual({ enabled: true, logging: 'high' });
    expect(parseUfwConf('ENABLED=no\n')).toEqual({ enabled: false, logging: 'low' });
  });
});
