/**
 * The NFLOG decoder against messages captured from the kernel (tests/support/nflog-capture.ts): each
 * packet of the capture was logged by a LOG rule and by its NFLOG twin, so the decoder's record of
 * every message must equal the text parser's record of the same packet's LOG line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FRAME_DATAGRAM, FRAME_OVERRUN, FRAME_READY, HOST_LITTLE_ENDIAN, NflogStreamDecoder, type NflogContext } from '../../../electron/engine/parse/nflog.ts';
import { parseRecord } from '../../../electron/engine/parse/index.ts';
import type { PacketEvent } from '../../../electron/shared/packet.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/nflog');
const stream = new Uint8Array(readFileSync(path.join(FIXTURES, 'capture.bin')));
const lines = readFileSync(path.join(FIXTURES, 'capture.txt'), 'utf8').trim().split('\n');
/** The capture's firewall interface, as the LOG lines name it (its index in the capture's namespace was 2). */
const IFACE = /\bIN=(\S+)/.exec(lines[0]!)![1]!;
const ctx = (now = 0): NflogContext => ({ ifName: (i) => (i === 2 ? IFACE : null), now });

/** The fields both records describe (time, framing, seq and trust come from the framing). */
function fields(p: PacketEvent): Partial<PacketEvent> {
  const { time: _t, framing: _f, seq: _s, trust: _r, host: _h, ...rest } = p;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
}

function frame(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, body.length, true);
  out.set(body, 8);
  return out;
}

/** The capture's DATAGRAM frames, each as its own frame. */
function datagrams(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const v = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  for (let p = 0; p < stream.length; ) {
    const len = v.getUint32(p + 4, true);
    if (v.getUint32(p, true) === FRAME_DATAGRAM) out.push(stream.slice(p + 8, p + 8 + len));
    p += 8 + len;
  }
  return out;
}

