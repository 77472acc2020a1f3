/**
 * The netfilter LOG message: the text after the framing's header (framing.ts), walked once with
 * charCodeAt into a PacketEvent or a rejection. Field order and spelling follow the kernel's
 * netfilter logger (net/netfilter/nf_log_syslog.c), spelled with the names of grammar.ts:
 *   IPv4: <prefix>IN= OUT= [PHYSIN=] [PHYSOUT=] [MAC=] SRC= DST= LEN= TOS= PREC= TTL= ID= [CE] [DF] [MF]
 *         [FRAG:n] [OPT (…)] PROTO=… then per protocol (TCP: SPT= DPT= [SEQ= ACK=] WINDOW= RES= flags
 *         URGP= [OPT (…)]; UDP: SPT= DPT= LEN=; ICMP: TYPE= CODE= [ID= SEQ=] [[SRC=… quoted packet ]])
 *   IPv6: … SRC= DST= LEN= TC= HOPLIMIT= FLOWLBL= [FRAG:n [INCOMPLETE] ID:x] PROTO=…
 * Fields before PROTO describe the IP header and after it the transport header; the same key can
 * appear in both (LEN, ID), so each is only taken at its own level. A field repeated at the same
 * level means two records were spliced together: rejected rather than guessed.
 */
import type { Ip } from '../../shared/ip.ts';
import type { Framing, PacketEvent, ParseResult } from '../../shared/packet.ts';
import { canonicalAddress, keepSlice } from './address.ts';
import { hasBinary, type Frame } from './framing.ts';
import {
  BIT_ACK, BIT_CWR, BIT_ECE, BIT_FIN, BIT_PSH, BIT_RST, BIT_SYN, BIT_URG, CH_0, CH_9, CH_DOT, CH_EQUALS, CH_LBRACKET, CH_LOWER_A, CH_LOWER_Z, CH_RBRACKET, CH_REPLACEMENT, CH_SPACE, CH_UPPER_A, CH_UPPER_Z,
  FLAG_ACK, FLAG_CWR, FLAG_ECE, FLAG_FIN, FLAG_PSH, FLAG_RST, FLAG_SYN, FLAG_URG, KEY_CODE, KEY_DPT, KEY_DST, KEY_FRAG, KEY_HOPLIMIT, KEY_ID, KEY_IN, KEY_LEN, KEY_MAC, KEY_OUT, KEY_PHYSIN, KEY_PHYSOUT, KEY_PROTO,
  KEY_SPT, KEY_SRC, KEY_TTL, KEY_TYPE, KEY_URGP, KEY_WINDOW, packed3, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, PROTO_UDPLITE, QUOTE_OPEN, tokenIs, WORD_DF, WORD_FRAG, WORD_INCOMPLETE, WORD_MF, WORD_OPT, wordAt,
} from './grammar.ts';
import { reject } from './reject.ts';

// Bits of `seen`: which fields a record already had (a repeat means two records spliced together).
const SEEN_SRC = 1;
const SEEN_DST = 2;
const SEEN_LEN = 4;
const SEEN_TTL = 8;
const SEEN_ID = 16;
const SEEN_MAC = 32;
const SEEN_PHYSIN = 64;
const SEEN_PHYSOUT = 128;
const SEEN_SPT = 256;
const SEEN_DPT = 512;
const SEEN_WINDOW = 1024;
const SEEN_URGP = 2048;
const SEEN_TYPE = 4096;
const SEEN_CODE = 8192;
const SEEN_L4LEN = 16384;
const SEEN_INNER = 32768;
const SEEN_FLAGS = 65536;
const SEEN_OUT = 131072;

const MAX_PORT = 65535;
/** pvefw-logger's last field, a packet's netfilter mark (`mark=7`). */
const PVE_MARK = 'mark=';
const MAX_BYTE = 255;
/** An IP datagram's LEN= is at most 65535; the kernel's IPv6 LEN= adds the 40-byte header. */
const MAX_IP_LEN = 65535 + 40;

