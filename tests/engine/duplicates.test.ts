/**
 * One packet, one probe: a blocked packet logged by the per-source logging block ("PORTCULLIS BLOCK")
 * and by ufw's own rule ("UFW BLOCK") counts once, in the live engine and in the replay alike.
 */
import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { ReplaySession } from '../../electron/engine/replay.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { EngineEvent } from '../../electron/shared/model.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';

const settings = SettingsSchema.parse({});

/** A kmsg record of one SYN as the kernel prints it, with this log prefix. */
function kmsg(prefix: string, src: string, dpt: number, o: { usec: number; id?: number; spt?: number; seq: number }): string {
  const ip = src.includes(':')
    ? `SRC=${src} DST=2001:0db8:0000:0000:0000:0000:0000:0010 LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=51234`
    : `SRC=${src} DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=${o.id ?? 1} DF`;
  return `4,${o.seq},${o.usec},-;[${prefix}] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 ${ip} PROTO=TCP SPT=${o.spt ?? 40000} DPT=${dpt} WINDOW=64240 RES=0x00 SYN URGP=0 `;
}

/** Each probe logged by both rules, the block's line first (it comes first in ufw-after-input), as in the kernel log. */
function doubled(src: string, ports: number[], startUsec = 1_000_000): string[] {
  let seq = 100;
  return ports.flatMap((port, i) => {
    const at = { usec: startUsec + i * 1_000_000, id: 30000 + i, spt: 50000 + i };
    return [kmsg('PORTCULLIS BLOCK', src, port, { ...at, seq: seq++ }), kmsg('UFW BLOCK', src, port, { ...at, usec: at.usec + 7, seq: seq++ })];
  });
}

function liveEngine() {
  const events: EngineEvent[] = [];
  const engine = new ScanEngine({ settings, clock: new ManualClock(0), parse: { framing: 'kmsg', bootTimeMs: 0 } }, (e) => events.push(e));
  return { engine, events };
}

describe('one packet logged by two LOG rules is one probe', () => {
  it('live engine: 3 single SYNs to 3 closed ports, each logged twice → 3 probes, no ban (it banned: "hits 6")', () => {
    const { engine, events } = liveEngine();
    for (const l of doubled('203.0.113.5', [23, 25, 8080])) engine.ingestLine(l);
    expect(events.filter((e) => e.type === 'probe')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'ban')).toEqual([]);
    expect(engine.stats().ignored['duplicate-record']).toBe(3);
    expect(engine.offender('203.0.113.5')).toMatchObject({ hits: 3 });
  });

  it('live engine: 5 doubled SYNs ban with 5 hits, at the 5th probe; IPv6 (no IP ID) is de-duplicated too', () => {
    const { engine, events } = liveEngine();
    for (const l of [...doubled('203.0.113.6', [21, 22, 23, 25, 80]), ...doubled('2001:0db8:0bad:0000:0000:0000:0000:0007', [21, 22])]) engine.ingestLine(l);
    const bans = events.flatMap((e) => (e.type === 'ban' ? [e.ban] : []));
    expect(bans.map((b) => [b.ip, b.reason.kind === 'scan' ? b.reason.hits : 0])).toEqual([['203.0.113.6', 5]]);
    expect(events.filter((e) => e.type === 'probe')).toHaveLength(7);
  });

  it('the same packet seen twice by ONE rule (a retransmission, same ports and ID) is two packets; other fields differing is two packets', () => {
    const { engine } = liveEngine();
    const verdicts = [
      kmsg('UFW BLOCK', '203.0.113.8', 22, { usec: 1_000_000, id: 5, seq: 1 }),
      kmsg('UFW BLOCK', '203.0.113.8', 22, { usec: 1_000_100, id: 5, seq: 2 }),
      kmsg('PORTCULLIS BLOCK', '203.0.113.8', 23, { usec: 1_000_200, id: 6, seq: 3 }),
      kmsg('UFW BLOCK', '203.0.113.8', 23, { usec: 1_000_300, id: 9, seq: 4 }), // another ID: another packet
      kmsg('UFW BLOCK', '203.0.113.9', 23, { usec: 1_000_400, id: 6, seq: 5 }), // another source
      kmsg('UFW BLOCK', '203.0.113.8', 23, { usec: 9_000_000, id: 6, seq: 6 }), // 8 s later: another packet
    ].map((l) => {
      engine.ingestLine(l);
      return engine.stats().ignored['duplicate-record'];
    });
    expect(verdicts).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('replay: the same result, wherever in the input the pair falls (the parse stage hands lines over in batches, the first lines read apart)', () => {
    const lines = doubled('203.0.113.5', [23, 25, 8080]);
    // 0…79 lines of another source's doubled probes first (a lone first line of a pair when odd).
    for (let skip = 0; skip < 80; skip += 1) {
      const filler = doubled('198.51.100.1', Array.from({ length: skip }, (_, i) => 1000 + i), 0);
      const session = new ReplaySession({ settings, year: 2026, framing: 'kmsg', bootTimeMs: 0 });
      session.push(new TextEncoder().encode([...filler.slice(0, skip), ...lines].join('\n') + '\n'));
      const s = session.end();
      expect(s.ignored['duplicate-record'], `after ${skip} lines`).toBe(Math.floor(skip / 2) + 3);
      expect(s.bans.filter((b) => b.ip === '203.0.113.5')).toEqual([]);
    }
  });
});
