/**
 * The replay's parse stage (ReplayParser: the WebAssembly fast lane, the JavaScript parser behind
 * it, records out) must give, line for line, exactly what parseRecord gives for each line as
 * LineSplitter cuts it — same packet, same rejection, same time (the syslog year followed across
 * the log) — on generated logs, fixture lines, hand-picked edge cases and mutated lines, whatever
 * the chunking; and the same with the fast lane switched off.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunk } from './parse/chunks.ts';
import { applyLineEdits } from './parse/mutate.ts';
import { generateLines } from '../../bench/gen-log.ts';
import { ipv4Text } from '../../electron/engine/detect/tracker.ts';
import { v6ToWords } from '../../electron/engine/detect/whitelist.ts';
import { detectFraming, newPacket, parseRecord, type ParseOptions } from '../../electron/engine/parse/index.ts';
import { LineSplitter } from '../../electron/engine/parse/lines.ts';
import { SyslogYear } from '../../electron/engine/parse/time.ts';
import { C_TAG, RECORD_INTS, RecordReader, TAG_REJECTED } from '../../electron/engine/records.ts';
import { ReplayParser, type ReplayParseOptions } from '../../electron/engine/replay-parse.ts';
import { REJECT_REASONS, type ParseResult } from '../../electron/shared/packet.ts';

const enc = new TextEncoder();
const FIXTURES = path.join(import.meta.dirname, '../fixtures/parse');
const generated = generateLines({ lines: 20_000, seed: 31, sources: 3_000 });
const firewallLines = generated.filter((l) => l.includes(' IN='));

/** Every field present (undefined where absent), so that packets of either parser compare. */
function full(r: ParseResult): ParseResult {
  return r.ok ? { ok: true, packet: { ...newPacket(), ...r.packet } } : r;
}

/** What parseRecord says of each line LineSplitter cuts from `text` (one SyslogYear across them, as a replay has). */
function expected(text: string, opts: ReplayParseOptions): ParseResult[] {
  const lines: (string | null)[] = [];
  const sink = { line: (l: string) => lines.push(l), tooLong: () => lines.push(null) };
  const splitter = new LineSplitter();
  splitter.push(enc.encode(text), sink);
  splitter.end(sink);
  // Without a framing given, the one the first lines show holds for the whole input.
  const framing = opts.framing === undefined || opts.framing === 'auto' ? (detectFraming(lines.slice(0, 64).filter((l) => l !== null)) ?? 'auto') : opts.framing;
  const o: ParseOptions = { framing, syslogYear: new SyslogYear(opts.year) };
  if (opts.year !== undefined) o.year = opts.year;
  if (opts.bootTimeMs !== undefined) o.bootTimeMs = opts.bootTimeMs;
  return lines.map((l) => (l === null ? { ok: false, reason: 'too-long' } : full(parseRecord(l, o))));
}

/** The parse stage's records for `chunks`, read back into results (an IPv4 source's text made from its value). */
/** `viaRead`: each chunk through pushRead() (read straight into the parser's memory) instead of push(). */
function parsed(chunks: Uint8Array[], opts: ReplayParseOptions, fastLane = true, viaRead = false): { results: ParseResult[]; fastLines: number; wordsGiven: number } {
  const reader = new RecordReader();
  const words = new Uint32Array(4);
  let wordsGiven = 0;
  const results: ParseResult[] = [];
  const parser = new ReplayParser(
    opts,
    (batch) => {
      const f64 = new Float64Array(batch.ints.buffer, batch.ints.byteOffset, (batch.count * RECORD_INTS) / 2);
      let news = 0;
      for (let i = 0; i < batch.count; i++) {
        news = reader.news(batch, i, news);
        if (batch.ints[i * RECORD_INTS + C_TAG] === TAG_REJECTED) {
          results.push({ ok: false, reason: REJECT_REASONS[batch.ints[i * RECORD_INTS + 1]!]! });
          continue;
        }
        const p = { ...reader.packet(batch, f64, i, newPacket()) };
        if (p.src === '') p.src = ipv4Text(reader.lastSrcV4) as typeof p.src;
        // The words of an IPv6 source the record carries (prefix tracking takes its network from them) are its text's.
        if (reader.lastSrc6 !== null) {
          expect([...reader.lastSrc6], p.src).toEqual(v6ToWords(p.src, words) ? [...words] : 'not IPv6');
          wordsGiven++;
        }
        results.push(full({ ok: true, packet: p }));
      }
    },
    fastLane,
  );
  for (const c of chunks) {
    if (!viaRead) parser.push(c);
    else {
      let at = 0;
      const read = (into: Uint8Array): number => {
        const n = Math.min(into.length, c.length - at);
        into.set(c.subarray(at, at + n));
        at += n;
        return n;
      };
      while (parser.pushRead(read) > 0);
    }
  }
  parser.end();
  return { results, fastLines: parser.fastLines, wordsGiven };
}

