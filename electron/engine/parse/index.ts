/**
 * The log parser: one framed log record in, a typed PacketEvent or a typed rejection out.
 *
 * It never throws and never uses a regex: it walks the line once with indexOf/charCodeAt, because
 * replay has to sustain over a million lines per second. Field order and spelling follow the
 * kernel's netfilter logger (net/netfilter/nf_log_syslog.c):
 *   IPv4: <prefix>IN= OUT= [PHYSIN=] [PHYSOUT=] [MAC=] SRC= DST= LEN= TOS= PREC= TTL= ID= [CE] [DF] [MF]
 *         [FRAG:n] [OPT (…)] PROTO=… then per protocol (TCP: SPT= DPT= [SEQ= ACK=] WINDOW= RES= flags
 *         URGP= [OPT (…)]; UDP: SPT= DPT= LEN=; ICMP: TYPE= CODE= [ID= SEQ=] [[SRC=… quoted packet ]])
 *   IPv6: … SRC= DST= LEN= TC= HOPLIMIT= FLOWLBL= [FRAG:n [INCOMPLETE] ID:x] PROTO=…
 * Fields before PROTO describe the IP header and after it the transport header; the same key can
 * appear in both (LEN, ID), so each is only taken at its own level. A field repeated at the same
 * level means two records were spliced together: rejected rather than guessed.
 */
import type { Ip } from '../../shared/ip.ts';
import { TcpFlag, type Framing, type PacketEvent, type ParseResult, type RejectReason, type Trust } from '../../shared/packet.ts';
import { canonicalAddress, keepSlice, keepString } from './address.ts';
import { parseBsdStamp, parseClfStamp, parseCtimeStamp, parseIsoStamp, parseSecondsMs, SyslogYear, timeEnd } from './time.ts';

export interface ParseOptions {
  /** Framing of the source; 'auto' (default) recognises it per line. A line of another framing is 'bad-framing'. */
  framing?: Framing | 'auto';
  /** Year of syslog lines whose stamp has none (`Nov 22 10:00:00`). Default: the current year. */
  year?: number;
  /**
   * The year of year-less stamps followed along a log read in order (New Year rollover); takes
   * precedence over `year`. The engine and the replay give one; a lone parse uses `year`.
   */
  syslogYear?: SyslogYear;
  /** Wall-clock ms of boot, to date kmsg/dmesg monotonic stamps. Without it those times are ms since boot. */
  bootTimeMs?: number;
  /**
   * Replay only (`portcullis replay --any-program`): a record another program wrote (syslog tag or
   * RFC 5424 app-name other than the kernel, a kmsg/journald record of another facility) that
   * carries netfilter LOG fields is read as a packet of trust 'spoofable' instead of refused as
   * 'untrusted-transport' — routers forward their netfilter log to a syslog server under tags of
   * their own. The live engine never sets it: there such a line is a forgery by a local user.
   */
  anyProgram?: boolean;
}

/** Longest record looked at; longer lines are refused before any scanning. */
export const MAX_RECORD_LENGTH = 8192;

const rejections = {} as Record<RejectReason, ParseResult>;
/** Shared, frozen rejection results: a rejected line allocates nothing. */
function reject(reason: RejectReason): ParseResult {
  return rejections[reason];
}
/** The shared rejection result for a reason (for the byte parser, parse/bytes.ts). */
export const rejection = reject;
for (const reason of ['empty', 'too-long', 'binary', 'not-firewall', 'truncated', 'bad-address', 'bad-field', 'bad-framing', 'untrusted-transport'] as const) {
  rejections[reason] = Object.freeze({ ok: false, reason }) as ParseResult;
}

let defaultYear = 0;
/** Year used for year-less syslog stamps when the caller gives none (the current year). */
export function defaultParseYear(): number {
  return currentYear();
}

/** The year of a year-less syslog stamp of `month` and `day` under these options. */
export function syslogYearOf(opts: ParseOptions | undefined, month: number, day: number): number {
  const y = opts?.syslogYear;
  return y !== undefined ? y.of(month, day) : (opts?.year ?? currentYear());
}
function currentYear(): number {
  // Only used when the caller gives no year for year-less syslog stamps.
  if (defaultYear === 0) defaultYear = new Date().getFullYear();
  return defaultYear;
}

// ---------------------------------------------------------------------------------------------
// Framing. Each framing reader fills the header variables below and returns the index where the
// kernel message starts (or a negative code). They are module scratch, overwritten per call and
// never exposed: every result object is fresh.
let hTime = 0;
let hTrust: Trust = 'kernel';
let hHost: string | undefined;
let hSeq: number | undefined;
/** For journald the message is not a slice of the line: it is decoded from JSON. */
let hText = '';
/** ParseOptions.anyProgram of the record being read. */
let hAnyProgram = false;

const NOT_KERNEL = -2; // the record is not from the kernel (syslog tag, kmsg facility, journald transport)
const BAD_FRAMING = -1;
const NOT_FIREWALL = -3;
const BINARY = -4;

/** Framing of one line by its first characters, or null. */
export function sniffFraming(line: string): Framing | null {
  const c = line.charCodeAt(0);
  if (c === 123) return 'journal'; // {
  if (c === 60) return 'syslog'; // <PRI>
  if (c === 91) return 'dmesg'; // [
  if (c >= 48 && c <= 57) {
    let p = 1;
    while (p < 24 && isDigit(line.charCodeAt(p))) p++;
    const next = line.charCodeAt(p);
    if (next === 44) return 'kmsg'; // prio,seq,usec,flags;msg
    if (next === 45 && p === 4) return 'syslog'; // 2026-11-22T…
    if (next === 32 && isDigit(line.charCodeAt(p + 1))) return 'pve'; // VMID LEVEL CHAIN DD/Mon/YYYY:…
    return null;
  }
  if (c >= 65 && c <= 90 && line.charCodeAt(3) === 32) {
    const d = line.charCodeAt(4);
    return d >= 65 && d <= 90 ? 'logread' : 'syslog'; // Sun Dec  6 … 2026 kern.warn  |  Nov 22 …
  }
  return null;
}

