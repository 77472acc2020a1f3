/**
 * The `nflog` log source's decoder: the stream of portcullis-nflog (native/nflog/portcullis-nflog.c)
 * → the PacketEvent the kernel LOG text parser (message.ts) makes of the same packet, so that the
 * engine, its dedup and its trust rules see no difference between the two sources.
 *
 * The stream is frames: u32 type, u32 length, then `length` bytes — READY (u32: the receive buffer
 * granted), DATAGRAM (one netlink datagram from the kernel: nlmsghdr, nfgenmsg, then NFULA_*
 * attributes) or OVERRUN (the socket was full: recv() said ENOBUFS). Frames may be split anywhere
 * across the pipe's chunks. Byte order, decided on both sides:
 * - the frame's own numbers (type, length, READY's value) are LITTLE-ENDIAN, whatever the machine
 *   (the reader writes them with htole32);
 * - a datagram is passed on as the kernel sent it: netlink's headers (nlmsghdr, nlattr) in the byte
 *   order of the host whose kernel sent it — this host's, since the reader is this process's child
 *   behind a pipe (HOST_LITTLE_ENDIAN; a decoder of another host's capture says which) — and the
 *   NFULA_* values in network order, as nfnetlink_log defines them.
 *
 * What LOG prints and where NFLOG has it (net/netfilter/nf_log_syslog.c, nfnetlink_log.c):
 * - the prefix: NFULA_PREFIX (NUL-terminated), cut of blanks and brackets as the text parser does;
 * - IN=/OUT=/PHYSIN=/PHYSOUT=: interface indexes (NFULA_IFINDEX_*), named by the caller (the
 *   namespace's own interfaces; NFLOG never carries another namespace's packets);
 * - MAC=: printed for packets with an input device, as the bytes of the link-layer header — NFLOG's
 *   NFULA_HWHEADER, the same bytes; "MAC=" alone (an empty string) when there is none;
 * - the IP and transport header fields: from the packet's first bytes (NFULA_PAYLOAD, up to 2048: the
 *   reader's copy range, a whole standard frame, so IPv6 extension headers cannot push the ports out).
 * - the sequence number (NFULA_SEQ, asked for by the reader): consecutive per group, so a gap is the
 *   exact count of messages the kernel dropped (socket full).
 * Event time: NFULA_TIMESTAMP when the packet has one, else the caller's receive time (the message
 * reaches the reader 20–100 µs after the packet: bench/soak/nflog-count.c).
 * Pure: no I/O; a message that does not decode is counted by reason and skipped, never thrown.
 */
import type { Ip } from '../../shared/ip.ts';
import { ipv4Text } from '../../shared/ip.ts';
import type { PacketEvent, RejectReason } from '../../shared/packet.ts';
import { v6TextOfGroups } from './bytes.ts';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, PROTO_UDPLITE } from './grammar.ts';

/** Frame types of the reader's stdout (portcullis-nflog.c). */
export const FRAME_READY = 1;
export const FRAME_DATAGRAM = 2;
export const FRAME_OVERRUN = 3;
const FRAME_HEADER = 8;
/** A frame longer than this is not the reader's (its datagrams are at most 4 KiB): the stream is corrupt. */
const FRAME_MAX = 1 << 16;

// Netlink and nfnetlink_log numbers (linux/netlink.h, linux/netfilter/nfnetlink_log.h).
const NLMSG_HDRLEN = 16;
const NFGENMSG_LEN = 4;
const NFULNL_MSG_PACKET = (4 << 8) | 0; // NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET
const NLA_TYPE_MASK = 0x3fff;
const NFULA_TIMESTAMP = 3;
const NFULA_IFINDEX_INDEV = 4;
const NFULA_IFINDEX_OUTDEV = 5;
const NFULA_IFINDEX_PHYSINDEV = 6;
const NFULA_IFINDEX_PHYSOUTDEV = 7;
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
const NFULA_SEQ = 12;
const NFULA_HWHEADER = 16;
const AF_INET = 2;
const AF_INET6 = 10;

