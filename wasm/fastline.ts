/**
 * The fast lane of the replay parser, in AssemblyScript (compiled to WebAssembly by
 * scripts/build-wasm.ts into electron/engine/parse/fastline-wasm.ts; a test rebuilds it and compares).
 *
 * It reads one line of a BSD syslog firewall log (`Nov 22 10:00:00 host kernel: [UFW BLOCK] IN=…`)
 * from this module's memory and writes the record of the packet (layout.ts) — the same fields and
 * the same checks as parseRecord (electron/engine/parse/message.ts) for the layouts it knows (IPv4 or
 * IPv6 header without options, TCP/UDP/ICMP), so that it answers exactly what parseRecord answers
 * and otherwise declines (PARSE_DECLINED) and JavaScript decides (tests/engine/replay-parse.test.ts
 * compares them line for line). Words, characters, record columns and codes are the names of
 * wasm/vocabulary.ts, generated from parse/grammar.ts and parse/layout.ts. Why WebAssembly: a walk
 * over bytes in JavaScript costs ~1.1 µs a line (every byte read is a bounds-checked typed-array
 * load); here ~0.3 µs, which is what lets a replay reach a million lines a second.
 *
 * Strings are not made here: the values that repeat line after line are kept in recent.ts, and the
 * record names the JavaScript string of a value by the id JavaScript gave it.
 */
import {
  BITS_DF_FALSE, BITS_DF_TRUE, BITS_FRAGMENT_FALSE, BITS_V6, C_AUX, C_BITS, C_DPT, C_DST, C_FLAGS, C_HOST, C_ICMPCODE, C_ICMPTYPE, C_ID, C_IN, C_INNERDST, C_INNERSRC, C_LEN, C_MAC, C_OUT,
  C_PHYSIN, C_PHYSOUT, C_PREFIX, C_PROTO, C_SEQ, C_SPT, C_SRC, C_SRCV4, C_TAG, C_TIME, C_TTL, C_WINDOW, CH_0, CH_9, CH_COLON, CH_CR, CH_DOT, CH_EQUALS, CH_LBRACKET, CH_LF, CH_RBRACKET, CH_SPACE, CH_TAB,
  CH_TILDE, CH_UPPER_A, CH_UPPER_Z, F_IDST_A, F_IDST_E, F_ISRC_A, F_ISRC_E, F_NEW, F_REASON, F_SRC6, F_SRC_A, F_SRC_E, F_STAMP, F_V4, HEX_LEAD, HEX_LEAD_LEN, ID_ICMP, ID_ICMPV6, ID_TCP, ID_UDP,
  KEY_CODE, KEY_CODE_LEN, KEY_DPT, KEY_DPT_LEN, KEY_DST, KEY_DST_LEN, KEY_FLOWLBL, KEY_FLOWLBL_LEN, KEY_HOPLIMIT, KEY_HOPLIMIT_HI, KEY_HOPLIMIT_LEN, KEY_ID, KEY_ID_LEN, KEY_IN, KEY_IN_LEN, KEY_LEN,
  KEY_LEN_LEN, KEY_MAC, KEY_MAC_LEN, KEY_OUT, KEY_OUT_LEN, KEY_PREC, KEY_PREC_LEN, KEY_PROTO, KEY_PROTO_LEN, KEY_RES, KEY_RES_LEN, KEY_SEQ, KEY_SEQ_LEN, KEY_SPT, KEY_SPT_LEN, KEY_SRC, KEY_SRC_LEN,
  KEY_TC, KEY_TC_LEN, KEY_TOS, KEY_TOS_LEN, KEY_TTL, KEY_TTL_LEN, KEY_TYPE, KEY_TYPE_LEN, KEY_URGP, KEY_URGP_LEN, KEY_WINDOW, KEY_WINDOW_LEN, KIND_DST, KIND_HOST, KIND_IN, KIND_MAC, KIND_OUT,
  KIND_PREFIX, MAX_RECORD_LENGTH, PROTO_ICMP, PROTO_ICMP_LEN, PROTO_ICMPV6, PROTO_ICMPV6_LEN, PROTO_TCP, PROTO_TCP_LEN, PROTO_UDP, PROTO_UDP_LEN, QUOTE_OPEN, QUOTE_OPEN_LEN,
  REASON_NOT_FIREWALL, REASON_UNTRUSTED_TRANSPORT, RECORD_INTS, RUN_DECLINED, RUN_DONE, RUN_FULL, RUN_GLUE, RUN_LONG, RUN_REJECTED, SRC_IN_GROUPS, TAG_PACKET, TAG_REJECTED, WORD_CE, WORD_CE_LEN,
  WORD_DF, WORD_DF_LEN, WORD_KERNEL_TAG, WORD_KERNEL_TAG_LEN,
} from './vocabulary';
import { field, fieldAt, FIELDS, INPUT, INPUT_MAX, RECORDS, RECORDS_MAX, VALUE_MAX } from './memory';
import { keepInto, recentSpan } from './recent';
import { addressEnd, at, atWord, b, dottedQuad, find, flagBit, isDigit, isHex, monthAt, plainAscii, sixGroups, spaces, two } from './scan';

