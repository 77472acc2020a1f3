/**
 * The parser on bytes: one line of a log as a range of a byte buffer (as read from the file, not
 * decoded), with exactly the result parseRecord gives for the decoded text.
 *
 * Why: replay reads hundreds of megabytes. Decoding every chunk into a string, cutting a string
 * per line and capturing a substring per field (the regex fast path of parseRecord) made most of
 * the garbage and about half of the time of a replay. Here the common record — a BSD syslog line
 * from the kernel carrying one of the layouts parseRecord's fast path knows (IPv4/IPv6 header
 * without options, TCP/UDP/ICMP) — is walked once over its bytes, numbers are read from the
 * digits, and strings are made only for the fields a PacketEvent keeps (the values that repeat
 * line after line — host, prefix, interfaces, MAC, our own address — are shared from a small
 * cache compared in place). Two common rejections are also answered directly: a kernel line
 * without netfilter fields ('not-firewall') and another program's line ('untrusted-transport' /
 * 'not-firewall').
 *
 * Anything else — another framing, a byte that is not printable ASCII, a layout or value the fast
 * path would not accept — is decoded and handed to parseRecord, so the two cannot disagree: this
 * only ever answers what parseRecord's own fast path answers for the same text (a property test
 * compares them on generated logs).
 *
 * The range is a line as LineSplitter cuts it (no newline, a CR of a CRLF already removed). The
 * buffer is only read during the call: every string in the result is a copy.
 */
import type { Ip } from '../../shared/ip.ts';
import type { PacketEvent, ParseResult, RejectReason } from '../../shared/packet.ts';
import { canonicalAddress, longestZeroRun } from './address.ts';
import { MAX_RECORD_LENGTH, parseRecord, rejection, syslogYearOf, type ParseOptions } from './index.ts';
import { localTime } from './time.ts';

/** Decodes a line the fast path does not take. A BOM inside the stream is a character, as for LineSplitter's decoder. */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Parse the line `buf[start, end)`: the same result as parseRecord(decoded line, opts). */
export function parseRecordBytes(buf: Uint8Array, start: number, end: number, opts?: ParseOptions): ParseResult {
  const r = parseCommonBytes(buf, start, end, opts, null);
  if (r === null) return parseRecord(decodeLine(buf, start, end), opts);
  return typeof r === 'string' ? rejection(r) : { ok: true, packet: r };
}

/**
 * parseRecordBytes for a caller that is done with the packet when it has handled it (the engine's
 * ingest, replay): the common record is written into `into` (every field of it; make it with
 * newPacket()) instead of a new packet, and the answer is the packet or the reason of the
 * rejection, so a line allocates no packet and no result object. A line the fast path does not
 * take gets a packet of its own from parseRecord; `into` is then left as it was. The packet
 * returned may be `into`: copy it to keep it past the next call.
 */
export function parsePacketBytes(buf: Uint8Array, start: number, end: number, opts: ParseOptions | undefined, into: PacketEvent): PacketEvent | RejectReason {
  const r = parseCommonBytes(buf, start, end, opts, into);
  if (r !== null) return r;
  const full = parseRecord(decodeLine(buf, start, end), opts);
  return full.ok ? full.packet : full.reason;
}

/**
 * The source of the packet the last parseRecordBytes / parsePacketBytes call returned from its fast
 * path, as the 32-bit value of its dotted quad (what the tracker's IPv4 table is keyed by); -1 when
 * that call rejected the line, the source was IPv6, or parseRecord made the packet. Read it right
 * after the call.
 */
export function parsedSourceV4(): number {
  return srcV4;
}

let srcV4 = -1;
/** Scratch of addressOf: the value of the last unshared (source) IPv4 address it read. */
let addressKey = -1;
/** Scratch of quotedHeader: the addresses of an ICMP error's quoted packet (cleared by each parse). */
let innerSrc: Ip | undefined;
let innerDst: Ip | undefined;

