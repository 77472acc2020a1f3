/**
 * The log parser: one framed log record in, a typed PacketEvent or a typed rejection out. It never
 * throws: bad input is a rejection with a reason.
 *
 * parseRecord is the parser every record can take, in two steps: framing.ts reads the header of the
 * record's framing (syslog, kmsg, journald JSON, dmesg, Proxmox, OpenWrt logread) into an explicit
 * Frame — time, trust, host, sequence number — and message.ts walks the netfilter LOG message once
 * with charCodeAt (no regex, no substring per field). Both spell the grammar with the names of
 * grammar.ts.
 *
 * The one other lane is the replay's WebAssembly fast lane (wasm/fastline.ts, driven by
 * fastline.ts and replay-parse.ts), which reads the common BSD syslog firewall line from bytes and
 * declines everything else to parseRecord; tests/engine/replay-parse.test.ts checks, line for line,
 * that it answers exactly what parseRecord answers.
 */
import type { Ip } from '../../shared/ip.ts';
import type { Framing, PacketEvent, ParseResult } from '../../shared/packet.ts';
import { BINARY, hasBinary, newFrame, NOT_FIREWALL, NOT_KERNEL, readFrame, sniffFraming } from './framing.ts';
import { CH_CR, CH_LF, CH_SPACE, CH_TAB, MAX_RECORD_LENGTH } from './grammar.ts';
import { parseMessage } from './message.ts';
import { reject } from './reject.ts';
import type { SyslogYear } from './time.ts';

export { detectFraming, sniffFraming } from './framing.ts';
export { MAX_RECORD_LENGTH } from './grammar.ts';

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
   * Replay only (`portcullis replay`, unless --kernel-only): a record another program wrote (syslog tag or
   * RFC 5424 app-name other than the kernel, a kmsg/journald record of another facility) that
   * carries netfilter LOG fields is read as a packet of trust 'spoofable' instead of refused as
   * 'untrusted-transport' — routers forward their netfilter log to a syslog server under tags of
   * their own. The live engine never sets it: there such a line is a forgery by a local user.
   */
  anyProgram?: boolean;
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

/** Parse one record. Never throws: bad input is a rejection with a reason. */
export function parseRecord(line: string, opts?: ParseOptions): ParseResult {
  if (typeof line !== 'string') return reject('binary');
  const n = line.length;
  if (n === 0) return reject('empty');
  if (n > MAX_RECORD_LENGTH) return reject('too-long');
  let end = n;
  while (end > 0) {
    const c = line.charCodeAt(end - 1);
    if (c === CH_LF || c === CH_CR || c === CH_SPACE || c === CH_TAB) end--;
    else break;
  }
  if (end === 0) return reject('empty');
  // NUL, a bare CR inside the record, or bytes that were not UTF-8 (decoded as U+FFFD) are
  // 'binary': checked while the fields are scanned (a whole-line search per check costs more
  // than parsing), and on the rejection paths below.

  const wanted = opts?.framing;
  const framing: Framing | null = wanted === undefined || wanted === 'auto' ? sniffFraming(line) : wanted;
  if (framing === null) {
    // A continuation line of /dev/kmsg (` SUBSYSTEM=…`) or any other text without a known framing.
    if (hasBinary(line)) return reject('binary');
    return reject(line.charCodeAt(0) === CH_SPACE ? 'not-firewall' : 'bad-framing');
  }
  if (framing === 'kmsg' && line.charCodeAt(0) === CH_SPACE) return reject('not-firewall');
  const frame = newFrame(line, end, opts?.anyProgram === true);
  const start = readFrame(line, framing, opts?.syslogYear ?? opts?.year ?? currentYear(), opts?.bootTimeMs ?? 0, frame);
  if (start < 0) {
    if (start === NOT_KERNEL) return reject('untrusted-transport');
    if (start === BINARY || hasBinary(line)) return reject('binary');
    if (start === NOT_FIREWALL) return reject('not-firewall');
    return reject('bad-framing');
  }
  if (frame.text.length > MAX_RECORD_LENGTH) return reject('too-long');
  return parseMessage(frame, start, framing);
}

/** The shared rejection result for a reason (the replay's parse stage writes the fast lane's). */
export { reject as rejection } from './reject.ts';

/** A packet with every field, in the order the parsers write them (one object shape for a reused packet). */
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
    guest: undefined,
  };
}
