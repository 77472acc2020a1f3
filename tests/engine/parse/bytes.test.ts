/**
 * The byte parser (parse/bytes.ts) must give exactly what parseRecord gives for the text the bytes
 * decode to — same packet, same rejection — on every line: generated logs, every fixture line, and
 * lines mutated where its layout could be fooled. Each line sits inside a larger buffer between
 * bytes that would change the result if the parser read outside its range.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyLineEdits } from './mutate.ts';
import { generateLines } from '../../../bench/gen-log.ts';
import { newPacket, parsedSourceV4, parsePacketBytes, parseRecordBytes } from '../../../electron/engine/parse/bytes.ts';
import { parseRecord, parseRecordReference, type ParseOptions } from '../../../electron/engine/parse/index.ts';

const FIXTURES = path.join(import.meta.dirname, '../../fixtures/parse');
const syslogLines = generateLines({ lines: 20_000, seed: 21, sources: 2_000 });
const kmsgLines = generateLines({ lines: 2_000, seed: 22, sources: 500, framing: 'kmsg' });
const firewallLines = syslogLines.filter((l) => l.includes(' IN='));

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { ignoreBOM: true });
const BEFORE = enc.encode('Nov 22 10:00:00 h kernel: IN=');
const AFTER = enc.encode(' ]=9 URGP=0 SEQ=1 DF \n');

function sameAsText(line: string, opts?: ParseOptions): void {
  const bytes = enc.encode(line);
  const buf = new Uint8Array(BEFORE.length + bytes.length + AFTER.length);
  buf.set(BEFORE, 0);
  buf.set(bytes, BEFORE.length);
  buf.set(AFTER, BEFORE.length + bytes.length);
  const got = parseRecordBytes(buf, BEFORE.length, BEFORE.length + bytes.length, opts);
  const text = dec.decode(bytes); // what a line of these bytes reads as (lone surrogates become U+FFFD)
  expect(got, line).toStrictEqual(parseRecordReference(text, opts));
  expect(got, line).toStrictEqual(parseRecord(text, opts));
  // The same into a reused packet (left dirty by the lines before), and the source's value.
  const into = parsePacketBytes(buf, BEFORE.length, BEFORE.length + bytes.length, opts, scratch);
  const v4 = parsedSourceV4();
  expect(into, line).toStrictEqual(got.ok ? got.packet : got.reason);
  if (v4 >= 0) {
    expect(typeof into === 'object' && into.src, line).toBe([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join('.'));
    sourceValues++;
  }
}
const scratch = newPacket();
let sourceValues = 0;

describe('byte parser agrees with parseRecord', () => {
  it('on generated logs (syslog and kmsg, given and detected framing)', () => {
    for (const line of syslogLines) sameAsText(line, { year: 2026, framing: 'syslog' });
    for (const line of syslogLines.slice(0, 3_000)) sameAsText(line, { year: 2026 });
    for (const line of kmsgLines) sameAsText(line, { framing: 'kmsg', bootTimeMs: 1_700_000_000_000 });
    expect(sourceValues).toBeGreaterThan(firewallLines.length / 2);
  });

  it('takes ICMP errors quoting a packet on its fast path (source value set, quoted addresses kept)', () => {
    const quoting = syslogLines.filter((l) => l.includes(' [SRC='));
    expect(quoting.length).toBeGreaterThan(100);
    let v4 = 0;
    for (const line of quoting) {
      const bytes = enc.encode(line);
      const r = parsePacketBytes(bytes, 0, bytes.length, { year: 2026, framing: 'syslog' }, scratch);
      expect(r, line).toBe(scratch); // parseRecord would have made a packet of its own
      if (scratch.family === 4) {
        v4++;
        expect(parsedSourceV4(), line).toBeGreaterThanOrEqual(0);
      }
      expect(scratch.innerSrc, line).toBe(scratch.family === 4 ? '192.0.2.10' : '2001:db8::a');
      expect(scratch.innerDst, line).toBe(scratch.src);
    }
    expect(v4).toBeGreaterThan(0);
    expect(v4).toBeLessThan(quoting.length);
  });

  it('on every fixture line', () => {
    for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
      const { cases } = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as { cases: { line: string; options?: ParseOptions }[] };
      for (const c of cases) if (typeof c.line === 'string' && !c.line.includes('\n')) sameAsText(c.line, c.options);
    }
  });

  it('on hand-picked edge cases', () => {
    const base = 'Nov 22 00:00:01 gw kernel: [259201.274109] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:1b:21:0a:bc:de:08:00 SRC=83.77.198.122 DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=59918 DF PROTO=TCP SPT=41772 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0';
    const v6 = 'Nov 22 00:00:01 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=0000:0000:0000:0000:0000:ffff:0102:0304 LEN=60 TC=0 HOPLIMIT=52 FLOWLBL=1 PROTO=UDP SPT=1 DPT=2 LEN=8';
    const cases = [
      base, base + ' ', base + '\t', base + ' \r', '\uFEFF' + base, base.replace('URGP=0', 'URGP=65536'), base.replace('SYN', 'SYN SYN'), base.replace('SYN', 'URG'),
      base.replace('SYN ', ''), base.replace(' DF', ' CE DF'), base.replace(' DF', ' DF CE'), base.replace('gw', 'gé'), base.replace('[UFW BLOCK]', '[UFW BLÖCK]'),
      base.replace('SRC=83.77.198.122', 'SRC=::ffff:1.2.3.4'), base.replace('SRC=83.77.198.122', 'SRC=1234567'), base.replace('DST=192.0.2.10', 'DST=192.0.2.010'),
      v6, v6.replace('0000:0000:0000:0000:0000:ffff:0102:0304', '2001:0db8:0000:0000:0000:0000:0000:000a'), v6.replace('PROTO=UDP SPT=1 DPT=2 LEN=8', 'PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=2'),
      v6.replace('PROTO=UDP SPT=1 DPT=2 LEN=8', 'PROTO=ICMPv6 TYPE=128 CODE=0 ID=1'), 'Nov 22 00:00:01 gw kernel: usb 1-1: new device', 'Nov 22 00:00:01 gw kernel: usb\u0000 1-1',
      'Nov 22 00:00:01 gw sshd[1]: Accepted SRC=1.2.3.4', 'Nov 22 00:00:01 gw sshd[1]: Accepted', 'Nov 22 00:00:01 gw kernel:', 'Nov 31 00:00:01 gw kernel: x', 'Nov 22 24:00:01 gw kernel: x',
      'Nov  2 00:00:01 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=28 TOS=0x00 PREC=0x00 TTL=1 ID=0 PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1',
      'Nov 22 00:00:01 gw kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=28 TOS=0x00 PREC=0x00 TTL=1 ID=0 PROTO=ICMP TYPE=3 CODE=3 [SRC=5.6.7.8 DST=1.2.3.4 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=1 DPT=53 LEN=8 ]',
    ];
    for (const c of cases) {
      sameAsText(c, { year: 2026, framing: 'syslog' });
      sameAsText(c);
      sameAsText(c, { framing: 'kmsg' });
    }
  });

  it('on mutated firewall lines', () => {
    const tweaks = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(' ', '  ', '=', '[', ']', '\u0000', '\uFFFD', '\t', '\r', 'DF ', 'CE ', 'MF ', 'SYN ', 'ACK ', 'URG', 'SRC=1.2.3.4 ', 'IN=eth1 ', 'PROTO=TCP ', 'v6', '9', '0', ':', '.', 'a', 'é', 'ID=1 ', 'SEQ=2', 'OPT (00) ') }),
      fc.record({ kind: fc.constant('dropToken' as const), at: fc.nat(), text: fc.constant('') }),
      fc.record({ kind: fc.constant('repeatToken' as const), at: fc.nat(), text: fc.constant('') }),
      fc.record({ kind: fc.constant('widen' as const), at: fc.nat(), text: fc.constantFrom('0', '9', '99999', '65536', '256', '1234567', '') }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...firewallLines.slice(0, 3_000)), fc.array(tweaks, { minLength: 1, maxLength: 3 }), (line, edits) => {
        const s = applyLineEdits(line, edits);
        if (s.includes('\n')) return; // a line never holds a newline
        sameAsText(s, { year: 2026, framing: 'syslog' });
        sameAsText(s);
      }),
      { numRuns: 10_000 },
    );
  });
});