/** A packet with every field the fast path writes, in the order it writes them (one object shape). */
export function newPacket(): PacketEvent {
  return {
    time: 0,
    framing: 'syslog',
    trust: 'spoofable',
    seq: undefined,
    host: undefined,
    prefix: '',
    in: '',
    out: '',
    physIn: undefined,
    physOut: undefined,
    mac: undefined,
    src: '' as Ip,
    dst: '' as Ip,
    family: 4,
    len: undefined,
    ttl: undefined,
    id: undefined,
    df: undefined,
    fragment: false,
    proto: '',
    spt: undefined,
    dpt: undefined,
    icmpType: undefined,
    icmpCode: undefined,
    tcpFlags: undefined,
    window: undefined,
    innerSrc: undefined,
    innerDst: undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Strings from bytes.

const fcc = String.fromCharCode;

/** Text of `b[a, e)` (ASCII, or decoded as UTF-8 when longer than an address). */
export function decodeAscii(b: Uint8Array, a: number, e: number): string {
  // String.fromCharCode with the bytes as arguments is ~3x faster than TextDecoder for short
  // strings (no subarray, no API call): used for addresses and other short fields.
  switch (e - a) {
    case 0: return '';
    case 1: return fcc(b[a]!);
    case 2: return fcc(b[a]!, b[a + 1]!);
    case 3: return fcc(b[a]!, b[a + 1]!, b[a + 2]!);
    case 4: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!);
    case 5: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!);
    case 6: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!);
    case 7: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!);
    case 8: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!);
    case 9: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!);
    case 10: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!, b[a + 9]!);
    case 11: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!, b[a + 9]!, b[a + 10]!);
    case 12: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!, b[a + 9]!, b[a + 10]!, b[a + 11]!);
    case 13: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!, b[a + 9]!, b[a + 10]!, b[a + 11]!, b[a + 12]!);
    case 14: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!, b[a + 9]!, b[a + 10]!, b[a + 11]!, b[a + 12]!, b[a + 13]!);
    case 15: return fcc(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!, b[a + 9]!, b[a + 10]!, b[a + 11]!, b[a + 12]!, b[a + 13]!, b[a + 14]!);
    default: return decoder.decode(b.subarray(a, e));
  }
}

/**
 * A whole line for parseRecord: UTF-8, as LineSplitter decodes lines. Not decodeAscii, whose
 * one-character-per-byte path (for short fields known to be ASCII) read a short line's invalid
 * byte as a Latin-1 letter instead of U+FFFD, so `x\xFF` was 'bad-framing' instead of 'binary'.
 */
function decodeLine(b: Uint8Array, a: number, e: number): string {
  for (let i = a; i < e; i++) if (b[i]! > 127) return decoder.decode(b.subarray(a, e));
  return decodeAscii(b, a, e);
}

// Values that repeat line after line (host, prefix, IN, OUT, MAC, our own address): each field
// keeps its few recent values, compared byte by byte in place (the last one first), so a repeat
// allocates nothing and usually costs one comparison.
const RECENT_MAX = 8;

class Recent {
  private readonly values: string[] = [];
  private last = 0;
  private nextSlot = 0;

  /** `b[a, e)` (printable ASCII) as a string, shared with an equal recent one. */
  keep(b: Uint8Array, a: number, e: number): string {
    const values = this.values;
    const hit = values.length === 0 ? null : values[this.last]!;
    if (hit !== null && sameBytes(hit, b, a, e)) return hit;
    for (let k = 0; k < values.length; k++) {
      const r = values[k]!;
      if (sameBytes(r, b, a, e)) {
        this.last = k;
        return r;
      }
    }
    const s = decodeAscii(b, a, e);
    const slot = values.length < RECENT_MAX ? values.length : this.nextSlot;
    if (slot === values.length) values.push(s);
    else {
      values[slot] = s;
      this.nextSlot = (slot + 1) % RECENT_MAX;
    }
    this.last = slot;
    return s;
  }

  /**
   * The recent value that b[a…] starts with and that is followed there by a space, or null: for the MAC, whose class ([0-9a-fA-F:]) a kept value already passed, this finds its end
   * and checks it in one comparison.
   */
  spanAt(b: Uint8Array, a: number, e: number): string | null {
    const values = this.values;
    for (let k = 0; k < values.length; k++) {
      const r = values[(this.last + k) % values.length]!;
      const n = r.length;
      if (a + n >= e || b[a + n] !== 32) continue;
      // From the end: MACs seen on one host share their first bytes (our own address) and differ
      // in the last ones (the sender's, the EtherType), so a wrong candidate fails at once.
      let i = n - 1;
      while (i >= 0 && r.charCodeAt(i) === b[a + i]) i--;
      if (i < 0) return r;
    }
    return null;
  }
}

