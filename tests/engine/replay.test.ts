/**
 * ReplaySession's own bookkeeping (the engine's verdicts are tested in engine.test.ts and by the
 * replay fixtures): distinct sources counted once whichever lane parsed the line.
 */
import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { SyslogYear } from '../../electron/engine/parse/time.ts';
import { ReplaySession } from '../../electron/engine/replay.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';

const settings = SettingsSchema.parse({});

function line(src: string, port: number, stamp = 'Nov 22 10:00:00'): string {
  const ip = src.includes(':')
    ? `SRC=${src} DST=2001:0db8:0000:0000:0000:0000:0000:0010 LEN=60 TC=0 HOPLIMIT=50 FLOWLBL=0`
    : `SRC=${src} DST=192.0.2.20 LEN=44 TOS=0x00 PREC=0x00 TTL=45 ID=7`;
  return `${stamp} gw kernel: [UFW BLOCK] IN=eth0 OUT= MAC= ${ip} PROTO=TCP SPT=40000 DPT=${port} WINDOW=1024 RES=0x00 SYN URGP=0`;
}

describe('ReplaySession', () => {
  it('counts distinct sources once, IPv4 and IPv6, from the text lane (first lines) and the bytes lane alike', () => {
    const v4 = Array.from({ length: 6000 }, (_, i) => `198.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const all = ['0.0.0.0', '255.255.255.255', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:0db8:0000:0000:0000:0000:0001:0001', ...v4];
    // Every source twice: once among the first lines for some, then all again later.
    const lines = [...all.slice(0, 40), ...all, ...all.slice().reverse()].map((src, i) => line(src, 1 + (i % 3)));
    const session = new ReplaySession({ settings, year: 2026 });
    session.push(new TextEncoder().encode(lines.join('\n') + '\n'));
    const s = session.end();
    expect(s.lines).toBe(lines.length);
    expect(s.packets).toBe(lines.length);
    expect(s.distinctSources).toBe(all.length);
  });

  it('follows a log across New Year: the year rolls over, so time runs forward and the scan across midnight is one', () => {
    // Dec 31 23:59:58 … Jan 1 00:00:02; the first lines go through the text lane (framing sniff), the rest through bytes.
    const stamps = ['Dec 31 23:59:58', 'Dec 31 23:59:59', 'Jan  1 00:00:00', 'Jan  1 00:00:01', 'Jan  1 00:00:02'];
    for (const pad of [0, 100]) {
      const filler = Array.from({ length: pad }, (_, i) => line(`192.0.2.${1 + (i % 200)}`, 80, 'Dec 31 23:00:00'));
      const session = new ReplaySession({ settings, year: 2025 });
      session.push(new TextEncoder().encode([...filler, ...stamps.map((st, i) => line('203.0.113.7', [21, 22, 23, 25, 80][i]!, st))].join('\n') + '\n'));
      const s = session.end();
      expect(s.lastTime).toBe(new Date(2026, 0, 1, 0, 0, 2).getTime());
      expect(s.bans.map((b) => [b.ip, b.at])).toEqual([['203.0.113.7', new Date(2026, 0, 1, 0, 0, 2).getTime()]]);
      expect(s.bans[0]!.reason.firstSeen).toBe(new Date(2025, 11, 31, 23, 59, 58).getTime());
    }
  });

  it('the time span is earliest to latest, whatever the order of the lines', () => {
    const session = new ReplaySession({ settings, year: 2026 });
    const stamps = ['Nov 22 11:00:00', 'Nov 22 10:00:00', 'Nov 22 12:00:00', 'Nov 22 10:30:00'];
    session.push(new TextEncoder().encode(stamps.map((st, i) => line(`198.51.100.${i + 1}`, 80, st)).join('\n') + '\n'));
    const s = session.end();
    expect([s.firstTime, s.lastTime]).toEqual([new Date(2026, 10, 22, 10).getTime(), new Date(2026, 10, 22, 12).getTime()]);
  });

  it('SyslogYear: rolls forward at New Year, back for a late December line, and keeps a first stamp out of the future', () => {
    const y = new SyslogYear(2025);
    expect([[11, 31], [0, 1], [11, 31], [0, 1], [5, 1]].map(([m, d]) => y.of(m!, d!))).toEqual([2025, 2026, 2025, 2026, 2026]);
    const newYearsDay = new Date(2027, 0, 1, 8).getTime();
    expect(new SyslogYear(undefined, () => newYearsDay).of(11, 31)).toBe(2026); // yesterday's log
    expect(new SyslogYear(undefined, () => newYearsDay).of(0, 1)).toBe(2027);
    expect(new SyslogYear(undefined, () => newYearsDay).of(0, 2)).toBe(2027); // a day ahead: clock skew, not last year
    expect(new SyslogYear(undefined, () => newYearsDay).of(0, 3)).toBe(2026);
  });

  it('a live engine on a syslog file dates January records in the new year (it ran since December)', () => {
    const clock = new ManualClock(new Date(2026, 11, 31, 23, 59, 0).getTime());
    const engine = new ScanEngine({ settings: SettingsSchema.parse({ detection: { requireKernelTrust: false } }), clock, parse: { framing: 'syslog' }, probeEvents: false }, () => undefined);
    const stamps = ['Dec 31 23:59:58', 'Dec 31 23:59:59', 'Jan  1 00:00:00', 'Jan  1 00:00:01'];
    stamps.forEach((st, i) => engine.ingestLine(line('203.0.113.9', 20 + i, st)));
    clock.set(new Date(2027, 0, 1, 0, 0, 2).getTime());
    const enc = new TextEncoder().encode(line('203.0.113.9', 80, 'Jan  1 00:00:02'));
    engine.ingestBytes(enc, 0, enc.length);
    const bans = engine.activeBans();
    expect(bans.map((b) => [b.ip, b.at])).toEqual([['203.0.113.9', new Date(2027, 0, 1, 0, 0, 2).getTime()]]);
    expect(bans[0]!.until).toBeGreaterThan(clock.now()); // not expired at once, as a ban dated a year early was
  });
});
