import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { canonicalIp } from '../../../electron/shared/domain.ts';
import { REJECT_REASONS, TcpFlag, type PacketEvent, type ParseResult } from '../../../electron/shared/packet.ts';
import { canonicalAddress, isDottedQuad } from '../../../electron/engine/parse/address.ts';
import { detectFraming, MAX_RECORD_LENGTH, parseRecord, type ParseOptions } from '../../../electron/engine/parse/index.ts';

const FIXTURES = path.join(import.meta.dirname, '../../fixtures/parse');

interface FixtureCase {
  name: string;
  line: string;
  options?: ParseOptions;
  expect: { ok: true; time?: number | string; packet?: Record<string, unknown> } | { ok: false; reason: string | string[] };
}

describe('parser fixtures', () => {
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
    const { cases } = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as { cases: FixtureCase[] };
    describe(file, () => {
      for (const c of cases) {
        it(c.name, () => {
          const result = parseRecord(c.line, c.options);
          if (!c.expect.ok) {
            const wanted = Array.isArray(c.expect.reason) ? c.expect.reason : [c.expect.reason];
            expect(result.ok).toBe(false);
            expect(wanted).toContain((result as { reason: string }).reason);
            return;
          }
          if (!result.ok) throw new Error(`rejected as ${result.reason}`);
          const { packet } = result;
          if (c.expect.time !== undefined) {
            const t = typeof c.expect.time === 'string' ? isoMicros(c.expect.time) : c.expect.time;
            expect(packet.time).toBe(t);
          }
          // null in a fixture means "absent"
          for (const [key, value] of Object.entries(c.expect.packet ?? {})) {
            expect(packet[key as keyof PacketEvent], key).toEqual(value === null ? undefined : value);
          }
        });
      }
    });
  }
});

/** new Date() keeps milliseconds only; fixtures may give microseconds. */
function isoMicros(text: string): number {
  const m = /\.(\d{4,6})/.exec(text);
  if (!m) return new Date(text).getTime();
  const base = new Date(text.replace(/\.\d+/, '')).getTime();
  return (base * 1000 + Number(m[1]!.padEnd(6, '0'))) / 1000;
}

