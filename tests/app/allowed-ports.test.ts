/**
 * allowedPortsFrom answers from bitmaps built once per status read (the engine asks for every
 * blocked packet); it must answer exactly what reading the rules' port specs answers. Only rules open
 * to every source count, and each only for its own address family (a ufw status line with or
 * without "(v6)").
 */
import { describe, expect, it } from 'vitest';
import type { UfwRule } from '../../electron/shared/api.ts';
import { allowedPortsFrom, portSpecHas } from '../../electron/app/rule-safety.ts';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { syn, T0 } from '../engine/detect/packets.ts';

const rule = (over: Pick<UfwRule, 'port' | 'proto'> & Partial<Pick<UfwRule, 'action' | 'direction' | 'from' | 'v6'>>): UfwRule => ({ number: 1, v6: false, action: 'allow', direction: 'in', from: 'Anywhere', to: 'Anywhere', comment: '', portcullis: false, ...over });

describe('allowedPortsFrom', () => {
  it('agrees with the rules read one by one, for every port, both protocols and both families', () => {
    const rules: UfwRule[] = [
      rule({ port: '22', proto: 'tcp' }),
      rule({ port: '22', proto: 'tcp', v6: true }),
      rule({ port: '8000:8100', proto: 'udp' }),
      rule({ port: '80,443,60000:65535', proto: 'any' }),
      rule({ port: '80,443,60000:65535', proto: 'any', v6: true }),
      rule({ port: '53', proto: 'any', action: 'limit', v6: true }),
      rule({ port: '25', proto: 'tcp', action: 'deny' }), // not an allow
      rule({ port: '110', proto: 'tcp', direction: 'out' }), // not inbound
      rule({ port: '', proto: 'tcp' }), // any port: not counted (an app profile, or everything)
      rule({ port: '500', proto: 'esp' }),
      rule({ port: 'x,7', proto: 'tcp' }),
    ];
    const allowed = allowedPortsFrom(rules);
    const allow = rules.filter((r) => (r.action === 'allow' || r.action === 'limit') && r.direction === 'in' && r.port !== '');
    const byReading = (family: 4 | 6, proto: 'tcp' | 'udp', port: number) =>
      allow.some((r) => (r.v6 ? 6 : 4) === family && (r.proto === 'any' || r.proto === proto) && portSpecHas(r.port, port));
    const yes = { 4: 0, 6: 0 };
    for (const family of [4, 6] as const) {
      for (const proto of ['tcp', 'udp'] as const) {
        for (let port = 0; port < 65536; port++) {
          const want = byReading(family, proto, port);
          if (allowed(family, proto, port) !== want) expect({ family, proto, port, allowed: allowed(family, proto, port) }).toEqual({ family, proto, port, allowed: want });
          if (want) yes[family]++;
        }
      }
    }
    // IPv4: 22 and 7 (tcp), 8000-8100 (udp), 80/443/60000-65535 (both); IPv6: 22 (tcp), 80/443/60000-65535 and 53 (both).
    expect(yes).toEqual({ 4: 1 + 1 + 101 + 2 * (2 + 5536), 6: 1 + 2 * (2 + 5536) + 2 });
  });

  it('only a rule that lets in every source makes a port allowed: `allow from 10.0.0.0/8 to any port 22` does not', () => {
    const allowed = allowedPortsFrom([
      rule({ port: '22', proto: 'tcp', from: '10.0.0.0/8' }),
      rule({ port: '443', proto: 'tcp', from: '2001:db8:1::/48', v6: true }),
      rule({ port: '80', proto: 'tcp', from: 'Anywhere' }),
      rule({ port: '8443', proto: 'tcp', from: 'Anywhere (v6)', v6: true }),
      rule({ port: '53', proto: 'udp', from: 'any' }),
    ]);
    expect([22, 443, 80].map((p) => allowed(4, 'tcp', p))).toEqual([false, false, true]);
    expect([22, 443, 8443].map((p) => allowed(6, 'tcp', p))).toEqual([false, false, true]);
    expect(allowed(4, 'udp', 53)).toBe(true);
  });

  it("a port is allowed per address family: a rule without its '(v6)' twin (`allow from 0.0.0.0/0 to any port 80`, or ufw with IPV6=no) opens it to IPv4 only", () => {
    // `ufw status` of `ufw allow 80/tcp` (IPV6=yes): two lines; of `ufw allow from 0.0.0.0/0 to any port 80 proto tcp`: the first only.
    const both = allowedPortsFrom([rule({ port: '80', proto: 'tcp' }), rule({ port: '80', proto: 'tcp', from: 'Anywhere', v6: true })]);
    expect([both(4, 'tcp', 80), both(6, 'tcp', 80)]).toEqual([true, true]);
    const v4 = allowedPortsFrom([rule({ port: '80', proto: 'tcp' })]);
    expect([v4(4, 'tcp', 80), v4(6, 'tcp', 80)]).toEqual([true, false]);
    const v6 = allowedPortsFrom([rule({ port: '80', proto: 'tcp', from: 'Anywhere (v6)', v6: true })]);
    expect([v6(4, 'tcp', 80), v6(6, 'tcp', 80)]).toEqual([false, true]);
  });

  it('with a v4-only allow rule an IPv6 scanner probing that port and others is banned, while an IPv4 source probing it is not counted', () => {
    const bans: string[] = [];
    const engine = new ScanEngine(
      { settings: SettingsSchema.parse({}), clock: new ManualClock(T0), isAllowedPort: allowedPortsFrom([rule({ port: '80', proto: 'tcp' })]) },
      (e) => void (e.type === 'ban' && bans.push(e.ban.ip)),
    );
    // Each probe its own source port: a repeat of one (source port, port) within 2 min is a resent SYN, one probe.
    const probe = (src: string, ports: number[]) => ports.map((port, i) => engine.ingestPacket(syn(src, port, T0 + i * 1000, { spt: 40000 + i })));
    expect(probe('2001:db8:5::9', [80, 80, 80, 21, 23])).toEqual(['counted', 'counted', 'counted', 'counted', 'counted']);
    expect(probe('198.51.100.1', [80, 80, 80, 21, 23])).toEqual(['allowed-port', 'allowed-port', 'allowed-port', 'counted', 'counted']);
    expect(bans).toEqual(['2001:db8:5::9']);
  });
});