function sameAsParseRecord(lines: string[], opts: ReplayParseOptions, cuts: number[] = []): { fastLines: number; wordsGiven: number } {
  const text = lines.map((l) => l + '\n').join('');
  const want = expected(text, opts);
  const got = parsed(chunk(enc.encode(text), cuts), opts);
  expect(got.results.length, 'records').toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got.results[i], `line ${i}: ${lines[i]}`).toStrictEqual(want[i]);
  return got;
}

const SYSLOG_2026: ReplayParseOptions = { framing: 'syslog', year: 2026 };

describe('the parse stage agrees with parseRecord', () => {
  it('on a generated log, and the fast lane takes nearly every firewall line', () => {
    const { fastLines, wordsGiven } = sameAsParseRecord(generated, SYSLOG_2026);
    expect(fastLines).toBeGreaterThan(firewallLines.length * 0.97);
    // The kernel's IPv6 sources (eight full groups) come with their words.
    expect(wordsGiven).toBeGreaterThan(firewallLines.filter((l) => / SRC=[0-9a-f]{4}:/.test(l)).length * 0.9);
  });

  it('with the framing detected, and with the fast lane off', () => {
    sameAsParseRecord(generated.slice(0, 5_000), { year: 2026 });
    const text = enc.encode(generated.slice(0, 5_000).join('\n') + '\n');
    const slow = parsed([text], SYSLOG_2026, false);
    expect(slow.fastLines).toBe(0);
    expect(slow.results).toStrictEqual(parsed([text], SYSLOG_2026).results);
  });

  it('read straight into its memory (pushRead, as the worker reads a file), in either lane and any chunking: as push()', () => {
    const text = enc.encode(generated.slice(0, 5_000).join('\n') + '\n');
    const whole = parsed([text], SYSLOG_2026).results;
    for (const fastLane of [true, false]) {
      const cuts = [0, 1, 777, 4096, 65_537, 300_000, text.length];
      const chunks = cuts.slice(1).map((c, i) => text.subarray(cuts[i]!, c));
      expect(parsed(chunks, SYSLOG_2026, fastLane, true).results).toStrictEqual(whole);
      expect(parsed([text], SYSLOG_2026, fastLane, true).results).toStrictEqual(whole);
    }
  });

  it('whatever the chunking', () => {
    const lines = generated.slice(0, 400);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        sameAsParseRecord(lines, SYSLOG_2026, cuts);
      }),
      { numRuns: 60 },
    );
  });

  it('on every fixture line', () => {
    for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
      const { cases } = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as { cases: { line: string; options?: ParseOptions }[] };
      const lines = cases.map((c) => c.line).filter((l) => typeof l === 'string' && !l.includes('\n') && !l.includes('\r'));
      sameAsParseRecord(lines, SYSLOG_2026);
      sameAsParseRecord(lines, { year: 2026 });
    }
  });

  it('on hand-picked edge cases: years, dates, forms the fast lane leaves to JavaScript, values too long to keep', () => {
    const base = 'Nov 22 00:00:01 gw kernel: [259201.274109] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:1b:21:0a:bc:de:08:00 SRC=83.77.198.122 DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=59918 DF PROTO=TCP SPT=41772 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0';
    const v6 = 'Nov 22 00:00:01 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0db8:0000:0000:0000:0000:0000:000a LEN=60 TC=0 HOPLIMIT=52 FLOWLBL=1 PROTO=UDP SPT=1 DPT=2 LEN=8';
    const stamp = (s: string, l: string) => s + l.slice(15);
    const lines = [
      base,
      stamp('Dec 31 23:59:59', base),
      'Dec 31 23:59:59 gw kernel: audit: type=1400 apparmor="DENIED"',
      stamp('Jan  1 00:00:01', base), // New Year: the year moves on (fast lane line after a JavaScript one)
      'Jan  1 00:00:02 gw kernel: audit: type=1400 apparmor="DENIED"',
      'Jan  1 00:00:02 gw kernel: usb 1-1: new high-speed USB device',
      'Jan  1 00:00:02 gw sshd[12]: Accepted publickey SRC=1.2.3.4 for root',
      'Jan  1 00:00:02 gw sshd[12]: Accepted publickey for root',
      'Jan  1 00:00:03 gw kernel: audit: IN=this is not a packet',
      'Jan  1 00:00:03 gw kernel: audit: type=1400 é=1',
      'Jan  1 00:00:03 gw kernel: nul\u0000here',
      stamp('Feb 29 10:00:00', base), // 2027 has no Feb 29
      stamp('Nov 31 10:00:00', base),
      stamp('Nov 22 24:00:00', base),
      stamp('Dec 31 23:59:58', base), // back across New Year
      base.replace('SRC=83.77.198.122', 'SRC=::ffff:1.2.3.4'),
      base.replace('DST=192.0.2.10', 'DST=192.0.2.010'),
      base.replace('MAC=52:54:00:12:34:56:00:1b:21:0a:bc:de:08:00', 'MAC=' + '52:54:00:12:34:56:'.repeat(5) + '08:00'), // longer than a kept value
      base.replace('[UFW BLOCK]', '[' + 'P'.repeat(70) + ']'),
      base.replace('gw', 'h'.repeat(80)),
      base.replace('SYN', 'SYN SYN'),
      base + '\r',
      v6,
      v6.replace('SRC=2001:0db8:0000:0000:0000:0000:0000:0001', 'SRC=2001:db8::1'), // not the kernel's form
      v6.replace('SRC=2001:0db8:0000:0000:0000:0000:0000:0001', 'SRC=0000:0000:0000:0000:0000:ffff:0102:0304'), // IPv4-mapped
      v6.replace('DST=2001:0db8:0000:0000:0000:0000:0000:000a', 'DST=0000:0000:0000:0000:0000:ffff:0102:0304'),
      v6.replace('DST=2001:0db8:0000:0000:0000:0000:0000:000a', 'DST=0000:0000:0000:0000:0000:ffff:0102:0304'), // the same value again
      v6.replace('PROTO=UDP SPT=1 DPT=2 LEN=8', 'PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=2'),
      'Jan  1 00:00:04 gw kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=28 TOS=0x00 PREC=0x00 TTL=1 ID=0 PROTO=ICMP TYPE=3 CODE=3 [SRC=5.6.7.8 DST=1.2.3.4 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=1 DPT=53 LEN=8 ]',
      'Jan  1 00:00:04 gw kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=28 TOS=0x00 PREC=0x00 TTL=1 ID=0 PROTO=ICMP TYPE=3 CODE=3 [SRC=5.6.7.8 DST=zzz LEN=28 ]',
      'x'.repeat(9_000),
      '',
      base,
      // Edge cases of the byte parser this lane replaced (its test compared it with parseRecord on them).
      base + ' ', base + '\t', '\uFEFF' + base, base.replace('URGP=0', 'URGP=65536'), base.replace('SYN', 'URG'), base.replace('SYN ', ''), base.replace(' DF', ' CE DF'),
      base.replace(' DF', ' DF CE'), base.replace('gw', 'gé'), base.replace('[UFW BLOCK]', '[UFW BLÖCK]'), base.replace('SRC=83.77.198.122', 'SRC=1234567'),
      v6.replace('PROTO=UDP SPT=1 DPT=2 LEN=8', 'PROTO=ICMPv6 TYPE=128 CODE=0 ID=1'), 'Nov 22 00:00:01 gw kernel:', 'Nov 22 00:00:01 gw sshd[1]: Accepted',
      'Nov  2 00:00:01 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=28 TOS=0x00 PREC=0x00 TTL=1 ID=0 PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1',
    ];
    sameAsParseRecord(lines, SYSLOG_2026);
    sameAsParseRecord(lines, { year: 2026 });
    sameAsParseRecord(lines, {}); // the year from the clock
  });

  it('short lines with bytes that are not UTF-8 are binary, as parseRecord reads them (found by the audit fuzzer)', () => {
    const enc8 = (parts: (string | number)[]) => new Uint8Array(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...enc.encode(p)])));
    for (const [bytes, opts] of [
      [enc8(['x\n', 0xff, '\n']), SYSLOG_2026],
      [enc8(['x\n4,1,1,-;', 0xff, '\n']), { framing: 'kmsg' as const }],
      [enc8(['x\n4,1,1,-;abcdef', 0xff, '\n']), { framing: 'kmsg' as const }],
    ] as [Uint8Array, ReplayParseOptions][]) {
      const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
      for (const fastLane of [true, false]) expect(parsed([bytes], opts, fastLane).results).toStrictEqual(expected(text, opts));
      expect(parsed([bytes], opts).results[1]).toStrictEqual({ ok: false, reason: 'binary' });
    }
  });

  it('a line over the cap among the first 64 counts among the lines the framing is recognised from (found by the audit fuzzer)', () => {
    const sys = 'Nov 22 00:00:01 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=28 TOS=0x00 PREC=0x00 TTL=1 ID=1 PROTO=UDP SPT=1 DPT=2 LEN=8';
    const km = '4,1,5000,-;[UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=28 TOS=0x00 PREC=0x00 TTL=1 ID=1 PROTO=UDP SPT=1 DPT=2 LEN=8';
    const lines = [...Array<string>(63).fill(''), 'y'.repeat(9_000), sys, km];
    sameAsParseRecord(lines, {});
    // Nothing recognisable in the first 64: each line is judged on its own, so the kmsg line is a packet.
    expect(parsed([enc.encode(lines.join('\n') + '\n')], {}).results.at(-1)).toMatchObject({ ok: true });
  });

  it('past the string table and batch sizes: thousands of DST values and hosts', () => {
    const base = firewallLines.find((l) => l.includes('SRC=') && l.includes('DST=192.0.2.10'))!;
    const lines: string[] = [];
    for (let i = 0; i < 9_000; i++) {
      lines.push(base.replace('DST=192.0.2.10', `DST=10.${(i >> 8) & 255}.${i & 255}.1`).replace(' gateway ', ` gw${i % 5_000} `));
    }
    const { fastLines } = sameAsParseRecord(lines, SYSLOG_2026);
    expect(fastLines).toBeGreaterThan(8_000);
  });

  it('on mutated firewall lines among others', () => {
    const tweaks = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(' ', '  ', '=', '[', ']', '\u0000', '\uFFFD', '\t', 'DF ', 'CE ', 'SYN ', 'ACK ', 'SRC=1.2.3.4 ', 'IN=eth1 ', 'IN=', 'kernel: ', 'PROTO=TCP ', 'v6', '9', '0', ':', '.', 'a', 'é', 'ID=1 ', 'SEQ=2', 'MF ', 'URG', 'OPT (00) ') }),
      fc.record({ kind: fc.constant('dropToken' as const), at: fc.nat(), text: fc.constant('') }),
      fc.record({ kind: fc.constant('repeatToken' as const), at: fc.nat(), text: fc.constant('') }),
      fc.record({ kind: fc.constant('widen' as const), at: fc.nat(), text: fc.constantFrom('0', '9', '99999', '65536', '256', '1234567', '') }),
    );
    const line = fc.tuple(fc.constantFrom(...generated.slice(0, 3_000)), fc.array(tweaks, { maxLength: 3 })).map(([l, edits]) => applyLineEdits(l, edits));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 25 }), fc.array(fc.nat(), { maxLength: 4 }), (lines, cuts) => {
        const clean = lines.map((l) => l.replace(/[\n\r]/g, ' '));
        sameAsParseRecord(clean, SYSLOG_2026, cuts);
      }),
      // RUNS=20000 for a longer hunt (12,000 runs passed when this was written).
      { numRuns: Number(process.env.RUNS ?? 1_500) },
    );
  });
});