// The TCP flag words, packed as packed3() packs a token, and their bits.
const FLAG_WORDS = [FLAG_SYN, FLAG_ACK, FLAG_FIN, FLAG_RST, FLAG_PSH, FLAG_URG, FLAG_CWR, FLAG_ECE].map((w) => packed3(w));
const FLAG_BITS = [BIT_SYN, BIT_ACK, BIT_FIN, BIT_RST, BIT_PSH, BIT_URG, BIT_CWR, BIT_ECE];

/** TcpFlag bit of the three-letter word at s[q…], or 0. */
function flagBit(s: string, q: number): number {
  const w = packed3(s, q);
  for (let i = 0; i < FLAG_WORDS.length; i++) if (FLAG_WORDS[i] === w) return FLAG_BITS[i]!;
  return 0;
}

/** headerAddress's answer for an IPv4-mapped address (::ffff:0:0/96) in an IPv6 header. */
const MAPPED = 'mapped';

/**
 * The address in s[start, end) as canonicalAddress reads it; MAPPED for an IPv4-mapped address
 * written as IPv6 (which canonicalAddress reads as the IPv4 address it names). The kernel prints
 * the addresses of an IPv6 header in IPv6 form; no real IPv6 packet carries a mapped address (RFC
 * 4291 2.5.5.2: they never appear on the wire), so one is forged — and would otherwise be taken as
 * an IPv4 packet from the address it names, and that address banned.
 */
function headerAddress(s: string, start: number, end: number): Ip | typeof MAPPED | null {
  const a = canonicalAddress(s, start, end);
  if (a !== null && a.indexOf(':') < 0 && s.indexOf(':', start) >= 0 && s.indexOf(':', start) < end) return MAPPED;
  return a;
}

/**
 * The packet of the LOG message in `f.text` from `p` to `f.end` (the header's fields from `f`), or
 * the reason it is not one.
 */
