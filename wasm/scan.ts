/**
 * Reading the fast lane's input: bytes, words of the grammar (wasm/vocabulary.ts, packed as one
 * load reads them), numbers, addresses, month and flag words. The same tests as the JavaScript
 * walk (electron/engine/parse/message.ts, address.ts), on bytes.
 */
import {
  BIT_ACK, BIT_CWR, BIT_ECE, BIT_FIN, BIT_PSH, BIT_RST, BIT_SYN, BIT_URG, C_SRC6, CH_0, CH_COLON, CH_DEL, CH_DOT, CH_LOWER_A, CH_SPACE, CH_UPPER_A,
  FLAG_ACK, FLAG_CWR, FLAG_ECE, FLAG_FIN, FLAG_PSH, FLAG_RST, FLAG_SYN, FLAG_URG,
  MONTH_APR, MONTH_AUG, MONTH_DEC, MONTH_FEB, MONTH_JAN, MONTH_JUL, MONTH_JUN, MONTH_MAR, MONTH_MAY, MONTH_NOV, MONTH_OCT, MONTH_SEP,
} from './vocabulary';

@inline export function b(p: i32): i32 { return <i32>load<u8>(p); }
@inline export function isDigit(c: i32): bool { return <u32>(c - CH_0) <= 9; }
@inline export function isHex(c: i32): bool { return <u32>(c - CH_0) <= 9 || <u32>(c - CH_LOWER_A) <= 5 || <u32>(c - CH_UPPER_A) <= 5; }

/** Hex digit value, or -1. */
@inline export function hexValue(c: i32): i32 {
  if (<u32>(c - CH_0) <= 9) return c - CH_0;
  if (<u32>(c - CH_LOWER_A) <= 5) return c - CH_LOWER_A + 10;
  if (<u32>(c - CH_UPPER_A) <= 5) return c - CH_UPPER_A + 10;
  return -1;
}

/**
 * Are the n (1–8) bytes at p the word w (a vocabulary word: NAME, NAME_LEN), within e? One load:
 * the input has slack after its end, so reading up to 8 bytes past e stays inside it.
 */
@inline export function at(p: i32, e: i32, w: u64, n: i32): bool {
  return p + n <= e && (load<u64>(p) & (<u64>-1 >> <u64>(64 - n * 8))) == w;
}

/** at() for a word of 9–16 bytes (NAME, NAME_HI, NAME_LEN). */
@inline export function at16(p: i32, e: i32, w: u64, hi: u64, n: i32): bool {
  return p + n <= e && load<u64>(p) == w && (load<u64>(p + 8) & (<u64>-1 >> <u64>(128 - n * 8))) == hi;
}

/** The word w of n bytes at p, followed by a space (within e). */
@inline export function atWord(p: i32, e: i32, w: u64, n: i32): bool {
  return p + n < e && at(p, e, w, n) && b(p + n) == CH_SPACE;
}

/** Two decimal digits at p, or -1. */
export function two(p: i32): i32 {
  const x = b(p) - CH_0;
  const y = b(p + 1) - CH_0;
  return <u32>x <= 9 && <u32>y <= 9 ? x * 10 + y : -1;
}

/** One or more spaces at p: index after them, or -1. */
export function spaces(p: i32, e: i32): i32 {
  if (p >= e || b(p) != CH_SPACE) return -1;
  p++;
  while (p < e && b(p) == CH_SPACE) p++;
  return p;
}

/**
 * Where the run of an address's characters starting at p ends: digits and dots (`v4`), or hex
 * digits and colons. The parsers try the IPv4 class first, then the IPv6 one.
 */
export function addressEnd(p: i32, e: i32, v4: bool): i32 {
  if (v4) while (p < e && (isDigit(b(p)) || b(p) == CH_DOT)) p++;
  else while (p < e && (isHex(b(p)) || b(p) == CH_COLON)) p++;
  return p;
}