/** The framing most sample lines have (empty lines ignored), or null when none is recognised. */
export function detectFraming(sampleLines: string[]): Framing | null {
  const counts: Record<Framing, number> = { syslog: 0, kmsg: 0, journal: 0, dmesg: 0, pve: 0, logread: 0 };
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

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Does the rest of the text look like a netfilter LOG line? (decides untrusted-transport vs not-firewall) */
function looksLikeFirewall(s: string, p: number): boolean {
  return s.indexOf('SRC=', p) >= 0 || s.indexOf('IN=', p) >= 0;
}

/**
 * Untrusted record: 'untrusted-transport' when it imitates a firewall line, else just another
 * program's line. With anyProgram a line carrying LOG fields is read from `p` on, as 'spoofable'.
 */
function untrusted(s: string, p: number): number {
  if (!looksLikeFirewall(s, p)) return NOT_FIREWALL;
  if (!hAnyProgram) return NOT_KERNEL;
  hTrust = 'spoofable';
  return p;
}

function readSyslog(s: string, end: number, year: number | SyslogYear): number {
  let p = 0;
  let facility = 0;
  let rfc5424 = false;
  if (s.charCodeAt(0) === 60) {
    // <PRI> (RFC 5424 `<4>1 `, or a BSD line with its priority kept)
    let pri = 0;
    p = 1;
    while (p < 5 && isDigit(s.charCodeAt(p))) pri = pri * 10 + (s.charCodeAt(p++) - 48);
    if (p === 1 || s.charCodeAt(p) !== 62 || pri > 191) return BAD_FRAMING;
    facility = pri >> 3;
    p++;
    if (s.charCodeAt(p) === 49 && s.charCodeAt(p + 1) === 32) {
      rfc5424 = true;
      p += 2;
    }
  }
  const c = s.charCodeAt(p);
  if (isDigit(c)) hTime = parseIsoStamp(s, p);
  else if (c === 45 && rfc5424) return BAD_FRAMING; // nil timestamp: no event time
  else hTime = parseBsdStamp(s, p, year);
  if (Number.isNaN(hTime)) return BAD_FRAMING;
  // `dmesg --time-format iso` writes `2026-11-29T10:00:00,123456+00:00 msg`: the kernel's message
  // right after the stamp, no host or tag (a comma before the fraction, where syslog writers put a
  // dot). Its lines were read as another program's ("untrusted-transport"), which suggested forgery.
  const dmesgIso = !rfc5424 && isDigit(c) && s.charCodeAt(p + 19) === 44;
  p = timeEnd;
  if (s.charCodeAt(p) !== 32) return BAD_FRAMING;
  p++;
  if (dmesgIso) {
    hHost = undefined;
    hTrust = 'spoofable'; // dmesg text carries no facility
    return p;
  }
  let hostEnd = p;
  while (hostEnd < end && s.charCodeAt(hostEnd) !== 32) hostEnd++;
  if (hostEnd >= end || hostEnd === p) return BAD_FRAMING;
  hHost = keepSlice(s, p, hostEnd);
  p = hostEnd + 1;
  hTrust = 'spoofable';
  if (rfc5424) {
    // APP-NAME PROCID MSGID STRUCTURED-DATA MSG
    const appEnd = s.indexOf(' ', p);
    if (appEnd < 0 || appEnd >= end) return BAD_FRAMING;
    const isKernel = appEnd - p === 6 && s.startsWith('kernel', p);
    p = appEnd + 1;
    for (let field = 0; field < 2; field++) {
      const e = s.indexOf(' ', p);
      if (e < 0 || e >= end) return BAD_FRAMING;
      p = e + 1;
    }
    p = skipStructuredData(s, p, end);
    if (p < 0) return BAD_FRAMING;
    if (s.charCodeAt(p) === 32) p++;
    if (s.startsWith('\uFEFF', p)) p++; // BOM before a UTF-8 MSG
    if (!isKernel || facility !== 0) return untrusted(s, p);
    return p;
  }
  // BSD: the program tag must be exactly "kernel:" — anything else could be `logger`.
  if (!isWord(s, p, 'kernel:') || facility !== 0) return untrusted(s, hAnyProgram ? afterTag(s, p, end) : p);
  return p + 7;
}

/**
 * Where the message starts after a BSD syslog tag (`firewall:`, `fw[123]:`, `kernel:`) at p — a
 * word ending in ':' with no '=' in it; a line without a tag (some routers send none) starts at p.
 */
function afterTag(s: string, p: number, end: number): number {
  for (let i = p; i < end && i < p + 48; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 61) return p;
    if (c === 58 && (i + 1 === end || s.charCodeAt(i + 1) === 32)) return i + 1;
  }
  return p;
}

/**
 * Proxmox VE firewall log (/var/log/pve-firewall.log, written by pvefw-logger):
 * `VMID LEVEL CHAIN DD/Mon/YYYY:HH:MM:SS +ZZZZ policy DROP: IN=… SRC=…` (VMID 0 is the host, the
 * chain `-` for a policy). Written by a daemon from NFLOG, not the kernel ring: 'spoofable'.
 */
