/** How the engine names a ban target (an address or a network) whatever form a caller gives it in. */
import { canonicalCidr, canonicalIp } from '../shared/domain.ts';
import { isPrefixText } from '../shared/prefix.ts';
import { isDottedQuad } from './parse/address.ts';

/** The canonical form of a ban target: an address, or a network (CIDR text) as prefix bans name it; null for anything else. */
export function canonicalTarget(text: string): string | null {
  const t = String(text).trim();
  // Addresses the service asks about (every source a batch of records touched, 20k a second under a
  // flood) are mostly the parser's canonical dotted quads: one pass over the text answers them (the
  // text canonicalIp gives back), where ipaddr.js cost ~2.6 µs each in the soak profile.
  if (isDottedQuad(t, 0, t.length)) return t;
  if (!isPrefixText(t)) return canonicalIp(t);
  const net = canonicalCidr(t);
  // A /32 or /128 is one address: named as the address, as every ban of it is.
  return net !== null && (net.endsWith('/32') && !net.includes(':') || net.endsWith('/128')) ? net.slice(0, net.indexOf('/')) : net;
}
