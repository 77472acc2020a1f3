/**
 * Timestamps of the record framings, parsed by hand (no Date.parse of arbitrary text, no regex).
 * Every function returns NaN for text it does not understand; the caller turns that into a
 * 'bad-framing' rejection. Where a stamp ends goes into the caller's StampEnd (framing.ts's Frame),
 * so that the time can be returned without allocating a result.
 */
import {
  CH_0, CH_9, CH_COLON, CH_COMMA, CH_DASH, CH_DOT, CH_LOWER_T, CH_LOWER_Z, CH_PLUS, CH_SLASH, CH_SPACE, CH_UPPER_T, CH_UPPER_Z,
  MONTH_APR, MONTH_AUG, MONTH_DEC, MONTH_FEB, MONTH_JAN, MONTH_JUL, MONTH_JUN, MONTH_MAR, MONTH_MAY, MONTH_NOV, MONTH_OCT, MONTH_SEP,
} from './grammar.ts';

/** The caller's record of where the stamp it asked for ends (the index just after it). */
export interface StampEnd {
  stampEnd: number;
}

const MONTHS = [MONTH_JAN, MONTH_FEB, MONTH_MAR, MONTH_APR, MONTH_MAY, MONTH_JUN, MONTH_JUL, MONTH_AUG, MONTH_SEP, MONTH_OCT, MONTH_NOV, MONTH_DEC].join('');

/** Month index 0–11 of a three-letter English month name at `p`, or -1. */
export function monthAt(s: string, p: number): number {
  const a = s.charCodeAt(p);
  const b = s.charCodeAt(p + 1);
  const c = s.charCodeAt(p + 2);
  for (let m = 0; m < 12; m++) {
    if (MONTHS.charCodeAt(m * 3) === a && MONTHS.charCodeAt(m * 3 + 1) === b && MONTHS.charCodeAt(m * 3 + 2) === c) return m;
  }
  return -1;
}

/** Decimal number of exactly `width` digits at `p`, or -1. */
export function digitsAt(s: string, p: number, width: number): number {
  let v = 0;
  for (let i = 0; i < width; i++) {
    const c = s.charCodeAt(p + i);
    if (c < CH_0 || c > CH_9) return -1;
    v = v * 10 + (c - CH_0);
  }
  return v;
}

// Local-time conversion is the slow part (time zone rules); lines come in order, so remember the
// last hour converted. DST changes happen on hour boundaries in practice.
let lastHourKey = -1;
let lastHourMs = 0;

