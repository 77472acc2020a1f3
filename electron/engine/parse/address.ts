/**
 * Address canonicalisation on the parser's hot path. Same results as `canonicalIp` of
 * shared/domain.ts (a property test checks it), but without ipaddr.js objects per line:
 * IPv4 dotted quads are validated by hand (their text already is canonical), IPv6 — which
 * netfilter prints fully expanded (`%pI6`: 2001:0db8:0000:…) — is parsed into eight groups and
 * printed in RFC 5952 form by hand. Anything unusual (zone ids, odd forms) falls back to
 * canonicalIp, so the two can never disagree on what is valid.
 *
 * IPv6 results are cached (bounded) by raw text. Every string handed out is detached from the
 * line it came from: V8 makes substrings of 13+ characters "sliced strings" that keep their
 * parent (the whole decoded read chunk) alive, and the detector keeps addresses for a long time.
 */
import { canonicalIp, ipv6GroupsText, type Ip } from '../../shared/ip.ts';
import { CH_0, CH_9, CH_COLON, CH_DOT, CH_LOWER_A, CH_LOWER_F, CH_UPPER_A, CH_UPPER_F } from './grammar.ts';

/**
 * Bound of the IPv6 cache: when full it is simply cleared (cheap, and bounded). Kept small on
 * purpose: entries that survive young-generation GCs make V8 grow the young generation, which
 * costs more RSS than the cache saves in CPU.
 */
const IPV6_CACHE_MAX = 4_096;
const ipv6Cache = new Map<string, Ip>();

/**
 * A copy of `s` that does not share storage with the string it was cut from. Concatenation
 * builds a cons string that `slice` must flatten into a fresh buffer, so the result references
 * only that small buffer.
 */
export function detach(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

// Low-cardinality fields (prefix, host, interface, MAC) repeat line after line: a handful of
// recent values compared in place is cheaper than hashing them into a Map.
const recent: string[] = [];
let recentNext = 0;
const RECENT_MAX = 16;

/** Detached copy of `text[start, end)`, shared with earlier calls for the same recent value. */
export function keepSlice(text: string, start: number, end: number): string {
  const raw = text.slice(start, end);
  if (raw.length < 13) return raw; // V8 copies short substrings: nothing to detach
  // String equality is one native compare; startsWith(r, start) measured ~6x slower.
  for (let i = 0; i < recent.length; i++) if (recent[i] === raw) return recent[i]!;
  const kept = detach(raw);
  recent[recentNext] = kept;
  recentNext = (recentNext + 1) % RECENT_MAX;
  return kept;
}

/** Detached copy of a whole string (see keepSlice). */
export function keepString(s: string): string {
  return keepSlice(s, 0, s.length);
}

/** Canonical address of `text[start, end)`, or null when it is not an IPv4/IPv6 address. */
export function canonicalAddress(text: string, start: number, end: number): Ip | null {
  if (isDottedQuad(text, start, end)) {
    // The kernel's dotted quad already is the canonical text.
    return (end - start < 13 ? text.slice(start, end) : detach(text.slice(start, end))) as Ip;
  }
  const raw = text.slice(start, end);
  if (raw.indexOf(':') < 0) return null;
  const hit = ipv6Cache.get(raw);
  if (hit !== undefined) return hit;
  const canonical = canonicalIpv6(raw);
  if (canonical === null) return null; // invalid text is not cached: garbage must not evict real sources
  const value = (canonical === raw ? detach(raw) : canonical) as Ip;
  if (ipv6Cache.size >= IPV6_CACHE_MAX) ipv6Cache.clear();
  ipv6Cache.set(detach(raw), value);
  return value;
}

/** Four decimal parts 0–255 without leading zeros (what the kernel prints, what canonicalIp accepts). */
export function isDottedQuad(s: string, start: number, end: number): boolean {
  return dottedQuadValue(s, start, end) >= 0;
}

/**
 * The 32-bit value of the dotted quad `s[start, end)` (isDottedQuad's form), or -1: what the
 * tracker's IPv4 table is keyed by, and what a replay record carries for an IPv4 source.
 */
export function dottedQuadValue(s: string, start: number, end: number): number {
  let parts = 0;
  let key = 0;
  let p = start;
  while (p < end) {
    const first = s.charCodeAt(p);
    if (first < CH_0 || first > CH_9) return -1;
    let value = first - CH_0;
    let q = p + 1;
    while (q < end) {
      const c = s.charCodeAt(q);
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
    if (p === end) return -1; // trailing dot
  }
  return -1;
}

/** The 32-bit value of an IPv4 address's text, or -1 for anything else (IPv6 included). */
export function ipv4Value(ip: string): number {
  return dottedQuadValue(ip, 0, ip.length);
}

const groups = new Uint16Array(8); // scratch, never escapes

/** RFC 5952 text of an IPv6 address (IPv4-mapped unwrapped to IPv4), or null. */
export function canonicalIpv6(s: string): Ip | null {
  const n = s.length;
  if (n < 2 || n > 45) return n > 45 ? null : (canonicalIp(s) as Ip | null);
  // Fast path: hex groups separated by ':', at most one '::', no embedded IPv4, no zone id.
  let count = 0;
  let gap = -1; // index in groups where '::' stands
  let p = 0;
  if (s.charCodeAt(0) === CH_COLON) {
    if (s.charCodeAt(1) !== CH_COLON) return null;
    gap = 0;
    p = 2;
    if (p === n) return '::' as Ip;
  }
  while (p < n) {
    let value = 0;
    let digits = 0;
    while (p < n) {
      const c = s.charCodeAt(p);
      let d: number;
      if (c >= CH_0 && c <= CH_9) d = c - CH_0;
      else if (c >= CH_LOWER_A && c <= CH_LOWER_F) d = c - CH_LOWER_A + 10;
      else if (c >= CH_UPPER_A && c <= CH_UPPER_F) d = c - CH_UPPER_A + 10;
      else break;
      value = (value << 4) | d;
      digits++;
      p++;
    }
    if (digits === 0 || digits > 4 || count === 8) return slowCanonical(s);
    groups[count++] = value;
    if (p === n) break;
    if (s.charCodeAt(p) !== CH_COLON) return slowCanonical(s); // '.', '%' or garbage: let ipaddr.js decide
    p++;
    if (p < n && s.charCodeAt(p) === CH_COLON) {
      if (gap >= 0) return null;
      gap = count;
      p++;
      if (p === n) break;
    } else if (p === n) return null; // trailing single ':'
  }
  if (gap < 0) {
    if (count !== 8) return null;
  } else {
    if (count > 7) return null;
    const shift = 8 - count;
    for (let i = count - 1; i >= gap; i--) groups[i + shift] = groups[i]!;
    for (let i = gap; i < gap + shift; i++) groups[i] = 0;
  }
  return formatIpv6();
}

function slowCanonical(s: string): Ip | null {
  return canonicalIp(s);
}


function formatIpv6(): Ip {
  const g = groups;
  // IPv4-mapped (::ffff:a.b.c.d) is the IPv4 host, as canonicalIp says.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}` as Ip;
  }
  return ipv6GroupsText(g) as Ip;
}
