/**
 * Defence in depth for the root helper: addresses it refuses to ban whatever its caller says.
 * The service already keeps them out through the whitelist, but the helper is the last line: a bug
 * or a compromised caller banning loopback, "any" (0.0.0.0, ::), a multicast group, the broadcast
 * address or one of this host's own addresses would cut the host off from itself.
 */
import { networkInterfaces } from 'node:os';
import { canonicalIp } from '../shared/domain.ts';
import { HelperError } from '../shared/helper-protocol.ts';
import { neverBanReason } from '../shared/never-ban.ts';

/** This network namespace's own addresses, canonical (the helper runs in the namespace it protects). */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) {
    const ip = canonicalIp(a.address.split('%')[0]!);
    if (ip) out.push(ip);
  }
  return out;
}

/** Why `ip` must never be banned, or null if it may be. */
export function unbannableReason(ip: string, ownAddresses: readonly string[]): string | null {
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
