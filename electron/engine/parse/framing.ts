/**
 * The framings of a log record: which one a line has (sniffFraming, detectFraming), and reading its
 * header — the event time, the trust of the transport, the host, the kmsg sequence number — up to
 * where the kernel's message starts. readFrame() fills an explicit Frame that the caller owns (one
 * per record); message.ts then reads the netfilter LOG message from Frame.start.
 *
 * Trust: only a record the kernel wrote is 'kernel' (kmsg facility 0, journald _TRANSPORT=kernel
 * with SYSLOG_FACILITY 0); text copied through syslog, dmesg or a router is 'spoofable', and a
 * record another program wrote is refused ('untrusted-transport') unless ParseOptions.anyProgram.
 */
import type { Framing, Trust } from '../../shared/packet.ts';
import { keepSlice, keepString } from './address.ts';
import {
  CH_0, CH_BACKSLASH, CH_COLON, CH_COMMA, CH_DASH, CH_DEL, CH_EQUALS, CH_GT, CH_LBRACE, CH_LBRACKET, CH_LT, CH_QUOTE, CH_RBRACKET, CH_REPLACEMENT, CH_SEMICOLON, CH_SPACE, CH_UPPER_A, CH_UPPER_Z,
  isDigit, KEY_IN, KEY_SRC, MAX_RECORD_LENGTH, RFC5424_VERSION, WORD_KERN_FACILITY, WORD_KERNEL, WORD_KERNEL_TAG, wordAt,
} from './grammar.ts';
import { parseBsdStamp, parseClfStamp, parseCtimeStamp, parseIsoStamp, parseSecondsMs, type StampEnd, type SyslogYear } from './time.ts';

/**
 * What the framing reader found in a record's header. Made by the caller for each record
 * (newFrame) and filled by readFrame; nothing of it outlives the call that parses the record.
 */
export interface Frame extends StampEnd {
  /** Event time (ms since the epoch, or since boot for kmsg/dmesg without a boot time). */
  time: number;
  trust: Trust;
  host: string | undefined;
  /** kmsg sequence number. */
  seq: number | undefined;
  /** The text the message is in: the line itself, or journald's decoded MESSAGE. */
  text: string;
  /** End of the message in `text` (trailing blanks excluded). */
  end: number;
  /** ParseOptions.anyProgram: another program's firewall line is read as 'spoofable'. */
  anyProgram: boolean;
  /** Proxmox VE: the VMID of the guest whose inbound chain logged the record (PacketEvent.guest). */
  guest: number | undefined;
}

export function newFrame(line: string, end: number, anyProgram: boolean): Frame {
  return { time: 0, trust: 'kernel', host: undefined, seq: undefined, text: line, end, anyProgram, guest: undefined, stampEnd: 0 };
}

/** readFrame's codes for a record whose message is not read (all negative). */
export const NOT_KERNEL = -2; // the record is not from the kernel (syslog tag, kmsg facility, journald transport)
export const BAD_FRAMING = -1;
export const NOT_FIREWALL = -3;
export const BINARY = -4;

/**
 * Reads the header of `line` (up to `f.end`) in `framing` into `f`: the index in `f.text` where the
 * kernel's message starts, or one of the negative codes above.
 */
export function readFrame(line: string, framing: Framing, year: number | SyslogYear, bootTimeMs: number, f: Frame): number {
  const end = f.end;
  switch (framing) {
    case 'syslog':
      return readSyslog(line, end, year, f);
    case 'kmsg':
      return readKmsg(line, end, bootTimeMs, f);
    case 'dmesg':
      return line.charCodeAt(0) === CH_LBRACKET ? readDmesg(line, end, bootTimeMs, f) : BAD_FRAMING;
    case 'journal': {
      if (line.charCodeAt(0) !== CH_LBRACE) return BAD_FRAMING;
      const start = readJournal(line, end, f);
      if (start >= 0) {
        const text = f.text;
        let e = text.length;
        while (e > 0 && text.charCodeAt(e - 1) <= CH_SPACE) e--;
        f.end = e;
      }
      return start;
    }
    case 'pve':
      return readPve(line, end, f);
    case 'logread':
      return readLogread(line, end, f);
    default:
      return BAD_FRAMING;
  }
}

