/**
 * Defence in depth for the root helper: addresses it refuses to ban whatever its caller says.
 * The service already keeps them out through the whitelist, but the helper is the last line: a bug
 * or a compromised caller banning loopback, "any" (0.0.0.0, ::), a multicast group, the broadcast
 * address or one of this host's own addresses would cut the host off from itself.
 */
import { networkInterfaces } from 'node:os';
import { canonicalCidr, canonicalIp } from '../shared/domain.ts';
import { HelperError } from '../shared/helper-protocol.ts';
import { NEVER_BAN_RANGES, neverBanReason } from '../shared/never-ban.ts';
import { cidrContains, cidrsOverlap, isPrefixText } from '../shared/prefix.ts';

/** This network namespace's own addresses, canonical (the helper runs in the namespace it protects). */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) {
    const ip = canonicalIp(a.address.split('%')[0]!);
    if (ip) out.push(ip);
  }
  return out;
}

/** Why `ip` (an address, or a network: a prefix ban) must never be banned, or null if it may be. */
export function unbannableReason(ip: string, ownAddresses: readonly string[]): string | null {
  if (isPrefixText(ip)) {
    const net = canonicalCidr(ip);
    if (!net) return null; // the backend's own check refuses it with its reason
    // A network is refused when it shares any address with a never-banned range or holds one of ours.
    const range = NEVER_BAN_RANGES.find((r) => cidrsOverlap(r.cidr, net));
    if (range) return `${net} overlaps ${range.cidr}`;
    const own = ownAddresses.find((a) => cidrContains(net, a));
    if (own) return `${net} holds ${own}, an address of this host`;
    return null;
  }
  const canonical = canonicalIp(ip);
  if (!canonical) return null; // not an address: the backend's own check refuses it with its reason
  // The same ranges the engine refuses (shared/never-ban.ts), so the two cannot drift apart.
  const why = neverBanReason(canonical);
  if (why) return why;
  if (ownAddresses.includes(canonical)) return `${canonical} is an address of this host`;
  return null;
}

/** Cutting a host's connections (ss -K) is refused for the same addresses: it would cut this host's own sessions. */
export function refuseUncuttable(ip: string, ownAddresses: readonly string[]): void {
  const why = unbannableReason(ip, ownAddresses);
  if (why) throw new HelperError('invalid', `refusing to cut connections: ${why}; the helper never cuts loopback, unspecified, multicast or this host's own addresses`);
}

export function refuseUnbannable(ip: string, ownAddresses: readonly string[]): void {
  const why = unbannableReason(ip, ownAddresses);
  if (why) throw new HelperError('invalid', `refusing to ban: ${why}; the helper never bans loopback, unspecified, multicast or this host's own addresses`);
}
