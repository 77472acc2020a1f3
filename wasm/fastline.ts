/**
 * The fast lane of the replay parser, in AssemblyScript (compiled to WebAssembly by
 * scripts/build-wasm.ts into electron/engine/parse/fastline-wasm.ts; a test rebuilds it and compares).
 *
 * It reads one line of a BSD syslog firewall log (`Nov 22 10:00:00 host kernel: [UFW BLOCK] IN=…`)
 * from this module's memory and writes the record of the packet (electron/engine/records.ts) — the
 * same walk and the same checks as parseCommonBytes in electron/engine/parse/bytes.ts, line for
 * line, so that it answers exactly when that one does and otherwise declines (returns 0) and the
 * JavaScript parser decides. Why WebAssembly: the same walk in JavaScript costs ~1.1 µs a line (every
 * byte read is a bounds-checked typed-array load); here ~0.3 µs, which is what lets a replay reach
 * a million lines a second.
 *
 * Strings are not made here: the values that repeat line after line (host, prefix, IN, OUT, MAC,
 * DST) are kept in small per-field tables of recent values, and the record names the JavaScript
 * string of a value by the id JavaScript gave it (slotIds). A value not in its table takes a slot
 * and is reported in NEW_MASK; JavaScript then makes its string and writes its id into the record.
 *
 * Memory (fixed size, never grown, so JavaScript's views of it stay valid): see the constants.
 */

// ---- layout (bytes) --------------------------------------------------------------------------
/** Offsets of the fields of the last line (i32 each), the new-value mask and the stamp. */
const FIELDS: i32 = 65536;
/** Recent values: KINDS × SLOTS values of at most VALUE_MAX bytes, their lengths and their string ids. */
const VALUES: i32 = FIELDS + 256;
const KINDS: i32 = 6;
const SLOTS: i32 = 8;
const VALUE_MAX: i32 = 64;
const LENS: i32 = VALUES + KINDS * SLOTS * VALUE_MAX;
const IDS: i32 = LENS + KINDS * SLOTS * 4;
const LAST: i32 = IDS + KINDS * SLOTS * 4;
const NEXT: i32 = LAST + KINDS * 4;
/** Records, RECORD_INTS i32 each. */
const RECORDS: i32 = 131072;
const RECORD_INTS: i32 = 34;
const RECORDS_MAX: i32 = 4096;
/** The input: lines are read from here (INPUT_MAX bytes, and 16 bytes of slack after it). */
const INPUT: i32 = RECORDS + RECORDS_MAX * RECORD_INTS * 4;
const INPUT_MAX: i32 = 1 << 20;

export function fieldsAt(): i32 { return FIELDS; }
export function recordsAt(): i32 { return RECORDS; }
export function recordInts(): i32 { return RECORD_INTS; }
export function recordsMax(): i32 { return RECORDS_MAX; }
export function inputAt(): i32 { return INPUT; }
export function inputMax(): i32 { return INPUT_MAX; }

// Field offsets (i32 index into FIELDS).
const F_STAMP = 0; // month << 28 | day << 21 | hour << 14 | minute << 7 | second (7 bits each: two digits)
const F_NEW = 1; // bit k: the value of kind k took a new slot (its string is to be made)
const F_V4 = 2;
const F_KIND_A = 3; // start of kind k's value: 3 + 2k, end: 4 + 2k (k = 0 … 5)
const F_SRC_A = 15;
const F_SRC_E = 16;
const F_ISRC_A = 17; // quoted header of an ICMP error: -1 when none
const F_ISRC_E = 18;
const F_IDST_A = 19;
const F_IDST_E = 20;
const F_SRC6 = 21; // 1: an IPv6 source is in C_SRC6 (eight full groups, not IPv4-mapped)
const F_REASON = 22; // parse() returned PARSE_REJECTED: the index of the reason

// Kinds of recent values, and the record column each one's string id goes to.
const K_HOST = 0;
const K_PREFIX = 1;
const K_IN = 2;
const K_OUT = 3;
const K_MAC = 4;
const K_DST = 5;