/** Wall-clock ms of a local date and time (the host's time zone, like syslog and dmesg -T). */
export function localTime(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  if (month < 0 || month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return NaN;
  const key = ((year * 12 + month) * 32 + day) * 24 + hour;
  if (key !== lastHourKey) {
    const d = new Date(year, month, day, hour, 0, 0, 0);
    // No such day (Nov 31; Feb 29 of a common year): Date would roll it into the next month.
    if (d.getMonth() !== month) return NaN;
    lastHourMs = d.getTime();
    lastHourKey = key;
  }
  return lastHourMs + minute * 60_000 + second * 1000;
}

const DAY_MS = 86_400_000;

/**
 * The year of year-less syslog stamps (`Nov 22 10:00:00`) along one log read in order, the way
 * rsyslog and fail2ban date them: it steps forward when the month goes back by more than half a
 * year (Dec → Jan: the log crossed New Year) and back when it jumps forward as far (a late December
 * line just after New Year). Without a given year, the first stamp takes the year that does not put
 * it more than a day in the future of `now` (a December log read in January is last year's).
 * Without this, a log across New Year ran backwards in time and a live runner started in December
 * dated January's records a year early.
 */
export class SyslogYear {
  private month = -1;
  private year: number;
  private readonly given: boolean;
  private readonly now: () => number;

  constructor(year?: number, now: () => number = Date.now) {
    this.now = now;
    this.given = year !== undefined;
    this.year = year ?? 0;
  }

  /** The year of a stamp of `month` (0–11) and `day`, the next in the log. */
  of(month: number, day: number): number {
    const last = this.month;
    if (last < 0) {
      if (!this.given) {
        const now = this.now();
        const y = new Date(now).getFullYear();
        this.year = new Date(y, month, day).getTime() > now + DAY_MS ? y - 1 : y;
      }
    } else if (month < last - 6) this.year++;
    else if (month > last + 6) this.year--;
    this.month = month;
    return this.year;
  }
}

/**
 * BSD syslog stamp `Nov 22 10:00:00` (day may be space-padded: `Nov  2`) at `p`, in local time
 * of `year` (a number, or a SyslogYear that follows the log). Sets out.stampEnd to the index after the seconds.
 */
export function parseBsdStamp(s: string, p: number, year: number | SyslogYear, out: StampEnd): number {
  const month = monthAt(s, p);
  if (month < 0 || s.charCodeAt(p + 3) !== CH_SPACE) return NaN;
  const d1 = s.charCodeAt(p + 4);
  const d2 = s.charCodeAt(p + 5);
  if (d2 < CH_0 || d2 > CH_9) return NaN;
  const day = d1 === CH_SPACE ? d2 - CH_0 : d1 >= CH_0 && d1 <= CH_9 ? (d1 - CH_0) * 10 + (d2 - CH_0) : -1;
  if (day < 1 || s.charCodeAt(p + 6) !== CH_SPACE) return NaN;
  const t = parseClock(s, p + 7);
  if (Number.isNaN(t)) return NaN;
  out.stampEnd = p + 15;
  return localTime(typeof year === 'number' ? year : year.of(month, day), month, day, clockH, clockM, clockS);
}

let clockH = 0;
let clockM = 0;
let clockS = 0;

/** `hh:mm:ss` at `p` into clockH/M/S; returns 0 or NaN. */
function parseClock(s: string, p: number): number {
  clockH = digitsAt(s, p, 2);
  clockM = digitsAt(s, p + 3, 2);
  clockS = digitsAt(s, p + 6, 2);
  if (clockH < 0 || clockM < 0 || clockS < 0 || s.charCodeAt(p + 2) !== CH_COLON || s.charCodeAt(p + 5) !== CH_COLON) return NaN;
  return 0;
}

/**
 * RFC 3339 / ISO-8601 stamp `2026-11-22T10:00:00[.frac](Z|±hh:mm)` at `p` (a space instead of
 * 'T' is accepted; no zone means local time). Sets out.stampEnd.
 */
export function parseIsoStamp(s: string, p: number, out: StampEnd): number {
  const year = digitsAt(s, p, 4);
  const month = digitsAt(s, p + 5, 2);
  const day = digitsAt(s, p + 8, 2);
  const sep = s.charCodeAt(p + 10);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31) return NaN;
  if (s.charCodeAt(p + 4) !== CH_DASH || s.charCodeAt(p + 7) !== CH_DASH || (sep !== CH_UPPER_T && sep !== CH_SPACE && sep !== CH_LOWER_T)) return NaN;
  if (Number.isNaN(parseClock(s, p + 11))) return NaN;
  if (clockH > 23 || clockM > 59 || clockS > 60) return NaN;
  let q = p + 19;
  let micros = 0; // fraction as whole microseconds: one final division keeps results exact
  if (s.charCodeAt(q) === CH_DOT || s.charCodeAt(q) === CH_COMMA) {
    q = fractionMicros(s, q + 1, s.length);
    if (q < 0) return NaN;
    micros = fracMicros;
  }
  const z = s.charCodeAt(q);
  let offsetMs: number;
  if (z === CH_UPPER_Z || z === CH_LOWER_Z) {
    offsetMs = 0;
    q++;
  } else if (z === CH_PLUS || z === CH_DASH) {
    const oh = digitsAt(s, q + 1, 2);
    let om: number;
    if (s.charCodeAt(q + 3) === CH_COLON) {
      om = digitsAt(s, q + 4, 2);
      out.stampEnd = q + 6;
    } else {
      om = digitsAt(s, q + 3, 2);
      out.stampEnd = q + 5;
    }
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return NaN;
    offsetMs = (z === CH_PLUS ? 1 : -1) * (oh * 3_600_000 + om * 60_000);
    q = out.stampEnd;
  } else {
    out.stampEnd = q;
    return (localTime(year, month - 1, day, clockH, clockM, clockS) * 1000 + micros) / 1000;
  }
  out.stampEnd = q;
  return ((Date.UTC(year, month - 1, day, clockH, clockM, clockS) - offsetMs) * 1000 + micros) / 1000;
}

/**
 * `dmesg -T` stamp inside the brackets: `Sun Nov 22 10:00:00 2026` at `p` (local time). Sets
 * out.stampEnd.
 */
