/**
 * allowedPortsFrom answers from bitmaps built once per status read (the engine asks for every
 * blocked packet); it must answer exactly what reading the rules' port specs answers. Only rules open
 * to every source count.
 */
import { describe, expect, it } from 'vitest';
import type { UfwRule } from '../../electron/shared/api.ts';
import { allowedPortsFrom, portSpecHas } from '../../electron/app/rule-safety.ts';

const rule = (over: Pick<UfwRule, 'port' | 'proto'> & Partial<Pick<UfwRule, 'action' | 'direction' | 'from' | 'v6'>>): UfwRule => ({ number: 1, v6: false, action: 'allow', direction: 'in', from: 'Anywhere', to: 'Anywhere', comment: '', portcullis: false, ...over });

describe('allowedPortsFrom', () => {
  it('agrees with the rules read one by one, for every port and both protocols', () => {
    const rules: UfwRule[] = [
      rule({ port: '22', proto: 'tcp' }),
      rule({ port: '8000:8100', proto: 'udp' }),
      rule({ port: '80,443,60000:65535', proto: 'any' }),
      rule({ port: '53', proto: 'any', action: 'limit' }),
      rule({ port: '25', proto: 'tcp', action: 'deny' }), // not an allow
      rule({ port: '110', proto: 'tcp', direction: 'out' }), // not inbound
      rule({ port: '', proto: 'tcp' }), // any port: not counted (an app profile, or everything)
      rule({ port: '500', proto: 'esp' }),
      rule({ port: 'x,7', proto: 'tcp' }),
    ];
    const allowed = allowedPortsFrom(rules);
    const allow = rules.filter((r) => (r.action === 'allow' || r.action === 'limit') && r.direction === 'in' && r.port !== '');
    const byReading = (proto: 'tcp' | 'udp', port: number) => allow.some((r) => (r.proto === 'any' || r.proto === proto) && portSpecHas(r.port, port));
    let yes = 0;
    for (const proto of ['tcp', 'udp'] as const) {
      for (let port = 0; port < 65536; port++) {
        const want = byReading(proto, port);
        if (allowed(proto, port) !== want) expect({ proto, port, allowed: allowed(proto, port) }).toEqual({ proto, port, allowed: want });
        if (want) yes++;
      }
    }
    expect(yes).toBe(1 + 1 + 101 + 2 * (2 + 5536) + 2); // 22 and 7 (tcp), 8000-8100 (udp), 80/443/60000-65535 and 53 (both)
  });

  it('only a rule that lets in every source makes a port allowed: `allow from 10.0.0.0/8 to any port 22` does not', () => {
    const allowed = allowedPortsFrom([
      rule({ port: '22', proto: 'tcp', from: '10.0.0.0/8' }),
      rule({ port: '443', proto: 'tcp', from: '2001:db8:1::/48', v6: true }),
      rule({ port: '80', proto: 'tcp', from: 'Anywhere' }),
      rule({ port: '8443', proto: 'tcp', from: 'Anywhere (v6)', v6: true }),
      rule({ port: '53', proto: 'udp', from: 'any' }),
    ]);
    expect([22, 443, 80, 8443].map((p) => allowed('tcp', p))).toEqual([false, false, true, true]);
    expect(allowed('udp', 53)).toBe(true);
  });
});
