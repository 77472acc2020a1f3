/** Whether a whitelist entry is already covered by another (adding it would change nothing). */
import ipaddr from 'ipaddr.js';

function parse(cidr: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | null {
  try {
    return ipaddr.parseCIDR(cidr);
  } catch {
    return null;
  }
}

/** The first entry of `entries` (other than `cidr` itself) whose network holds all of `cidr`, or null. */
export function coveringEntry<E extends { cidr: string }>(cidr: string, entries: readonly E[]): E | null {
  const inner = parse(cidr);
  if (!inner) return null;
  const [addr, bits] = inner;
  for (const e of entries) {
    if (e.cidr === cidr) continue;
    const outer = parse(e.cidr);
    if (!outer || outer[0].kind() !== addr.kind() || outer[1] > bits) continue;
    if (addr.kind() === 'ipv4' ? (addr as ipaddr.IPv4).match(outer[0] as ipaddr.IPv4, outer[1]) : (addr as ipaddr.IPv6).match(outer[0] as ipaddr.IPv6, outer[1])) return e;
  }
  return null;
}