describe('NFLOG decoder (kernel captures)', () => {
  it('decodes every captured message into the record the LOG text parser makes of the same packet: IPv4 and IPv6, TCP, UDP, ICMP (echo, an error quoting a packet), ICMPv6', () => {
    const d = new NflogStreamDecoder();
    const packets = d.push(stream, ctx());
    expect(packets).toHaveLength(lines.length);
    const kinds = new Set<string>();
    packets.forEach((p, i) => {
      const r = parseRecord(lines[i]!, { framing: 'kmsg' });
      expect(r.ok, lines[i]).toBe(true);
      if (!r.ok) return;
      expect(fields(p), lines[i]).toEqual(fields(r.packet));
      expect(p).toMatchObject({ framing: 'nflog', trust: 'kernel' });
      kinds.add(`${p.family}/${p.proto}${p.innerSrc ? '/quoting' : ''}`);
    });
    expect([...kinds].sort()).toEqual(['4/ICMP', '4/ICMP/quoting', '4/TCP', '4/UDP', '6/ICMPv6', '6/TCP', '6/UDP']);
    expect(d.counts).toMatchObject({ packets: lines.length, lost: 0, overruns: 0, malformed: {} });
    expect(d.counts.receiveBuffer).toBeGreaterThanOrEqual(4 << 20);
  });

  it('corners, captured from the kernel (corners.bin/txt: tests/support/nflog-capture-corners.ts) — the decoder makes of each message what the text parser makes of its LOG twin, or refuses it for the same reason', () => {
    const cornerLines = readFileSync(path.join(FIXTURES, 'corners.txt'), 'utf8').trim().split('\n');
    const cornerIface = /\bIN=(\S+)/.exec(cornerLines[0]!)![1]!;
    const d = new NflogStreamDecoder();
    const got = d.push(new Uint8Array(readFileSync(path.join(FIXTURES, 'corners.bin'))), { ifName: (i) => (i === 2 ? cornerIface : null), now: 0 });
    const parsed = cornerLines.map((l) => parseRecord(l, { framing: 'kmsg' }));
    const accepted = parsed.flatMap((r) => (r.ok ? [fields(r.packet)] : []));
    const refused: Record<string, number> = {};
    for (const r of parsed) if (!r.ok) refused[r.reason] = (refused[r.reason] ?? 0) + 1;
    expect(got.map(fields)).toEqual(accepted);
    expect(d.counts.malformed).toEqual(refused);
    expect(d.counts.accounted).toBe(cornerLines.length);
    const by = (dpt: number) => got.find((p) => p.dpt === dpt);
    // First fragments (IPv4 MF, IPv6 FRAG:0): LOG printed the whole TCP header, flags included (CWR ECE SYN).
    expect(by(7201)).toMatchObject({ family: 4, fragment: true, tcpFlags: 0xc2 });
    expect(by(7205)).toMatchObject({ family: 6, fragment: true, tcpFlags: 0xc2 });
    // A later IPv4 fragment: PROTO=TCP and nothing of the transport.
    expect(got.find((p) => p.family === 4 && p.fragment && p.dpt === undefined)).toMatchObject({ proto: 'TCP' });
    // IPv4 AH and ESP by name; IPv6 walks past AH to the TCP it carries; IPv6 ESP names no protocol (refused as cut short, as its LOG line is).
    expect(got.filter((p) => p.family === 4).map((p) => p.proto)).toEqual(expect.arrayContaining(['AH', 'ESP']));
    expect(by(7204)).toMatchObject({ family: 6, proto: 'TCP', tcpFlags: 0x02 });
    expect(refused).toEqual({ 'bad-address': 1, truncated: 1 });
    // An IPv4-mapped source in an IPv6 header (bad-address above) is never the IPv4 address it names.
    expect(got.some((p) => p.src === '198.51.100.7')).toBe(false);
    // ICMPv6 errors that quote a packet (1, 2, 3) name its addresses; type 100 quotes nothing.
    const icmp6 = got.filter((p) => p.proto === 'ICMPv6' && p.icmpType !== undefined && p.icmpType < 128);
    expect(icmp6.map((p) => [p.icmpType, p.innerDst ?? null])).toEqual([[1, '2001:db8::77'], [2, '2001:db8::77'], [3, '2001:db8::77'], [100, null]]);
  });

  it('the packet timestamp the kernel sent is the event time; without one, the receive time', () => {
    const [p] = new NflogStreamDecoder().push(stream, ctx(123));
    // The capture's packets carried NFULA_TIMESTAMP (wall clock of 2026).
    expect(p!.time).toBeGreaterThan(Date.UTC(2026, 0, 1));
    // The same message without its timestamp attribute (type 3): the context's time.
    const dg = datagrams()[0]!;
    const stripped = withoutAttribute(dg, 3);
    const [q] = new NflogStreamDecoder().push(frame(FRAME_DATAGRAM, stripped), ctx(123));
    expect(q!.time).toBe(123);
  });

  it('byte order: frame numbers little-endian; netlink headers in the order of the host that sent them (a big-endian host\'s datagram, decoded as such, gives the same packets)', () => {
    expect(HOST_LITTLE_ENDIAN).toBe(new Uint8Array(new Uint32Array([1]).buffer)[0] === 1);
    const le = datagrams().map((dg) => frame(FRAME_DATAGRAM, dg));
    const want = le.flatMap((f) => new NflogStreamDecoder({ netlinkLittleEndian: true }).push(f, ctx())).map(fields);
    expect(want).toHaveLength(lines.length);
    const be = datagrams().map((dg) => frame(FRAME_DATAGRAM, netlinkHeadersSwapped(dg)));
    expect(be.flatMap((f) => new NflogStreamDecoder({ netlinkLittleEndian: false }).push(f, ctx())).map(fields)).toEqual(want);
    // The frame header is little-endian whatever the host: a big-endian one would read as corrupt.
    const swappedFrame = frame(FRAME_DATAGRAM, datagrams()[0]!);
    new DataView(swappedFrame.buffer).setUint32(0, FRAME_DATAGRAM, false);
    const d = new NflogStreamDecoder();
    expect(d.push(swappedFrame, ctx())).toEqual([]);
    expect(d.corrupt).toBe(true);
  });

  it('gives the same packets whatever the chunks the stream arrives in (frames split anywhere)', () => {
    const whole = new NflogStreamDecoder().push(stream, ctx()).map(fields);
    for (const size of [1, 7, 64, 333]) {
      const d = new NflogStreamDecoder();
      const got: PacketEvent[] = [];
      for (let p = 0; p < stream.length; p += size) got.push(...d.push(stream.subarray(p, p + size), ctx()));
      expect(got.map(fields), `chunks of ${size}`).toEqual(whole);
    }
  });

  it('counts the messages the kernel dropped from the gaps in the sequence numbers, and ENOBUFS episodes', () => {
    const dgs = datagrams();
    const d = new NflogStreamDecoder();
    // Messages 0, 1, then 4 (2 and 3 lost), an overrun, then 7 (5 and 6 lost).
    const seqOf = (dg: Uint8Array, seq: number) => withSeq(dg, seq);
    d.push(frame(FRAME_DATAGRAM, seqOf(dgs[0]!, 0)), ctx());
    d.push(frame(FRAME_DATAGRAM, seqOf(dgs[1]!, 1)), ctx());
    d.push(frame(FRAME_DATAGRAM, seqOf(dgs[2]!, 4)), ctx());
    d.push(frame(FRAME_OVERRUN, new Uint8Array(0)), ctx());
    d.push(frame(FRAME_DATAGRAM, seqOf(dgs[3]!, 7)), ctx());
    expect(d.counts).toMatchObject({ packets: 4, lost: 4, overruns: 1 });
    expect(d.counts.accounted).toBe(8);
    // Across the 32-bit wrap: 0xffffffff then 0 is no loss (the first number counts the ones before it: the instance numbers from 0).
    const w = new NflogStreamDecoder();
    w.push(frame(FRAME_DATAGRAM, seqOf(dgs[0]!, 0xffffffff)), ctx());
    const before = w.counts.lost;
    w.push(frame(FRAME_DATAGRAM, seqOf(dgs[1]!, 0)), ctx());
    expect(w.counts.lost - before).toBe(0);
  });

  it('a first sequence number above 0 counts the messages before it as lost (a new instance numbers from 0); a message without one is accounted for too', () => {
    const dgs = datagrams();
    const d = new NflogStreamDecoder();
    d.push(frame(FRAME_DATAGRAM, withoutAttribute(dgs[0]!, 12)), ctx());
    d.push(frame(FRAME_DATAGRAM, withSeq(dgs[1]!, 3)), ctx());
    d.push(frame(FRAME_DATAGRAM, withSeq(dgs[2]!, 4)), ctx());
    expect(d.counts).toMatchObject({ packets: 3, lost: 3, accounted: 6 });
  });

  it('counts and skips malformed messages, and goes on with the next', () => {
    const dgs = datagrams();
    const d = new NflogStreamDecoder();
    const cut = dgs[0]!.slice(0, 40); // an attribute running past the message's end
    new DataView(cut.buffer).setUint32(0, 40, true);
    const noPayload = withoutAttribute(dgs[1]!, 9);
    const unknownIf = new NflogStreamDecoder();
    expect(d.push(frame(FRAME_DATAGRAM, cut), ctx())).toEqual([]);
    expect(d.push(frame(FRAME_DATAGRAM, noPayload), ctx())).toEqual([]);
    expect(d.push(frame(FRAME_DATAGRAM, new Uint8Array(5)), ctx())).toEqual([]);
    expect(d.push(frame(FRAME_DATAGRAM, dgs[2]!), ctx())).toHaveLength(1);
    expect(d.counts.malformed).toEqual({ truncated: 3 });
    // An interface index the namespace does not know: refused, not guessed.
    expect(unknownIf.push(frame(FRAME_DATAGRAM, dgs[0]!), { ifName: () => null, now: 0 })).toEqual([]);
    expect(unknownIf.counts.malformed).toEqual({ 'bad-field': 1 });
  });

  it('a stream that loses its frames (a header that is no frame) is refused from there on, and says so', () => {
    const d = new NflogStreamDecoder();
    const junk = new Uint8Array(16).fill(0x41);
    expect(d.push(junk, ctx())).toEqual([]);
    expect(d.corrupt).toBe(true);
    expect(d.push(stream, ctx())).toEqual([]);
    expect(d.counts.malformed).toEqual({ 'bad-framing': 1 });
    expect(FRAME_READY).toBe(1);
  });
});