function readPve(s: string, end: number): number {
  let p = 0;
  while (p < 10 && isDigit(s.charCodeAt(p))) p++;
  if (p === 0 || s.charCodeAt(p) !== 32) return BAD_FRAMING;
  p++;
  const levelStart = p;
  while (p < levelStart + 2 && isDigit(s.charCodeAt(p))) p++;
  if (p === levelStart || s.charCodeAt(p) !== 32) return BAD_FRAMING;
  p++;
  const chainEnd = s.indexOf(' ', p);
  if (chainEnd <= p || chainEnd >= end) return BAD_FRAMING;
  p = chainEnd + 1;
  hTime = parseClfStamp(s, p);
  if (Number.isNaN(hTime)) return BAD_FRAMING;
  p = timeEnd;
  if (s.charCodeAt(p) !== 32) return BAD_FRAMING;
  hHost = undefined;
  hTrust = 'spoofable';
  return p + 1;
}

/**
 * OpenWrt `logread` (its ring buffer as the router prints it):
 * `Sun Dec  6 05:00:00 2026 kern.warn kernel: [12345.678901] DROP wan in: IN=…` — a ctime stamp
 * with the year, the facility.level, then the tag. Text copied off a router: 'spoofable'; the tag
 * must be the kernel's unless anyProgram.
 */
function readLogread(s: string, end: number): number {
  hTime = parseCtimeStamp(s, 0);
  if (Number.isNaN(hTime)) return BAD_FRAMING;
  let p = timeEnd;
  if (s.charCodeAt(p) !== 32) return BAD_FRAMING;
  p++;
  const levelEnd = s.indexOf(' ', p);
  if (levelEnd <= p || levelEnd >= end || s.indexOf('.', p) > levelEnd || s.indexOf('.', p) < 0) return BAD_FRAMING;
  const kern = levelEnd - p > 5 && isWord(s, p, 'kern.');
  p = levelEnd + 1;
  hHost = undefined;
  hTrust = 'spoofable';
  if (!kern || !isWord(s, p, 'kernel:')) return untrusted(s, hAnyProgram ? afterTag(s, p, end) : p);
  return p + 7;
}

/** Index after RFC 5424 STRUCTURED-DATA (`-` or `[id k="v"]…`), or -1. */
function skipStructuredData(s: string, p: number, end: number): number {
  if (s.charCodeAt(p) === 45) return p + 1;
  if (s.charCodeAt(p) !== 91) return -1;
  while (p < end && s.charCodeAt(p) === 91) {
    let inQuotes = false;
    p++;
    while (p < end) {
      const c = s.charCodeAt(p);
      if (c === 92 && inQuotes) p += 2;
      else if (c === 34) {
        inQuotes = !inQuotes;
        p++;
      } else if (c === 93 && !inQuotes) break;
      else p++;
    }
    if (p >= end) return -1;
    p++;
  }
  return p;
}

function readKmsg(s: string, end: number, bootTimeMs: number): number {
  // prio,seq,usec,flags[,more…];message
  let p = 0;
  let prio = 0;
  while (p < 4 && isDigit(s.charCodeAt(p))) prio = prio * 10 + (s.charCodeAt(p++) - 48);
  if (p === 0 || s.charCodeAt(p) !== 44) return BAD_FRAMING;
  p++;
  let seq = 0;
  const seqStart = p;
  while (p < end && isDigit(s.charCodeAt(p))) seq = seq * 10 + (s.charCodeAt(p++) - 48);
  if (p === seqStart || p - seqStart > 15 || s.charCodeAt(p) !== 44) return BAD_FRAMING;
  p++;
  let usec = 0;
  const usecStart = p;
  while (p < end && isDigit(s.charCodeAt(p))) usec = usec * 10 + (s.charCodeAt(p++) - 48);
  if (p === usecStart || p - usecStart > 15 || s.charCodeAt(p) !== 44) return BAD_FRAMING;
  const semi = s.indexOf(';', p);
  if (semi < 0 || semi >= end) return BAD_FRAMING;
  hSeq = seq;
  hTime = bootTimeMs + usec / 1000;
  hTrust = 'kernel';
  hHost = undefined;
  // Facility 0 is the kernel; userspace writing to /dev/kmsg gets facility 1 (user) or its own.
  if (prio >> 3 !== 0) return untrusted(s, semi + 1);
  return semi + 1;
}

function readDmesg(s: string, end: number, bootTimeMs: number): number {
  // `[  163.052311] msg` or `dmesg -T`: `[Sun Nov 22 10:00:00 2026] msg`
  const c = s.charCodeAt(1);
  if (c >= 65 && c <= 90) hTime = parseCtimeStamp(s, 1);
  else {
    const ms = parseSecondsMs(s, 1, end);
    hTime = bootTimeMs + ms;
  }
  if (Number.isNaN(hTime) || s.charCodeAt(timeEnd) !== 93) return BAD_FRAMING;
  // dmesg text carries no facility: a userspace write to /dev/kmsg looks the same.
  hTrust = 'spoofable';
  hHost = undefined;
  // `journalctl -k -o short-monotonic` writes the same stamp, then the journal's host and tag:
  // `[  163.052311] host kernel: msg`. Without this the prefix read `host kernel: [UFW BLOCK]`
  // and no record counted.
  const p = timeEnd + 2;
  if (s.charCodeAt(p - 1) === 32) {
    let q = p;
    while (q < end && s.charCodeAt(q) > 32 && s.charCodeAt(q) < 127) q++;
    if (q > p && s.startsWith(' kernel: ', q)) {
      hHost = keepSlice(s, p, q);
      return q + 9;
    }
  }
  return timeEnd + 1;
}

const utf8 = new TextDecoder('utf-8');