// Record columns (i32 index within a record; electron/engine/records.ts has the same table).
const C_TAG = 0;
const C_SEQ = 4; // f64 at ints 4-5 (the time, ints 2-3, is written by JavaScript)
const C_BITS = 6;
const C_HOST = 7;
const C_PREFIX = 8;
const C_IN = 9;
const C_OUT = 10;
const C_PHYSIN = 11;
const C_PHYSOUT = 12;
const C_MAC = 13;
const C_DST = 14;
const C_PROTO = 15;
const C_SRC = 16;
const C_SRCV4 = 17;
const C_INNERSRC = 18;
const C_INNERDST = 19;
const C_LEN = 20;
const C_TTL = 21;
const C_ID = 22;
const C_SPT = 23;
const C_DPT = 24;
const C_ICMPTYPE = 25;
const C_ICMPCODE = 26;
const C_FLAGS = 27;
const C_WINDOW = 28;
const C_SRC6 = 30; // four i32: the eight 16-bit groups of an IPv6 source, two per column
/** C_SRC when the source is in C_SRC6. */
const SRC_IN_GROUPS = -2;
/** Ids of the protocol names, which records.ts puts first in every string table. */
const PROTO_TCP = 0;
const PROTO_UDP = 1;
const PROTO_ICMP = 2;
const PROTO_ICMPV6 = 3;
const TAG_PACKET = 1;
const TAG_REJECTED = 2;
/** Indexes in REJECT_REASONS (electron/shared/packet.ts) of the two rejections answered here. */
const REASON_NOT_FIREWALL = 3;
const REASON_UNTRUSTED_TRANSPORT = 8;
const BITS_V6 = 1 << 3;
const BITS_DF_FALSE = 1 << 4;
const BITS_DF_TRUE = 2 << 4;
const BITS_FRAGMENT_FALSE = 1 << 6;

// ---- bytes -----------------------------------------------------------------------------------
@inline function b(p: i32): i32 { return <i32>load<u8>(p); }
@inline function field(i: i32, v: i32): void { store<i32>(FIELDS + (i << 2), v); }
@inline function isDigit(c: i32): bool { return <u32>(c - 48) <= 9; }
@inline function isHex(c: i32): bool { return <u32>(c - 48) <= 9 || <u32>(c - 97) <= 5 || <u32>(c - 65) <= 5; }
/**
 * Are the n (1–8) bytes at p the word w (its bytes packed little-endian), within e? One load: the
 * input has slack after its end, so reading up to 8 bytes past e stays inside it.
 */
@inline function at(p: i32, e: i32, w: u64, n: i32): bool {
  return p + n <= e && (load<u64>(p) & (<u64>-1 >> <u64>(64 - n * 8))) == w;
}

/** Scratch of kv: the value of the last number read. */
let num: i32 = 0;

function two(p: i32): i32 {
  const x = b(p) - 48;
  const y = b(p + 1) - 48;
  return <u32>x <= 9 && <u32>y <= 9 ? x * 10 + y : -1;
}

/** One or more spaces at p: index after them, or -1. */
function spaces(p: i32, e: i32): i32 {
  if (p >= e || b(p) != 32) return -1;
  p++;
  while (p < e && b(p) == 32) p++;
  return p;
}

/** bytes.ts kv(): [spaces] KEY digits (≤ maxDigits, value in num) then a space or the end [spaces]. Inlined: ten calls a line. */
@inline function kv(q: i32, e: i32, key: u64, kn: i32, maxDigits: i32, lead: bool, trail: bool): i32 {
  if (q < 0) return -1;
  if (lead) {
    if (q >= e || b(q) != 32) return -1;
    q++;
    while (q < e && b(q) == 32) q++;
  }
  if (!at(q, e, key, kn)) return -1;
  q += kn;
  const p = q;
  let v = 0;
  while (q < e) {
    const c = b(q) - 48;
    if (<u32>c > 9) break;
    if (q - p >= maxDigits) return -1; // more digits than allowed (and no int32 overflow)
    v = v * 10 + c;
    q++;
  }
  if (q == p) return -1;
  num = v;
  if (q == e) return trail ? -1 : q;
  if (b(q) != 32) return -1;
  if (trail) {
    q++;
    while (q < e && b(q) == 32) q++;
  }
  return q;
}

/**
 * Where the run of an address's characters starting at p ends: digits and dots (`v4`), or hex
 * digits and colons. The parsers try the IPv4 class first, then the IPv6 one (bytes.ts addressEnd).
 */
function addressEnd(p: i32, e: i32, v4: bool): i32 {
  if (v4) while (p < e && (isDigit(b(p)) || b(p) == 46)) p++;
  else while (p < e && (isHex(b(p)) || b(p) == 58)) p++;
  return p;
}

/** Scratch of portPair: the source port it read (the destination port is in num). */
let sptNum: i32 = 0;

/** bytes.ts portPair(): ` SPT=n DPT=n` at q, as TCP and UDP both have them; index after, or -1. */
function portPair(q: i32, e: i32): i32 {
  q = kv(q, e, 0x3d545053, 4, 5, true, false); // SPT=
  if (q < 0) return -1;
  sptNum = num;
  return kv(q, e, 0x3d545044, 4, 5, true, false); // DPT=
}