function sameBytes(r: string, b: Uint8Array, a: number, e: number): boolean {
  const n = e - a;
  if (r.length !== n) return false;
  for (let i = 0; i < n; i++) if (r.charCodeAt(i) !== b[a + i]) return false;
  return true;
}

const hosts = new Recent();
const prefixes = new Recent();
const ifaces = new Recent();
const outs = new Recent();
const macs = new Recent();
const v4dsts = new Recent();

// IPv6 addresses (the kernel prints them expanded: 39 characters) → canonical text, in a small
// direct-mapped cache looked up by the bytes themselves: a hit (our own address as DST, a source
// sending many lines) needs neither the raw string nor a hash of it.
const V6_SLOTS = 1024;
const v6Raw = new Uint8Array(V6_SLOTS * 40);
const v6Len = new Uint8Array(V6_SLOTS);
const v6Canonical: (Ip | null)[] = new Array<Ip | null>(V6_SLOTS).fill(null);

/** Canonical text of the IPv6 address text b[a, e) (cached by its bytes), or null. */
export function v6Address(b: Uint8Array, a: number, e: number): Ip | null {
  const n = e - a;
  let h = n;
  for (let i = a; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  const slot = (h >>> 22) & (V6_SLOTS - 1);
  if (v6Len[slot] === n) {
    const o = slot * 40;
    let i = 0;
    while (i < n && v6Raw[o + i] === b[a + i]) i++;
    if (i === n) return v6Canonical[slot]!;
  }
  const canonical = v6Canonical8(b, a, e) ?? canonicalAddress(decodeAscii(b, a, e), 0, n);
  if (canonical !== null && n <= 40) {
    v6Raw.set(b.subarray(a, e), slot * 40);
    v6Len[slot] = n;
    v6Canonical[slot] = canonical;
  }
  return canonical;
}

// ---------------------------------------------------------------------------------------------
// The fast path.

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

/** Month 0–11 of the three letters at p, or -1. */
function monthAt(b: Uint8Array, p: number): number {
  const x = b[p]!;
  const y = b[p + 1]!;
  const z = b[p + 2]!;
  for (let m = 0; m < 12; m++) {
    if (MONTHS.charCodeAt(m * 3) === x && MONTHS.charCodeAt(m * 3 + 1) === y && MONTHS.charCodeAt(m * 3 + 2) === z) return m;
  }
  return -1;
}

function two(b: Uint8Array, p: number): number {
  const x = b[p]! - 48;
  const y = b[p + 1]! - 48;
  return x >= 0 && x <= 9 && y >= 0 && y <= 9 ? x * 10 + y : -1;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** Is `word` (ASCII) at b[p…] (within e)? */
function at(b: Uint8Array, p: number, e: number, word: string): boolean {
  const n = word.length;
  if (p + n > e) return false;
  for (let i = 0; i < n; i++) if (b[p + i] !== word.charCodeAt(i)) return false;
  return true;
}

// Scratch of the walk (never exposed): the value of the last number read, and where it ended.
let num = 0;
/** Scratch of portPair: the source port it read (the destination port is in `num`). */
let sptNum = 0;

/** One or more spaces at p (the regex's ` +`): index after them, or -1. */
function spaces(b: Uint8Array, p: number, e: number): number {
  if (p >= e || b[p] !== 32) return -1;
  p++;
  while (p < e && b[p] === 32) p++;
  return p;
}

/**
 * One `KEY=digits` field in a single call (fewer calls than spaces + at + digits): with `lead`, one
 * or more spaces first; the key; at most maxDigits digits (value in `num`), followed by a space or
 * the end; with `trail`, the spaces after it are skipped too (and required). Index after, or -1.
 */
function kv(b: Uint8Array, q: number, e: number, key: string, maxDigits: number, lead: boolean, trail: boolean): number {
  if (q < 0) return -1;
  if (lead) {
    if (q >= e || b[q] !== 32) return -1;
    q++;
    while (q < e && b[q] === 32) q++;
  }
  const kn = key.length;
  if (q + kn > e) return -1;
  for (let i = 0; i < kn; i++) if (b[q + i] !== key.charCodeAt(i)) return -1;
  q += kn;
  const p = q;
  let v = 0;
  while (q < e) {
    const c = b[q]! - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    q++;
  }
  if (q === p || q - p > maxDigits) return -1;
  num = v;
  if (q === e) return trail ? -1 : q;
  if (b[q] !== 32) return -1;
  if (trail) {
    q++;
    while (q < e && b[q] === 32) q++;
  }
  return q;
}

/**
 * Where the run of an address's characters starting at p ends: digits and dots (`v4`), or hex
 * digits and colons.
 */
function addressEnd(b: Uint8Array, p: number, e: number, v4: boolean): number {
  if (v4) while (p < e && ((b[p]! >= 48 && b[p]! <= 57) || b[p] === 46)) p++;
  else while (p < e && (isHex(b[p]!) || b[p] === 58)) p++;
  return p;
}

/** ` SPT=n DPT=n` at q, as TCP and UDP both have them: the source port in sptNum, the destination port in num; index after, or -1. */
function portPair(b: Uint8Array, q: number, e: number): number {
  q = kv(b, q, e, 'SPT=', 5, true, false);
  if (q < 0) return -1;
  sptNum = num;
  return kv(b, q, e, 'DPT=', 5, true, false);
}

/**
 * IPv4 address text of the kernel (dotted quad, no leading zeros; the same test as address.ts
 * isDottedQuad): its 32-bit value, or -1.
 */
function dottedQuadBytes(b: Uint8Array, start: number, end: number): number {
  let parts = 0;
  let key = 0;
  let p = start;
  while (p < end) {
    const first = b[p]!;
    if (first < 48 || first > 57) return -1;
    let value = first - 48;
    let q = p + 1;
    while (q < end) {
      const c = b[q]!;
      if (c === 46) break;
      if (c < 48 || c > 57 || value === 0 || q - p >= 3) return -1;
      value = value * 10 + (c - 48);
      q++;
    }
    if (value > 255) return -1;
    key = key * 256 + value;
    parts++;
    if (q === end) return parts === 4 ? key : -1;
    if (parts === 4) return -1;
    p = q + 1;
    if (p === end) return -1;
  }
  return -1;
}

const groups = new Uint16Array(8);
const hexDigits = '0123456789abcdef';
const textOut = new Uint8Array(48);

/**
 * RFC 5952 text of eight full hex groups `xxxx:…:xxxx` (how the kernel prints every IPv6 address),
 * the same as address.ts canonicalIpv6 gives; null for any other form (the caller asks
 * canonicalAddress then).
 */
function v6Canonical8(b: Uint8Array, a: number, e: number): Ip | null {
  if (e - a !== 39) return null;
  for (let g = 0; g < 8; g++) {
    const o = a + g * 5;
    if (g < 7 && b[o + 4] !== 58) return null;
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = b[o + i]!;
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else return null;
      v = (v << 4) | d;
    }
    groups[g] = v;
  }
  const gr = groups;
  // IPv4-mapped: formatted by address.ts (rare).
  if (gr[0] === 0 && gr[1] === 0 && gr[2] === 0 && gr[3] === 0 && gr[4] === 0 && gr[5] === 0xffff) return null;
  return v6TextOfGroups(gr);
}

/** RFC 5952 text of the eight 16-bit groups of an IPv6 address that is not IPv4-mapped. */
export function v6TextOfGroups(gr: ArrayLike<number>): Ip {
  const run = longestZeroRun(gr);
  const bestStart = run < 0 ? -1 : run >> 4;
  const bestLen = run & 15;
  let n = 0;
  const out = textOut;
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out[n++] = 58;
      out[n++] = 58;
      i += bestLen - 1;
      continue;
    }
    if (n > 0 && out[n - 1] !== 58) out[n++] = 58;
    const v = gr[i]!;
    if (v >= 0x1000) out[n++] = hexDigits.charCodeAt(v >> 12);
    if (v >= 0x100) out[n++] = hexDigits.charCodeAt((v >> 8) & 15);
    if (v >= 0x10) out[n++] = hexDigits.charCodeAt((v >> 4) & 15);
    out[n++] = hexDigits.charCodeAt(v & 15);
  }
  return decodeAscii(out, 0, n) as Ip;
}

