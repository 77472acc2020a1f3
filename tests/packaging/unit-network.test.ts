/**
 * The installed service's unit lets fleet sharing reach a CrowdSec LAPI on another host. The unit
 * once had IPAddressDeny=any with only localhost allowed: systemd dropped every packet of the
 * service's LAPI calls, and `fleet status` said "unreachable" while the LAPI answered curl from a
 * shell. (The package's system test runs the ExecStart line under setpriv, not under systemd, so
 * it cannot see the unit's IP filter: this reads the unit.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const UNIT = path.resolve(import.meta.dirname, '../../build/server/portcullis.service');

/** The unit's `Key=value` settings (comments and sections left out), in order. */
function settings(): [string, string][] {
  return readFileSync(UNIT, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('[') && l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}

describe('the unit and fleet sharing', () => {
  it('has no IP address filter that drops a LAPI off this host', () => {
    const deny = settings().filter(([k]) => k === 'IPAddressDeny');
    expect(deny, 'IPAddressDeny drops the fleet link to a CrowdSec LAPI on another host').toEqual([]);
  });

  it('may open IPv4 and IPv6 sockets (the LAPI, and the UI of serve on 127.0.0.1)', () => {
    const families = settings()
      .filter(([k]) => k === 'RestrictAddressFamilies')
      .flatMap(([, v]) => v.split(/\s+/));
    expect(families).toEqual(expect.arrayContaining(['AF_INET', 'AF_INET6']));
  });
});
