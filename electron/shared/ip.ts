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
  let addr = ipaddr.parse(text);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  return (addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString()) as Ip;
}
