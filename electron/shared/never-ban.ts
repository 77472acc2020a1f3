/**
 * Addresses nothing in Portcullis ever bans, whatever a caller, the user's whitelist or a fleet says:
 * loopback, "any" (0.0.0.0/8, ::), multicast groups and the broadcast address. A ban of one of these
 * would cut the host off from itself or from its own link, and the firewall cannot sensibly hold it.
 *
 * ONE definition for the two places that enforce it: the engine (it refuses such a ban and never
 * counts such a source, so the store never records one) and the root helper's ban guard (the last
 * line). If they drifted, the engine would record bans the helper then refuses — and one such stored
 * ban would fail a whole restore batch on every start.
 */
import ipaddr from 'ipaddr.js';
import { canonicalIp } from './ip.ts';
import { covers, parseCidr, type ParsedCidr } from './prefix.ts';

export interface NeverBanRange {
  cidr: string;
  /** What an address in it is, as a sentence part: "127.0.0.1 is <what>". */
  what: string;
  /** Short label for the Whitelist screen. */
  label: string;
}

export const NEVER_BAN_RANGES: readonly NeverBanRange[] = [
  { cidr: '127.0.0.0/8', what: 'a loopback address', label: 'loopback' },
  { cidr: '::1/128', what: 'a loopback address', label: 'loopback' },
  { cidr: '0.0.0.0/8', what: 'the unspecified address (0.0.0.0/8 means "this network" or "any")', label: 'unspecified' },
  { cidr: '::/128', what: 'the unspecified address (it means "any")', label: 'unspecified' },
  { cidr: '224.0.0.0/4', what: 'a multicast address', label: 'multicast' },
  { cidr: 'ff00::/8', what: 'a multicast address', label: 'multicast' },
  { cidr: '255.255.255.255/32', what: 'the broadcast address', label: 'broadcast' },
];

const PARSED = NEVER_BAN_RANGES.map((r) => ({ range: parseCidr(r.cidr)!, what: r.what }));

/** Why `ip` may never be banned ("224.0.0.251 is a multicast address"), or null; null for text that is not an address. */
export function neverBanReason(ip: string): string | null {
  const canonical = canonicalIp(ip);
  if (!canonical) return null;
  const a = ipaddr.parse(canonical);
  const addr: ParsedCidr = [a, a.kind() === 'ipv4' ? 32 : 128];
  const hit = PARSED.find((p) => covers(p.range, addr));
  return hit ? `${canonical} is ${hit.what}` : null;
}