export function parseCtimeStamp(s: string, p: number, out: StampEnd): number {
  // weekday (3 letters) is not checked against the date: dmesg prints what the kernel computed.
  if (s.charCodeAt(p + 3) !== CH_SPACE) return NaN;
  const month = monthAt(s, p + 4);
  if (month < 0 || s.charCodeAt(p + 7) !== CH_SPACE) return NaN;
  const d1 = s.charCodeAt(p + 8);
  const d2 = s.charCodeAt(p + 9);
  if (d2 < CH_0 || d2 > CH_9) return NaN;
  const day = d1 === CH_SPACE ? d2 - CH_0 : d1 >= CH_0 && d1 <= CH_9 ? (d1 - CH_0) * 10 + (d2 - CH_0) : -1;
  if (day < 1 || s.charCodeAt(p + 10) !== CH_SPACE) return NaN;
  if (Number.isNaN(parseClock(s, p + 11))) return NaN;
  if (s.charCodeAt(p + 19) !== CH_SPACE) return NaN;
  const year = digitsAt(s, p + 20, 4);
  if (year < 0) return NaN;
  out.stampEnd = p + 24;
  return localTime(year, month, day, clockH, clockM, clockS);
}

/**
 * Seconds with a fraction (`163.052311`, leading blanks allowed) at `p`, as milliseconds; stops
 * at the first other character. Sets out.stampEnd.
 */
export function parseSecondsMs(s: string, p: number, end: number, out: StampEnd): number {
  while (p < end && s.charCodeAt(p) === CH_SPACE) p++;
  let whole = 0;
  let digits = 0;
  while (p < end) {
    const c = s.charCodeAt(p);
    if (c < CH_0 || c > CH_9) break;
    whole = whole * 10 + (c - CH_0);
    digits++;
    p++;
  }
  if (digits === 0 || digits > 10) return NaN;
  let micros = 0;
  if (s.charCodeAt(p) === CH_DOT) {
    p = fractionMicros(s, p + 1, end);
    if (p < 0) return NaN;
    micros = fracMicros;
  }
  out.stampEnd = p;
  return (whole * 1_000_000 + micros) / 1000;
}

let fracMicros = 0;

/** Digits of a fraction at `p` as microseconds (beyond 6 digits ignored) into fracMicros; index after, or -1. */
function fractionMicros(s: string, p: number, end: number): number {
  let value = 0;
  let digits = 0;
  while (p < end) {
    const c = s.charCodeAt(p);
    if (c < CH_0 || c > CH_9) break;
    if (digits < 6) value = value * 10 + (c - CH_0);
    digits++;
    p++;
  }
  if (digits === 0) return -1;
  for (let d = digits; d < 6; d++) value *= 10;
  fracMicros = value;
  return p;
}

/**
 * Common Log Format stamp `06/Dec/2026:05:00:00 +0100` at `p` (the Proxmox VE firewall log,
 * /var/log/pve-firewall.log): day/month/year, clock, then the numeric zone it was written in.
 * Sets out.stampEnd.
 */
export function parseClfStamp(s: string, p: number, out: StampEnd): number {
  const day = digitsAt(s, p, 2);
  const month = monthAt(s, p + 3);
  const year = digitsAt(s, p + 7, 4);
  if (day < 1 || day > 31 || month < 0 || year < 0 || s.charCodeAt(p + 2) !== CH_SLASH || s.charCodeAt(p + 6) !== CH_SLASH || s.charCodeAt(p + 11) !== CH_COLON) return NaN;
  if (Number.isNaN(parseClock(s, p + 12))) return NaN;
  if (clockH > 23 || clockM > 59 || clockS > 60 || s.charCodeAt(p + 20) !== CH_SPACE) return NaN;
  const sign = s.charCodeAt(p + 21);
  const zh = digitsAt(s, p + 22, 2);
  const zm = digitsAt(s, p + 24, 2);
  if ((sign !== CH_PLUS && sign !== CH_DASH) || zh < 0 || zh > 23 || zm < 0 || zm > 59) return NaN;
  const utc = Date.UTC(year, month, day, clockH, clockM, clockS);
  // No such day (31/Nov): Date.UTC would roll it into the next month.
  if (new Date(utc).getUTCDate() !== day) return NaN;
  out.stampEnd = p + 26;
  return utc - (sign === CH_PLUS ? 1 : -1) * (zh * 60 + zm) * 60_000;
}
