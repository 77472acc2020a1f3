/** Checks at the module's edge: whatever the caller sends, only these values reach an argv. */
import { type BanTarget, canonicalCidr, canonicalIp, type Ip } from '../../shared/domain.ts';
import { V4_PREFIX_MIN, V6_PREFIX_MIN } from '../../shared/prefix.ts';
import { FirewallError } from './errors.ts';

export function checkIp(ip: string): Ip {
  const canonical = typeof ip === 'string' ? canonicalIp(ip) : null;
  // canonicalIp keeps an IPv6 zone ("fe80::1%eth0"): meaningless to ufw and ipset, so refused here.
  if (!canonical || canonical.includes('%')) throw new FirewallError('bad-address', `"${String(ip)}" is not an IPv4 or IPv6 address`);
  return canonical;
}

/**
 * A ban target: an address (checkIp), or a network exactly in canonical CIDR form, IPv4 /16–/31 or
 * IPv6 /48–/127 (the helper protocol's rule; checked again here, at the edge of what reaches an argv).
 */
export function checkTarget(target: string): BanTarget {
  if (typeof target !== 'string' || !target.includes('/')) return checkIp(target);
  const canonical = canonicalCidr(target);
  const bits = Number(target.slice(target.indexOf('/') + 1));
  const v6 = target.includes(':');
  if (canonical !== target || bits < (v6 ? V6_PREFIX_MIN : V4_PREFIX_MIN) || bits > (v6 ? 127 : 31)) {
    throw new FirewallError('bad-address', `"${target}" is not a network this helper bans (canonical CIDR, IPv4 /${V4_PREFIX_MIN}–/31, IPv6 /${V6_PREFIX_MIN}–/127)`);
  }
  return canonical;
}

/** ipset's largest per-element timeout. */
export const MAX_TIMEOUT_SEC = 2_147_483;

export function checkTimeout(timeoutSec: number | null): number | null {
  if (timeoutSec === null) return null;
  if (!Number.isInteger(timeoutSec) || timeoutSec < 1 || timeoutSec > MAX_TIMEOUT_SEC) {
    throw new FirewallError('bad-timeout', `a ban timeout is a whole number of seconds from 1 to ${MAX_TIMEOUT_SEC}, or null for no expiry (got ${String(timeoutSec)})`);
  }
  return timeoutSec;
}

/** Letters, digits, space and . _ : / - only: the comment ends up in ufw's files and in an argv. */
const SAFE_COMMENT = /^[A-Za-z0-9 ._:/-]{0,100}$/;

export function checkComment(comment: string): string {
  if (typeof comment !== 'string' || !SAFE_COMMENT.test(comment)) {
    throw new FirewallError('bad-comment', 'a ban comment is at most 100 characters of letters, digits, space and . _ : / -');
  }
  return comment.trim().replace(/\s+/g, ' ');
}