/** This host's byte order: the order of the netlink headers its kernel sends. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** What the caller supplies: interface names by index (null: unknown), and the receive time. */
export interface NflogContext {
  ifName(index: number): string | null;
  /** Wall-clock ms of the chunk's arrival, for messages without a timestamp. */
  now: number;
}

/** Counts of one stream, from its start. */
export interface NflogCounts {
  /** Packet messages decoded into packets. */
  packets: number;
  /** Messages the kernel dropped, from the gaps in their sequence numbers. */
  lost: number;
  /** ENOBUFS episodes the reader reported (each one a gap too). */
  overruns: number;
  /** Messages (or frames) that did not decode, by reason. */
  malformed: Partial<Record<RejectReason, number>>;
  /** The receive buffer the kernel granted the reader, once it said READY. */
  receiveBuffer: number | null;
  /**
   * Messages the kernel built for this reader's instance: received (decoded or not) and lost in
   * sequence gaps — the instance numbers them from 0, so a first number above 0 counts those before
   * it as built too. What the logging rules' counters grew by while it was bound (nflog-ledger.ts).
   */
  accounted: number;
}

/** The decoder of one reader's stream: push its stdout's chunks, get packets. */
export class NflogStreamDecoder {
  /** The byte order of the datagrams' netlink headers (the kernel's that sent them: this host's). */
  private readonly le: boolean;
  readonly counts: NflogCounts = { packets: 0, lost: 0, overruns: 0, malformed: {}, receiveBuffer: null, accounted: 0 };
  /** The last sequence number seen; null before the first. */
  private lastSeq: number | null = null;
  /** The bytes of a frame split across chunks. */
  private pending: Uint8Array = new Uint8Array(0);
  /** Frames can no longer be found (a frame header that makes no sense): everything after is refused. */
  corrupt = false;

  constructor(opts: { netlinkLittleEndian?: boolean } = {}) {
    this.le = opts.netlinkLittleEndian ?? HOST_LITTLE_ENDIAN;
  }

