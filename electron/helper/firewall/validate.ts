/** Checks at the module's edge: whatever the caller sends, only these values reach an argv. */
import { canonicalIp, type Ip } from '../../shared/domain.ts';
import { FirewallError } from './errors.ts';

export function checkIp(ip: string): Ip {
  const canonical = typeof ip === 'string' ? canonicalIp(ip) : null;
  // canonicalIp keeps an IPv6 zone ("fe80::1%eth0"): meaningless to ufw and ipset, so refused here.
  if (!canonical || canonical.includes('%')) throw new FirewallError('bad-address', `"${String(ip)}" is not an IPv4 or IPv6 address`);
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