function readJournal(s: string, end: number): number {
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
  if (typeof realtime !== 'string' || !/^\d{1,17}$/.test(realtime)) return BAD_FRAMING;
  const usec = Number(realtime);
  hTime = usec / 1000;
  const hostname = record['_HOSTNAME'];
  hHost = typeof hostname === 'string' && hostname.length > 0 ? keepString(hostname) : undefined;
  hTrust = 'kernel';
  hText = text;
  if (text.indexOf('\u0000') >= 0 || text.indexOf('\uFFFD') >= 0) return BINARY;
  // _TRANSPORT is set by journald itself (trusted field): only 'kernel' came from the kernel ring.
  if (record['_TRANSPORT'] !== 'kernel') return untrusted(text, 0);
  // …but journald files what userspace writes into /dev/kmsg under _TRANSPORT=kernel too (measured:
  // `echo "<4>[UFW BLOCK] SRC=…" > /dev/kmsg` arrives with SYSLOG_FACILITY=1). Only facility 0 is the kernel's.
  const facility = record['SYSLOG_FACILITY'];
  if (facility !== undefined && facility !== '0' && facility !== 0) return untrusted(text, 0);
  return 0;
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

// ---------------------------------------------------------------------------------------------

/** Parse one record. Never throws: bad input is a rejection with a reason. */
export function parseRecord(line: string, opts?: ParseOptions): ParseResult {
  if (typeof line !== 'string') return reject('binary');
  const n = line.length;
  if (n === 0) return reject('empty');
  if (n > MAX_RECORD_LENGTH) return reject('too-long');
  let end = n;
  while (end > 0) {
    const c = line.charCodeAt(end - 1);
    if (c === 10 || c === 13 || c === 32 || c === 9) end--;
    else break;
  }
  if (end === 0) return reject('empty');
  // NUL, a bare CR inside the record, or bytes that were not UTF-8 (decoded as U+FFFD) are
  // 'binary': checked while the fields are scanned (a whole-line search per check costs more
  // than parsing), and on the rejection paths below.

  const wanted = opts?.framing;
  let framing: Framing | null = wanted === undefined || wanted === 'auto' ? sniffFraming(line) : wanted;
  if (framing === null) {
    // A continuation line of /dev/kmsg (` SUBSYSTEM=…`) or any other text without a known framing.
    if (hasBinary(line)) return reject('binary');
    return reject(line.charCodeAt(0) === 32 ? 'not-firewall' : 'bad-framing');
  }
  const bootTimeMs = opts?.bootTimeMs ?? 0;
  hSeq = undefined;
  hHost = undefined;
  hAnyProgram = opts?.anyProgram === true;
  let text = line;
  let start: number;
  switch (framing) {
    case 'syslog':
      start = readSyslog(line, end, opts?.syslogYear ?? opts?.year ?? currentYear());
      break;
    case 'kmsg':
      if (line.charCodeAt(0) === 32) return reject('not-firewall');
      start = readKmsg(line, end, bootTimeMs);
      break;
    case 'dmesg':
      start = line.charCodeAt(0) === 91 ? readDmesg(line, end, bootTimeMs) : BAD_FRAMING;
      break;
    case 'journal':
      start = line.charCodeAt(0) === 123 ? readJournal(line, end) : BAD_FRAMING;
      if (start >= 0) {
        text = hText;
        end = text.length;
        while (end > 0 && (text.charCodeAt(end - 1) <= 32)) end--;
      }
      break;
    case 'pve':
      start = readPve(line, end);
      break;
    case 'logread':
      start = readLogread(line, end);
      break;
    default:
      framing = null;
      start = BAD_FRAMING;
  }
  if (start < 0 || framing === null) {
    if (start === NOT_KERNEL) return reject('untrusted-transport');
    if (start === BINARY || hasBinary(text)) return reject('binary');
    if (start === NOT_FIREWALL) return reject('not-firewall');
    return reject('bad-framing');
  }
  if (text.length > MAX_RECORD_LENGTH) return reject('too-long');
  return parseMessage(text, start, end, framing);
}

// ---------------------------------------------------------------------------------------------
// The netfilter LOG message.

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

/** Parse a decimal number in s[a, b) not above max, or -1. */
function uint(s: string, a: number, b: number, max: number): number {
  if (a >= b || b - a > 10) return -1;
  let v = 0;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v > max ? -1 : v;
}

// Key comparisons by character code: String#startsWith is a runtime call that costs more than
// the whole comparison (measured: ~30 ns for 5 characters, ~180 ns for 41).
function is2(s: string, p: number, a: number, b: number): boolean {
  return s.charCodeAt(p) === a && s.charCodeAt(p + 1) === b;
}
function is3(s: string, p: number, a: number, b: number, c: number): boolean {
  return s.charCodeAt(p) === a && s.charCodeAt(p + 1) === b && s.charCodeAt(p + 2) === c;
}
function is4(s: string, p: number, a: number, b: number, c: number, d: number): boolean {
  return s.charCodeAt(p) === a && s.charCodeAt(p + 1) === b && s.charCodeAt(p + 2) === c && s.charCodeAt(p + 3) === d;
}
/** Compare s at p with a constant word (used off the per-token path). */
function isWord(s: string, p: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (s.charCodeAt(p + i) !== word.charCodeAt(i)) return false;
  return true;
}

/** Index of the `]` closing the `[` at p (nesting allowed), or -1. */
function closingBracket(s: string, p: number, end: number): number {
  let depth = 0;
  for (let i = p; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 91) depth++;
    else if (c === 93 && --depth === 0) return i;
  }
  return -1;
}

/** Index of `)` from p, or -1. */
function closingParen(s: string, p: number, end: number): number {
  for (let i = p; i < end; i++) if (s.charCodeAt(i) === 41) return i;
  return -1;
}