describe('NFLOG decoder: IPv4-mapped addresses in an IPv6 header', () => {
  /** The third captured message (IPv6 TCP) with the 16-byte source and destination of its IPv6 header replaced. */
  function v6WithAddresses(src: number[], dst: number[]): Uint8Array {
    const dg = datagrams()[2]!.slice();
    const [p] = new NflogStreamDecoder().push(frame(FRAME_DATAGRAM, dg), ctx());
    expect(p).toMatchObject({ family: 6, proto: 'TCP' });
    const bytes = (ip: string) => ip.split(':').flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
    const full = (ip: string) => lines[2]!.match(new RegExp(`${ip}=(\\S+)`))![1]!;
    const needle = [...bytes(full('SRC')), ...bytes(full('DST'))];
    let at = -1;
    for (let i = 0; i + 32 <= dg.length && at < 0; i++) if (needle.every((b, j) => dg[i + j] === b)) at = i;
    expect(at).toBeGreaterThan(0);
    dg.set([...src, ...dst], at);
    return dg;
  }
  const mapped = (a: number, b: number, c: number, d: number) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d];
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09];

  it('refuses one whose source AND destination are both mapped (a forged IPv6 packet is never banned as the IPv4 address it names), and one with either mapped', () => {
    for (const [src, dst] of [[mapped(198, 51, 100, 7), mapped(192, 0, 2, 1)], [mapped(198, 51, 100, 7), v6], [v6, mapped(192, 0, 2, 1)]] as const) {
      const d = new NflogStreamDecoder();
      expect(d.push(frame(FRAME_DATAGRAM, v6WithAddresses([...src], [...dst])), ctx())).toEqual([]);
      expect(d.counts.malformed).toEqual({ 'bad-address': 1 });
    }
  });
});