/** Canonical address of the text b[a, e) as parseRecord's fast path computes it, or null. */
function addressOf(b: Uint8Array, a: number, e: number, v4: boolean, shared: boolean): Ip | null {
  if (v4) {
    const key = dottedQuadBytes(b, a, e);
    if (key < 0) return null;
    if (!shared) addressKey = key;
    return (shared ? v4dsts.keep(b, a, e) : decodeAscii(b, a, e)) as Ip;
  }
  return v6Address(b, a, e);
}

/**
 * The packet for the common syslog record (written into `into` when given), the reason for the two
 * common non-records, or null when parseRecord must decide. Sets srcV4.
 */
function parseCommonBytes(b: Uint8Array, start: number, end: number, opts: ParseOptions | undefined, into: PacketEvent | null): PacketEvent | RejectReason | null {
  srcV4 = -1;
  innerSrc = innerDst = undefined;
  const n = end - start;
  if (n === 0 || n > MAX_RECORD_LENGTH) return null;
  let e = end;
  while (e > start) {
    const c = b[e - 1]!;
    if (c === 10 || c === 13 || c === 32 || c === 9) e--;
    else break;
  }
  if (e === start || e - start < 17) return null;
  const wanted = opts?.framing;
  // Syslog BSD stamp `Nov 22 10:00:00 ` — what sniffFraming calls syslog when the framing is auto.
  if (wanted !== 'syslog' && !((wanted === undefined || wanted === 'auto') && b[start]! >= 65 && b[start]! <= 90 && b[start + 3] === 32)) return null;

  // --- framing (readSyslog / parseBsdStamp) ---
  let p = start;
  const month = monthAt(b, p);
  if (month < 0 || b[p + 3] !== 32) return null;
  const d1 = b[p + 4]!;
  const d2 = b[p + 5]!;
  if (d2 < 48 || d2 > 57) return null;
  const day = d1 === 32 ? d2 - 48 : d1 >= 48 && d1 <= 57 ? (d1 - 48) * 10 + (d2 - 48) : -1;
  if (day < 1 || b[p + 6] !== 32) return null;
  const hh = two(b, p + 7);
  const mm = two(b, p + 10);
  const ss = two(b, p + 13);
  if (hh < 0 || mm < 0 || ss < 0 || b[p + 9] !== 58 || b[p + 12] !== 58) return null;
  const time = localTime(syslogYearOf(opts, month, day), month, day, hh, mm, ss);
  if (Number.isNaN(time)) return null;
  p += 15;
  if (b[p] !== 32) return null;
  p++;
  let hostEnd = p;
  while (hostEnd < e) {
    const c = b[hostEnd]!;
    if (c === 32) break;
    if (c < 33 || c > 126) return null;
    hostEnd++;
  }
  if (hostEnd >= e || hostEnd === p) return null;
  const hostStart = p;
  p = hostEnd + 1;
  if (!at(b, p, e, 'kernel:')) return opts?.anyProgram === true ? null : otherProgram(b, start, p, e);
  p += 7;

  // --- message (parseMessage) ---
  while (p < e && b[p] === 32) p++;
  if (p < e && b[p] === 91) {
    // kernel timestamp `[ 12345.678901] `
    let q = p + 1;
    let nd = 0;
    for (; q < e; q++) {
      const c = b[q]!;
      if (c >= 48 && c <= 57) nd++;
      else if (c !== 32 && c !== 46) break;
    }
    if (nd > 0 && q < e && b[q] === 93) {
      p = q + 1;
      while (p < e && b[p] === 32) p++;
    }
  }

  // Prefix: up to the first '=' (the regex's lazy prefix cannot hold one), which must end `IN=`.
  let q = p;
  while (q < e) {
    const c = b[q]!;
    if (c < 32 || c > 126 || c === 61) break;
    q++;
  }
  if (q >= e || b[q] !== 61) return q >= e ? kernelNotFirewall(b, start, p, end) : null;
  if (q - 2 < p || b[q - 2] !== 73 || b[q - 1] !== 78) return null;
  const inAt = q - 2;
  // IN value, ` OUT=`, OUT value: [\x21-\x3c\x3e-\x7e]*
  const inStart = q + 1;
  q = inStart;
  while (q < e && b[q]! > 32 && b[q]! < 127 && b[q] !== 61) q++;
  const inEnd = q;
  if (!at(b, q, e, ' OUT=')) return null;
  const outStart = q + 5;
  q = outStart;
  while (q < e && b[q]! > 32 && b[q]! < 127 && b[q] !== 61) q++;
  const outEnd = q;
  q = spaces(b, q, e);
  if (q < 0) return null;
  let macStart = -1;
  let macEnd = -1;
  let mac: string | null = null;
  if (at(b, q, e, 'MAC=')) {
    macStart = q + 4;
    mac = macs.spanAt(b, macStart, e);
    if (mac !== null) q = macStart + mac.length;
    else {
      q = macStart;
      while (q < e && (isHex(b[q]!) || b[q] === 58)) q++;
    }
    macEnd = q;
    q = spaces(b, q, e);
    if (q < 0) return null;
  }
  if (!at(b, q, e, 'SRC=')) return null;
  const srcStart = q + 4;
  // The regex tries the IPv4 layout first ([0-9.]), then the IPv6 one ([0-9a-fA-F:]): an address
  // of neither class (or of both, like `::ffff:1.2.3.4`) is left to the full parser.
  q = addressEnd(b, srcStart, e, true);
  const v4 = q >= e || b[q] === 32;
  if (!v4) q = addressEnd(b, srcStart, e, false);
  const srcEnd = q;
  // ([0-9.]{7,15}) +DST=([0-9.]{7,15}) +LEN=(\d{1,5}) + for IPv4, ([0-9a-fA-F:]{2,39}) … for IPv6
  const minLen = v4 ? 7 : 2;
  const maxLen = v4 ? 15 : 39;
  if (srcEnd - srcStart < minLen || srcEnd - srcStart > maxLen) return null;
  q = spaces(b, q, e);
  if (q < 0 || !at(b, q, e, 'DST=')) return null;
  const dstStart = q + 4;
  const dstEnd = addressEnd(b, dstStart, e, v4);
  if (dstEnd - dstStart < minLen || dstEnd - dstStart > maxLen) return null;
  q = kv(b, dstEnd, e, 'LEN=', 5, true, true);
  if (q < 0) return null;
  const len = num;
  let ttl: number;
  let id: number | undefined;
  let df = false;
  if (v4) {
    // TOS=0x.. +PREC=0x.. +TTL=(\d{1,3}) +ID=(\d{1,5}) +(?:CE +)?(DF +)?
    if (!at(b, q, e, 'TOS=0x') || !isHex(b[q + 6]!) || !isHex(b[q + 7]!)) return null;
    q = spaces(b, q + 8, e);
    if (q < 0 || !at(b, q, e, 'PREC=0x') || !isHex(b[q + 7]!) || !isHex(b[q + 8]!)) return null;
    q = kv(b, q + 9, e, 'TTL=', 3, true, true);
    if (q < 0) return null;
    ttl = num;
    q = kv(b, q, e, 'ID=', 5, false, true);
    if (q < 0) return null;
    id = num;
    if (at(b, q, e, 'CE ')) q = spaces(b, q + 2, e);
    if (at(b, q, e, 'DF ')) {
      df = true;
      q = spaces(b, q + 2, e);
    }
  } else {
    // TC=\d{1,3} +HOPLIMIT=(\d{1,3}) +FLOWLBL=\d{1,7} +
    q = kv(b, q, e, 'TC=', 3, false, true);
    q = kv(b, q, e, 'HOPLIMIT=', 3, false, true);
    if (q < 0) return null;
    ttl = num;
    q = kv(b, q, e, 'FLOWLBL=', 7, false, true);
    if (q < 0) return null;
  }
  if (!at(b, q, e, 'PROTO=')) return null;
  q += 6;
  let proto: string;
  let spt: number | undefined;
  let dpt: number | undefined;
  let icmpType: number | undefined;
  let icmpCode: number | undefined;
  let tcpFlags: number | undefined;
  let window: number | undefined;
  if (at(b, q, e, 'TCP ')) {
    // TCP +SPT= +DPT= +WINDOW= +RES=0x.. +((?:(?:CWR|ECE|URG|ACK|PSH|RST|SYN|FIN) +)*)URGP=
    proto = 'TCP';
    q = portPair(b, q + 3, e);
    if (q < 0) return null;
    spt = sptNum;
    dpt = num;
    q = kv(b, q, e, 'WINDOW=', 5, true, false);
    if (q < 0) return null;
    window = num;
    q = spaces(b, q, e);
    if (q < 0 || !at(b, q, e, 'RES=0x') || !isHex(b[q + 6]!) || !isHex(b[q + 7]!)) return null;
    q = spaces(b, q + 8, e);
    if (q < 0) return null;
    let flags = 0;
    for (;;) {
      const bit = q + 3 < e && b[q + 3] === 32 ? flagBit(b[q]!, b[q + 1]!, b[q + 2]!) : 0;
      if (bit === 0) break;
      if (flags & bit) return null; // a repeated flag: a spliced line, the full parser says so
      flags |= bit;
      q = spaces(b, q + 3, e);
    }
    q = kv(b, q, e, 'URGP=', 5, false, false);
    if (q < 0 || spt > 65535 || dpt > 65535 || window > 65535 || num > 65535) return null;
    tcpFlags = flags;
  } else if (at(b, q, e, 'UDP ')) {
    proto = 'UDP';
    q = portPair(b, q + 3, e);
    if (q < 0) return null;
    spt = sptNum;
    dpt = num;
    q = kv(b, q, e, 'LEN=', 5, true, false);
    if (q < 0 || spt > 65535 || dpt > 65535 || num > 65535) return null;
  } else if (at(b, q, e, 'ICMP')) {
    // (ICMP(?:v6)?) +TYPE=(\d{1,3}) +CODE=(\d{1,3})(?: +ID=\d{1,5} +SEQ=\d{1,5})?
    if (at(b, q + 4, e, 'v6 ')) {
      proto = 'ICMPv6';
      q += 6;
    } else {
      proto = 'ICMP';
      q += 4;
    }
    q = kv(b, q, e, 'TYPE=', 3, true, false);
    if (q < 0) return null;
    icmpType = num;
    q = kv(b, q, e, 'CODE=', 3, true, false);
    if (q < 0) return null;
    icmpCode = num;
    if (q < e) {
      const sq = spaces(b, q, e);
      if (sq >= 0 && at(b, sq, e, '[SRC=')) {
        // An ICMP error quoting the packet it answers (3% of a firewall log, and each cost ~7 µs
        // through parseRecord's general walk): only the quoted addresses are kept.
        q = quotedHeader(b, sq, e);
        if (q < 0) return null;
      } else {
        q = kv(b, q, e, 'ID=', 5, true, false);
        q = kv(b, q, e, 'SEQ=', 5, true, false);
        if (q < 0) return null;
      }
    }
    if (icmpType > 255 || icmpCode > 255) return null;
  } else return null;
  if (q !== e) return null;
  if (len > 65535 + 40 || ttl > 255 || (id !== undefined && id > 65535)) return null;

  const src = addressOf(b, srcStart, srcEnd, v4, false);
  if (src === null) return null;
  const dst = addressOf(b, dstStart, dstEnd, v4, true);
  if (dst === null) return null;
  // Dotted quads are IPv4; an IPv6 text may still be IPv4-mapped (canonical form: the IPv4 host).
  const family = v4 || src.indexOf(':') < 0 ? 4 : 6;
  if (!v4 && (dst.indexOf(':') >= 0 ? 6 : 4) !== family) return null;

  // Prefix as the parser trims it: blanks, then one pair of brackets, then blanks inside.
  let a = p;
  let z = inAt;
  while (z > a && b[z - 1] === 32) z--;
  if (z > a && b[a] === 91 && b[z - 1] === 93) {
    a++;
    z--;
    while (a < z && b[a] === 32) a++;
    while (z > a && b[z - 1] === 32) z--;
  }
  const packet = into ?? newPacket();
  packet.time = time;
  packet.framing = 'syslog';
  packet.trust = 'spoofable';
  packet.seq = undefined;
  packet.host = hosts.keep(b, hostStart, hostEnd);
  packet.prefix = prefixes.keep(b, a, z);
  packet.in = ifaces.keep(b, inStart, inEnd);
  packet.out = outs.keep(b, outStart, outEnd);
  packet.physIn = undefined;
  packet.physOut = undefined;
  packet.mac = macStart < 0 ? undefined : (mac ?? macs.keep(b, macStart, macEnd));
  packet.src = src;
  packet.dst = dst;
  packet.family = family;
  packet.len = len;
  packet.ttl = ttl;
  packet.id = id;
  packet.df = family === 4 ? df : undefined;
  packet.fragment = false;
  packet.proto = proto;
  packet.spt = spt;
  packet.dpt = dpt;
  packet.icmpType = icmpType;
  packet.icmpCode = icmpCode;
  packet.tcpFlags = tcpFlags;
  packet.window = window;
  packet.innerSrc = innerSrc;
  packet.innerDst = innerDst;
  srcV4 = v4 ? addressKey : -1;
  return packet;
}