function protoName(s: string, a: number, b: number): string | null {
  const len = b - a;
  if (len === 3 && is3(s, a, 84, 67, 80)) return 'TCP';
  if (len === 3 && is3(s, a, 85, 68, 80)) return 'UDP';
  if (len === 4 && is4(s, a, 73, 67, 77, 80)) return 'ICMP';
  if (len === 6 && is4(s, a, 73, 67, 77, 80) && is2(s, a + 4, 118, 54)) return 'ICMPv6';
  if (len === 0 || len > 16) return null;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122))) return null;
  }
  return s.slice(a, b);
}

/**
 * Where the fields start: the `IN=` that is followed (after its value) by ` OUT=`; -1 no IN= at all, -2 none valid.
 * One pass: every `IN=` inside a failed candidate's value ends at the same blank and fails the same
 * way, so the search goes on after that value (resuming at `i + 3` made `IN=IN=IN=…` quadratic).
 */
function findInField(s: string, p: number, end: number): number {
  let from = p;
  for (;;) {
    const i = s.indexOf('IN=', from);
    if (i < 0 || i >= end) return from === p ? -1 : -2;
    let v = i + 3;
    while (v < end && s.charCodeAt(v) !== 32) v++;
    if (v + 5 <= end && is4(s, v + 1, 79, 85, 84, 61)) return i;
    from = v;
  }
}

/** A line that starts like a LOG line but stops before its OUT= field was written. */
function cutBeforeOut(s: string, p: number, end: number): boolean {
  const i = s.lastIndexOf('IN=', end);
  if (i < p) return false;
  const v = s.indexOf(' ', i + 3);
  if (v < 0 || v >= end) return true; // the line ends inside the IN value
  return 'OUT='.startsWith(s.slice(v + 1, end)); // …or inside the word OUT=
}

/** Reason for a line that has no LOG fields: garbage bytes say 'binary', anything else 'not-firewall'. */
function notFirewall(s: string): ParseResult {
  return reject(hasBinary(s) ? 'binary' : 'not-firewall');
}
function hasBinary(s: string): boolean {
  return s.indexOf('\u0000') >= 0 || s.indexOf('\uFFFD') >= 0;
}

// ---------------------------------------------------------------------------------------------
// Fast path. Nearly every firewall line is one of a few exact layouts the kernel prints (IPv4 or
// IPv6 header without options or fragments, then TCP without SEQ/OPT, UDP, or ICMP without a
// quoted packet). One sticky regex recognises those layouts and captures their fields: irregexp
// runs as native code, several times faster than walking the line with charCodeAt in JS (measured
// on this machine: ~1.1 ns per character for a plain JS charCodeAt loop, 3.4 ns on sliced
// strings, vs ~0.4 µs for the whole line through this regex). Its character classes exclude
// control characters, U+FFFD and '=' inside values, so a line it accepts needs no 'binary' check.
// Anything it does not match exactly — or that would fail a range check — is left to the full
// parser below, so the two can only agree: a differential test compares them on generated logs.

const FAST_MESSAGE = new RegExp(
  // 1 prefix, 2 IN, 3 OUT, 4 MAC
  '([^\\x00-\\x1f=\\ufffd]*?)IN=([\\x21-\\x3c\\x3e-\\x7e]*) OUT=([\\x21-\\x3c\\x3e-\\x7e]*) +(?:MAC=([0-9a-fA-F:]*) +)?SRC=(?:' +
    // IPv4: 5 SRC, 6 DST, 7 LEN, 8 TTL, 9 ID, 10 DF
    '([0-9.]{7,15}) +DST=([0-9.]{7,15}) +LEN=(\\d{1,5}) +TOS=0x[0-9A-Fa-f]{2} +PREC=0x[0-9A-Fa-f]{2} +TTL=(\\d{1,3}) +ID=(\\d{1,5}) +(?:CE +)?(DF +)?' +
    // IPv6: 11 SRC, 12 DST, 13 LEN, 14 HOPLIMIT
    '|([0-9a-fA-F:]{2,39}) +DST=([0-9a-fA-F:]{2,39}) +LEN=(\\d{1,5}) +TC=\\d{1,3} +HOPLIMIT=(\\d{1,3}) +FLOWLBL=\\d{1,7} +' +
    // TCP: 15 SPT, 16 DPT, 17 WINDOW, 18 flags, 19 URGP
    ')PROTO=(?:TCP +SPT=(\\d{1,5}) +DPT=(\\d{1,5}) +WINDOW=(\\d{1,5}) +RES=0x[0-9A-Fa-f]{2} +((?:(?:CWR|ECE|URG|ACK|PSH|RST|SYN|FIN) +)*)URGP=(\\d{1,5})' +
    // UDP: 20 SPT, 21 DPT, 22 LEN
    '|UDP +SPT=(\\d{1,5}) +DPT=(\\d{1,5}) +LEN=(\\d{1,5})' +
    // ICMP: 23 name, 24 TYPE, 25 CODE
    '|(ICMP(?:v6)?) +TYPE=(\\d{1,3}) +CODE=(\\d{1,3})(?: +ID=\\d{1,5} +SEQ=\\d{1,5})?' +
    ')[ \\t\\r\\n]*$',
  'y',
);

/** Off only for parseRecordReference (the differential test's reference). */
let fastPathEnabled = true;

/** Same result as parseRecord, computed without the fast path: the reference the fast path is tested against. */
export function parseRecordReference(line: string, opts?: ParseOptions): ParseResult {
  fastPathEnabled = false;
  const r = parseRecord(line, opts);
  fastPathEnabled = true;
  return r;
}