  /** Decodes a chunk of the stream; returns the packets it completed, in order. */
  push(chunk: Uint8Array, ctx: NflogContext): PacketEvent[] {
    const out: PacketEvent[] = [];
    if (this.corrupt) return out;
    let buf = chunk;
    if (this.pending.length) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending, 0);
      buf.set(chunk, this.pending.length);
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let p = 0;
    while (buf.length - p >= FRAME_HEADER) {
      const type = view.getUint32(p, true);
      const len = view.getUint32(p + 4, true);
      if (len > FRAME_MAX || type < FRAME_READY || type > FRAME_OVERRUN) {
        this.corrupt = true;
        this.malformed('bad-framing');
        return out;
      }
      if (buf.length - p - FRAME_HEADER < len) break;
      const start = p + FRAME_HEADER;
      if (type === FRAME_READY) this.counts.receiveBuffer = len >= 4 ? view.getUint32(start, true) : null;
      else if (type === FRAME_OVERRUN) this.counts.overruns++;
      else this.datagram(buf, start, start + len, ctx, out);
      p = start + len;
    }
    this.pending = p === buf.length ? new Uint8Array(0) : buf.slice(p);
    return out;
  }

  private malformed(reason: RejectReason): void {
    this.counts.malformed[reason] = (this.counts.malformed[reason] ?? 0) + 1;
  }

  /** The netlink messages of one datagram (the kernel may batch several). */
  private datagram(buf: Uint8Array, start: number, end: number, ctx: NflogContext, out: PacketEvent[]): void {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let p = start;
    if (end - p < NLMSG_HDRLEN) return this.malformed('truncated');
    while (end - p >= NLMSG_HDRLEN) {
      const len = view.getUint32(p, this.le);
      const type = view.getUint16(p + 4, this.le);
      if (len < NLMSG_HDRLEN || len > end - p) return this.malformed('truncated');
      // Only packet messages: the kernel sends nothing else to a bound group but errors and acks.
      if (type === NFULNL_MSG_PACKET) {
        const r = this.message(buf, view, p + NLMSG_HDRLEN, p + len, ctx);
        if (typeof r === 'string') this.malformed(r);
        else {
          this.counts.packets++;
          out.push(r);
        }
      }
      p += (len + 3) & ~3;
    }
  }

  /** One NFULNL_MSG_PACKET: its attributes, then the packet's headers. */
  private message(buf: Uint8Array, view: DataView, start: number, end: number, ctx: NflogContext): PacketEvent | RejectReason {
    if (end - start < NFGENMSG_LEN) return 'truncated';
    const family = buf[start]!;
    let prefixAt = -1;
    let prefixEnd = -1;
    let inIndex = -1;
    let outIndex = -1;
    let physInIndex = -1;
    let physOutIndex = -1;
    let payloadAt = -1;
    let payloadEnd = -1;
    let macAt = -1;
    let macEnd = -1;
    let seq = -1;
    let time = ctx.now;
    let p = start + NFGENMSG_LEN;
    while (end - p >= 4) {
      const alen = view.getUint16(p, this.le);
      const type = view.getUint16(p + 2, this.le) & NLA_TYPE_MASK;
      if (alen < 4 || alen > end - p) return 'truncated';
      const d = p + 4;
      const dlen = alen - 4;
      switch (type) {
        case NFULA_PREFIX:
          prefixAt = d;
          prefixEnd = d + dlen;
          break;
        case NFULA_IFINDEX_INDEV:
          if (dlen === 4) inIndex = view.getUint32(d, false);
          break;
        case NFULA_IFINDEX_OUTDEV:
          if (dlen === 4) outIndex = view.getUint32(d, false);
          break;
        case NFULA_IFINDEX_PHYSINDEV:
          if (dlen === 4) physInIndex = view.getUint32(d, false);
          break;
        case NFULA_IFINDEX_PHYSOUTDEV:
          if (dlen === 4) physOutIndex = view.getUint32(d, false);
          break;
        case NFULA_PAYLOAD:
          payloadAt = d;
          payloadEnd = d + dlen;
          break;
        case NFULA_HWHEADER:
          macAt = d;
          macEnd = d + dlen;
          break;
        case NFULA_SEQ:
          if (dlen === 4) seq = view.getUint32(d, false);
          break;
        case NFULA_TIMESTAMP:
          // struct nfulnl_msg_packet_timestamp: be64 seconds, be64 microseconds.
          if (dlen === 16) time = Number(view.getBigUint64(d, false)) * 1000 + Math.floor(Number(view.getBigUint64(d + 8, false)) / 1000);
          break;
      }
      p += (alen + 3) & ~3;
    }
    // The sequence first: a message that does not decode still arrived (it is no loss).
    if (seq >= 0) {
      if (this.lastSeq !== null && seq !== ((this.lastSeq + 1) >>> 0)) this.counts.lost += (seq - this.lastSeq - 1) >>> 0;
      // The instance numbers from 0: a first number above it follows messages dropped before it.
      else if (this.lastSeq === null) this.counts.lost += seq;
      this.counts.accounted += this.lastSeq === null ? seq + 1 : (seq - this.lastSeq) >>> 0;
      this.lastSeq = seq;
    } else this.counts.accounted++;
    if (payloadAt < 0) return 'truncated';
    const prefix = prefixAt < 0 ? '' : prefixText(buf, prefixAt, prefixEnd);
    if (prefix === null) return 'binary';
    const name = (index: number): string | null => (index < 0 ? '' : ctx.ifName(index));
    const inIf = name(inIndex);
    const outIf = name(outIndex);
    // An index the namespace no longer knows (an interface gone since): no name to match, no guess.
    if (inIf === null || outIf === null) return 'bad-field';
    const physIn = physInIndex < 0 ? undefined : ctx.ifName(physInIndex) ?? undefined;
    const physOut = physOutIndex < 0 ? undefined : ctx.ifName(physOutIndex) ?? undefined;
    // LOG prints MAC= for every packet with an input device, empty without a link-layer header.
    const mac = inIndex < 0 ? undefined : macAt < 0 ? '' : macText(buf, macAt, macEnd);
    const version = payloadEnd > payloadAt ? buf[payloadAt]! >> 4 : 0;
    const packet: PacketEvent = {
      time,
      framing: 'nflog',
      trust: 'kernel',
      prefix,
      in: inIf,
      out: outIf,
      physIn,
      physOut,
      mac,
      src: '' as Ip,
      dst: '' as Ip,
      family: 4,
      proto: '',
    };
    if (version === 4 && family !== AF_INET6) return ipv4(buf, view, payloadAt, payloadEnd, packet);
    if (version === 6 && family !== AF_INET) return ipv6(buf, view, payloadAt, payloadEnd, packet);
    return 'bad-field';
  }
}