/** NUL, or a byte that was not UTF-8 (decoded as U+FFFD): the record is 'binary'. */
export function hasBinary(s: string): boolean {
  return s.indexOf('\u0000') >= 0 || s.indexOf(String.fromCharCode(CH_REPLACEMENT)) >= 0;
}

/** Framing of one line by its first characters, or null. */
export function sniffFraming(line: string): Framing | null {
  const c = line.charCodeAt(0);
  if (c === CH_LBRACE) return 'journal'; // {
  if (c === CH_LT) return 'syslog'; // <PRI>
  if (c === CH_LBRACKET) return 'dmesg'; // [
  if (isDigit(c)) {
    let p = 1;
    while (p < 24 && isDigit(line.charCodeAt(p))) p++;
    const next = line.charCodeAt(p);
    if (next === CH_COMMA) return 'kmsg'; // prio,seq,usec,flags;msg
    if (next === CH_DASH && p === 4) return 'syslog'; // 2026-11-22T…
    if (next === CH_SPACE && isDigit(line.charCodeAt(p + 1))) return 'pve'; // VMID LEVEL CHAIN DD/Mon/YYYY:…
    return null;
  }
  if (c >= CH_UPPER_A && c <= CH_UPPER_Z && line.charCodeAt(3) === CH_SPACE) {
    const d = line.charCodeAt(4);
    return d >= CH_UPPER_A && d <= CH_UPPER_Z ? 'logread' : 'syslog'; // Sun Dec  6 … 2026 kern.warn  |  Nov 22 …
  }
  return null;
}

/** The framing most sample lines have (empty lines ignored), or null when none is recognised. */
export function detectFraming(sampleLines: string[]): Framing | null {
  // nflog: binary messages (parse/nflog.ts), never a text line: never sniffed.
  const counts: Record<Framing, number> = { syslog: 0, kmsg: 0, journal: 0, dmesg: 0, pve: 0, logread: 0, nflog: 0 };
  let best: Framing | null = null;
  for (const line of sampleLines) {
    if (typeof line !== 'string' || line.length === 0 || line.length > MAX_RECORD_LENGTH) continue;
    const f = sniffFraming(line);
    if (f === null) continue;
    counts[f]++;
    if (best === null || counts[f] > counts[best]) best = f;
  }
  return best;
}

/** Does the rest of the text look like a netfilter LOG line? (decides untrusted-transport vs not-firewall) */
function looksLikeFirewall(s: string, p: number): boolean {
  return s.indexOf(KEY_SRC, p) >= 0 || s.indexOf(KEY_IN, p) >= 0;
}

/**
 * Untrusted record: 'untrusted-transport' when it imitates a firewall line, else just another
 * program's line. With anyProgram a line carrying LOG fields is read from `p` on, as 'spoofable'.
 */
function untrusted(s: string, p: number, f: Frame): number {
  if (!looksLikeFirewall(s, p)) return NOT_FIREWALL;
  if (!f.anyProgram) return NOT_KERNEL;
  f.trust = 'spoofable';
  return p;
}