export function parseMessage(f: Frame, p: number, framing: Framing): ParseResult {
  const s = f.text;
  const end = f.end;
  while (p < end && s.charCodeAt(p) === CH_SPACE) p++;
  // A kernel timestamp `[ 12345.678901] ` in front of the message (syslog lines from klogd).
  if (s.charCodeAt(p) === CH_LBRACKET) {
    let q = p + 1;
    let digits = 0;
    for (; q < end; q++) {
      const c = s.charCodeAt(q);
      if (c >= CH_0 && c <= CH_9) digits++;
      else if (c !== CH_SPACE && c !== CH_DOT) break;
    }
    if (digits > 0 && s.charCodeAt(q) === CH_RBRACKET) {
      p = q + 1;
      while (p < end && s.charCodeAt(p) === CH_SPACE) p++;
    }
  }
  const pve = framing === 'pve';
  const inAt = findInField(s, p, end, pve);
  if (inAt < 0) {
    if (inAt === -2 && cutBeforeOut(s, p, end)) return reject('truncated');
    return reject(hasBinary(s) ? 'binary' : 'not-firewall');
  }

  // Prefix: the text before IN=, without surrounding blanks and brackets.
  let a = p;
  let b = inAt;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c < CH_SPACE || c === CH_REPLACEMENT) return reject('binary');
  }
  while (b > a && s.charCodeAt(b - 1) === CH_SPACE) b--;
  if (b > a && s.charCodeAt(a) === CH_LBRACKET && s.charCodeAt(b - 1) === CH_RBRACKET) {
    a++;
    b--;
    while (a < b && s.charCodeAt(a) === CH_SPACE) a++;
    while (b > a && s.charCodeAt(b - 1) === CH_SPACE) b--;
  }
  const prefix = keepSlice(s, a, b);

  let seen = 0;
  let inIf = '';
  let outIf = '';
  let physIn: string | undefined;
  let physOut: string | undefined;
  let mac: string | undefined;
  let src: Ip | null = null;
  let dst: Ip | null = null;
  let len: number | undefined;
  let ttl: number | undefined;
  let id: number | undefined;
  let df = false;
  let fragment = false;
  let proto: string | null = null;
  let spt: number | undefined;
  let dpt: number | undefined;
  let icmpType: number | undefined;
  let icmpCode: number | undefined;
  let flags = 0;
  let window: number | undefined;
  let innerSrc: Ip | undefined;
  let innerDst: Ip | undefined;
  let incomplete = false;
  let lastAddressAtEnd = false;

  let q = inAt;
  while (q < end) {
    const c = s.charCodeAt(q);
    if (c === CH_SPACE) {
      q++;
      continue;
    }

    if (c === CH_LBRACKET) {
      // `[SRC=… DST=… ]` quoted packet of an ICMP error, or `INCOMPLETE [n bytes]`
      const close = closingBracket(s, q, end);
      if (close < 0) return reject('truncated');
      if (wordAt(s, q, QUOTE_OPEN)) {
        if (seen & SEEN_INNER || proto === null) return reject('bad-field');
        seen |= SEEN_INNER;
        const sa = q + QUOTE_OPEN.length;
        let se = sa;
        while (se < close && s.charCodeAt(se) !== CH_SPACE) se++;
        if (se >= close) return reject('truncated');
        const is = headerAddress(s, sa, se);
        if (is === null || is === MAPPED) return reject('bad-address');
        innerSrc = is;
        if (wordAt(s, se + 1, KEY_DST)) {
          const da = se + 1 + KEY_DST.length;
          let de = da;
          while (de < close && s.charCodeAt(de) !== CH_SPACE) de++;
          const idst = headerAddress(s, da, de);
          if (idst === null || idst === MAPPED) return reject('bad-address');
          innerDst = idst;
        }
      }
      q = close + 1;
      continue;
    }

    if (wordAt(s, q, KEY_MAC)) {
      // MAC= is long and never looked into: one native search to its end.
      if (seen & SEEN_MAC || proto !== null) return reject('bad-field');
      seen |= SEEN_MAC;
      const ma = q + KEY_MAC.length;
      let me = s.indexOf(' ', ma);
      if (me < 0 || me > end) me = end;
      mac = keepSlice(s, ma, me);
      q = me + 1;
      continue;
    }

    // One pass over the token: where it ends, where its '=' is, and no control characters.
    let eq = -1;
    let te = q;
    while (te < end) {
      const ch = s.charCodeAt(te);
      if (ch === CH_SPACE) break;
      if (ch < CH_SPACE || ch === CH_REPLACEMENT) return reject('binary');
      if (ch === CH_EQUALS && eq < 0) eq = te;
      te++;
    }
    const tl = te - q;

    if (eq < 0) {
      // A bare word: IP flags before PROTO, TCP flags after it, OPT (…), INCOMPLETE, FRAG:n, ID:x.
      if (tokenIs(s, q, tl, WORD_OPT)) {
        // OPT (hex…)
        const close = s.indexOf(')', te);
        if (close < 0 || close >= end) return reject('truncated');
        q = close + 1;
        continue;
      }
      if (proto === null) {
        if (tokenIs(s, q, tl, WORD_DF)) df = true;
        else if (tokenIs(s, q, tl, WORD_MF)) fragment = true;
        else if (tl > WORD_FRAG.length && wordAt(s, q, WORD_FRAG)) fragment = true; // FRAG:n
      } else if (tl === 3 && proto === PROTO_TCP) {
        const bit = flagBit(s, q);
        if (bit !== 0) {
          // flags sit between RES= and URGP=; a flag after URGP= or twice is a spliced line
          if (seen & SEEN_URGP || flags & bit) return reject('bad-field');
          flags |= bit;
          seen |= SEEN_FLAGS;
        }
      } else if (tokenIs(s, q, tl, WORD_INCOMPLETE)) incomplete = true;
      q = te + 1;
      continue;
    }

    // The key with its '=': s[q, v).
    const kl = eq + 1 - q;
    const v = eq + 1;
    let bad = false;
    if (tokenIs(s, q, kl, KEY_IN)) {
      // the first IN= opens the record, a second one is another record spliced in
      if (q !== inAt) return reject('bad-field');
      inIf = keepSlice(s, v, te);
    } else if (tokenIs(s, q, kl, KEY_OUT)) {
      if (seen & SEEN_OUT) return reject('bad-field');
      seen |= SEEN_OUT;
      outIf = keepSlice(s, v, te);
    } else if (proto === null) {
      // IP header fields
      if (tokenIs(s, q, kl, KEY_SRC)) {
        if (seen & SEEN_SRC) return reject('bad-field');
        seen |= SEEN_SRC;
        const a = headerAddress(s, v, te);
        if (a === MAPPED) return reject('bad-address');
        if (a === null) return reject(te === end ? 'truncated' : 'bad-address');
        src = a;
      } else if (tokenIs(s, q, kl, KEY_DST)) {
        if (seen & SEEN_DST) return reject('bad-field');
        seen |= SEEN_DST;
        const a = headerAddress(s, v, te);
        if (a === MAPPED) return reject('bad-address');
        if (a === null) return reject(te === end ? 'truncated' : 'bad-address');
        dst = a;
        lastAddressAtEnd = te === end;
      } else if (tokenIs(s, q, kl, KEY_LEN)) {
        if (seen & SEEN_LEN) return reject('bad-field');
        seen |= SEEN_LEN;
        len = uint(s, v, te, MAX_IP_LEN);
        bad = len < 0;
      } else if (tokenIs(s, q, kl, KEY_TTL) || tokenIs(s, q, kl, KEY_HOPLIMIT)) {
        if (seen & SEEN_TTL) return reject('bad-field');
        seen |= SEEN_TTL;
        ttl = uint(s, v, te, MAX_BYTE);
        bad = ttl < 0;
      } else if (tokenIs(s, q, kl, KEY_ID)) {
        if (seen & SEEN_ID) return reject('bad-field');
        seen |= SEEN_ID;
        id = uint(s, v, te, MAX_PORT);
        bad = id < 0;
      } else if (tokenIs(s, q, kl, KEY_PROTO)) {
        proto = protoName(s, v, te);
        if (proto === null) return reject(te === end ? 'truncated' : 'bad-field');
      } else if (tokenIs(s, q, kl, KEY_FRAG)) {
        fragment = fragment || uint(s, v, te, MAX_PORT) !== 0;
      } else if (tokenIs(s, q, kl, KEY_PHYSIN)) {
        if (seen & SEEN_PHYSIN) return reject('bad-field');
        seen |= SEEN_PHYSIN;
        physIn = keepSlice(s, v, te);
      } else if (tokenIs(s, q, kl, KEY_PHYSOUT)) {
        if (seen & SEEN_PHYSOUT) return reject('bad-field');
        seen |= SEEN_PHYSOUT;
        physOut = keepSlice(s, v, te);
      }
    } else {
      // Transport header fields
      if (tokenIs(s, q, kl, KEY_SPT)) {
        if (seen & SEEN_SPT) return reject('bad-field');
        seen |= SEEN_SPT;
        spt = uint(s, v, te, MAX_PORT);
        bad = spt < 0;
      } else if (tokenIs(s, q, kl, KEY_DPT)) {
        if (seen & SEEN_DPT) return reject('bad-field');
        seen |= SEEN_DPT;
        dpt = uint(s, v, te, MAX_PORT);
        bad = dpt < 0;
      } else if (tokenIs(s, q, kl, KEY_WINDOW)) {
        if (seen & SEEN_WINDOW) return reject('bad-field');
        seen |= SEEN_WINDOW;
        window = uint(s, v, te, MAX_PORT);
        bad = window < 0;
      } else if (tokenIs(s, q, kl, KEY_URGP)) {
        if (seen & SEEN_URGP) return reject('bad-field');
        seen |= SEEN_URGP;
        bad = uint(s, v, te, MAX_PORT) < 0;
      } else if (tokenIs(s, q, kl, KEY_LEN)) {
        // LEN= of UDP. pvefw-logger writes no blank after it, so a packet's mark follows at once: `LEN=8mark=7`.
        if (seen & SEEN_L4LEN) return reject('bad-field');
        seen |= SEEN_L4LEN;
        const mark = pve ? s.indexOf(PVE_MARK, v) : -1;
        bad = uint(s, v, mark > v && mark < te ? mark : te, MAX_PORT) < 0;
      } else if (tokenIs(s, q, kl, KEY_TYPE)) {
        if (seen & SEEN_TYPE) return reject('bad-field');
        seen |= SEEN_TYPE;
        icmpType = uint(s, v, te, MAX_BYTE);
        bad = icmpType < 0;
      } else if (tokenIs(s, q, kl, KEY_CODE)) {
        if (seen & SEEN_CODE) return reject('bad-field');
        seen |= SEEN_CODE;
        icmpCode = uint(s, v, te, MAX_BYTE);
        bad = icmpCode < 0;
      } else if (tokenIs(s, q, kl, KEY_SRC) || tokenIs(s, q, kl, KEY_DST) || tokenIs(s, q, kl, KEY_PROTO)) {
        return reject('bad-field'); // SRC=/DST= outside brackets, or PROTO= again, after PROTO: another record spliced in
      }
    }
    // A number cut at the end of the line is a truncation, anywhere else a malformed field.
    if (bad) return reject(te === end ? 'truncated' : 'bad-field');
    q = te + 1;
  }

  if (src === null || dst === null) return reject('truncated');
  // Both of one family: an IPv4 and an IPv6 address in one header is another record spliced in.
  const family = src.indexOf(':') >= 0 ? 6 : 4;
  if ((dst.indexOf(':') >= 0 ? 6 : 4) !== family) return reject('bad-address');
  if (proto === null) {
    // A non-first IPv6 fragment has no transport header to name; anything else stopped early.
    if (!fragment || lastAddressAtEnd) return reject('truncated');
    proto = '';
  }
  // Everything the kernel prints for a complete header must be there, or the line was cut.
  const headerExpected = !fragment && !incomplete;
  let tcpFlags: number | undefined;
  if (proto === PROTO_TCP) {
    if (headerExpected) {
      // pvefw-logger writes its own TCP header: … WINDOW= then the flags, URGP= only after URG (no RES=).
      // (It never cuts a record this short: its cap, 508 bytes, is far above the longest TCP one.)
      const complete = pve ? seen & SEEN_WINDOW && (!(flags & BIT_URG) || seen & SEEN_URGP) : seen & SEEN_URGP;
      if (!(seen & SEEN_SPT) || !(seen & SEEN_DPT) || !complete) return reject('truncated');
      tcpFlags = flags;
    } else if (seen & SEEN_URGP) {
      // A first fragment (MF, or IPv6's FRAG:0): LOG printed its whole TCP header, flags included.
      tcpFlags = flags;
    }
  } else if (proto === PROTO_UDP || proto === PROTO_UDPLITE) {
    if (headerExpected && (!(seen & SEEN_SPT) || !(seen & SEEN_DPT) || !(seen & SEEN_L4LEN))) return reject('truncated');
  } else if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
    if (headerExpected && (!(seen & SEEN_TYPE) || !(seen & SEEN_CODE))) return reject('truncated');
  }

  const packet: PacketEvent = {
    time: f.time,
    framing,
    trust: f.trust,
    seq: f.seq,
    host: f.host,
    prefix,
    in: inIf,
    out: outIf,
    physIn,
    physOut,
    mac,
    src,
    dst,
    family,
    len,
    ttl,
    id,
    df: family === 4 ? df : undefined,
    fragment,
    proto,
    spt,
    dpt,
    icmpType,
    icmpCode,
    tcpFlags,
    window,
    innerSrc,
    innerDst,
    guest: f.guest,
  };
  return { ok: true, packet };
}

