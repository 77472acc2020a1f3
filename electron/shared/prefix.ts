/**
 * Address prefixes as ban targets: the network of an address at a prefix length, in the one
 * canonical CIDR text (`2001:db8:1:2::/64`, `203.0.113.0/24`) that map keys, store rows, ipset and
 * ufw argv and the UI all share; and whether two CIDRs overlap. Without zod (the engine's hot path
 * and the replay worker load it), ipaddr.js only off the hot path.
 */
import ipaddr from 'ipaddr.js';
import { canonicalIp, ipv4Text, ipv6GroupsText } from './ip.ts';

/** Prefix lengths a prefix ban may have: IPv6 /48 to /128, IPv4 /16 to /32 (wider is not a scanner's network but an ISP's). */
export const V6_PREFIX_MIN = 48;
export const V4_PREFIX_MIN = 16;

const V4_MASKS = Array.from({ length: 33 }, (_, b) => (b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0));

/** A CIDR text (has a '/'), as opposed to a single address. */
export function isPrefixText(target: string): boolean {
  return target.indexOf('/') >= 0;
}

/** The /bits network of a 32-bit IPv4 value, as CIDR text. */
export function v4PrefixText(v4: number, bits: number): string {
  const n = (v4 & V4_MASKS[bits]!) >>> 0;
  return `${ipv4Text(n)}/${bits}`;
}

const groups = new Uint16Array(8);

/**
 * The /bits network of an IPv6 address given as four 32-bit words, as RFC 5952 text (lower-case
 * hex, no leading zeros, the longest run of two or more zero groups — the first of equals — as "::").
 */
export function v6PrefixText(words: ArrayLike<number>, bits: number): string {
  for (let w = 0; w < 4; w++) {
    const left = bits - 32 * w;
    const word = left >= 32 ? words[w]! : left <= 0 ? 0 : (words[w]! & V4_MASKS[left]!) >>> 0;
    groups[2 * w] = word >>> 16;
    groups[2 * w + 1] = word & 0xffff;
  }
  return `${ipv6GroupsText(groups)}/${bits}`;
}

/** The /bits network of an address (any spelling), as canonical CIDR text; null for a non-address. */
export function prefixOf(ip: string, bits: number): string | null {
  const canonical = canonicalIp(ip);
  if (canonical === null) return null;
  const addr = ipaddr.parse(canonical);
  if (addr.kind() === 'ipv4') {
    if (bits < 0 || bits > 32) return null;
    const o = (addr as ipaddr.IPv4).octets;
    return v4PrefixText(((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0, bits);
  }
  if (bits < 0 || bits > 128) return null;
  const p = (addr as ipaddr.IPv6).parts;
  const words = [0, 1, 2, 3].map((w) => ((p[2 * w]! << 16) | p[2 * w + 1]!) >>> 0);
  return v6PrefixText(words, bits);
}

/** A CIDR parsed once: its address and prefix length. */
export type ParsedCidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** [address, bits] of a CIDR text (an address alone: /32 or /128), or null. */
export function parseCidr(cidr: string): ParsedCidr | null {
  try {
    const slash = cidr.indexOf('/');
    if (slash < 0) {
      const ip = canonicalIp(cidr);
      if (ip === null) return null;
      const a = ipaddr.parse(ip);
      return [a, a.kind() === 'ipv4' ? 32 : 128];
    }
    const ip = canonicalIp(cidr.slice(0, slash));
    const bitsText = cidr.slice(slash + 1);
    if (ip === null || !/^\d{1,3}$/.test(bitsText)) return null;
    const a = ipaddr.parse(ip);
    const bits = Number(bitsText);
    return bits > (a.kind() === 'ipv4' ? 32 : 128) ? null : [a, bits];
  } catch {
    return null;
  }
}

/**
 * Whether a CIDR (or single address) holds `ip` (any spelling). False for text that is not one, or
 * for another family.
 */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const canonical = canonicalIp(ip);
  if (c === null || canonical === null) return false;
  const a = ipaddr.parse(canonical);
  return a.kind() === c[0].kind() && a.match(c[0], c[1]);
}

/**
 * Whether `outer` holds every address of `inner`: the same family, a prefix no longer than inner's,
 * and inner's network inside. The one range check for "already covered" (the whitelist form) and
 * "is one of these ranges" (never-ban.ts, which parses its ranges once).
 */
export function covers(outer: ParsedCidr, inner: ParsedCidr): boolean {
  return outer[0].kind() === inner[0].kind() && outer[1] <= inner[1] && inner[0].match(outer[0], outer[1]);
}

/** covers() on texts: false when either is not a CIDR or an address. */
export function cidrCovers(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  return o !== null && i !== null && covers(o, i);
}

/** Whether two CIDRs (or addresses) share any address: one holds the other's network. */
export function cidrsOverlap(x: string, y: string): boolean {
  const a = parseCidr(x);
  const b = parseCidr(y);
  if (a === null || b === null || a[0].kind() !== b[0].kind()) return false;
  const bits = Math.min(a[1], b[1]);
  return a[0].match(b[0], bits);
}