function readSyslog(s: string, end: number, year: number | SyslogYear, f: Frame): number {
  let p = 0;
  let facility = 0;
  let rfc5424 = false;
  if (s.charCodeAt(0) === CH_LT) {
    // <PRI> (RFC 5424 `<4>1 `, or a BSD line with its priority kept)
    let pri = 0;
    p = 1;
    while (p < 5 && isDigit(s.charCodeAt(p))) pri = pri * 10 + (s.charCodeAt(p++) - CH_0);
    if (p === 1 || s.charCodeAt(p) !== CH_GT || pri > 191) return BAD_FRAMING;
    facility = pri >> 3;
    p++;
    if (wordAt(s, p, RFC5424_VERSION)) {
      rfc5424 = true;
      p += 2;
    }
  }
  const c = s.charCodeAt(p);
  if (isDigit(c)) f.time = parseIsoStamp(s, p, f);
  else if (c === CH_DASH && rfc5424) return BAD_FRAMING; // nil timestamp: no event time
  else f.time = parseBsdStamp(s, p, year, f);
  if (Number.isNaN(f.time)) return BAD_FRAMING;
  // `dmesg --time-format iso` writes `2026-11-29T10:00:00,123456+00:00 msg`: the kernel's message
  // right after the stamp, no host or tag (a comma before the fraction, where syslog writers put a
  // dot). Its lines were read as another program's ("untrusted-transport"), which suggested forgery.
  const dmesgIso = !rfc5424 && isDigit(c) && s.charCodeAt(p + 19) === CH_COMMA;
  p = f.stampEnd;
  if (s.charCodeAt(p) !== CH_SPACE) return BAD_FRAMING;
  p++;
  if (dmesgIso) {
    f.host = undefined;
    f.trust = 'spoofable'; // dmesg text carries no facility
    return p;
  }
  let hostEnd = p;
  while (hostEnd < end && s.charCodeAt(hostEnd) !== CH_SPACE) hostEnd++;
  if (hostEnd >= end || hostEnd === p) return BAD_FRAMING;
  f.host = keepSlice(s, p, hostEnd);
  p = hostEnd + 1;
  f.trust = 'spoofable';
  if (rfc5424) {
    // APP-NAME PROCID MSGID STRUCTURED-DATA MSG
    const appEnd = s.indexOf(' ', p);
    if (appEnd < 0 || appEnd >= end) return BAD_FRAMING;
    const isKernel = appEnd - p === WORD_KERNEL.length && wordAt(s, p, WORD_KERNEL);
    p = appEnd + 1;
    for (let field = 0; field < 2; field++) {
      const e = s.indexOf(' ', p);
      if (e < 0 || e >= end) return BAD_FRAMING;
      p = e + 1;
    }
    p = skipStructuredData(s, p, end);
    if (p < 0) return BAD_FRAMING;
    if (s.charCodeAt(p) === CH_SPACE) p++;
    if (s.startsWith('\uFEFF', p)) p++; // BOM before a UTF-8 MSG
    if (!isKernel || facility !== 0) return untrusted(s, p, f);
    return p;
  }
  // BSD: the program tag must be exactly "kernel:" — anything else could be `logger`.
  if (!wordAt(s, p, WORD_KERNEL_TAG) || facility !== 0) return untrusted(s, f.anyProgram ? afterTag(s, p, end) : p, f);
  return p + WORD_KERNEL_TAG.length;
}

/**
 * Where the message starts after a BSD syslog tag (`firewall:`, `fw[123]:`, `kernel:`) at p — a
 * word ending in ':' with no '=' in it; a line without a tag (some routers send none) starts at p.
 */
function afterTag(s: string, p: number, end: number): number {
  for (let i = p; i < end && i < p + 48; i++) {
    const c = s.charCodeAt(i);
    if (c === CH_SPACE || c === CH_EQUALS) return p;
    if (c === CH_COLON && (i + 1 === end || s.charCodeAt(i + 1) === CH_SPACE)) return i + 1;
  }
  return p;
}

/** The highest VMID Proxmox VE gives a guest (its API refuses more). */
const MAX_VMID = 999_999_999;
/** The end of a chain's name that filters what goes into a guest (`tap100i0-IN`; nftables' proxmox-firewall: `guest-100-in`). */
const INBOUND_CHAIN_END = '-IN';

/**
 * Proxmox VE firewall log (/var/log/pve-firewall.log, written by pvefw-logger):
 * `VMID LEVEL CHAIN DD/Mon/YYYY:HH:MM:SS +ZZZZ policy DROP: IN=… SRC=…` (VMID 0 is the host, the
 * chain `-` for a policy). Written by a daemon from NFLOG, not the kernel ring: 'spoofable'.
 * A guest's record (VMID > 0) logged by its inbound chain (`tap100i0-IN`, `veth101i0-IN`,
 * `guest-100-in`) sets f.guest: that guest is the host the packet was for, though this host only
 * bridged it (OUT= is set). Its outbound chain (`tap100i0-OUT`) logs what the guest itself sent.
 */
