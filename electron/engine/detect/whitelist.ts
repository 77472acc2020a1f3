/**
 * The whitelist: addresses that are never counted and never banned (seed mistake 5: a spoofed scan
 * "from" the gateway or from this host must not cut the host off).
 *
 * Entries are parsed once with ipaddr.js; matching runs per probe, so it avoids ipaddr.js there:
 * - an exact-address Set (canonical text) answers /32, /128 entries and repeat lookups at once;
 * - IPv4: the address as a 32-bit integer, one Set of masked networks per prefix length in use;
 * - IPv6: four 32-bit words, one Set of masked-network keys per prefix length in use.
 * A lookup is therefore one string-Set probe plus one integer/short-key probe per distinct prefix
 * length (a handful), whatever the number of entries.
 */
import ipaddr from 'ipaddr.js';
import { canonicalCidr, canonicalIp } from '../../shared/domain.ts';
import { NEVER_BAN_RANGES } from '../../shared/never-ban.ts';
import { cidrsOverlap } from '../../shared/prefix.ts';
import { V4Set } from './v4-set.ts';

/**
 * Always whitelisted, whatever the settings say: the ranges the root helper refuses to ban
 * (loopback, unspecified, multicast, broadcast; shared/never-ban.ts), so the engine never counts
 * such a source nor books a ban the helper would refuse.
 */
export const ALWAYS_WHITELISTED: readonly string[] = NEVER_BAN_RANGES.map((r) => r.cidr);

export interface WhitelistSources {
  /** User entries (settings.whitelist.entries); CIDRs or bare addresses. */
  user?: readonly string[];
  /** This host's own addresses (always whitelisted). */
  host?: readonly string[];
  /** Gateways (whitelisted when the caller decides so, e.g. settings.whitelist.includeGateway). */
  gateways?: readonly string[];
}

const V4_MASKS: number[] = Array.from({ length: 33 }, (_, bits) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0));

/** Parses canonical dotted-quad text into an unsigned 32-bit integer, or -1. No allocation. */
export function v4ToInt(ip: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return value * 256 + part;
}

const scratch16 = new Uint16Array(8);

/**
 * IPv6 text (as canonicalIp produces it: hex groups, at most one "::") into four 32-bit words in
 * `out`. Returns false for anything else (the caller then falls back to ipaddr.js).
 */
export function v6ToWords(ip: string, out: Uint32Array): boolean {
  const groups = scratch16;
  let n = 0; // groups written
  let gap = -1; // index in groups where "::" sits
  let cur = 0;
  let digits = 0;
  const len = ip.length;
  let i = 0;
  if (len >= 2 && ip.charCodeAt(0) === 58 && ip.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
    if (len === 2) {
      out.fill(0);
      return true;
    }
  }
  for (; i < len; i++) {
    const c = ip.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else if (c === 58) {
      if (digits === 0 || n >= 8) return false;
      groups[n++] = cur;
      cur = 0;
      digits = 0;
      if (i + 1 < len && ip.charCodeAt(i + 1) === 58) {
        if (gap >= 0) return false;
        gap = n;
        i++;
        if (i + 1 === len) break; // trailing "::"
      }
      continue;
    } else return false;
    cur = cur * 16 + d;
    if (++digits > 4) return false;
  }
  if (digits > 0) {
    if (n >= 8) return false;
    groups[n++] = cur;
  } else if (!(gap === n && gap >= 0)) {
    return false;
  }
  if (gap < 0 && n !== 8) return false;
  if (gap >= 0 && n > 7) return false;
  // Expand "::" by shifting the tail to the end.
  if (gap >= 0) {
    const tail = n - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k]!;
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  out[0] = ((groups[0]! << 16) | groups[1]!) >>> 0;
  out[1] = ((groups[2]! << 16) | groups[3]!) >>> 0;
  out[2] = ((groups[4]! << 16) | groups[5]!) >>> 0;
  out[3] = ((groups[6]! << 16) | groups[7]!) >>> 0;
  return true;
}

function v6WordsSlow(ip: string, out: Uint32Array): boolean {
  try {
    const parts = (ipaddr.IPv6.parse(ip) as ipaddr.IPv6).parts;
    for (let w = 0; w < 4; w++) out[w] = ((parts[2 * w]! << 16) | parts[2 * w + 1]!) >>> 0;
    return true;
  } catch {
    return false;
  }
}

/** Key of the /bits network of an address given as four words (only the words the prefix covers). */
function v6Key(words: Uint32Array, bits: number): string {
  let key = '';
  let left = bits;
  for (let w = 0; w < 4 && left > 0; w++) {
    const take = left >= 32 ? 32 : left;
    const masked = take === 32 ? words[w]! : (words[w]! & V4_MASKS[take]!) >>> 0;
    key += masked.toString(36) + ',';
    left -= take;
  }
  return key;
}