/** One decoder for every prefix (a message's prefix is decoded at 20k messages a second under a flood). */
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The prefix as the text parser keeps it: without surrounding blanks and one pair of brackets; null for control bytes. */
export function prefixText(buf: Uint8Array, a: number, e: number): string | null {
  let b = a;
  while (b < e && buf[b] !== 0) b++;
  const text = utf8.decode(buf.subarray(a, b));
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0xfffd) return null;
  }
  let t = text.trim();
  if (t.length >= 2 && t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1).trim();
  return t;
}

function hex2(n: number): string {
  return (n < 16 ? '0' : '') + n.toString(16);
}

/** LOG's MAC=: the link-layer header's bytes as lower-case hex pairs joined by ':'. */
function macText(buf: Uint8Array, a: number, e: number): string {
  let s = '';
  for (let i = a; i < e; i++) s += (i > a ? ':' : '') + hex2(buf[i]!);
  return s;
}

function v4At(view: DataView, p: number): Ip {
  return ipv4Text(view.getUint32(p, false)) as Ip;
}

const groups = new Uint16Array(8);
/**
 * The IPv6 address at p, or null for an IPv4-mapped one (::ffff:0:0/96): no real IPv6 packet
 * carries one (RFC 4291 2.5.5.2), and it would read as the IPv4 address it names — a forged packet
 * banning that address. The text parser refuses the same (message.ts: headerAddress).
 */
function v6At(view: DataView, p: number): Ip | null {
  for (let i = 0; i < 8; i++) groups[i] = view.getUint16(p + 2 * i, false);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) return null;
  return v6TextOfGroups(groups);
}

/** IPv4 protocol names as LOG prints them (nf_log_syslog.c: dump_ipv4_packet); others by number. */
function ipv4ProtoName(n: number): string {
  return n === 6 ? PROTO_TCP : n === 17 ? PROTO_UDP : n === 136 ? PROTO_UDPLITE : n === 1 ? PROTO_ICMP : n === 51 ? 'AH' : n === 50 ? 'ESP' : String(n);
}

/** ICMP types whose message quotes the offending packet (LOG prints its SRC= and DST= in brackets). */
const ICMP_QUOTING = new Set([3, 4, 5, 11, 12]);
/** The same for ICMPv6: destination unreachable, packet too big, time exceeded, parameter problem — not every type below 128 (100, 101 and 127 are not errors LOG dumps). */
const ICMPV6_QUOTING = new Set([1, 2, 3, 4]);

function ipv4(buf: Uint8Array, view: DataView, a: number, e: number, p: PacketEvent): PacketEvent | RejectReason {
  if (e - a < 20) return 'truncated';
  const ihl = (buf[a]! & 15) * 4;
  if (ihl < 20 || e - a < ihl) return 'truncated';
  const frag = view.getUint16(a + 6, false);
  const offset = frag & 0x1fff;
  const protoNumber = buf[a + 9]!;
  p.family = 4;
  p.src = v4At(view, a + 12);
  p.dst = v4At(view, a + 16);
  p.len = view.getUint16(a + 2, false);
  p.ttl = buf[a + 8]!;
  p.id = view.getUint16(a + 4, false);
  p.df = (frag & 0x4000) !== 0;
  p.fragment = (frag & 0x2000) !== 0 || offset !== 0;
  p.proto = ipv4ProtoName(protoNumber);
  // A later fragment has no transport header: LOG prints PROTO= and stops (the text parser likewise).
  if (offset !== 0) return p;
  return transport(buf, view, a + ihl, e, p, protoNumber, 4);
}

/** IPv6 extension headers LOG walks past (nf_log_syslog.c: dump_ipv6_packet, nf_ip6_ext_hdr). */
const HOPOPTS = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const ESP = 50;
const AH = 51;
const DSTOPTS = 60;

