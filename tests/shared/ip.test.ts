/**
 * An address typed by a user keeps its meaning (issue 9.5): ipaddr.js reads the IPv4-compatible
 * IPv6 form `::1.2.3.4` as the IPv4-mapped `::ffff:1.2.3.4`, i.e. as the IPv4 host 1.2.3.4 — a ban,
 * a whitelist entry or a rule typed that way named another host than the one written.
 */
import { describe, expect, it } from 'vitest';
import { canonicalCidr, canonicalIp } from '../../electron/shared/domain.ts';
import { API, RuleSpecSchema } from '../../electron/shared/api.ts';
import { HELPER_OPS } from '../../electron/shared/helper-protocol.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { Whitelist } from '../../electron/engine/detect/whitelist.ts';

describe('IPv6 with an embedded dotted quad', () => {
  it('::1.2.3.4 is the IPv6 host ::102:304, as its hex form 0:0:0:0:0:0:102:304 is — never 1.2.3.4', () => {
    expect(canonicalIp('::1.2.3.4')).toBe('::102:304');
    expect(canonicalIp('0:0:0:0:0:0:1.2.3.4')).toBe('::102:304');
    expect(canonicalIp('::0102:0304')).toBe('::102:304');
    expect(canonicalCidr('::1.2.3.4')).toBe('::102:304/128');
  });

  it('::ffff:1.2.3.4 (IPv4-mapped) still is 1.2.3.4, other prefixes keep theirs', () => {
    expect(canonicalIp('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(canonicalIp('::ffff:102:304')).toBe('1.2.3.4');
    expect(canonicalIp('64:ff9b::1.2.3.4')).toBe('64:ff9b::102:304');
    expect(canonicalIp('2001:db8::10.0.0.1')).toBe('2001:db8::a00:1');
  });

  it('a broken dotted tail is refused, not guessed', () => {
    for (const t of ['::1.2.3', '::1.2.3.256', '::01.2.3.4', '::1.2.3.4.5', '1.2.3.4::']) expect(canonicalIp(t), t).toBeNull();
  });

  it('user input keeps its meaning: ban, whitelist entry, rule address', () => {
    const ban = API.ban.params.parse({ ip: '::1.2.3.4' });
    expect(ban.ip).toBe('::102:304');
    const helperBan = HELPER_OPS.ban.args.parse({ ip: '::1.2.3.4', timeoutSec: 60, backend: 'set' });
    expect(helperBan.ip).toBe('::102:304');
    const s = SettingsSchema.parse({ whitelist: { entries: ['::1.2.3.4'] } });
    expect(s.whitelist.entries).toEqual(['::102:304/128']);
    const wl = Whitelist.from({ host: [], gateways: [], user: s.whitelist.entries });
    expect(wl.matches('1.2.3.4')).toBe(false);
    expect(wl.matches('::102:304')).toBe(true);
    const rule = RuleSpecSchema.parse({ action: 'deny', from: '::1.2.3.4' });
    expect(rule.from).toBe('::102:304/128');
  });
});