/** Parse a decimal number in s[a, b) not above max, or -1. */
function uint(s: string, a: number, b: number, max: number): number {
  if (a >= b || b - a > 10) return -1;
  let v = 0;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return -1;
    v = v * 10 + (c - CH_0);
  }
  return v > max ? -1 : v;
}

/** Index of the `]` closing the `[` at p (nesting allowed), or -1. */
function closingBracket(s: string, p: number, end: number): number {
  let depth = 0;
  for (let i = p; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === CH_LBRACKET) depth++;
    else if (c === CH_RBRACKET && --depth === 0) return i;
  }
  return -1;
}

const PROTO_NAME_MAX = 16;

/** The protocol's name (a shared constant for the four the engine knows), or null when it is not a word. */
function protoName(s: string, a: number, b: number): string | null {
  const n = b - a;
  if (tokenIs(s, a, n, PROTO_TCP)) return PROTO_TCP;
  if (tokenIs(s, a, n, PROTO_UDP)) return PROTO_UDP;
  if (tokenIs(s, a, n, PROTO_ICMP)) return PROTO_ICMP;
  if (tokenIs(s, a, n, PROTO_ICMPV6)) return PROTO_ICMPV6;
  if (n === 0 || n > PROTO_NAME_MAX) return null;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= CH_0 && c <= CH_9) || (c >= CH_UPPER_A && c <= CH_UPPER_Z) || (c >= CH_LOWER_A && c <= CH_LOWER_Z))) return null;
  }
  return s.slice(a, b);
}