export { drop, forget, setId } from './recent';

export function fieldsAt(): i32 { return FIELDS; }
export function recordsAt(): i32 { return RECORDS; }
export function recordInts(): i32 { return RECORD_INTS; }
export function recordsMax(): i32 { return RECORDS_MAX; }
export function inputAt(): i32 { return INPUT; }
export function inputMax(): i32 { return INPUT_MAX; }

/** Scratch of kv: the value of the last number read. */
let num: i32 = 0;

/**
 * One `KEY=digits` field: with `lead`, one or more spaces first; the key (a vocabulary word); at
 * most maxDigits digits (value in `num`), followed by a space or the end; with `trail`, the spaces
 * after it are skipped too (and required). Index after, or -1. Inlined: ten calls a line.
 */
@inline function kv(q: i32, e: i32, key: u64, kn: i32, maxDigits: i32, lead: bool, trail: bool): i32 {
  if (q < 0) return -1;
  if (lead) {
    if (q >= e || b(q) != CH_SPACE) return -1;
    q++;
    while (q < e && b(q) == CH_SPACE) q++;
  }
  if (!at(q, e, key, kn)) return -1;
  q += kn;
  const p = q;
  let v = 0;
  while (q < e) {
    const c = b(q) - CH_0;
    if (<u32>c > 9) break;
    if (q - p >= maxDigits) return -1; // more digits than allowed (and no int32 overflow)
    v = v * 10 + c;
    q++;
  }
  if (q == p) return -1;
  num = v;
  if (q == e) return trail ? -1 : q;
  if (b(q) != CH_SPACE) return -1;
  if (trail) {
    q++;
    while (q < e && b(q) == CH_SPACE) q++;
  }
  return q;
}

/** Scratch of portPair: the source port it read (the destination port is in num). */
let sptNum: i32 = 0;

/** `KEY=0x..` at q (KEY a vocabulary word): two hex digits after the 0x. */
@inline function hexField(q: i32, e: i32, key: u64, kn: i32): bool {
  return at(q, e, key, kn) && at(q + kn, e, HEX_LEAD, HEX_LEAD_LEN) && isHex(b(q + kn + HEX_LEAD_LEN)) && isHex(b(q + kn + HEX_LEAD_LEN + 1));
}

/** ` SPT=n DPT=n` at q, as TCP and UDP both have them (the source port in sptNum, the destination port in num); index after, or -1. */
function portPair(q: i32, e: i32): i32 {
  q = kv(q, e, KEY_SPT, KEY_SPT_LEN, 5, true, false);
  if (q < 0) return -1;
  sptNum = num;
  return kv(q, e, KEY_DPT, KEY_DPT_LEN, 5, true, false);
}

