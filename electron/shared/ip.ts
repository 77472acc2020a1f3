/**
 * The canonical address text (domain.ts has the rest of the domain primitives). Its own module,
 * without zod, so that the log parser — which a replay worker loads alone — does not load the
 * schema library with it.
 */
import ipaddr from 'ipaddr.js';

export type Ip = string & { readonly __brand: 'Ip' };

/** Canonical text of an address, or null when `text` is not an IPv4/IPv6 address. */
export function canonicalIp(text: string): Ip | null {
  // Zone IDs (fe80::1%eth0) name a link, not a host: never a ban, whitelist or rule target.
  if (text.indexOf('%') >= 0 || !ipaddr.isValid(text)) return null;
  // ipaddr.isValid accepts "1", "0x7f.1" and other classful forms; a log or a user never means those.
  if (text.indexOf(':') < 0 && !ipaddr.IPv4.isValidFourPartDecimal(text)) return null;
  const hex = text.indexOf(':') >= 0 && text.indexOf('.') >= 0 ? embeddedV4AsHex(text) : text;
  if (hex === null) return null;
  let addr = ipaddr.parse(hex);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  return (addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString()) as Ip;
}

/**
 * `::1.2.3.4` with its trailing dotted quad written as two hex groups (`::102:304`). ipaddr.js reads
 * the IPv4-compatible form `::a.b.c.d` as the IPv4-mapped `::ffff:a.b.c.d` (and so as a.b.c.d):
 * a ban or whitelist entry typed that way named another host. In hex, every form of an address
 * means what RFC 4291 says; `::ffff:1.2.3.4` still becomes 1.2.3.4. A tail that is not a plain
 * dotted quad (`::01.2.3.4`, which ipaddr.js took for 1.2.3.4) is refused: null.
 */
function embeddedV4AsHex(text: string): string | null {
  const colon = text.lastIndexOf(':');
  const tail = text.slice(colon + 1);
  if (!ipaddr.IPv4.isValidFourPartDecimal(tail)) return null;
  const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
  return `${text.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/** The dotted quad of a 32-bit IPv4 value. */
export function ipv4Text(v4: number): string {
  return `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
}

/**
 * RFC 5952: the longest run of two or more zero groups (the first one on a tie) becomes '::'.
 * Returns (start << 4) | length, or -1 when there is none (no allocation: both IPv6 formatters,
 * text and bytes, call it per address).
 */
export function longestZeroRun(g: ArrayLike<number>): number {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  return bestStart < 0 ? -1 : (bestStart << 4) | bestLen;
}

/** Eight 16-bit groups as RFC 5952 text: lower-case hex, no leading zeros, longestZeroRun as '::'. */
export function ipv6GroupsText(g: ArrayLike<number>): string {
  const run = longestZeroRun(g);
  const bestStart = run < 0 ? -1 : run >> 4;
  const bestLen = run & 15;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out.length > 0 && out.charCodeAt(out.length - 1) !== 58 /* ':' */) out += ':';
    out += g[i]!.toString(16);
  }
  return out;
}
