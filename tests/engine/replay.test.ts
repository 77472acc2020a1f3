/**
 * ReplaySession's own bookkeeping (the engine's verdicts are tested in engine.test.ts and by the
 * replay fixtures): distinct sources counted once whichever lane parsed the line.
 */
import { describe, expect, it } from 'vitest';
import { ReplaySession } from '../../electron/engine/replay.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';

const settings = SettingsSchema.parse({});

function line(src: string, port: number): string {
  const ip = src.includes(':')
    ? `SRC=${src} DST=2001:0db8:0000:0000:0000:0000:0000:0010 LEN=60 TC=0 HOPLIMIT=50 FLOWLBL=0`
    : `SRC=${src} DST=192.0.2.20 LEN=44 TOS=0x00 PREC=0x00 TTL=45 ID=7`;
  return `Nov 22 10:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= MAC= ${ip} PROTO=TCP SPT=40000 DPT=${port} WINDOW=1024 RES=0x00 SYN URGP=0`;
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
});
