/**
 * The subnets this host is attached to ("my LAN"), read from `ip -j addr show`: the network of each
 * global-scope address with its prefix length. Whitelisted when settings.whitelist.includeLanSubnets
 * is on (off by default: a compromised LAN device should still be caught), and followed as the host
 * moves between networks, like its gateway.
 */
import { canonicalCidr } from '../shared/domain.ts';

/** Widest subnet taken as "the LAN" (as for whitelist entries): wider ones are skipped, not whitelisted. */
const WIDEST_V4 = 8;
const WIDEST_V6 = 16;

interface AddrInfoJson {
  local?: unknown;
  prefixlen?: unknown;
  scope?: unknown;
}

/** Canonical CIDRs of the subnets of `ip -j addr show` output (deduplicated, in order); [] when unreadable. */
export function parseLanSubnets(json: string): string[] {
  let links: unknown;
  try {
    links = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(links)) return [];
  const out = new Set<string>();
  for (const l of links as { addr_info?: unknown }[]) {
    const infos = l !== null && typeof l === 'object' && Array.isArray(l.addr_info) ? (l.addr_info as AddrInfoJson[]) : [];
    for (const a of infos) {
      if (a === null || typeof a !== 'object') continue;
      // Loopback is scope host, fe80::/64 scope link (every IPv6 link has one: not a LAN to trust).
      if (a.scope !== undefined && a.scope !== 'global') continue;
      if (typeof a.local !== 'string' || typeof a.prefixlen !== 'number' || !Number.isInteger(a.prefixlen)) continue;
      const cidr = canonicalCidr(`${a.local}/${a.prefixlen}`);
      if (cidr === null) continue;
      const v6 = cidr.includes(':');
      const bits = a.prefixlen;
      // A lone address (/32, /128: point-to-point links, VPN tunnels) has no LAN; a huge one is not a LAN.
      if (bits === (v6 ? 128 : 32) || bits < (v6 ? WIDEST_V6 : WIDEST_V4)) continue;
      out.add(cidr);
    }
  }
  return [...out];
}