function readPve(s: string, end: number, f: Frame): number {
  let p = 0;
  let vmid = 0;
  while (p < 10 && isDigit(s.charCodeAt(p))) vmid = vmid * 10 + (s.charCodeAt(p++) - CH_0);
  if (p === 0 || s.charCodeAt(p) !== CH_SPACE) return BAD_FRAMING;
  p++;
  const levelStart = p;
  while (p < levelStart + 2 && isDigit(s.charCodeAt(p))) p++;
  if (p === levelStart || s.charCodeAt(p) !== CH_SPACE) return BAD_FRAMING;
  p++;
  const chainEnd = s.indexOf(' ', p);
  if (chainEnd <= p || chainEnd >= end) return BAD_FRAMING;
  const inbound = chainEnd - p > INBOUND_CHAIN_END.length && s.slice(chainEnd - INBOUND_CHAIN_END.length, chainEnd).toUpperCase() === INBOUND_CHAIN_END;
  p = chainEnd + 1;
  f.time = parseClfStamp(s, p, f);
  if (Number.isNaN(f.time)) return BAD_FRAMING;
  p = f.stampEnd;
  if (s.charCodeAt(p) !== CH_SPACE) return BAD_FRAMING;
  f.host = undefined;
  f.trust = 'spoofable';
  f.guest = inbound && vmid > 0 && vmid <= MAX_VMID ? vmid : undefined;
  return p + 1;
}

/**
 * OpenWrt `logread` (its ring buffer as the router prints it):
 * `Sun Dec  6 05:00:00 2026 kern.warn kernel: [12345.678901] DROP wan in: IN=…` — a ctime stamp
 * with the year, the facility.level, then the tag. Text copied off a router: 'spoofable'; the tag
 * must be the kernel's unless anyProgram.
 */
function readLogread(s: string, end: number, f: Frame): number {
  f.time = parseCtimeStamp(s, 0, f);
  if (Number.isNaN(f.time)) return BAD_FRAMING;
  let p = f.stampEnd;
  if (s.charCodeAt(p) !== CH_SPACE) return BAD_FRAMING;
  p++;
  const levelEnd = s.indexOf(' ', p);
  if (levelEnd <= p || levelEnd >= end || s.indexOf('.', p) > levelEnd || s.indexOf('.', p) < 0) return BAD_FRAMING;
  const kern = levelEnd - p > WORD_KERN_FACILITY.length && wordAt(s, p, WORD_KERN_FACILITY);
  p = levelEnd + 1;
  f.host = undefined;
  f.trust = 'spoofable';
  if (!kern || !wordAt(s, p, WORD_KERNEL_TAG)) return untrusted(s, f.anyProgram ? afterTag(s, p, end) : p, f);
  return p + WORD_KERNEL_TAG.length;
}

/** Index after RFC 5424 STRUCTURED-DATA (`-` or `[id k="v"]…`), or -1. */
function skipStructuredData(s: string, p: number, end: number): number {
  if (s.charCodeAt(p) === CH_DASH) return p + 1;
  if (s.charCodeAt(p) !== CH_LBRACKET) return -1;
  while (p < end && s.charCodeAt(p) === CH_LBRACKET) {
    let inQuotes = false;
    p++;
    while (p < end) {
      const c = s.charCodeAt(p);
      if (c === CH_BACKSLASH && inQuotes) p += 2;
      else if (c === CH_QUOTE) {
        inQuotes = !inQuotes;
        p++;
      } else if (c === CH_RBRACKET && !inQuotes) break;
      else p++;
    }
    if (p >= end) return -1;
    p++;
  }
  return p;
}

function readKmsg(s: string, end: number, bootTimeMs: number, f: Frame): number {
  // prio,seq,usec,flags[,more…];message
  let p = 0;
  let prio = 0;
  while (p < 4 && isDigit(s.charCodeAt(p))) prio = prio * 10 + (s.charCodeAt(p++) - CH_0);
  if (p === 0 || s.charCodeAt(p) !== CH_COMMA) return BAD_FRAMING;
  p++;
  let seq = 0;
  const seqStart = p;
  while (p < end && isDigit(s.charCodeAt(p))) seq = seq * 10 + (s.charCodeAt(p++) - CH_0);
  if (p === seqStart || p - seqStart > 15 || s.charCodeAt(p) !== CH_COMMA) return BAD_FRAMING;
  p++;
  let usec = 0;
  const usecStart = p;
  while (p < end && isDigit(s.charCodeAt(p))) usec = usec * 10 + (s.charCodeAt(p++) - CH_0);
  if (p === usecStart || p - usecStart > 15 || s.charCodeAt(p) !== CH_COMMA) return BAD_FRAMING;
  const semi = s.indexOf(';', p);
  if (semi < 0 || semi >= end) return BAD_FRAMING;
  f.seq = seq;
  f.time = bootTimeMs + usec / 1000;
  f.trust = 'kernel';
  f.host = undefined;
  // Facility 0 is the kernel; userspace writing to /dev/kmsg gets facility 1 (user) or its own.
  if (prio >> 3 !== 0) return untrusted(s, semi + 1, f);
  return semi + 1;
}