// ---- a run of lines --------------------------------------------------------------------------
// What run() stopped for: RUN_* (layout.ts). The line it stopped at is [lineStart, lineEnd), record runCount.
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
      const x = load<u64>(nl) ^ (<u64>CH_LF * 0x0101010101010101);
      const t = (x - 0x0101010101010101) & ~x & 0x8080808080808080;
      if (t != 0) {
        nl += <i32>(ctz<u64>(t) >> 3);
        break;
      }
      nl += 8;
    }
    while (nl < end && b(nl) != CH_LF) nl++;
    if (nl >= end) break;
    let e = nl;
    if (e > p && b(e - 1) == CH_CR) e--;
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
      if (fieldAt(F_STAMP) != knownStamp) return RUN_REJECTED;
      const rec = RECORDS + index * RECORD_INTS * 4;
      store<i32>(rec + (C_TAG << 2), TAG_REJECTED);
      store<i32>(rec + (C_AUX << 2), fieldAt(F_REASON));
    } else {
      if (fieldAt(F_NEW) != 0 || fieldAt(F_ISRC_A) >= 0) return RUN_GLUE;
      if (fieldAt(F_V4) == 0 && fieldAt(F_SRC6) == 0) return RUN_GLUE;
      if (fieldAt(F_STAMP) != knownStamp) return RUN_GLUE;
      store<f64>(RECORDS + index * RECORD_INTS * 4 + (C_TIME << 2), knownTime);
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

const MAX_PORT = 65535;
const MAX_BYTE = 255;
/** An IP datagram's LEN= is at most 65535; the kernel's IPv6 LEN= adds the 40-byte header. */
const MAX_IP_LEN = 65535 + 40;

// ---- the line --------------------------------------------------------------------------------
/** What parse() made of the line. */
const PARSE_DECLINED = 0;
const PARSE_PACKET = 1;
const PARSE_REJECTED = 2; // F_REASON says why

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
  field(F_NEW, 0);
  const n = end - start;
  if (n == 0 || n > MAX_RECORD_LENGTH) return PARSE_DECLINED;
  let e = end;
  while (e > start) {
    const c = b(e - 1);
    if (c == CH_LF || c == CH_CR || c == CH_SPACE || c == CH_TAB) e--;
    else break;
  }
  if (e - start < 17) return PARSE_DECLINED; // shorter than a stamp, a host and a tag
  if (auto && !(b(start) >= CH_UPPER_A && b(start) <= CH_UPPER_Z && b(start + 3) == CH_SPACE)) return PARSE_DECLINED;

  // --- framing: `Nov 22 10:00:00 host kernel:` ---
  let p = start;
  const month = monthAt(p);
  if (month < 0 || b(p + 3) != CH_SPACE) return PARSE_DECLINED;
  const d1 = b(p + 4);
  const d2 = b(p + 5);
  if (!isDigit(d2)) return PARSE_DECLINED;
  const day = d1 == CH_SPACE ? d2 - CH_0 : isDigit(d1) ? (d1 - CH_0) * 10 + (d2 - CH_0) : -1;
  if (day < 1 || b(p + 6) != CH_SPACE) return PARSE_DECLINED;
  const hh = two(p + 7);
  const mm = two(p + 10);
  const ss = two(p + 13);
  if (hh < 0 || mm < 0 || ss < 0 || b(p + 9) != CH_COLON || b(p + 12) != CH_COLON) return PARSE_DECLINED;
  // Hours above 23 and the like: JavaScript's localTime refuses them (NaN) and then declines itself.
  field(F_STAMP, (month << 28) | (day << 21) | (hh << 14) | (mm << 7) | ss);
  p += 15;
  if (b(p) != CH_SPACE) return PARSE_DECLINED;
  p++;
  let hostEnd = p;
  while (hostEnd < e) {
    const c = b(hostEnd);
    if (c == CH_SPACE) break;
    if (c <= CH_SPACE || c > CH_TILDE) return PARSE_DECLINED;
    hostEnd++;
  }
  if (hostEnd >= e || hostEnd == p) return PARSE_DECLINED;
  const hostStart = p;
  p = hostEnd + 1;
  if (!at(p, e, WORD_KERNEL_TAG, WORD_KERNEL_TAG_LEN)) {
    // Another program's line: one that names a packet is spoofing one.
    if (!plainAscii(start, e)) return PARSE_DECLINED;
    return rejected(find(p, e, KEY_SRC, KEY_SRC_LEN) >= 0 || find(p, e, KEY_IN, KEY_IN_LEN) >= 0 ? REASON_UNTRUSTED_TRANSPORT : REASON_NOT_FIREWALL);
  }
  p += WORD_KERNEL_TAG_LEN;

  // --- message ---
  while (p < e && b(p) == CH_SPACE) p++;
  if (p < e && b(p) == CH_LBRACKET) {
    // kernel timestamp `[ 12345.678901] `
    let q = p + 1;
    let nd = 0;
    for (; q < e; q++) {
      const c = b(q);
      if (isDigit(c)) nd++;
      else if (c != CH_SPACE && c != CH_DOT) break;
    }
    if (nd > 0 && q < e && b(q) == CH_RBRACKET) {
      p = q + 1;
      while (p < e && b(p) == CH_SPACE) p++;
    }
  }
  // Prefix: up to the first '=', which must end `IN=`.
  let q = p;
  while (q < e) {
    const c = b(q);
    if (c < CH_SPACE || c > CH_TILDE || c == CH_EQUALS) break;
    q++;
  }
  if (q >= e) {
    // A kernel line without '=': not from the firewall, unless it holds
    // what the full parser calls binary.
    return plainAscii(start, end) ? rejected(REASON_NOT_FIREWALL) : PARSE_DECLINED;
  }
  if (b(q) != CH_EQUALS) return PARSE_DECLINED;
  // The first '=' must end `IN=`.
  if (q - (KEY_IN_LEN - 1) < p || !at(q - (KEY_IN_LEN - 1), e, KEY_IN, KEY_IN_LEN)) {
    // A kernel line with fields but no IN= anywhere in its message (audit, apparmor…): the full
    // parser finds no LOG field and calls it not from the firewall (parse/index.ts notFirewall).
    return find(p, e, KEY_IN, KEY_IN_LEN) < 0 && plainAscii(start, end) ? rejected(REASON_NOT_FIREWALL) : PARSE_DECLINED;
  }
  const inAt = q - (KEY_IN_LEN - 1);
  const inStart = q + 1;
  q = inStart;
  while (q < e && b(q) > CH_SPACE && b(q) <= CH_TILDE && b(q) != CH_EQUALS) q++;
  const inEnd = q;
  if (q >= e || b(q) != CH_SPACE || !at(q + 1, e, KEY_OUT, KEY_OUT_LEN)) return PARSE_DECLINED;
  const outStart = q + 1 + KEY_OUT_LEN;
  q = outStart;
  while (q < e && b(q) > CH_SPACE && b(q) <= CH_TILDE && b(q) != CH_EQUALS) q++;
  const outEnd = q;
  q = spaces(q, e);
  if (q < 0) return PARSE_DECLINED;
  let macStart = -1;
  let macEnd = -1;
  if (at(q, e, KEY_MAC, KEY_MAC_LEN)) {
    macStart = q + KEY_MAC_LEN;
    // Usually the MAC of the line before (or one of the recent ones): its end is known, and it was
    // checked ([0-9a-fA-F:]) when it was first met.
    q = recentSpan(KIND_MAC, macStart, e);
    if (q < 0) {
      q = macStart;
      while (q < e && (isHex(b(q)) || b(q) == CH_COLON)) q++;
    }
    macEnd = q;
    q = spaces(q, e);
    if (q < 0) return PARSE_DECLINED;
  }
  if (!at(q, e, KEY_SRC, KEY_SRC_LEN)) return PARSE_DECLINED;
  const srcStart = q + KEY_SRC_LEN;
  q = addressEnd(srcStart, e, true);
  const v4 = q >= e || b(q) == CH_SPACE;
  if (!v4) q = addressEnd(srcStart, e, false);
  const srcEnd = q;
  // ([0-9.]{7,15}) +DST=([0-9.]{7,15}) +LEN=n + for IPv4, ([0-9a-fA-F:]{2,39}) … for IPv6
  const minLen = v4 ? 7 : 2;
  const maxLen = v4 ? 15 : 39;
  if (srcEnd - srcStart < minLen || srcEnd - srcStart > maxLen) return PARSE_DECLINED;
  q = spaces(q, e);
  if (q < 0 || !at(q, e, KEY_DST, KEY_DST_LEN)) return PARSE_DECLINED;
  const dstStart = q + KEY_DST_LEN;
  const dstEnd = addressEnd(dstStart, e, v4);
  if (dstEnd - dstStart < minLen || dstEnd - dstStart > maxLen) return PARSE_DECLINED;
  q = kv(dstEnd, e, KEY_LEN, KEY_LEN_LEN, 5, true, true);
  if (q < 0) return PARSE_DECLINED;
  const len = num;
  let ttl: i32;
  let id = -1;
  let bits = BITS_FRAGMENT_FALSE;
  let srcKey: i64 = -1;
  if (v4) {
    if (!hexField(q, e, KEY_TOS, KEY_TOS_LEN)) return PARSE_DECLINED; // TOS=0x..
    q = spaces(q + KEY_TOS_LEN + HEX_LEAD_LEN + 2, e);
    if (q < 0 || !hexField(q, e, KEY_PREC, KEY_PREC_LEN)) return PARSE_DECLINED; // PREC=0x..
    q = kv(q + KEY_PREC_LEN + HEX_LEAD_LEN + 2, e, KEY_TTL, KEY_TTL_LEN, 3, true, true);
    if (q < 0) return PARSE_DECLINED;
    ttl = num;
    q = kv(q, e, KEY_ID, KEY_ID_LEN, 5, false, true);
    if (q < 0) return PARSE_DECLINED;
    id = num;
    if (atWord(q, e, WORD_CE, WORD_CE_LEN)) q = spaces(q + WORD_CE_LEN, e);
    bits |= BITS_DF_FALSE;
    if (atWord(q, e, WORD_DF, WORD_DF_LEN)) {
      bits = (bits & ~BITS_DF_FALSE) | BITS_DF_TRUE;
      q = spaces(q + WORD_DF_LEN, e);
    }
    srcKey = dottedQuad(srcStart, srcEnd);
    if (srcKey < 0 || dottedQuad(dstStart, dstEnd) < 0) return PARSE_DECLINED;
  } else {
    q = kv(q, e, KEY_TC, KEY_TC_LEN, 3, false, true);
    // HOPLIMIT= is nine bytes: its first eight, then kv() of the ninth ('=') and the digits.
    if (q < 0 || !at(q, e, KEY_HOPLIMIT, 8)) return PARSE_DECLINED;
    q = kv(q + 8, e, KEY_HOPLIMIT_HI, KEY_HOPLIMIT_LEN - 8, 3, false, true);
    if (q < 0) return PARSE_DECLINED;
    ttl = num;
    q = kv(q, e, KEY_FLOWLBL, KEY_FLOWLBL_LEN, 7, false, true);
    if (q < 0) return PARSE_DECLINED;
    bits |= BITS_V6;
  }
  if (!at(q, e, KEY_PROTO, KEY_PROTO_LEN)) return PARSE_DECLINED;
  q += KEY_PROTO_LEN;
  let proto: i32;
  let spt = -1;
  let dpt = -1;
  let icmpType = -1;
  let icmpCode = -1;
  let flags = -1;
  let win = -1;
  field(F_ISRC_A, -1);
  if (atWord(q, e, PROTO_TCP, PROTO_TCP_LEN)) {
    proto = ID_TCP;
    q = portPair(q + PROTO_TCP_LEN, e);
    if (q < 0) return PARSE_DECLINED;
    spt = sptNum;
    dpt = num;
    q = kv(q, e, KEY_WINDOW, KEY_WINDOW_LEN, 5, true, false);
    if (q < 0) return PARSE_DECLINED;
    win = num;
    q = spaces(q, e);
    if (q < 0 || !hexField(q, e, KEY_RES, KEY_RES_LEN)) return PARSE_DECLINED; // RES=0x..
    q = spaces(q + KEY_RES_LEN + HEX_LEAD_LEN + 2, e);
    if (q < 0) return PARSE_DECLINED;
    flags = 0;
    for (;;) {
      const bit = q + 3 < e && b(q + 3) == CH_SPACE ? flagBit(q) : 0;
      if (bit == 0) break;
      if (flags & bit) return PARSE_DECLINED; // a repeated flag: a spliced line
      flags |= bit;
      q = spaces(q + 3, e);
    }
    q = kv(q, e, KEY_URGP, KEY_URGP_LEN, 5, false, false);
    if (q < 0 || spt > MAX_PORT || dpt > MAX_PORT || win > MAX_PORT || num > MAX_PORT) return PARSE_DECLINED;
  } else if (atWord(q, e, PROTO_UDP, PROTO_UDP_LEN)) {
    proto = ID_UDP;
    q = portPair(q + PROTO_UDP_LEN, e);
    if (q < 0) return PARSE_DECLINED;
    spt = sptNum;
    dpt = num;
    q = kv(q, e, KEY_LEN, KEY_LEN_LEN, 5, true, false);
    if (q < 0 || spt > MAX_PORT || dpt > MAX_PORT || num > MAX_PORT) return PARSE_DECLINED;
  } else if (at(q, e, PROTO_ICMP, PROTO_ICMP_LEN)) {
    if (atWord(q, e, PROTO_ICMPV6, PROTO_ICMPV6_LEN)) {
      proto = ID_ICMPV6;
      q += PROTO_ICMPV6_LEN;
    } else {
      proto = ID_ICMP;
      q += PROTO_ICMP_LEN;
    }
    q = kv(q, e, KEY_TYPE, KEY_TYPE_LEN, 3, true, false);
    if (q < 0) return PARSE_DECLINED;
    icmpType = num;
    q = kv(q, e, KEY_CODE, KEY_CODE_LEN, 3, true, false);
    if (q < 0) return PARSE_DECLINED;
    icmpCode = num;
    if (q < e) {
      const sq = spaces(q, e);
      if (sq >= 0 && at(sq, e, QUOTE_OPEN, QUOTE_OPEN_LEN)) {
        // The quoted header must end the line, without brackets inside, in printable ASCII.
        if (b(e - 1) != CH_RBRACKET) return PARSE_DECLINED;
        const close = e - 1;
        for (let i = sq + 1; i < close; i++) {
          const c = b(i);
          if (c < CH_SPACE || c > CH_TILDE || c == CH_LBRACKET || c == CH_RBRACKET) return PARSE_DECLINED;
        }
        const sa = sq + QUOTE_OPEN_LEN;
        let se = sa;
        while (se < close && b(se) != CH_SPACE) se++;
        if (se >= close || !at(se + 1, close, KEY_DST, KEY_DST_LEN)) return PARSE_DECLINED; // ` DST=`
        const da = se + 1 + KEY_DST_LEN;
        let de = da;
        while (de < close && b(de) != CH_SPACE) de++;
        field(F_ISRC_A, sa);
        field(F_ISRC_E, se);
        field(F_IDST_A, da);
        field(F_IDST_E, de);
        q = e;
      } else {
        q = kv(q, e, KEY_ID, KEY_ID_LEN, 5, true, false);
        q = kv(q, e, KEY_SEQ, KEY_SEQ_LEN, 5, true, false);
        if (q < 0) return PARSE_DECLINED;
      }
    }
    if (icmpType > MAX_BYTE || icmpCode > MAX_BYTE) return PARSE_DECLINED;
  } else return PARSE_DECLINED;
  if (q != e) return PARSE_DECLINED;
  if (len > MAX_IP_LEN || ttl > MAX_BYTE || id > MAX_PORT) return PARSE_DECLINED;

  // Prefix as the parser trims it: blanks, then one pair of brackets, then blanks inside.
  let a = p;
  let z = inAt;
  while (z > a && b(z - 1) == CH_SPACE) z--;
  if (z > a && b(a) == CH_LBRACKET && b(z - 1) == CH_RBRACKET) {
    a++;
    z--;
    while (a < z && b(a) == CH_SPACE) a++;
    while (z > a && b(z - 1) == CH_SPACE) z--;
  }

  // A value too long for its table is left to JavaScript (checked before any is kept: a kept value
  // must get its string id, which only a line that is answered here gives it).
  if (hostEnd - hostStart > VALUE_MAX || z - a > VALUE_MAX || inEnd - inStart > VALUE_MAX || outEnd - outStart > VALUE_MAX) return PARSE_DECLINED;
  if (macEnd - macStart > VALUE_MAX || dstEnd - dstStart > VALUE_MAX) return PARSE_DECLINED;
  const rec = RECORDS + index * RECORD_INTS * 4;
  keepInto(rec, C_HOST, KIND_HOST, hostStart, hostEnd);
  keepInto(rec, C_PREFIX, KIND_PREFIX, a, z);
  keepInto(rec, C_IN, KIND_IN, inStart, inEnd);
  keepInto(rec, C_OUT, KIND_OUT, outStart, outEnd);
  if (macStart >= 0) keepInto(rec, C_MAC, KIND_MAC, macStart, macEnd);
  else store<i32>(rec + (C_MAC << 2), -1);
  keepInto(rec, C_DST, KIND_DST, dstStart, dstEnd);
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
  return PARSE_PACKET;
}