/**
 * The quoted header `[SRC=a DST=b …]` of an ICMP error at p, which must end the line (e is past its
 * last non-blank): sets innerSrc / innerDst and returns e, or -1 for parseRecord to decide. What the
 * general walk takes from it: the first token after SRC= and the one after ` DST=` (to a blank or
 * the closing bracket), both canonical; the rest up to the matching `]` is skipped. Taken here only
 * without nested brackets and with printable ASCII inside.
 */
function quotedHeader(b: Uint8Array, p: number, e: number): number {
  if (b[e - 1] !== 93) return -1;
  const close = e - 1;
  for (let i = p + 1; i < close; i++) {
    const c = b[i]!;
    if (c < 32 || c > 126 || c === 91 || c === 93) return -1;
  }
  const sa = p + 5;
  let se = sa;
  while (se < close && b[se] !== 32) se++;
  if (se >= close || !at(b, se, close, ' DST=')) return -1;
  const da = se + 5;
  let de = da;
  while (de < close && b[de] !== 32) de++;
  const s = quotedAddress(b, sa, se, true);
  const d = s === null ? null : quotedAddress(b, da, de, false);
  if (d === null) return -1;
  innerSrc = s!;
  innerDst = d;
  return e;
}

/**
 * Canonical text of a quoted address, else null: addressOf, told whether the text is a dotted quad
 * (`shared`: from the recent-values cache — the quoted source is usually this host). Its scratch
 * addressKey is overwritten afterwards by the packet's own source, which is read after the quote.
 */
