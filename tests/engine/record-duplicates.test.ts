/**
 * The replay's parse stage marks duplicate records (record-duplicates.ts) so that the engine need
 * not find them (detect/duplicates.ts): the replay must come out the same either way, record for
 * record — on generated logs with packets logged twice (the block's line and ufw's, next to each
 * other or with other lines between, within the 2 s window or not), in the fast lane and the
 * JavaScript lane, whatever the chunking; and on hand-made batches mixing the ways a record carries
 * its source (IPv4 value, IPv6 groups, text).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateLines } from '../../bench/gen-log.ts';
import { ipv4Key } from '../../electron/engine/detect/tracker.ts';
import { v6ToWords } from '../../electron/engine/detect/whitelist.ts';
import { newPacket } from '../../electron/engine/parse/index.ts';
import { C_SRC, C_SRC6, RECORD_INTS, SRC_IN_GROUPS } from '../../electron/engine/parse/layout.ts';
import { RecordDuplicates } from '../../electron/engine/record-duplicates.ts';
import { StringIds, writePacket, type RecordBatch } from '../../electron/engine/records.ts';
import { ReplayParser, type ReplayParseOptions } from '../../electron/engine/replay-parse.ts';
import { ReplaySession, type ReplaySummary } from '../../electron/engine/replay.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';

const settings = SettingsSchema.parse({ detection: { prefixes: ['UFW BLOCK', 'PORTCULLIS BLOCK', 'PORTCULLIS FORWARD'] } });
const enc = new TextEncoder();

/** Generated lines with some firewall lines logged a second time under another prefix (or the same: two packets). */
function doubledLog(seed: number, lines: number): string[] {
  const base = generateLines({ lines, seed, sources: 300 });
  let r = seed >>> 0 || 1;
  const rnd = (): number => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const out: string[] = [];
  const later: { at: number; line: string }[] = [];
  base.forEach((line, i) => {
    for (let k = later.length - 1; k >= 0; k--) if (later[k]!.at <= i) out.push(later.splice(k, 1)[0]!.line);
    const m = /\[(UFW BLOCK|UFW AUDIT)\]/.exec(line);
    if (m !== null && rnd() < 0.4) {
      const other = rnd() < 0.85 ? 'PORTCULLIS BLOCK' : m[1]!;
      const copy = line.replace(`[${m[1]}]`, `[${other}]`);
      // The block's line first, as the kernel prints them; sometimes other lines between (up to ~20, past the ring of 16).
      out.push(copy);
      if (rnd() < 0.7) out.push(line);
      else later.push({ at: i + 1 + Math.floor(rnd() * 20), line });
      return;
    }
    out.push(line);
  });
  for (const l of later) out.push(l.line);
  return out;
}

/** A replay of `text` in `chunks`, its duplicates marked by the parse stage (the product's way) or found by the engine. */
function replay(text: string, cuts: number[], marked: boolean, fastLane: boolean): ReplaySummary {
  const session = new ReplaySession({ settings, framing: 'syslog', year: 2026 });
  const opts: ReplayParseOptions = { ...session.parseStageOptions };
  expect(opts.duplicates).toBeDefined();
  if (!marked) delete opts.duplicates;
  const parser = new ReplayParser(opts, (b) => {
    expect(b.duplicates === true).toBe(marked);
    session.ingest(b);
  }, fastLane);
  const bytes = enc.encode(text);
  let at = 0;
  for (const c of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    parser.push(bytes.subarray(at, c));
    at = c;
  }
  parser.end();
  return session.end();
}

describe('duplicate records marked by the parse stage', () => {
  it('a generated log with doubled lines: the same summary as the engine finding them, in either lane', () => {
    for (const seed of [1, 2, 3]) {
      const text = doubledLog(seed, 6000).join('\n') + '\n';
      for (const fastLane of [true, false]) {
        const byEngine = replay(text, [], false, fastLane);
        expect(byEngine.ignored['duplicate-record']).toBeGreaterThan(300);
        expect(replay(text, [], true, fastLane)).toStrictEqual(byEngine);
      }
    }
  });

  it('whatever the chunking', () => {
    const text = doubledLog(7, 3000).join('\n') + '\n';
    const byEngine = replay(text, [], false, true);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 12 }), (cuts) => {
        expect(replay(text, cuts, true, true)).toStrictEqual(byEngine);
      }),
      { numRuns: 20 },
    );
  });

  it('sources carried as an IPv4 value, IPv6 groups or text compare as the engine compares their text', () => {
    const v6 = '2001:db8::7';
    const packet = (prefix: string, src: string, time: number): PacketEvent => ({
      // A port of its own for each pair (time / 10 s), so that no line can pass for another pair's.
      ...newPacket(),
      time,
      prefix,
      in: 'eth0',
      src: src as PacketEvent['src'],
      dst: (src.includes(':') ? '2001:db8::10' : '192.0.2.10') as PacketEvent['dst'],
      family: src.includes(':') ? 6 : 4,
      proto: 'TCP',
      spt: 40000,
      dpt: 1000 + Math.floor(time / 10_000),
      tcpFlags: 2,
      window: 1024,
    });
    // Each pair: the same packet under two prefixes, its source written two ways (groups / text / value).
    const ways = ['groups', 'text'] as const;
    const items: { p: PacketEvent; way: 'groups' | 'text' | 'v4' }[] = [];
    let t = 0;
    for (const a of ways) for (const b of ways) items.push({ p: packet('PORTCULLIS BLOCK', v6, (t += 10_000)), way: a }, { p: packet('UFW BLOCK', v6, t + 1), way: b });
    items.push({ p: packet('PORTCULLIS BLOCK', '203.0.113.9', (t += 10_000)), way: 'v4' }, { p: packet('UFW BLOCK', '203.0.113.9', t + 1), way: 'text' });
    items.push({ p: packet('PORTCULLIS BLOCK', '203.0.113.9', (t += 10_000)), way: 'text' }, { p: packet('UFW BLOCK', '203.0.113.9', t + 1), way: 'v4' });
    const batch = (): RecordBatch => {
      const ints = new Int32Array(items.length * RECORD_INTS);
      const f64 = new Float64Array(ints.buffer);
      const b: RecordBatch = { ints, count: items.length, news: [], sides: [] };
      const ids = new StringIds();
      items.forEach(({ p, way }, i) => {
        writePacket(p, way === 'v4' ? ipv4Key(p.src) : -1, ints, f64, i, ids, b.news, b.sides);
        if (way === 'groups') {
          const w = new Uint32Array(4);
          expect(v6ToWords(p.src, w)).toBe(true);
          ints[i * RECORD_INTS + C_SRC] = SRC_IN_GROUPS;
          for (let k = 0; k < 4; k++) ints[i * RECORD_INTS + C_SRC6 + k] = w[k]! | 0;
        }
      });
      return b;
    };
    const run = (marked: boolean): ReplaySummary => {
      const session = new ReplaySession({ settings, framing: 'syslog', year: 2026 });
      const b = batch();
      if (marked) new RecordDuplicates(session.parseStageOptions.duplicates!).mark(b);
      session.ingest(b);
      return session.end();
    };
    const byEngine = run(false);
    expect(byEngine.ignored['duplicate-record']).toBe(6);
    expect(run(true)).toStrictEqual(byEngine);
  });
});