/** A copy of the netlink message `dg` (one message) without its attributes of `type`. */
function withoutAttribute(dg: Uint8Array, type: number): Uint8Array {
  const v = new DataView(dg.buffer, dg.byteOffset, dg.byteLength);
  const parts: Uint8Array[] = [dg.slice(0, 20)];
  for (let p = 20; p + 4 <= dg.length; ) {
    const alen = v.getUint16(p, true);
    const next = p + ((alen + 3) & ~3);
    if ((v.getUint16(p + 2, true) & 0x3fff) !== type) parts.push(dg.slice(p, next));
    p = next;
  }
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) (out.set(x, o), (o += x.length));
  new DataView(out.buffer).setUint32(0, out.length, true);
  return out;
}

/** A copy of `dg` with its NFULA_SEQ (type 12) set to `seq`. */
function withSeq(dg: Uint8Array, seq: number): Uint8Array {
  const out = dg.slice();
  const v = new DataView(out.buffer);
  for (let p = 20; p + 4 <= out.length; ) {
    const alen = v.getUint16(p, true);
    if ((v.getUint16(p + 2, true) & 0x3fff) === 12) v.setUint32(p + 4, seq, false);
    p += (alen + 3) & ~3;
  }
  return out;
}

/** A datagram of this (little-endian) host as a big-endian host's kernel would send it: nlmsghdr and nlattr headers swapped, NFULA_* values (network order) untouched. */
function netlinkHeadersSwapped(dg: Uint8Array): Uint8Array {
  const out = dg.slice();
  const v = new DataView(out.buffer);
  for (let m = 0; m + 16 <= out.length; ) {
    const mlen = v.getUint32(m, true);
    for (const [off, bytes] of [[0, 4], [4, 2], [6, 2], [8, 4], [12, 4]] as const) {
      if (bytes === 4) v.setUint32(m + off, v.getUint32(m + off, true), false);
      else v.setUint16(m + off, v.getUint16(m + off, true), false);
    }
    for (let a = m + 20; a + 4 <= m + mlen; ) {
      const alen = v.getUint16(a, true);
      v.setUint16(a, alen, false);
      v.setUint16(a + 2, v.getUint16(a + 2, true), false);
      a += (alen + 3) & ~3;
    }
    m += (mlen + 3) & ~3;
  }
  return out;
}