export class Whitelist {
  private readonly exact = new Set<string>();
  /** The IPv4 entries of `exact` as 32-bit values (hasV4). */
  private readonly exactV4 = new V4Set();
  /** Prefix length → masked IPv4 networks of that length (only lengths < 32; /32 live in `exact`). */
  private readonly v4: Map<number, V4Set> = new Map();
  private v4Lengths: number[] = [];
  /** The sets of `v4`, in the order of v4Lengths (no Map lookup per length on the hot path). */
  private v4Nets: V4Set[] = [];
  private readonly v6: Map<number, Set<string>> = new Map();
  private v6Lengths: number[] = [];
  private readonly cidrs: string[] = [];
  private readonly words = new Uint32Array(4);
  /** Entries that were refused (not an address or CIDR), kept so the caller can report them. */
  readonly refused: string[] = [];

  constructor(entries: Iterable<string> = []) {
    for (const e of ALWAYS_WHITELISTED) this.add(e);
    for (const e of entries) this.add(e);
  }

  /** The whitelist of the engine: loopback + host addresses + gateways + user entries. */
  static from(sources: WhitelistSources): Whitelist {
    return new Whitelist([...(sources.host ?? []), ...(sources.gateways ?? []), ...(sources.user ?? [])]);
  }

  /** Adds a CIDR or bare address; returns false (and remembers it in `refused`) when it is neither. */
  add(entry: string): boolean {
    const cidr = canonicalCidr(entry);
    if (!cidr) {
      this.refused.push(entry);
      return false;
    }
    if (this.cidrs.includes(cidr)) return true;
    this.cidrs.push(cidr);
    const slash = cidr.indexOf('/');
    const net = cidr.slice(0, slash);
    const bits = Number(cidr.slice(slash + 1));
    if (net.indexOf(':') < 0) {
      if (bits === 32) {
        this.exact.add(net);
        this.exactV4.add(v4ToInt(net));
        return true;
      }
      let set = this.v4.get(bits);
      if (!set) {
        set = new V4Set();
        this.v4.set(bits, set);
        this.v4Lengths = [...this.v4.keys()].sort((a, b) => a - b);
        this.v4Nets = this.v4Lengths.map((b) => this.v4.get(b)!);
      }
      set.add((v4ToInt(net) & V4_MASKS[bits]!) >>> 0);
    } else {
      if (bits === 128) {
        this.exact.add(net);
        return true;
      }
      const words = new Uint32Array(4);
      if (!v6ToWords(net, words) && !v6WordsSlow(net, words)) {
        this.refused.push(entry);
        return false;
      }
      let set = this.v6.get(bits);
      if (!set) {
        set = new Set();
        this.v6.set(bits, set);
        this.v6Lengths = [...this.v6.keys()].sort((a, b) => a - b);
      }
      set.add(v6Key(words, bits));
    }
    return true;
  }

  /**
   * Is this address whitelisted? Hot path: `ip` must be canonical (canonicalIp, as the parser
   * emits it). Use `matches` for text typed by a person. `v6`: the four words of an IPv6 `ip` when
   * the caller has them (a replay record's), so that its text is not parsed again.
   */
  has(ip: string, v6: Uint32Array | null = null): boolean {
    if (this.exact.has(ip)) return true;
    if (ip.indexOf(':') < 0) {
      const n = v4ToInt(ip);
      return n >= 0 && this.inV4Networks(n);
    }
    const lengths = this.v6Lengths;
    if (lengths.length === 0) return false;
    const words = v6 ?? this.words;
    if (v6 === null && !v6ToWords(ip, words)) return false;
    for (let i = 0; i < lengths.length; i++) {
      const bits = lengths[i]!;
      if (this.v6.get(bits)!.has(v6Key(words, bits))) return true;
    }
    return false;
  }

  /**
   * `has` of an IPv4 address given as its 32-bit value (0 … 2^32 - 1), without its text: a replay
   * record carries the value, and a new source's text was made, hashed and parsed again only for
   * this (~40 ms of a replay of 100k sources).
   */
  hasV4(n: number): boolean {
    return this.exactV4.has(n) || this.inV4Networks(n);
  }

  /** Whether IPv4 value `n` lies in a whitelisted network shorter than /32. */
  private inV4Networks(n: number): boolean {
    const lengths = this.v4Lengths;
    for (let i = 0; i < lengths.length; i++) {
      if (this.v4Nets[i]!.has(n & V4_MASKS[lengths[i]!]!)) return true;
    }
    return false;
  }

  /** Like `has`, for any spelling of an address (IPv4-mapped IPv6, leading zeros in v6, …). */
  matches(text: string): boolean {
    const ip = canonicalIp(text.trim());
    return ip !== null && this.has(ip);
  }

  /** Whether a CIDR shares any address with an entry (a prefix ban must hold no whitelisted address). Off the hot path. */
  overlaps(cidr: string): boolean {
    return this.cidrs.some((entry) => cidrsOverlap(entry, cidr));
  }

  /** Canonical CIDRs of every entry, loopback first. */
  entries(): string[] {
    return [...this.cidrs];
  }

  get size(): number {
    return this.cidrs.length;
  }
}