describe('parseRecord never throws', () => {
  const options: ParseOptions[] = [{}, { framing: 'syslog' }, { framing: 'kmsg' }, { framing: 'journal' }, { framing: 'dmesg' }];
  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.constantFrom(...options), (s, o) => {
        const r = parseRecord(s, o);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });
  it('on arbitrary bytes decoded as UTF-8', () => {
    const utf8 = new TextDecoder();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const r = parseRecord(utf8.decode(bytes));
        if (!r.ok) expect(REJECT_REASONS).toContain(r.reason);
      }),
      { numRuns: 3000 },
    );
  });
  it('on valid lines cut, spliced and corrupted anywhere — and never takes the inner source as the source', () => {
    fc.assert(
      fc.property(validRecord(), fc.nat(), fc.nat(), fc.string({ unit: 'binary', maxLength: 8 }), (rec, cut, at, junk) => {
        const line = rec.line;
        const variants = [line.slice(0, cut % (line.length + 1)), line.slice(0, at % line.length) + junk + line.slice(at % line.length), line + line, line.slice(0, at % line.length) + line];
        for (const v of variants) {
          const r = parseRecord(v, rec.options);
          if (r.ok) {
            // whatever survives must be the packet's own addresses
            expect([rec.packet.src, rec.packet.innerSrc]).toContain(r.packet.src);
            if (rec.packet.innerSrc !== undefined && r.packet.src === rec.packet.src) expect(r.packet.src).not.toBe(undefined);
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
  it('refuses over-long lines before looking at them', () => {
    expect(parseRecord('4,1,1,-;' + 'x'.repeat(MAX_RECORD_LENGTH))).toEqual({ ok: false, reason: 'too-long' });
  });
  it('returns a fresh packet object per call', () => {
    const line = '4,1,1000,-;[UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.10 LEN=40 TTL=1 ID=0 PROTO=UDP SPT=1 DPT=2 LEN=8';
    const a = parseRecord(line) as Extract<ParseResult, { ok: true }>;
    const b = parseRecord(line) as Extract<ParseResult, { ok: true }>;
    expect(a.packet).not.toBe(b.packet);
    expect(a.packet).toEqual(b.packet);
  });
});

// ---- generated valid records: every framing, v4 + v6, TCP/UDP/ICMP/other, parse back exactly ----

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The kernel's %pI6: eight zero-padded groups. */
function expandV6(ip: string): string {
  return (ipaddr.parse(ip) as ipaddr.IPv6).toNormalizedString().split(':').map((g) => g.padStart(4, '0')).join(':');
}

interface GeneratedRecord {
  line: string;
  options: ParseOptions;
  packet: PacketEvent;
}

const ifname = fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/);
const v6NotMapped = fc.ipV6().filter((ip) => canonicalIp(ip)?.includes(':') === true);

function validRecord(): fc.Arbitrary<GeneratedRecord> {
  const addresses = fc.oneof(
    fc.record({ family: fc.constant(4 as const), src: fc.ipV4(), dst: fc.ipV4(), inner: fc.ipV4() }),
    fc.record({ family: fc.constant(6 as const), src: v6NotMapped, dst: v6NotMapped, inner: v6NotMapped }),
  );
  const transport = fc.oneof(
    fc.record({ proto: fc.constant('TCP'), spt: fc.nat(65535), dpt: fc.nat(65535), flags: fc.nat(255), window: fc.nat(65535) }),
    fc.record({ proto: fc.constant('UDP'), spt: fc.nat(65535), dpt: fc.nat(65535) }),
    fc.record({ proto: fc.constant('ICMP'), type: fc.nat(255), code: fc.nat(255), quote: fc.boolean() }),
    fc.record({ proto: fc.constantFrom('47', '50', 'SCTP') }),
  );
  const prefix = fc.oneof(
    fc.constantFrom('[UFW BLOCK] ', '[UFW ALLOW] ', '[UFW AUDIT] ', '[UFW AUDIT INVALID] ', '[UFW LIMIT BLOCK] ', 'PORTCULLIS BLOCK ', 'PORT DENIED: ', 'PORT DENIED:', ''),
    fc.stringMatching(/^[A-Z][A-Z :-]{0,20}[A-Z:]$/).map((p) => p + ' '),
  );
  const framing = fc.constantFrom('bsd', 'iso', 'rfc5424', 'kmsg', 'journal', 'dmesg', 'dmesgT');
  return fc
    .record({
      addresses,
      transport,
      prefix,
      framing,
      inIf: ifname,
      outIf: fc.option(ifname, { nil: '' }),
      mac: fc.option(fc.stringMatching(/^([0-9a-f]{2}:){13}[0-9a-f]{2}$/), { nil: undefined }),
      len: fc.integer({ min: 20, max: 65535 }),
      ttl: fc.nat(255),
      id: fc.nat(65535),
      df: fc.boolean(),
      host: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
      second: fc.integer({ min: 0, max: 86_400 * 365 }),
      micros: fc.nat(999_999),
      seq: fc.nat(1_000_000_000),
    })
    .map((g): GeneratedRecord => {
      const { family } = g.addresses;
      const src = canonicalIp(g.addresses.src)!;
      const dst = canonicalIp(g.addresses.dst)!;
      const inner = canonicalIp(g.addresses.inner)!;
      // The kernel prints the canonical address's eight groups: expanding the generated text itself
      // would read `::0.0.0.0` as ipaddr.js does (IPv4-mapped), not as the address it is.
      const print = (ip: string) => (family === 6 ? expandV6(canonicalIp(ip)!) : ip);
      const t = g.transport as { proto: string; spt?: number; dpt?: number; flags?: number; window?: number; type?: number; code?: number; quote?: boolean };
      const proto = t.proto === 'ICMP' && family === 6 ? 'ICMPv6' : t.proto;
      let msg = `${g.prefix}IN=${g.inIf} OUT=${g.outIf} ${g.mac ? `MAC=${g.mac} ` : ''}SRC=${print(g.addresses.src)} DST=${print(g.addresses.dst)} `;
      msg += family === 4 ? `LEN=${g.len} TOS=0x00 PREC=0x00 TTL=${g.ttl} ID=${g.id} ${g.df ? 'DF ' : ''}` : `LEN=${g.len} TC=0 HOPLIMIT=${g.ttl} FLOWLBL=0 `;
      msg += `PROTO=${proto} `;
      if (proto === 'TCP') {
        const names = (['CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'] as const).filter((n) => t.flags! & TcpFlag[n]);
        msg += `SPT=${t.spt} DPT=${t.dpt} WINDOW=${t.window} RES=0x00 ${names.map((n) => n + ' ').join('')}URGP=0 `;
      } else if (proto === 'UDP') msg += `SPT=${t.spt} DPT=${t.dpt} LEN=${8} `;
      else if (proto === 'ICMP' || proto === 'ICMPv6') {
        msg += `TYPE=${t.type} CODE=${t.code} `;
        if (t.quote) msg += `[SRC=${print(g.addresses.inner)} DST=${print(g.addresses.src)} LEN=28 PROTO=UDP SPT=1 DPT=53 LEN=8 ] `;
      }
      const trimmedPrefix = g.prefix.trim().replace(/^\[(.*)\]$/, '$1').trim();

      const base = new Date(2026, 0, 1).getTime() + g.second * 1000; // local midnight + seconds
      const d = new Date(base);
      const pad = (n: number, w = 2) => String(n).padStart(w, '0');
      const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
      const bootTimeMs = 1_700_000_000_000;
      const usecSinceBoot = g.second * 1_000_000 + g.micros;
      let line: string;
      let time: number;
      let trust: 'kernel' | 'spoofable' = 'spoofable';
      let host: string | undefined = g.host;
      let seq: number | undefined;
      const options: ParseOptions = { year: d.getFullYear(), bootTimeMs };
      switch (g.framing) {
        case 'bsd':
          line = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${clock} ${g.host} kernel: [${(usecSinceBoot / 1e6).toFixed(6)}] ${msg}`;
          time = base;
          break;
        case 'iso':
          line = `${new Date(base).toISOString().slice(0, 19)}.${pad(g.micros, 6)}Z ${g.host} kernel: ${msg}`;
          time = (base * 1000 + g.micros) / 1000;
          break;
        case 'rfc5424':
          line = `<4>1 ${new Date(base).toISOString().slice(0, 19)}.${pad(g.micros, 6)}+00:00 ${g.host} kernel - - - ${msg}`;
          time = (base * 1000 + g.micros) / 1000;
          break;
        case 'kmsg':
          line = `4,${g.seq},${usecSinceBoot},-;${msg}`;
          time = bootTimeMs + usecSinceBoot / 1000;
          trust = 'kernel';
          host = undefined;
          seq = g.seq;
          break;
        case 'journal':
          line = JSON.stringify({ __REALTIME_TIMESTAMP: String(base * 1000 + g.micros), _TRANSPORT: 'kernel', _HOSTNAME: g.host, MESSAGE: msg });
          time = (base * 1000 + g.micros) / 1000;
          trust = 'kernel';
          break;
        case 'dmesg':
          line = `[${(String(g.second) + '.' + pad(g.micros, 6)).padStart(12, ' ')}] ${msg}`;
          time = (bootTimeMs * 1000 + usecSinceBoot) / 1000;
          host = undefined;
          break;
        default:
          line = `[${d.toDateString().slice(0, 3)} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${clock} ${d.getFullYear()}] ${msg}`;
          time = base;
          host = undefined;
      }
      const framing = g.framing === 'bsd' || g.framing === 'iso' || g.framing === 'rfc5424' ? 'syslog' : g.framing === 'dmesgT' ? 'dmesg' : (g.framing as 'kmsg' | 'journal' | 'dmesg');
      const packet: PacketEvent = {
        time,
        framing,
        trust,
        seq,
        host,
        prefix: trimmedPrefix,
        in: g.inIf,
        out: g.outIf,
        physIn: undefined,
        physOut: undefined,
        mac: g.mac,
        src,
        dst,
        family,
        len: g.len,
        ttl: g.ttl,
        id: family === 4 ? g.id : undefined,
        df: family === 4 ? g.df : undefined,
        fragment: false,
        proto,
        spt: t.spt,
        dpt: t.dpt,
        icmpType: t.type,
        icmpCode: t.code,
        tcpFlags: proto === 'TCP' ? t.flags : undefined,
        window: t.window,
        innerSrc: t.quote ? inner : undefined,
        innerDst: t.quote ? src : undefined,
      };
      return { line, options, packet };
    });
}

describe('generated valid records parse back to what generated them', () => {
  it('in every framing, IPv4 and IPv6, every protocol', () => {
    fc.assert(
      fc.property(validRecord(), (rec) => {
        const result = parseRecord(rec.line, rec.options);
        if (!result.ok) throw new Error(`${result.reason}: ${rec.line}`);
        expect(result.packet).toEqual(rec.packet);
        // the same line with the framing fixed, and with CRLF
        expect(parseRecord(rec.line + '\r\n', { ...rec.options, framing: rec.packet.framing })).toEqual(result);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('detectFraming', () => {
  it('picks the framing most lines have, ignoring noise', () => {
    expect(detectFraming(['', 'Nov 22 10:00:00 h kernel: x', 'garbage', '2026-11-22T10:00:00Z h kernel: y'])).toBe('syslog');
    expect(detectFraming(['4,1,2,-;a', ' SUBSYSTEM=x', '6,2,3,-;b'])).toBe('kmsg');
    expect(detectFraming(['{"MESSAGE":"x"}'])).toBe('journal');
    expect(detectFraming(['[  1.000] x', '[Sun Nov 22 10:00:00 2026] y'])).toBe('dmesg');
    expect(detectFraming(['hello', ''])).toBeNull();
    expect(detectFraming([])).toBeNull();
  });
});

describe('IPv4-mapped addresses in an IPv6 record', () => {
  const v6Line =
    '4,2,3075785260,-;[PORTCULLIS BLOCK] IN=eth0 OUT= MAC=0e:54:5a:81:78:82:0a:b0:18:ab:a3:14:86:dd SRC=fd80:86d6:8bcc:0001:0000:0000:0000:0002 DST=fd80:86d6:8bcc:0001:0000:0000:0000:0001 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=729579 PROTO=TCP SPT=45378 DPT=4445 WINDOW=64800 RES=0x00 SYN URGP=0 ';
  const M1 = '0000:0000:0000:0000:0000:ffff:c633:6407'; // 198.51.100.7
  const M2 = '0000:0000:0000:0000:0000:ffff:c000:0201'; // 192.0.2.1
  const V6 = 'fd80:86d6:8bcc:0001:0000:0000:0000:0001';
  const withAddresses = (src: string, dst: string) => v6Line.replace(/SRC=\S+/, `SRC=${src}`).replace(/DST=\S+/, `DST=${dst}`);
  it('the line itself parses (IPv6)', () => {
    expect(parseRecord(v6Line, { framing: 'kmsg' })).toMatchObject({ ok: true, packet: { family: 6 } });
  });
  it('refuses a record whose source AND destination are both mapped (never the IPv4 address it names), and one with either mapped', () => {
    for (const [src, dst] of [[M1, M2], [M1, V6], [V6, M2], ['::ffff:198.51.100.7', '::ffff:192.0.2.1']]) {
      expect(parseRecord(withAddresses(src!, dst!), { framing: 'kmsg' }), `${src} ${dst}`).toMatchObject({ ok: false, reason: 'bad-address' });
    }
  });
});

describe('address fast path agrees with canonicalIp', () => {
  const check = (text: string) => {
    const wrapped = `SRC=${text} `;
    expect(canonicalAddress(wrapped, 4, 4 + text.length)).toBe(canonicalIp(text));
  };
  it('on IPv4 and IPv6 in all spellings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV6(), fc.ipV6().map(expandV6), fc.ipV6().map((s) => s.toUpperCase())), check),
      { numRuns: 5000 },
    );
  });
  it('on near-addresses', () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9a-fA-F:.]{1,45}$/), check), { numRuns: 5000 });
    for (const t of ['1.2.3', '1.2.3.4.', '01.2.3.4', '256.1.1.1', '::', '::1', '1::', ':1', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3.4', '0:0:0:0:0:ffff:102:304', 'fe80::1%eth0', '']) check(t);
  });
  it('a dotted quad is its own canonical text (what engine.offender() relies on to skip ipaddr.js)', () => {
    const own = (t: string) => {
      if (isDottedQuad(t, 0, t.length)) expect(canonicalIp(t), t).toBe(t);
    };
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.stringMatching(/^[0-9.]{1,16}$/)), own), { numRuns: 5000 });
  });
  it('returns strings that do not keep the line alive (detached, equal text)', () => {
    const line = 'x'.repeat(1000) + ' SRC=203.113.100.200 ';
    const at = line.indexOf('SRC=') + 4;
    const ip = canonicalAddress(line, at, at + 15);
    expect(ip).toBe('203.113.100.200');
  });
});