function ipv6ProtoName(n: number): string {
  return n === 6 ? PROTO_TCP : n === 17 ? PROTO_UDP : n === 136 ? PROTO_UDPLITE : n === 58 ? PROTO_ICMPV6 : String(n);
}

function ipv6(buf: Uint8Array, view: DataView, a: number, e: number, p: PacketEvent): PacketEvent | RejectReason {
  if (e - a < 40) return 'truncated';
  p.family = 6;
  const src = v6At(view, a + 8);
  const dst = v6At(view, a + 24);
  // An IPv4-mapped source or destination (on the wire: forged): refused, as the text parser refuses
  // it — never taken as IPv4, its source never banned as the IPv4 address it names.
  if (src === null || dst === null) return 'bad-address';
  p.src = src;
  p.dst = dst;
  p.len = view.getUint16(a + 4, false) + 40;
  p.ttl = buf[a + 7]!;
  p.fragment = false;
  let next = buf[a + 6]!;
  let q = a + 40;
  let laterFragment = false;
  while (next === HOPOPTS || next === ROUTING || next === DSTOPTS || next === FRAGMENT || next === AH || next === ESP) {
    // ESP: LOG prints no PROTO= (what follows is encrypted); the text parser refuses such a line as
    // cut short, or names no protocol in a fragment.
    if (next === ESP) return p.fragment ? ((p.proto = ''), p) : 'truncated';
    if (e - q < 8) return 'truncated';
    const following = buf[q]!;
    if (next === FRAGMENT) {
      // LOG prints FRAG:n for any fragment header, which the text parser takes as a fragment.
      p.fragment = true;
      if ((view.getUint16(q + 2, false) & 0xfff8) !== 0) laterFragment = true;
      q += 8;
    } else if (next === AH) {
      // Walked past, fragment or not (LOG stops at AH in a fragment only when it prints IP options,
      // which Portcullis's rules do not ask for): its length counts 4-byte words, less 2.
      q += (buf[q + 1]! + 2) * 4;
    } else {
      // Options after a later fragment's header: LOG stops there, with no PROTO= (no protocol named).
      if (laterFragment) return (p.proto = ''), p;
      q += (buf[q + 1]! + 1) * 8;
    }
    next = following;
  }
  p.proto = ipv6ProtoName(next);
  if (laterFragment) return p;
  return transport(buf, view, q, e, p, next, 6);
}

/** The transport header's fields LOG prints; a header cut short by the copy leaves them out, as LOG's INCOMPLETE does. */
function transport(buf: Uint8Array, view: DataView, t: number, e: number, p: PacketEvent, proto: number, family: 4 | 6): PacketEvent | RejectReason {
  const avail = e - t;
  if (proto === 6) {
    if (avail < 20) return p;
    p.spt = view.getUint16(t, false);
    p.dpt = view.getUint16(t + 2, false);
    p.window = view.getUint16(t + 14, false);
    // Byte 13 holds CWR ECE URG ACK PSH RST SYN FIN: the bits TcpFlag gives them.
    p.tcpFlags = buf[t + 13]!;
  } else if (proto === 17 || proto === 136) {
    if (avail < 8) return p;
    p.spt = view.getUint16(t, false);
    p.dpt = view.getUint16(t + 2, false);
  } else if ((proto === 1 && family === 4) || (proto === 58 && family === 6)) {
    if (avail < 4) return p;
    p.icmpType = buf[t]!;
    p.icmpCode = buf[t + 1]!;
    // An error message quotes the packet it is about: LOG prints that packet's addresses in brackets.
    const inner = t + 8;
    if (family === 4 && ICMP_QUOTING.has(p.icmpType) && e - inner >= 20 && buf[inner]! >> 4 === 4) {
      p.innerSrc = v4At(view, inner + 12);
      p.innerDst = v4At(view, inner + 16);
    } else if (family === 6 && ICMPV6_QUOTING.has(p.icmpType) && e - inner >= 40 && buf[inner]! >> 4 === 6) {
      const is = v6At(view, inner + 8);
      const id = v6At(view, inner + 24);
      if (is === null || id === null) return 'bad-address';
      p.innerSrc = is;
      p.innerDst = id;
    }
  }
  return p;
}
