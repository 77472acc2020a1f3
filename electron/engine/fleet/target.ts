/**
 * What a CrowdSec decision bans on this host: an `Ip` decision its address, a `Range` decision its
 * network, banned as a prefix ban (issue 12.1's hash:net sets and ufw rules) within the bounds the
 * firewall helper takes.
 */
import { canonicalCidr, canonicalIp } from '../../shared/domain.ts';
import { V4_PREFIX_MIN, V6_PREFIX_MIN } from '../../shared/prefix.ts';

/**
 * What a decision bans here: an `Ip` decision its address, a `Range` decision its network (a
 * prefix ban; a /32 or /128 range is the address itself); null for any other scope.
 */
export function fleetTarget(scope: string, value: string): string | null {
  const s = scope.toLowerCase();
  if (s === 'ip') return canonicalIp(value.trim());
  if (s !== 'range') return null;
  const net = canonicalCidr(value);
  if (net === null) return null;
  const full = net.includes(':') ? '/128' : '/32';
  return net.endsWith(full) ? net.slice(0, -full.length) : net;
}

/** Why a range is wider than this host bans (the firewall helper's bounds), or null. */
export function rangeTooWide(target: string): string | null {
  if (!target.includes('/')) return null;
  const min = target.includes(':') ? V6_PREFIX_MIN : V4_PREFIX_MIN;
  return Number(target.slice(target.indexOf('/') + 1)) < min ? `ranges wider than /${min} are not applied here` : null;
}