/** Bits of the TCP flag words captured by the fast path (`SYN ACK `), or -1 when one repeats. */
function tcpFlagBits(words: string): number {
  let flags = 0;
  for (let i = 0; i + 2 < words.length; i++) {
    if (words.charCodeAt(i) === 32) continue;
    const a = words.charCodeAt(i);
    const b = words.charCodeAt(i + 1);
    let bit: number;
    if (a === 83) bit = TcpFlag.SYN;
    else if (a === 70) bit = TcpFlag.FIN;
    else if (a === 80) bit = TcpFlag.PSH;
    else if (a === 67) bit = TcpFlag.CWR;
    else if (a === 69) bit = TcpFlag.ECE;
    else if (a === 82) bit = TcpFlag.RST;
    else bit = b === 67 ? TcpFlag.ACK : TcpFlag.URG; // ACK / URG
    if (flags & bit) return -1;
    flags |= bit;
    i += 2;
  }
  return flags;
}

/** The fast path: a packet for the common layouts, or null to let the full parser decide. */
function parseCommonMessage(s: string, p: number, end: number, framing: Framing): ParseResult | null {
  // Past `end` there is only trailing blank space (which the regex allows), or for journal
  // messages other control characters (which it refuses): matching on the whole string is the same.
  FAST_MESSAGE.lastIndex = p;
  const m = FAST_MESSAGE.exec(s);
  if (m === null) return null;
  // Prefix as the full parser trims it: blanks, then one pair of brackets, then blanks inside.
  const raw = m[1]!;
  let a = 0;
  let b = raw.length;
  while (b > a && raw.charCodeAt(b - 1) === 32) b--;
  if (b > a && raw.charCodeAt(a) === 91 && raw.charCodeAt(b - 1) === 93) {
    a++;
    b--;
    while (a < b && raw.charCodeAt(a) === 32) a++;
    while (b > a && raw.charCodeAt(b - 1) === 32) b--;
  }
  const v4 = m[5] !== undefined;
  const srcText = v4 ? m[5]! : m[11]!;
  const dstText = v4 ? m[6]! : m[12]!;
  const src = canonicalAddress(srcText, 0, srcText.length);
  const dst = canonicalAddress(dstText, 0, dstText.length);
  if (src === null || dst === null) return null;
  const family = src.indexOf(':') >= 0 ? 6 : 4;
  if ((dst.indexOf(':') >= 0 ? 6 : 4) !== family) return null;
  const len = +(v4 ? m[7]! : m[13]!);
  const ttl = +(v4 ? m[8]! : m[14]!);
  const id = v4 ? +m[9]! : undefined;
  if (len > 65535 + 40 || ttl > 255 || (id !== undefined && id > 65535)) return null;
  let proto: string;
  let spt: number | undefined;
  let dpt: number | undefined;
  let icmpType: number | undefined;
  let icmpCode: number | undefined;
  let tcpFlags: number | undefined;
  let window: number | undefined;
  if (m[15] !== undefined) {
    proto = 'TCP';
    spt = +m[15];
    dpt = +m[16]!;
    window = +m[17]!;
    tcpFlags = tcpFlagBits(m[18]!);
    if (spt > 65535 || dpt > 65535 || window > 65535 || +m[19]! > 65535 || tcpFlags < 0) return null;
  } else if (m[20] !== undefined) {
    proto = 'UDP';
    spt = +m[20];
    dpt = +m[21]!;
    if (spt > 65535 || dpt > 65535 || +m[22]! > 65535) return null;
  } else {
    proto = m[23]!.length === 4 ? 'ICMP' : 'ICMPv6';
    icmpType = +m[24]!;
    icmpCode = +m[25]!;
    if (icmpType > 255 || icmpCode > 255) return null;
  }
  const mac = m[4];
  const packet: PacketEvent = {
    time: hTime,
    framing,
    trust: hTrust,
    seq: hSeq,
    host: hHost,
    prefix: keepSlice(raw, a, b),
    in: keepSlice(m[2]!, 0, m[2]!.length),
    out: keepSlice(m[3]!, 0, m[3]!.length),
    physIn: undefined,
    physOut: undefined,
    mac: mac === undefined ? undefined : keepSlice(mac, 0, mac.length),
    src,
    dst,
    family,
    len,
    ttl,
    id,
    df: family === 4 ? m[10] !== undefined : undefined,
    fragment: false,
    proto,
    spt,
    dpt,
    icmpType,
    icmpCode,
    tcpFlags,
    window,
    innerSrc: undefined,
    innerDst: undefined,
  };
  return { ok: true, packet };
}