/** The 32-bit value of a dotted quad without leading zeros (address.ts dottedQuadValue), or -1. */
export function dottedQuad(start: i32, end: i32): i64 {
  let parts = 0;
  let key: i64 = 0;
  let p = start;
  while (p < end) {
    const first = b(p);
    if (!isDigit(first)) return -1;
    let value = first - CH_0;
    let q = p + 1;
    while (q < end) {
      const c = b(q);
      if (c == CH_DOT) break;
      if (!isDigit(c) || value == 0 || q - p >= 3) return -1;
      value = value * 10 + (c - CH_0);
      q++;
    }
    if (value > 255) return -1;
    key = key * 256 + value;
    parts++;
    if (q == end) return parts == 4 ? key : -1;
    if (parts == 4) return -1;
    p = q + 1;
    if (p == end) return -1;
  }
  return -1;
}

/**
 * An IPv6 address as the kernel prints it — eight groups of four hex digits, 39 characters — into
 * the four C_SRC6 columns of the record at `rec` (two groups each): true, or false for any other
 * form and for an IPv4-mapped address (JavaScript canonicalises those).
 */
export function sixGroups(a: i32, e: i32, rec: i32): bool {
  if (e - a != 39) return false;
  let zeros = 0;
  for (let g = 0; g < 8; g++) {
    const o = a + g * 5;
    if (g < 7 && b(o + 4) != CH_COLON) return false;
    const d0 = hexValue(b(o));
    const d1 = hexValue(b(o + 1));
    const d2 = hexValue(b(o + 2));
    const d3 = hexValue(b(o + 3));
    if ((d0 | d1 | d2 | d3) < 0) return false;
    const v = (d0 << 12) | (d1 << 8) | (d2 << 4) | d3;
    if (g < 5 && v == 0) zeros++;
    if (g == 5 && zeros == 5 && v == 0xffff) return false;
    const at = rec + ((C_SRC6 + (g >> 1)) << 2);
    if (g & 1) store<i32>(at, load<i32>(at) | v);
    else store<i32>(at, v << 16);
  }
  return true;
}

/** The three bytes at p packed as the vocabulary packs a three-letter word. */
@inline function word3(p: i32): i32 { return b(p) | (b(p + 1) << 8) | (b(p + 2) << 16); }

/** Month 0–11 of the three letters at p, or -1. */
export function monthAt(p: i32): i32 {
  switch (word3(p)) {
    case MONTH_JAN: return 0;
    case MONTH_FEB: return 1;
    case MONTH_MAR: return 2;
    case MONTH_APR: return 3;
    case MONTH_MAY: return 4;
    case MONTH_JUN: return 5;
    case MONTH_JUL: return 6;
    case MONTH_AUG: return 7;
    case MONTH_SEP: return 8;
    case MONTH_OCT: return 9;
    case MONTH_NOV: return 10;
    case MONTH_DEC: return 11;
  }
  return -1;
}

/** TcpFlag bit of the three-letter flag word at p, or 0. */
export function flagBit(p: i32): i32 {
  switch (word3(p)) {
    case FLAG_SYN: return BIT_SYN;
    case FLAG_ACK: return BIT_ACK;
    case FLAG_FIN: return BIT_FIN;
    case FLAG_RST: return BIT_RST;
    case FLAG_PSH: return BIT_PSH;
    case FLAG_URG: return BIT_URG;
    case FLAG_CWR: return BIT_CWR;
    case FLAG_ECE: return BIT_ECE;
  }
  return 0;
}

/** Printable text only (no NUL, no byte beyond ASCII). */
export function plainAscii(a: i32, e: i32): bool {
  for (let i = a; i < e; i++) {
    const c = b(i);
    if (c == 0 || c > CH_DEL) return false;
  }
  return true;
}

/** Index of the word w (n ≤ 8 bytes) in [p, e), or -1. */
export function find(p: i32, e: i32, w: u64, n: i32): i32 {
  const first = <i32>(w & 0xff);
  for (let i = p; i + n <= e; i++) if (b(i) == first && at(i, e, w, n)) return i;
  return -1;
}
