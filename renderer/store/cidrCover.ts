/** Whether a whitelist entry is already covered by another (adding it would change nothing). */
import { cidrCovers } from '../../electron/shared/prefix.ts';

/** The first entry of `entries` (other than `cidr` itself) whose network holds all of `cidr`, or null. */
export function coveringEntry<E extends { cidr: string }>(cidr: string, entries: readonly E[]): E | null {
  return entries.find((e) => e.cidr !== cidr && cidrCovers(e.cidr, cidr)) ?? null;
}