function readDmesg(s: string, end: number, bootTimeMs: number, f: Frame): number {
  // `[  163.052311] msg` or `dmesg -T`: `[Sun Nov 22 10:00:00 2026] msg`
  const c = s.charCodeAt(1);
  if (c >= CH_UPPER_A && c <= CH_UPPER_Z) f.time = parseCtimeStamp(s, 1, f);
  else {
    const ms = parseSecondsMs(s, 1, end, f);
    f.time = bootTimeMs + ms;
  }
  if (Number.isNaN(f.time) || s.charCodeAt(f.stampEnd) !== CH_RBRACKET) return BAD_FRAMING;
  // dmesg text carries no facility: a userspace write to /dev/kmsg looks the same.
  f.trust = 'spoofable';
  f.host = undefined;
  // `journalctl -k -o short-monotonic` writes the same stamp, then the journal's host and tag:
  // `[  163.052311] host kernel: msg`. Without this the prefix read `host kernel: [UFW BLOCK]`
  // and no record counted.
  const p = f.stampEnd + 2;
  if (s.charCodeAt(p - 1) === CH_SPACE) {
    let q = p;
    while (q < end && s.charCodeAt(q) > CH_SPACE && s.charCodeAt(q) < CH_DEL) q++;
    if (q > p && s.charCodeAt(q) === CH_SPACE && wordAt(s, q + 1, WORD_KERNEL_TAG) && s.charCodeAt(q + 1 + WORD_KERNEL_TAG.length) === CH_SPACE) {
      f.host = keepSlice(s, p, q);
      return q + WORD_KERNEL_TAG.length + 2;
    }
  }
  return f.stampEnd + 1;
}

const utf8 = new TextDecoder('utf-8');

function readJournal(s: string, end: number, f: Frame): number {
  const record = parseJsonObject(end === s.length ? s : s.slice(0, end));
  if (record === undefined) return BAD_FRAMING;
  const message = record['MESSAGE'];
  let text: string;
  if (typeof message === 'string') text = message;
  else if (Array.isArray(message)) {
    // journald writes MESSAGE as an array of bytes when it is not valid UTF-8
    if (message.length > MAX_RECORD_LENGTH) return BAD_FRAMING;
    const bytes = new Uint8Array(message.length);
    for (let i = 0; i < message.length; i++) {
      const b = message[i];
      if (typeof b !== 'number' || !(b >= 0 && b <= 255)) return BAD_FRAMING;
      bytes[i] = b;
    }
    text = utf8.decode(bytes);
  } else return BAD_FRAMING;
  const realtime = record['__REALTIME_TIMESTAMP'];
  // journald writes it as a string of digits (µs since the epoch). Anything else — a JSON number
  // such as 1e300, a sign, an exponent — is refused: 17 digits end in the year 5138, inside what a
  // Date can hold, where 1e300 made the replay's report throw (RangeError: Invalid time value).
  if (typeof realtime !== 'string' || !isDigits(realtime, 17)) return BAD_FRAMING;
  const usec = Number(realtime);
  f.time = usec / 1000;
  const hostname = record['_HOSTNAME'];
  f.host = typeof hostname === 'string' && hostname.length > 0 ? keepString(hostname) : undefined;
  f.trust = 'kernel';
  f.text = text;
  if (hasBinary(text)) return BINARY;
  // _TRANSPORT is set by journald itself (trusted field): only 'kernel' came from the kernel ring.
  if (record['_TRANSPORT'] !== 'kernel') return untrusted(text, 0, f);
  // …but journald files what userspace writes into /dev/kmsg under _TRANSPORT=kernel too (measured:
  // `echo "<4>[UFW BLOCK] SRC=…" > /dev/kmsg` arrives with SYSLOG_FACILITY=1). Only facility 0 is the kernel's.
  const facility = record['SYSLOG_FACILITY'];
  if (facility !== undefined && facility !== '0' && facility !== 0) return untrusted(text, 0, f);
  return 0;
}

/** 1 to max digits and nothing else. */
function isDigits(s: string, max: number): boolean {
  if (s.length === 0 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** A flat JSON object, or undefined. The journal framing is not the hot path; JSON.parse is the right tool. */
function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}