export function quotedAddress(b: Uint8Array, a: number, e: number, shared: boolean): Ip | null {
  let i = a;
  while (i < e && ((b[i]! >= 48 && b[i]! <= 57) || b[i] === 46)) i++;
  return addressOf(b, a, e, i > a && i === e, shared);
}

/** TcpFlag bit of a three-letter flag word, or 0. */
function flagBit(x: number, y: number, z: number): number {
  switch (x) {
    case 83: return y === 89 && z === 78 ? 0x02 : 0; // SYN
    case 65: return y === 67 && z === 75 ? 0x10 : 0; // ACK
    case 70: return y === 73 && z === 78 ? 0x01 : 0; // FIN
    case 82: return y === 83 && z === 84 ? 0x04 : 0; // RST
    case 80: return y === 83 && z === 72 ? 0x08 : 0; // PSH
    case 85: return y === 82 && z === 71 ? 0x20 : 0; // URG
    case 67: return y === 87 && z === 82 ? 0x80 : 0; // CWR
    case 69: return y === 67 && z === 69 ? 0x40 : 0; // ECE
    default: return 0;
  }
}

/** Index of `IN=` / `SRC=` in b[p, e), or -1. */
function find(b: Uint8Array, p: number, e: number, word: string): number {
  const first = word.charCodeAt(0);
  for (let i = p; i + word.length <= e; i++) if (b[i] === first && at(b, i, e, word)) return i;
  return -1;
}

/** Printable text only (no NUL, nothing that decodes to U+FFFD or beyond ASCII)? */
function plainAscii(b: Uint8Array, a: number, e: number): boolean {
  for (let i = a; i < e; i++) {
    const c = b[i]!;
    if (c === 0 || c > 127) return false;
  }
  return true;
}

/** A kernel line whose message has no `=` at all: parseRecord's 'not-firewall' (or null to let it decide). */
function kernelNotFirewall(b: Uint8Array, start: number, p: number, end: number): RejectReason | null {
  // No '=' from p on means no IN= field; the rejection is 'binary' when the line holds NUL or U+FFFD.
  if (find(b, p, end, 'IN=') >= 0 || !plainAscii(b, start, end)) return null;
  return 'not-firewall';
}

/** A syslog line of another program (tag is not `kernel:`). */
function otherProgram(b: Uint8Array, start: number, p: number, e: number): RejectReason | null {
  if (!plainAscii(b, start, e)) return null;
  return find(b, p, e, 'SRC=') >= 0 || find(b, p, e, 'IN=') >= 0 ? 'untrusted-transport' : 'not-firewall';
}
