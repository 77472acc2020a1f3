/**
 * Properties of the whole detector (fast-check): it never bans a whitelisted address, never holds
 * more sources than the cap, gives the same bans whatever the chunking and line endings of the
 * input, and is deterministic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { ReplaySession } from '../../electron/engine/replay.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { BanRecord, EngineEvent } from '../../electron/shared/model.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { pkt, T0 } from './detect/packets.ts';

/** Sources: a few scanners in a whitelisted /24 and a whitelisted v6 /64, and outsiders. */
const SOURCES = ['10.0.0.1', '10.0.0.2', '10.0.1.1', '203.0.113.5', '203.0.113.6', '2001:db8::1', '2001:db8:0:1::1', '2001:db8:1::1', '192.0.2.10', '127.0.0.1'];
const WL = ['10.0.0.0/24', '2001:db8::/64'];

const packetArb = fc.record({
  src: fc.constantFrom(...SOURCES),
  dpt: fc.integer({ min: 1, max: 40 }),
  dt: fc.integer({ min: 0, max: 5_000 }),
  kind: fc.constantFrom('SYN', 'UDP', 'FIN', 'PING', 'RST'),
});
type Gen = { src: string; dpt: number; dt: number; kind: 'SYN' | 'UDP' | 'FIN' | 'RST' | 'PING' };

function toPackets(gens: Gen[]): PacketEvent[] {
  let t = T0;
  return gens.map((g) => {
    t += g.dt;
    const base = { src: g.src as never, time: t, dpt: g.dpt };
    switch (g.kind) {
      case 'UDP':
        return pkt({ ...base, proto: 'UDP', tcpFlags: undefined });
      case 'FIN':
        return pkt({ ...base, tcpFlags: 0x01 });
      case 'RST':
        return pkt({ ...base, tcpFlags: 0x04 });
      case 'PING':
        return pkt({ ...base, proto: 'ICMP', icmpType: 8, dpt: undefined, tcpFlags: undefined });
      default:
        return pkt(base);
    }
  });
}

const settingsArb = fc.record({
  maxretry: fc.integer({ min: 1, max: 6 }),
  minDistinctPorts: fc.integer({ min: 1, max: 4 }),
  findtimeSec: fc.integer({ min: 30, max: 600 }),
  maxNewBansPerMinute: fc.integer({ min: 1, max: 5 }),
  bantimeSec: fc.integer({ min: 1, max: 600 }),
});
type SArb = { maxretry: number; minDistinctPorts: number; findtimeSec: number; maxNewBansPerMinute: number; bantimeSec: number };

function run(s: SArb, packets: PacketEvent[], extra: { maxTrackedSources?: number } = {}, each?: (e: ScanEngine) => void) {
  const settings = SettingsSchema.parse({
    detection: { maxretry: s.maxretry, minDistinctPorts: s.minDistinctPorts, findtimeSec: s.findtimeSec, ...extra },
    ban: { maxNewBansPerMinute: s.maxNewBansPerMinute, bantimeSec: s.bantimeSec },
    whitelist: { entries: WL },
  });
  const events: EngineEvent[] = [];
  const engine = new ScanEngine({ settings, clock: new ManualClock(T0), hostAddresses: ['192.0.2.10'] }, (e) => events.push(e));
  for (const p of packets) {
    engine.ingestPacket(p);
    each?.(engine);
  }
  engine.tick(T0 + 365 * 86400_000);
  return { engine, events };
}

