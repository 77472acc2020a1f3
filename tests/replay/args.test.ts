import { describe, expect, it } from 'vitest';
import { parseReplayArgs } from '../../electron/headless/replay.ts';

const ok = (argv: string[]) => {
  const r = parseReplayArgs(argv);
  if (!r.ok || r.help) throw new Error(`refused: ${JSON.stringify(r)}`);
  return r;
};
const refused = (argv: string[]) => {
  const r = parseReplayArgs(argv);
  if (r.ok) throw new Error('accepted');
  return r.error;
};

describe('replay flags', () => {
  it('maps flags onto the settings schema, requireKernelTrust off, prefixes added to the defaults', () => {
    const r = ok(['x.log', '--maxretry', '3', '--findtime', '60', '--min-ports', '2', '--prefix', 'PORT DENIED:', '--whitelist', '10.1.2.3/8', '--whitelist', '2001:db8::1', '--format', 'kmsg', '--year', '2024', '--open-port', '22/tcp', '--open-port', '53']);
    expect(r.settings.detection).toMatchObject({ maxretry: 3, findtimeSec: 60, minDistinctPorts: 2, requireKernelTrust: false });
    expect(r.settings.detection.prefixes).toEqual(['UFW BLOCK', 'UFW LIMIT BLOCK', 'PORTCULLIS BLOCK', 'PORTCULLIS FORWARD', 'PORT DENIED:']);
    expect(r.settings.whitelist.entries).toEqual(['10.0.0.0/8', '2001:db8::1/128']);
    expect(r).toMatchObject({ input: 'x.log', framing: 'kmsg', year: 2024, json: false, openPorts: ['tcp/22', 'tcp/53', 'udp/53'] });
  });

  it("counts any program's firewall lines by default (issue 12.3); --kernel-only keeps the live engine's rule", () => {
    expect(ok(['x.log']).anyProgram).toBe(true);
    expect(ok(['x.log', '--any-program']).anyProgram).toBe(true);
    expect(ok(['x.log', '--kernel-only']).anyProgram).toBeUndefined();
    expect(refused(['x.log', '--kernel-only', '--any-program'])).toMatch(/contradict/);
  });

  it('refuses with the flag name and the reason, all problems at once', () => {
    const e = refused(['x.log', '--maxretry', '0', '--min-ports', '0', '--whitelist', '300.1.1.1', '--bantime', '0']);
    expect(e.split('\n')).toEqual(
      expect.arrayContaining([
        '--maxretry: maxretry must be at least 1',
        '--min-ports: minDistinctPorts must be at least 1',
        '--bantime: bantime must be more than 0 seconds',
        '--whitelist: "300.1.1.1" is not an address or CIDR (e.g. 192.168.1.0/24 or 2001:db8::/32)',
      ]),
    );
  });

  it('refuses text where a number belongs, bad years, ports and formats, unknown flags, no or two inputs', () => {
    expect(refused(['x.log', '--maxretry', 'five'])).toBe('--maxretry: "five" is not a whole number');
    expect(refused(['x.log', '--findtime', '1.5'])).toBe('--findtime: "1.5" is not a whole number');
    expect(refused(['x.log', '--year', '99'])).toContain('--year: 99 is not a year');
    expect(refused(['x.log', '--open-port', '70000'])).toContain('--open-port: "70000" is not a port');
    expect(refused(['x.log', '--format', 'csv'])).toContain('--format: "csv" is not one of auto, syslog, kmsg, journal, dmesg');
    expect(refused(['x.log', '--frobnicate'])).toContain("Unknown option '--frobnicate'");
    expect(refused([])).toContain('missing the log file');
    expect(refused(['a.log', 'b.log'])).toContain('one input at a time');
    expect(refused(['x.log', '--findtime', String(8 * 86400)])).toContain('--findtime: findtime longer than a week');
  });

  it('--help wins over everything else', () => {
    expect(parseReplayArgs(['--help', '--maxretry', 'x'])).toEqual({ ok: true, help: true });
  });
});