/** bytes.ts dottedQuadBytes(): the 32-bit value of a dotted quad without leading zeros, or -1. */
function dottedQuad(start: i32, end: i32): i64 {
  let parts = 0;
  let key: i64 = 0;
  let p = start;
  while (p < end) {
    const first = b(p);
    if (!isDigit(first)) return -1;
    let value = first - 48;
    let q = p + 1;
    while (q < end) {
      const c = b(q);
      if (c == 46) break;
      if (!isDigit(c) || value == 0 || q - p >= 3) return -1;
      value = value * 10 + (c - 48);
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

/** Hex digit value, or -1. */
@inline function hexValue(c: i32): i32 {
  if (<u32>(c - 48) <= 9) return c - 48;
  if (<u32>(c - 97) <= 5) return c - 87;
  if (<u32>(c - 65) <= 5) return c - 55;
  return -1;
}

/**
 * An IPv6 address as the kernel prints it — eight groups of four hex digits, 39 characters — into
 * the four C_SRC6 columns of the record at `rec` (two groups each): true, or false for any other
 * form and for an IPv4-mapped address (JavaScript canonicalises those).
 */
function sixGroups(a: i32, e: i32, rec: i32): bool {
  if (e - a != 39) return false;
  let zeros = 0;
  for (let g = 0; g < 8; g++) {
    const o = a + g * 5;
    if (g < 7 && b(o + 4) != 58) return false;
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

/** Month 0–11 of the three letters at p, or -1. */
function monthAt(p: i32): i32 {
  switch (b(p) | (b(p + 1) << 8) | (b(p + 2) << 16)) {
    case 0x6e614a: return 0; // Jan
    case 0x626546: return 1;
    case 0x72614d: return 2;
    case 0x727041: return 3;
    case 0x79614d: return 4;
    case 0x6e754a: return 5;
    case 0x6c754a: return 6;
    case 0x677541: return 7;
    case 0x706553: return 8;
    case 0x74634f: return 9;
    case 0x766f4e: return 10;
    case 0x636544: return 11; // Dec
  }
  return -1;
}

/** TcpFlag bit of a three-letter flag word, or 0. */
function flagBit(x: i32, y: i32, z: i32): i32 {
  switch (x) {
    case 83: return y == 89 && z == 78 ? 0x02 : 0; // SYN
    case 65: return y == 67 && z == 75 ? 0x10 : 0; // ACK
    case 70: return y == 73 && z == 78 ? 0x01 : 0; // FIN
    case 82: return y == 83 && z == 84 ? 0x04 : 0; // RST
    case 80: return y == 83 && z == 72 ? 0x08 : 0; // PSH
    case 85: return y == 82 && z == 71 ? 0x20 : 0; // URG
    case 67: return y == 87 && z == 82 ? 0x80 : 0; // CWR
    case 69: return y == 67 && z == 69 ? 0x40 : 0; // ECE
  }
  return 0;
}

// ---- recent values ---------------------------------------------------------------------------
/** Forget every recent value: at the start, and when JavaScript's string table was reset. */
export function forget(): void {
  for (let k = 0; k < KINDS * SLOTS; k++) store<i32>(LENS + (k << 2), -1);
}

/** Forget kind k's value just kept (JavaScript found its string unusable: the next line meets it as new again). */
export function drop(k: i32): void {
  store<i32>(LENS + ((k * SLOTS + load<i32>(LAST + (k << 2))) << 2), -1);
}

/** Does value slot `slot` hold the n bytes at a (its length already known to be n)? Eight at a time. */
@inline function holds(slot: i32, a: i32, n: i32): bool {
  const v = VALUES + slot * VALUE_MAX;
  let j = 0;
  while (j + 8 <= n && load<u64>(v + j) == load<u64>(a + j)) j += 8;
  while (j < n && load<u8>(v + j) == load<u8>(a + j)) j++;
  return j == n;
}

/**
 * The slot of kind k's recent values (most recently matched first) holding the bytes at a: exactly
 * b[a, e) when `whole`, else a value b[a…] starts with and that is followed there by a space.
 * The slot number (k × SLOTS + s), or -1.
 */
function recentSlot(k: i32, a: i32, e: i32, whole: bool): i32 {
  const first = k * SLOTS;
  const last = load<i32>(LAST + (k << 2));
  for (let i = 0; i < SLOTS; i++) {
    let s = last + i;
    if (s >= SLOTS) s -= SLOTS;
    const slot = first + s;
    const n = load<i32>(LENS + (slot << 2));
    if (whole ? n != e - a : n < 0 || a + n >= e || b(a + n) != 32) continue;
    if (holds(slot, a, n)) return slot;
  }
  return -1;
}

/**
 * Kind k's value b[a, e) in its table: the slot (k × SLOTS + s) holding it; a value not there takes
 * the next slot in turn, and its bit goes into F_NEW.
 */
function keep(k: i32, a: i32, e: i32): i32 {
  const found = recentSlot(k, a, e, true);
  if (found >= 0) {
    store<i32>(LAST + (k << 2), found - k * SLOTS);
    return found;
  }
  const s = load<i32>(NEXT + (k << 2));
  store<i32>(NEXT + (k << 2), s + 1 == SLOTS ? 0 : s + 1);
  store<i32>(LAST + (k << 2), s);
  const slot = k * SLOTS + s;
  const n = e - a;
  memory.copy(VALUES + slot * VALUE_MAX, a, n);
  store<i32>(LENS + (slot << 2), n);
  store<i32>(FIELDS + (F_NEW << 2), load<i32>(FIELDS + (F_NEW << 2)) | (1 << k));
  return slot;
}

/** Keep kind k's value b[a, e) (at most VALUE_MAX bytes) and write its string id (-1 while new) into column c. */
function keepInto(rec: i32, c: i32, k: i32, a: i32, e: i32): void {
  field(F_KIND_A + 2 * k, a);
  field(F_KIND_A + 2 * k + 1, e);
  const slot = keep(k, a, e);
  store<i32>(rec + (c << 2), (load<i32>(FIELDS + (F_NEW << 2)) >> k) & 1 ? -1 : load<i32>(IDS + (slot << 2)));
}

/**
 * A recent value of kind k that b[a…] starts with, followed there by a space: the index after it,
 * or -1 (bytes.ts Recent.spanAt).
 */
function recentSpan(k: i32, a: i32, e: i32): i32 {
  const slot = recentSlot(k, a, e, false);
  return slot < 0 ? -1 : a + load<i32>(LENS + (slot << 2));
}

/** JavaScript gave the new value of kind k its string id. */
export function setId(k: i32, id: i32): void {
  store<i32>(IDS + ((k * SLOTS + load<i32>(LAST + (k << 2))) << 2), id);
}

// ---- a run of lines --------------------------------------------------------------------------
/** What run() stopped for. */
const RUN_DONE = 0; // every line up to `end` is done
const RUN_FULL = 1; // the records are full: hand them out, then run on from runPos
const RUN_GLUE = 2; // the line [lineStart, lineEnd) is written as record runCount but needs JavaScript to finish it
const RUN_DECLINED = 3; // the line [lineStart, lineEnd) is for the JavaScript parser (as record runCount)
const RUN_LONG = 4; // the line at runPos is longer than maxLine bytes: for LineSplitter's text path
const RUN_REJECTED = 5; // the line [lineStart, lineEnd) is rejected (F_REASON) in a second JavaScript has not dated yet

let runCount: i32 = 0;
let runPos: i32 = 0;
let lineStart: i32 = 0;
let lineEnd: i32 = 0;
/** The stamp whose time JavaScript computed last, and that time (a stamp's time needs the calendar). */
let knownStamp: i32 = -1;
let knownTime: f64 = 0;

export function count(): i32 { return runCount; }
export function pos(): i32 { return runPos; }
export function lineAt(): i32 { return lineStart; }
export function lineTo(): i32 { return lineEnd; }

/** The time of `stamp` (F_STAMP's packing); stamp -1 forgets it. */
export function setTime(stamp: i32, time: f64): void {
  knownStamp = stamp;
  knownTime = time;
}

/**
 * The whole lines of [start, end) (end just after a newline), each as LineSplitter's bytes lane
 * cuts it (no newline; the CR of a CRLF dropped), into records from `index` on: stops when the
 * records reach `max`, at a line JavaScript must finish or parse, and before a line of more than
 * maxLine bytes. Returns why (RUN_*); count() and pos() say how far it got.
 */
export function run(start: i32, end: i32, auto: bool, index: i32, max: i32, maxLine: i32): i32 {
  let p = start;
  runCount = index;
  runPos = p;
  if (index >= max) return RUN_FULL;
  while (p < end) {
    // The newline: eight bytes at a time (a zero byte of w ^ 0x0a… is a newline).
    let nl = p;
    while (nl + 8 <= end) {
      const x = load<u64>(nl) ^ 0x0a0a0a0a0a0a0a0a;
      const t = (x - 0x0101010101010101) & ~x & 0x8080808080808080;
      if (t != 0) {
        nl += <i32>(ctz<u64>(t) >> 3);
        break;
      }
      nl += 8;
    }
    while (nl < end && b(nl) != 10) nl++;
    if (nl >= end) break;
    let e = nl;
    if (e > p && b(e - 1) == 13) e--;
    runCount = index;
    if (e - p > maxLine) {
      runPos = p;
      return RUN_LONG;
    }
    lineStart = p;
    lineEnd = e;
    runPos = nl + 1;
    const parsed = parse(p, e, auto, index);
    if (parsed == PARSE_DECLINED) return RUN_DECLINED;
    if (parsed == PARSE_REJECTED) {
      // The JavaScript parser dates every line it reads, which moves the syslog year at New Year:
      // answered here only in a second JavaScript has dated (so the year cannot move).
      if (load<i32>(FIELDS + (F_STAMP << 2)) != knownStamp) return RUN_REJECTED;
      const rec = RECORDS + index * RECORD_INTS * 4;
      store<i32>(rec + (C_TAG << 2), TAG_REJECTED);
      store<i32>(rec + 4, load<i32>(FIELDS + (F_REASON << 2)));
    } else {
      if (load<i32>(FIELDS + (F_NEW << 2)) != 0 || load<i32>(FIELDS + (F_ISRC_A << 2)) >= 0) return RUN_GLUE;
      if (load<i32>(FIELDS + (F_V4 << 2)) == 0 && load<i32>(FIELDS + (F_SRC6 << 2)) == 0) return RUN_GLUE;
      if (load<i32>(FIELDS + (F_STAMP << 2)) != knownStamp) return RUN_GLUE;
      store<f64>(RECORDS + index * RECORD_INTS * 4 + 8, knownTime);
    }
    index++;
    p = nl + 1;
    if (index == max) {
      runCount = index;
      runPos = p;
      return RUN_FULL;
    }
  }
  runCount = index;
  runPos = p;
  return RUN_DONE;
}

// ---- the line --------------------------------------------------------------------------------
/** What parse() made of the line. */
const PARSE_DECLINED = 0;
const PARSE_PACKET = 1;
const PARSE_REJECTED = 2; // F_REASON says why

/** Printable text only (no NUL, no byte beyond ASCII): bytes.ts plainAscii(). */
function plainAscii(a: i32, e: i32): bool {
  for (let i = a; i < e; i++) {
    const c = b(i);
    if (c == 0 || c > 127) return false;
  }
  return true;
}

/** Index of `word` (n ≤ 8 bytes, packed) in [p, e), or -1: bytes.ts find(). */
function find(p: i32, e: i32, w: u64, n: i32): i32 {
  const first = <i32>(w & 0xff);
  for (let i = p; i + n <= e; i++) if (b(i) == first && at(i, e, w, n)) return i;
  return -1;
}

function rejected(reason: i32): i32 {
  field(F_REASON, reason);
  return PARSE_REJECTED;
}
/**
 * Parse the line b[start, end) (no newline) into record `index`. `auto`: the framing was not given
 * (the line must then look like a BSD syslog line). Returns 1 when the record is written (except
 * its time, its source when IPv6, its quoted addresses, and the string ids of new values: see
 * F_NEW), 0 when the JavaScript parser is to decide.
 */
export function parse(start: i32, end: i32, auto: bool, index: i32): i32 {
  store<i32>(FIELDS + (F_NEW << 2), 0);
  const n = end - start;
  if (n == 0 || n > 8192) return 0;
  let e = end;
  while (e > start) {
    const c = b(e - 1);
    if (c == 10 || c == 13 || c == 32 || c == 9) e--;
    else break;
  }
  if (e - start < 17) return 0;
  if (auto && !(b(start) >= 65 && b(start) <= 90 && b(start + 3) == 32)) return 0;

  // --- framing: `Nov 22 10:00:00 host kernel:` ---
  let p = start;
  const month = monthAt(p);
  if (month < 0 || b(p + 3) != 32) return 0;
  const d1 = b(p + 4);
  const d2 = b(p + 5);
  if (!isDigit(d2)) return 0;
  const day = d1 == 32 ? d2 - 48 : isDigit(d1) ? (d1 - 48) * 10 + (d2 - 48) : -1;
  if (day < 1 || b(p + 6) != 32) return 0;
  const hh = two(p + 7);
  const mm = two(p + 10);
  const ss = two(p + 13);
  if (hh < 0 || mm < 0 || ss < 0 || b(p + 9) != 58 || b(p + 12) != 58) return 0;
  // Hours above 23 and the like: JavaScript's localTime refuses them (NaN) and then declines itself.
  field(F_STAMP, (month << 28) | (day << 21) | (hh << 14) | (mm << 7) | ss);
  p += 15;
  if (b(p) != 32) return 0;
  p++;
  let hostEnd = p;
  while (hostEnd < e) {
    const c = b(hostEnd);
    if (c == 32) break;
    if (c < 33 || c > 126) return 0;
    hostEnd++;
  }
  if (hostEnd >= e || hostEnd == p) return 0;
  const hostStart = p;
  p = hostEnd + 1;
  if (!at(p, e, 0x3a6c656e72656b, 7)) {
    // Another program's line (bytes.ts otherProgram): one that names a packet is spoofing one.
    if (!plainAscii(start, e)) return PARSE_DECLINED;
    return rejected(find(p, e, 0x3d435253, 4) >= 0 || find(p, e, 0x3d4e49, 3) >= 0 ? REASON_UNTRUSTED_TRANSPORT : REASON_NOT_FIREWALL); // SRC=, IN=
  }
  p += 7;

  // --- message ---
  while (p < e && b(p) == 32) p++;
  if (p < e && b(p) == 91) {
    // kernel timestamp `[ 12345.678901] `
    let q = p + 1;
    let nd = 0;
    for (; q < e; q++) {
      const c = b(q);
      if (isDigit(c)) nd++;
      else if (c != 32 && c != 46) break;
    }
    if (nd > 0 && q < e && b(q) == 93) {
      p = q + 1;
      while (p < e && b(p) == 32) p++;
    }
  }
  // Prefix: up to the first '=', which must end `IN=`.
  let q = p;
  while (q < e) {
    const c = b(q);
    if (c < 32 || c > 126 || c == 61) break;
    q++;
  }
  if (q >= e) {
    // A kernel line without '=' (bytes.ts kernelNotFirewall): not from the firewall, unless it holds
    // what the full parser calls binary.
    return plainAscii(start, end) ? rejected(REASON_NOT_FIREWALL) : PARSE_DECLINED;
  }
  if (b(q) != 61) return 0;
  if (q - 2 < p || b(q - 2) != 73 || b(q - 1) != 78) {
    // A kernel line with fields but no IN= anywhere in its message (audit, apparmor…): the full
    // parser finds no LOG field and calls it not from the firewall (parse/index.ts notFirewall).
    return find(p, e, 0x3d4e49, 3) < 0 && plainAscii(start, end) ? rejected(REASON_NOT_FIREWALL) : PARSE_DECLINED; // IN=
  }
  const inAt = q - 2;
  const inStart = q + 1;
  q = inStart;
  while (q < e && b(q) > 32 && b(q) < 127 && b(q) != 61) q++;
  const inEnd = q;
  if (!at(q, e, 0x3d54554f20, 5)) return 0; // " OUT="
  const outStart = q + 5;
  q = outStart;
  while (q < e && b(q) > 32 && b(q) < 127 && b(q) != 61) q++;
  const outEnd = q;
  q = spaces(q, e);
  if (q < 0) return 0;
  let macStart = -1;
  let macEnd = -1;
  if (at(q, e, 0x3d43414d, 4)) { // MAC=
    macStart = q + 4;
    // Usually the MAC of the line before (or one of the recent ones): its end is known, and it was
    // checked ([0-9a-fA-F:]) when it was first met.
    q = recentSpan(K_MAC, macStart, e);
    if (q < 0) {
      q = macStart;
      while (q < e && (isHex(b(q)) || b(q) == 58)) q++;
    }
    macEnd = q;
    q = spaces(q, e);
    if (q < 0) return 0;
  }
  if (!at(q, e, 0x3d435253, 4)) return 0; // SRC=
  const srcStart = q + 4;
  q = addressEnd(srcStart, e, true);
  const v4 = q >= e || b(q) == 32;
  if (!v4) q = addressEnd(srcStart, e, false);
  const srcEnd = q;
  // ([0-9.]{7,15}) +DST=([0-9.]{7,15}) +LEN=n + for IPv4, ([0-9a-fA-F:]{2,39}) … for IPv6
  const minLen = v4 ? 7 : 2;
  const maxLen = v4 ? 15 : 39;
  if (srcEnd - srcStart < minLen || srcEnd - srcStart > maxLen) return 0;
  q = spaces(q, e);
  if (q < 0 || !at(q, e, 0x3d545344, 4)) return 0; // DST=
  const dstStart = q + 4;
  const dstEnd = addressEnd(dstStart, e, v4);
  if (dstEnd - dstStart < minLen || dstEnd - dstStart > maxLen) return 0;
  q = kv(dstEnd, e, 0x3d4e454c, 4, 5, true, true); // LEN=
  if (q < 0) return 0;
  const len = num;
  let ttl: i32;
  let id = -1;
  let bits = BITS_FRAGMENT_FALSE;
  let srcKey: i64 = -1;
  if (v4) {
    if (!at(q, e, 0x78303d534f54, 6) || !isHex(b(q + 6)) || !isHex(b(q + 7))) return 0; // TOS=0x..
    q = spaces(q + 8, e);
    if (q < 0 || !at(q, e, 0x78303d43455250, 7) || !isHex(b(q + 7)) || !isHex(b(q + 8))) return 0; // PREC=0x..
    q = kv(q + 9, e, 0x3d4c5454, 4, 3, true, true); // TTL=
    if (q < 0) return 0;
    ttl = num;
    q = kv(q, e, 0x3d4449, 3, 5, false, true); // ID=
    if (q < 0) return 0;
    id = num;
    if (at(q, e, 0x204543, 3)) q = spaces(q + 2, e); // "CE "
    bits |= BITS_DF_FALSE;
    if (at(q, e, 0x204644, 3)) { // "DF "
      bits = (bits & ~BITS_DF_FALSE) | BITS_DF_TRUE;
      q = spaces(q + 2, e);
    }
    srcKey = dottedQuad(srcStart, srcEnd);
    if (srcKey < 0 || dottedQuad(dstStart, dstEnd) < 0) return 0;
  } else {
    q = kv(q, e, 0x3d4354, 3, 3, false, true); // TC=
    if (q < 0 || !at(q, e, 0x54494d494c504f48, 8)) return 0; // HOPLIMIT
    q = kv(q + 8, e, 0x3d, 1, 3, false, true); // =
    if (q < 0) return 0;
    ttl = num;
    q = kv(q, e, 0x3d4c424c574f4c46, 8, 7, false, true); // FLOWLBL=
    if (q < 0) return 0;
    bits |= BITS_V6;
  }
  if (!at(q, e, 0x3d4f544f5250, 6)) return 0; // PROTO=
  q += 6;
  let proto: i32;
  let spt = -1;
  let dpt = -1;
  let icmpType = -1;
  let icmpCode = -1;
  let flags = -1;
  let win = -1;
  field(F_ISRC_A, -1);
  if (at(q, e, 0x20504354, 4)) { // "TCP "
    proto = PROTO_TCP;
    q = portPair(q + 3, e);
    if (q < 0) return 0;
    spt = sptNum;
    dpt = num;
    q = kv(q, e, 0x3d574f444e4957, 7, 5, true, false); // WINDOW=
    if (q < 0) return 0;
    win = num;
    q = spaces(q, e);
    if (q < 0 || !at(q, e, 0x78303d534552, 6) || !isHex(b(q + 6)) || !isHex(b(q + 7))) return 0; // RES=0x..
    q = spaces(q + 8, e);
    if (q < 0) return 0;
    flags = 0;
    for (;;) {
      const bit = q + 3 < e && b(q + 3) == 32 ? flagBit(b(q), b(q + 1), b(q + 2)) : 0;
      if (bit == 0) break;
      if (flags & bit) return 0; // a repeated flag: a spliced line
      flags |= bit;
      q = spaces(q + 3, e);
    }
    q = kv(q, e, 0x3d50475255, 5, 5, false, false); // URGP=
    if (q < 0 || spt > 65535 || dpt > 65535 || win > 65535 || num > 65535) return 0;
  } else if (at(q, e, 0x20504455, 4)) { // "UDP "
    proto = PROTO_UDP;
    q = portPair(q + 3, e);
    if (q < 0) return 0;
    spt = sptNum;
    dpt = num;
    q = kv(q, e, 0x3d4e454c, 4, 5, true, false); // LEN=
    if (q < 0 || spt > 65535 || dpt > 65535 || num > 65535) return 0;
  } else if (at(q, e, 0x504d4349, 4)) { // ICMP
    if (at(q + 4, e, 0x203676, 3)) { // "v6 "
      proto = PROTO_ICMPV6;
      q += 6;
    } else {
      proto = PROTO_ICMP;
      q += 4;
    }
    q = kv(q, e, 0x3d45505954, 5, 3, true, false); // TYPE=
    if (q < 0) return 0;
    icmpType = num;
    q = kv(q, e, 0x3d45444f43, 5, 3, true, false); // CODE=
    if (q < 0) return 0;
    icmpCode = num;
    if (q < e) {
      const sq = spaces(q, e);
      if (sq >= 0 && at(sq, e, 0x3d4352535b, 5)) { // [SRC=
        // The quoted header must end the line, without brackets inside, in printable ASCII.
        if (b(e - 1) != 93) return 0;
        const close = e - 1;
        for (let i = sq + 1; i < close; i++) {
          const c = b(i);
          if (c < 32 || c > 126 || c == 91 || c == 93) return 0;
        }
        const sa = sq + 5;
        let se = sa;
        while (se < close && b(se) != 32) se++;
        if (se >= close || !at(se, close, 0x3d54534420, 5)) return 0; // " DST="
        const da = se + 5;
        let de = da;
        while (de < close && b(de) != 32) de++;
        field(F_ISRC_A, sa);
        field(F_ISRC_E, se);
        field(F_IDST_A, da);
        field(F_IDST_E, de);
        q = e;
      } else {
        q = kv(q, e, 0x3d4449, 3, 5, true, false); // ID=
        q = kv(q, e, 0x3d514553, 4, 5, true, false); // SEQ=
        if (q < 0) return 0;
      }
    }
    if (icmpType > 255 || icmpCode > 255) return 0;
  } else return 0;
  if (q != e) return 0;
  if (len > 65535 + 40 || ttl > 255 || id > 65535) return 0;

  // Prefix as the parser trims it: blanks, then one pair of brackets, then blanks inside.
  let a = p;
  let z = inAt;
  while (z > a && b(z - 1) == 32) z--;
  if (z > a && b(a) == 91 && b(z - 1) == 93) {
    a++;
    z--;
    while (a < z && b(a) == 32) a++;
    while (z > a && b(z - 1) == 32) z--;
  }

  // A value too long for its table is left to JavaScript (checked before any is kept: a kept value
  // must get its string id, which only a line that is answered here gives it).
  if (hostEnd - hostStart > VALUE_MAX || z - a > VALUE_MAX || inEnd - inStart > VALUE_MAX || outEnd - outStart > VALUE_MAX) return 0;
  if (macEnd - macStart > VALUE_MAX || dstEnd - dstStart > VALUE_MAX) return 0;
  const rec = RECORDS + index * RECORD_INTS * 4;
  keepInto(rec, C_HOST, K_HOST, hostStart, hostEnd);
  keepInto(rec, C_PREFIX, K_PREFIX, a, z);
  keepInto(rec, C_IN, K_IN, inStart, inEnd);
  keepInto(rec, C_OUT, K_OUT, outStart, outEnd);
  if (macStart >= 0) keepInto(rec, C_MAC, K_MAC, macStart, macEnd);
  else store<i32>(rec + (C_MAC << 2), -1);
  keepInto(rec, C_DST, K_DST, dstStart, dstEnd);
  field(F_SRC_A, srcStart);
  field(F_SRC_E, srcEnd);
  field(F_V4, v4 ? 1 : 0);
  const groups = !v4 && sixGroups(srcStart, srcEnd, rec);
  field(F_SRC6, groups ? 1 : 0);
  store<i32>(rec + (C_TAG << 2), TAG_PACKET);
  store<f64>(rec + (C_SEQ << 2), NaN);
  store<i32>(rec + (C_BITS << 2), bits);
  store<i32>(rec + (C_PHYSIN << 2), -1);
  store<i32>(rec + (C_PHYSOUT << 2), -1);
  store<i32>(rec + (C_PROTO << 2), proto);
  store<i32>(rec + (C_SRC << 2), groups ? SRC_IN_GROUPS : -1);
  store<i32>(rec + (C_SRCV4 << 2), <i32>srcKey);
  store<i32>(rec + (C_INNERSRC << 2), -1);
  store<i32>(rec + (C_INNERDST << 2), -1);
  store<i32>(rec + (C_LEN << 2), len);
  store<i32>(rec + (C_TTL << 2), ttl);
  store<i32>(rec + (C_ID << 2), id);
  store<i32>(rec + (C_SPT << 2), spt);
  store<i32>(rec + (C_DPT << 2), dpt);
  store<i32>(rec + (C_ICMPTYPE << 2), icmpType);
  store<i32>(rec + (C_ICMPCODE << 2), icmpCode);
  store<i32>(rec + (C_FLAGS << 2), flags);
  store<i32>(rec + (C_WINDOW << 2), win);
  return 1;
}