describe('detector properties', () => {
  it('never bans a whitelisted address (loopback, host, user CIDRs)', () => {
    const WHITELISTED = ['10.0.0.1', '10.0.0.2', '2001:db8::1', '192.0.2.10', '127.0.0.1'];
    let bansSeen = 0;
    fc.assert(
      fc.property(settingsArb, fc.array(packetArb, { minLength: 40, maxLength: 300 }), (s, gens) => {
        const { engine, events } = run(s, toPackets(gens));
        for (const e of events) {
          if (e.type !== 'ban') continue;
          bansSeen++;
          expect(engine.isWhitelisted(e.ban.ip), e.ban.ip).toBe(false);
          expect(WHITELISTED.includes(e.ban.ip), e.ban.ip).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
    // Not vacuous: the outsiders did get banned in many runs.
    expect(bansSeen).toBeGreaterThan(50);
  });

  it('never holds more sources than the cap', () => {
    const many = fc.array(fc.record({ n: fc.integer({ min: 0, max: 2000 }), dpt: fc.integer({ min: 1, max: 9 }), dt: fc.integer({ min: 0, max: 1000 }) }), { minLength: 1, maxLength: 1500 });
    fc.assert(
      fc.property(many, (gens) => {
        let t = T0;
        const packets = gens.map((g) => pkt({ src: `198.51.${g.n >> 8}.${g.n & 255}` as never, dpt: g.dpt, time: (t += g.dt) }));
        let max = 0;
        const s = { maxretry: 50, minDistinctPorts: 9, findtimeSec: 600, maxNewBansPerMinute: 30, bantimeSec: 60 };
        run(s, packets, { maxTrackedSources: 100 }, (e) => {
          max = Math.max(max, e.stats().trackedSources);
        });
        expect(max).toBeLessThanOrEqual(100);
      }),
      { numRuns: 30 },
    );
  });

  it('is deterministic: the same input gives the same events', () => {
    fc.assert(
      fc.property(settingsArb, fc.array(packetArb, { maxLength: 200 }), (s, gens) => {
        const a = run(s, toPackets(gens)).events;
        const b = run(s, toPackets(gens)).events;
        expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Chunking: the replay driver cuts bytes into lines itself; bans must not depend on where the cuts fall.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function syslogLine(p: PacketEvent): string {
  const d = new Date(p.time);
  const two = (n: number) => String(n).padStart(2, '0');
  const stamp = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  const ip = p.src.includes(':')
    ? `SRC=${p.src} DST=2001:db8:ffff::10 LEN=60 TC=0 HOPLIMIT=50 FLOWLBL=0`
    : `SRC=${p.src} DST=192.0.2.20 LEN=44 TOS=0x00 PREC=0x00 TTL=45 ID=7`;
  let l4: string;
  if (p.proto === 'UDP') l4 = `PROTO=UDP SPT=40000 DPT=${p.dpt} LEN=28`;
  else if (p.proto === 'ICMP') l4 = p.src.includes(':') ? 'PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=1' : 'PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1';
  else l4 = `PROTO=TCP SPT=40000 DPT=${p.dpt} WINDOW=1024 RES=0x00 ${p.tcpFlags === 0x01 ? 'FIN' : p.tcpFlags === 0x04 ? 'RST' : 'SYN'} URGP=0`;
  return `${stamp} héte kernel: [UFW BLOCK] IN=eth0 OUT= MAC= ${ip} ${l4}`;
}

function replay(bytes: Uint8Array, cuts: number[], s: SArb): { bans: BanRecord[]; lines: number; packets: number } {
  const settings = SettingsSchema.parse({ detection: { maxretry: s.maxretry, minDistinctPorts: s.minDistinctPorts, findtimeSec: s.findtimeSec }, ban: { maxNewBansPerMinute: s.maxNewBansPerMinute, bantimeSec: s.bantimeSec } });
  const session = new ReplaySession({ settings, year: new Date(T0).getFullYear() });
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    session.push(bytes.subarray(prev, c));
    prev = c;
  }
  session.push(bytes.subarray(prev));
  const sum = session.end();
  chunkBans += sum.bans.length;
  return { bans: sum.bans, lines: sum.lines, packets: sum.packets };
}

let chunkBans = 0;
describe('chunking does not change the result', () => {
  it('same bans whatever the chunk boundaries (also inside multi-byte characters) and line endings', () => {
    fc.assert(
      fc.property(
        settingsArb,
        fc.array(fc.oneof({ weight: 9, arbitrary: packetArb }, { weight: 1, arbitrary: fc.constant(null) }), { minLength: 1, maxLength: 150 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
        (s, items, cutFractions) => {
          const gens = items.filter((g): g is Gen => g !== null);
          const packets = toPackets(gens);
          let k = 0;
          const lines = items.map((g) => (g === null ? 'garbage «not a firewall line» ✓' : syslogLine(packets[k++]!)));
          const lf = new TextEncoder().encode(lines.join('\n') + '\n');
          const crlf = new TextEncoder().encode(lines.join('\r\n'));
          const whole = replay(lf, [], s);
          expect(whole.lines).toBe(lines.length);
          expect(whole.packets).toBe(gens.length);
          const cuts = cutFractions.map((f) => Math.floor(f * lf.length));
          expect(replay(lf, cuts, s)).toEqual(whole);
          expect(replay(crlf, cutFractions.map((f) => Math.floor(f * crlf.length)), s)).toEqual(whole);
          // Byte-at-a-time for short inputs.
          if (lf.length < 3000) expect(replay(lf, Array.from({ length: lf.length }, (_, i) => i), s)).toEqual(whole);
        },
      ),
      { numRuns: 60 },
    );
    // Some runs must ban for the property to mean anything. The count varies with the random
    // inputs (8 to 68 seen on the same code), so the bound is not a fixed 20 (which failed ~1 run in 3).
    expect(chunkBans).toBeGreaterThan(0);
  });
});