/**
 * Where the fields start: the `IN=` that is followed (after its value) by ` OUT=`; -1 no IN= at all, -2 none valid.
 * One pass: every `IN=` inside a failed candidate's value ends at the same blank and fails the same
 * way, so the search goes on after that value (resuming at `i + 3` made `IN=IN=IN=…` quadratic).
 * `noOut` (pvefw-logger, which writes OUT= only for a packet that has an output device): an `IN=`
 * opening a word whose value is followed by any field (` PHYSIN=`, ` MAC=`, ` SRC=`, …) will do.
 */
function findInField(s: string, p: number, end: number, noOut: boolean): number {
  let from = p;
  for (;;) {
    const i = s.indexOf(KEY_IN, from);
    if (i < 0 || i >= end) return from === p ? -1 : -2;
    let v = i + KEY_IN.length;
    while (v < end && s.charCodeAt(v) !== CH_SPACE) v++;
    if (v + 1 + KEY_OUT.length <= end && wordAt(s, v + 1, KEY_OUT)) return i;
    if (noOut && (i === p || s.charCodeAt(i - 1) === CH_SPACE) && nextIsField(s, v + 1, end)) return i;
    from = v;
  }
}

/** Is the word at `q` a `KEY=` field (upper-case letters then '=')? */
function nextIsField(s: string, q: number, end: number): boolean {
  let i = q;
  while (i < end && s.charCodeAt(i) >= CH_UPPER_A && s.charCodeAt(i) <= CH_UPPER_Z) i++;
  return i > q && i < end && s.charCodeAt(i) === CH_EQUALS;
}

/** A line that starts like a LOG line but stops before its OUT= field was written. */
function cutBeforeOut(s: string, p: number, end: number): boolean {
  const i = s.lastIndexOf(KEY_IN, end);
  if (i < p) return false;
  const v = s.indexOf(' ', i + KEY_IN.length);
  if (v < 0 || v >= end) return true; // the line ends inside the IN value
  return KEY_OUT.startsWith(s.slice(v + 1, end)); // …or inside the word OUT=
}
