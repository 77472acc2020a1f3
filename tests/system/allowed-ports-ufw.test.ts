/**
 * Allowed ports per address family, from REAL ufw (in a network namespace of its own): the status
 * lines ufw prints for rules open to one family or both, as parsed and read by allowedPortsFrom, and
 * what the engine makes of probes to those ports — a port open to IPv4 only is evidence when an IPv6
 * source probes it. With IPV6=no ufw lists no "(v6)" rule at all: no port is open to IPv6.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedPortsFrom } from '../../electron/app/rule-safety.ts';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { parseUfwStatus } from '../../electron/helper/ufw-status.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { syn, T0 } from '../engine/detect/packets.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

describe.runIf(requireSystem('root', 'netns', 'ufw'))('allowed ports per family, from real ufw', () => {
  let lab: Lab;
  const allowed = async () => allowedPortsFrom(parseUfwStatus(await lab.ufw('status', 'numbered')).rules);

  beforeAll(async () => {
    // The lab's ufw: IPV6=yes, deny incoming, `allow 22/tcp` (both families).
    lab = await createLab({ scanners: 1, ufw: true, listen: false, kernelLog: false });
    await lab.ufw('allow', 'from', '0.0.0.0/0', 'to', 'any', 'port', '8090', 'proto', 'tcp');
    await lab.ufw('allow', 'from', '::/0', 'to', 'any', 'port', '8091', 'proto', 'tcp');
    await lab.ufw('allow', '8092/tcp');
  });
  afterAll(async () => {
    await lab?.cleanup();
  });

  it('a rule opens its port to its own family: from 0.0.0.0/0 to IPv4, from ::/0 to IPv6, a plain allow to both', async () => {
    const open = await allowed();
    const row = (port: number) => [open(4, 'tcp', port), open(6, 'tcp', port)];
    expect({ 22: row(22), 8090: row(8090), 8091: row(8091), 8092: row(8092), 8093: row(8093) }).toEqual({
      22: [true, true],
      8090: [true, false],
      8091: [false, true],
      8092: [true, true],
      8093: [false, false],
    });
  });

  it('with the IPv4-only rule an IPv6 scanner probing its port and others is banned; an IPv4 source probing it is not counted', async () => {
    const bans: string[] = [];
    const engine = new ScanEngine({ settings: SettingsSchema.parse({}), clock: new ManualClock(T0), isAllowedPort: await allowed() }, (e) => void (e.type === 'ban' && bans.push(e.ban.ip)));
    // Each probe its own source port: a repeat of one (source port, port) within 2 min is a resent SYN, one probe.
    const probe = (src: string, ports: number[]) => ports.map((port, i) => engine.ingestPacket(syn(src, port, T0 + i * 1000, { spt: 40000 + i })));
    expect(probe(lab.scanner.v6, [8090, 8090, 8090, 21, 23])).toEqual(['counted', 'counted', 'counted', 'counted', 'counted']);
    expect(probe(lab.scanner.v4, [8090, 8090, 8090, 21, 23])).toEqual(['allowed-port', 'allowed-port', 'allowed-port', 'counted', 'counted']);
    expect(bans).toEqual([lab.scanner.v6]);
  });

  it('with IPV6=no ufw lists its rules once, for IPv4: no port is open to IPv6', async () => {
    const file = `/etc/netns/${lab.fwNs}/default/ufw`;
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^IPV6=.*$/m, 'IPV6=no'));
    await lab.ufw('reload');
    const open = await allowed();
    expect([22, 8090, 8091, 8092].map((port) => [open(4, 'tcp', port), open(6, 'tcp', port)])).toEqual([
      [true, false],
      [true, false],
      [false, false],
      [true, false],
    ]);
  });
});
