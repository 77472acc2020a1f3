/**
 * Strings from the bytes of a line, for the replay's parse stage (replay-parse.ts): the fast lane
 * (wasm/fastline.ts) reports where a new value, an IPv6 source or an ICMP error's quoted addresses
 * are in its input, and these make their text — the same text parseRecord gives for the decoded
 * line (short ASCII fields without a TextDecoder call, IPv6 in RFC 5952 form, cached by its bytes).
 * decodeLine is how a line the fast lane declines reaches parseRecord.
 *
 * The buffer is only read during a call: every string returned is a copy.
 */
import type { Ip } from '../../shared/ip.ts';
import { longestZeroRun } from '../../shared/ip.ts';
import { canonicalAddress } from './address.ts';
import { CH_0, CH_9, CH_COLON, CH_DEL, CH_DOT, CH_LOWER_A, CH_LOWER_F, CH_UPPER_A, CH_UPPER_F } from './grammar.ts';

/** Decodes what is not short ASCII. A BOM inside the stream is a character, as for LineSplitter's decoder. */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

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
 * one-character-per-byte path (for short fields known to be ASCII) would read a short line's
 * invalid byte as a Latin-1 letter instead of U+FFFD (`x\xFF` 'bad-framing' instead of 'binary').
 */
export function decodeLine(b: Uint8Array, a: number, e: number): string {
  for (let i = a; i < e; i++) if (b[i]! >= CH_DEL + 1) return decoder.decode(b.subarray(a, e));
  return decodeAscii(b, a, e);
}

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

/**
 * Canonical text of an address quoted by an ICMP error (`[SRC=a DST=b …]`) at b[a, e), as
 * parseRecord's canonicalAddress gives it for the decoded text, or null: a dotted quad is its own
 * text, anything else is read as IPv6.
 */
export function quotedAddress(b: Uint8Array, a: number, e: number): Ip | null {
  let i = a;
  while (i < e && ((b[i]! >= CH_0 && b[i]! <= CH_9) || b[i] === CH_DOT)) i++;
  if (i > a && i === e) return dottedQuadBytes(b, a, e) < 0 ? null : (decodeAscii(b, a, e) as Ip);
  return v6Address(b, a, e);
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
    if (first < CH_0 || first > CH_9) return -1;
    let value = first - CH_0;
    let q = p + 1;
    while (q < end) {
      const c = b[q]!;
      if (c === CH_DOT) break;
      if (c < CH_0 || c > CH_9 || value === 0 || q - p >= 3) return -1;
      value = value * 10 + (c - CH_0);
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
    if (g < 7 && b[o + 4] !== CH_COLON) return null;
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = b[o + i]!;
      let d: number;
      if (c >= CH_0 && c <= CH_9) d = c - CH_0;
      else if (c >= CH_LOWER_A && c <= CH_LOWER_F) d = c - CH_LOWER_A + 10;
      else if (c >= CH_UPPER_A && c <= CH_UPPER_F) d = c - CH_UPPER_A + 10;
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
      out[n++] = CH_COLON;
      out[n++] = CH_COLON;
      i += bestLen - 1;
      continue;
    }
    if (n > 0 && out[n - 1] !== CH_COLON) out[n++] = CH_COLON;
    const v = gr[i]!;
    if (v >= 0x1000) out[n++] = hexDigits.charCodeAt(v >> 12);
    if (v >= 0x100) out[n++] = hexDigits.charCodeAt((v >> 8) & 15);
    if (v >= 0x10) out[n++] = hexDigits.charCodeAt((v >> 4) & 15);
    out[n++] = hexDigits.charCodeAt(v & 15);
  }
  return decodeAscii(out, 0, n) as Ip;
}