function parseMessage(s: string, p: number, end: number, framing: Framing): ParseResult {
  while (p < end && s.charCodeAt(p) === 32) p++;
  // A kernel timestamp `[ 12345.678901] ` in front of the message (syslog lines from klogd).
  if (s.charCodeAt(p) === 91) {
    let q = p + 1;
    let digits = 0;
    for (; q < end; q++) {
      const c = s.charCodeAt(q);
      if (c >= 48 && c <= 57) digits++;
      else if (c !== 32 && c !== 46) break;
    }
    if (digits > 0 && s.charCodeAt(q) === 93) {
      p = q + 1;
      while (p < end && s.charCodeAt(p) === 32) p++;
    }
  }
  if (fastPathEnabled) {
    const fast = parseCommonMessage(s, p, end, framing);
    if (fast !== null) return fast;
  }
  const inAt = findInField(s, p, end);
  if (inAt < 0) {
    if (inAt === -2 && cutBeforeOut(s, p, end)) return reject('truncated');
    return notFirewall(s);
  }

  // Prefix: the text before IN=, without surrounding blanks and brackets.
  let a = p;
  let b = inAt;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 0xfffd) return reject('binary');
  }
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  if (b > a && s.charCodeAt(a) === 91 && s.charCodeAt(b - 1) === 93) {
    a++;
    b--;
    while (a < b && s.charCodeAt(a) === 32) a++;
    while (b > a && s.charCodeAt(b - 1) === 32) b--;
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
    if (c === 32) {
      q++;
      continue;
    }

    if (c === 91) {
      // `[SRC=… ]` quoted packet of an ICMP error, or `INCOMPLETE [n bytes]`
      const close = closingBracket(s, q, end);
      if (close < 0) return reject('truncated');
      if (is4(s, q + 1, 83, 82, 67, 61)) {
        if (seen & SEEN_INNER || proto === null) return reject('bad-field');
        seen |= SEEN_INNER;
        let se = q + 5;
        while (se < close && s.charCodeAt(se) !== 32) se++;
        if (se >= close) return reject('truncated');
        const is = canonicalAddress(s, q + 5, se);
        if (is === null) return reject('bad-address');
        innerSrc = is;
        if (is4(s, se + 1, 68, 83, 84, 61)) {
          let de = se + 5;
          while (de < close && s.charCodeAt(de) !== 32) de++;
          const idst = canonicalAddress(s, se + 5, de);
          if (idst === null) return reject('bad-address');
          innerDst = idst;
        }
      }
      q = close + 1;
      continue;
    }

    if (c === 77 && is4(s, q, 77, 65, 67, 61)) {
      // MAC= is long and never looked into: one native search to its end.
      if (seen & SEEN_MAC || proto !== null) return reject('bad-field');
      seen |= SEEN_MAC;
      let me = s.indexOf(' ', q + 4);
      if (me < 0 || me > end) me = end;
      mac = keepSlice(s, q + 4, me);
      q = me + 1;
      continue;
    }

    // One pass over the token: where it ends, where its '=' is, and no control characters.
    let eq = -1;
    let te = q;
    while (te < end) {
      const ch = s.charCodeAt(te);
      if (ch === 32) break;
      if (ch < 32 || ch === 0xfffd) return reject('binary');
      if (ch === 61 && eq < 0) eq = te;
      te++;
    }
    const tl = te - q;

    if (eq < 0) {
      // A bare word: IP flags before PROTO, TCP flags after it, OPT (…), INCOMPLETE, FRAG:n, ID:x.
      if (tl === 3 && is3(s, q, 79, 80, 84)) {
        // OPT (hex…)
        const close = closingParen(s, te, end);
        if (close < 0) return reject('truncated');
        q = close + 1;
        continue;
      }
      if (proto === null) {
        if (tl === 2 && is2(s, q, 68, 70)) df = true; // DF
        else if (tl === 2 && is2(s, q, 77, 70)) fragment = true; // MF
        else if (tl > 5 && is4(s, q, 70, 82, 65, 71) && s.charCodeAt(q + 4) === 58) fragment = true; // FRAG:n
      } else if (tl === 3 && proto === 'TCP') {
        let bit = 0;
        if (is3(s, q, 83, 89, 78)) bit = TcpFlag.SYN;
        else if (is3(s, q, 65, 67, 75)) bit = TcpFlag.ACK;
        else if (is3(s, q, 70, 73, 78)) bit = TcpFlag.FIN;
        else if (is3(s, q, 82, 83, 84)) bit = TcpFlag.RST;
        else if (is3(s, q, 80, 83, 72)) bit = TcpFlag.PSH;
        else if (is3(s, q, 85, 82, 71)) bit = TcpFlag.URG;
        else if (is3(s, q, 67, 87, 82)) bit = TcpFlag.CWR;
        else if (is3(s, q, 69, 67, 69)) bit = TcpFlag.ECE;
        if (bit !== 0) {
          // flags sit between RES= and URGP=; a flag after URGP= or twice is a spliced line
          if (seen & SEEN_URGP || flags & bit) return reject('bad-field');
          flags |= bit;
          seen |= SEEN_FLAGS;
        }
      } else if (tl === 10 && isWord(s, q, 'INCOMPLETE')) incomplete = true;
      q = te + 1;
      continue;
    }

    const kl = eq - q;
    const v = eq + 1;
    let bad = false;
    if (kl === 2 && c === 73 && s.charCodeAt(q + 1) === 78) {
      // IN= — the first one opens the record, a second one is another record spliced in
      if (q !== inAt) return reject('bad-field');
      inIf = keepSlice(s, v, te);
    } else if (kl === 3 && c === 79 && is2(s, q + 1, 85, 84)) {
      // OUT=
      if (seen & SEEN_OUT) return reject('bad-field');
      seen |= SEEN_OUT;
      outIf = keepSlice(s, v, te);
    } else if (proto === null) {
      // IP header fields
      switch (kl) {
        case 2:
          if (c === 73 && s.charCodeAt(q + 1) === 68) {
            // ID=
            if (seen & SEEN_ID) return reject('bad-field');
            seen |= SEEN_ID;
            id = uint(s, v, te, 65535);
            bad = id < 0;
          }
          break;
        case 3:
          if (c === 83 && is2(s, q + 1, 82, 67)) {
            // SRC=
            if (seen & SEEN_SRC) return reject('bad-field');
            seen |= SEEN_SRC;
            src = canonicalAddress(s, v, te);
            if (src === null) return reject(te === end ? 'truncated' : 'bad-address');
          } else if (c === 68 && is2(s, q + 1, 83, 84)) {
            // DST=
            if (seen & SEEN_DST) return reject('bad-field');
            seen |= SEEN_DST;
            dst = canonicalAddress(s, v, te);
            if (dst === null) return reject(te === end ? 'truncated' : 'bad-address');
            lastAddressAtEnd = te === end;
          } else if (c === 76 && is2(s, q + 1, 69, 78)) {
            // LEN=
            if (seen & SEEN_LEN) return reject('bad-field');
            seen |= SEEN_LEN;
            len = uint(s, v, te, 65535 + 40);
            bad = len < 0;
          } else if (c === 84 && is2(s, q + 1, 84, 76)) {
            // TTL=
            if (seen & SEEN_TTL) return reject('bad-field');
            seen |= SEEN_TTL;
            ttl = uint(s, v, te, 255);
            bad = ttl < 0;
          } else if (c === 77 && is2(s, q + 1, 65, 67)) {
            // MAC=
            if (seen & SEEN_MAC) return reject('bad-field');
            seen |= SEEN_MAC;
            mac = keepSlice(s, v, te);
          }
          break;
        case 4:
          if (is4(s, q, 70, 82, 65, 71)) fragment = fragment || uint(s, v, te, 65535) !== 0; // FRAG=
          break;
        case 5:
          if (is4(s, q, 80, 82, 79, 84) && s.charCodeAt(q + 4) === 79) {
            // PROTO=
            proto = protoName(s, v, te);
            if (proto === null) return reject(te === end ? 'truncated' : 'bad-field');
          }
          break;
        case 6:
          if (is4(s, q, 80, 72, 89, 83) && is2(s, q + 4, 73, 78)) {
            // PHYSIN=
            if (seen & SEEN_PHYSIN) return reject('bad-field');
            seen |= SEEN_PHYSIN;
            physIn = keepSlice(s, v, te);
          }
          break;
        case 7:
          if (is4(s, q, 80, 72, 89, 83) && is3(s, q + 4, 79, 85, 84)) {
            // PHYSOUT=
            if (seen & SEEN_PHYSOUT) return reject('bad-field');
            seen |= SEEN_PHYSOUT;
            physOut = keepSlice(s, v, te);
          }
          break;
        case 8:
          if (is4(s, q, 72, 79, 80, 76) && is4(s, q + 4, 73, 77, 73, 84)) {
            // HOPLIMIT=
            if (seen & SEEN_TTL) return reject('bad-field');
            seen |= SEEN_TTL;
            ttl = uint(s, v, te, 255);
            bad = ttl < 0;
          }
          break;
      }
    } else {
      // Transport header fields
      switch (kl) {
        case 3:
          if (c === 83 && is2(s, q + 1, 80, 84)) {
            // SPT=
            if (seen & SEEN_SPT) return reject('bad-field');
            seen |= SEEN_SPT;
            spt = uint(s, v, te, 65535);
            bad = spt < 0;
          } else if (c === 68 && is2(s, q + 1, 80, 84)) {
            // DPT=
            if (seen & SEEN_DPT) return reject('bad-field');
            seen |= SEEN_DPT;
            dpt = uint(s, v, te, 65535);
            bad = dpt < 0;
          } else if (c === 76 && is2(s, q + 1, 69, 78)) {
            // LEN= of UDP
            if (seen & SEEN_L4LEN) return reject('bad-field');
            seen |= SEEN_L4LEN;
            bad = uint(s, v, te, 65535) < 0;
          } else if ((c === 83 && is2(s, q + 1, 82, 67)) || (c === 68 && is2(s, q + 1, 83, 84))) {
            return reject('bad-field'); // SRC=/DST= outside brackets after PROTO: another record spliced in
          }
          break;
        case 4:
          if (c === 84 && is3(s, q + 1, 89, 80, 69)) {
            // TYPE=
            if (seen & SEEN_TYPE) return reject('bad-field');
            seen |= SEEN_TYPE;
            icmpType = uint(s, v, te, 255);
            bad = icmpType < 0;
          } else if (c === 67 && is3(s, q + 1, 79, 68, 69)) {
            // CODE=
            if (seen & SEEN_CODE) return reject('bad-field');
            seen |= SEEN_CODE;
            icmpCode = uint(s, v, te, 255);
            bad = icmpCode < 0;
          } else if (c === 85 && is3(s, q + 1, 82, 71, 80)) {
            // URGP=
            if (seen & SEEN_URGP) return reject('bad-field');
            seen |= SEEN_URGP;
            bad = uint(s, v, te, 65535) < 0;
          }
          break;
        case 5:
          if (is4(s, q, 80, 82, 79, 84) && s.charCodeAt(q + 4) === 79) return reject('bad-field'); // PROTO= again
          break;
        case 6:
          if (is4(s, q, 87, 73, 78, 68) && is2(s, q + 4, 79, 87)) {
            // WINDOW=
            if (seen & SEEN_WINDOW) return reject('bad-field');
            seen |= SEEN_WINDOW;
            window = uint(s, v, te, 65535);
            bad = window < 0;
          }
          break;
      }
    }
    // A number cut at the end of the line is a truncation, anywhere else a malformed field.
    if (bad) return reject(te === end ? 'truncated' : 'bad-field');
    q = te + 1;
  }

  if (src === null || dst === null) return reject('truncated');
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
  if (proto === 'TCP') {
    if (headerExpected) {
      if (!(seen & SEEN_SPT) || !(seen & SEEN_DPT) || !(seen & SEEN_URGP)) return reject('truncated');
      tcpFlags = flags;
    }
  } else if (proto === 'UDP' || proto === 'UDPLITE') {
    if (headerExpected && (!(seen & SEEN_SPT) || !(seen & SEEN_DPT) || !(seen & SEEN_L4LEN))) return reject('truncated');
  } else if (proto === 'ICMP' || proto === 'ICMPv6') {
    if (headerExpected && (!(seen & SEEN_TYPE) || !(seen & SEEN_CODE))) return reject('truncated');
  }

  const packet: PacketEvent = {
    time: hTime,
    framing,
    trust: hTrust,
    seq: hSeq,
    host: hHost,
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
  };
  return { ok: true, packet };
}
