/**
 * What "this host" is, in the network namespace the process runs in: its addresses and interfaces
 * (the kernel log is shared by every namespace and container, so the runner acts only on records
 * addressed to these) and its default gateways (whitelisted by default: a spoofed scan "from the
 * router" must never cut the host off).
 */
import { networkInterfaces } from 'node:os';
import { canonicalIp } from '../shared/domain.ts';
import { execArgv, type Exec } from '../helper/exec.ts';
import { parseLanSubnets } from './lan-subnets.ts';
import { readNameservers } from './nameservers.ts';

export interface HostInfo {
  addresses: string[];
  interfaces: string[];
  gateways: string[];
  /** The name servers this host uses (nameservers.ts); whitelisted like the gateway. */
  nameservers?: string[];
  /** The subnets of this host's global addresses (lan-subnets.ts); whitelisted when includeLanSubnets. */
  lanSubnets?: string[];
  /**
   * Ethernet address of each interface that has one (lower case, `52:54:00:12:34:56`). Interface
   * names repeat across namespaces (every container has an `eth0`) but a kernel record's MAC= begins
   * with the receiving interface's own address, so a record on "our" eth0 from another namespace's
   * eth0 is told apart by it.
   */
  macs?: Record<string, string>;
}

interface IpAddrJson {
  ifname?: string;
  link_type?: string;
  address?: string;
  addr_info?: { local?: string }[];
}

/** A unicast Ethernet address as the kernel prints it in MAC= (lower case), or null. */
export function etherAddress(text: unknown): string | null {
  if (typeof text !== 'string') return null;
  const mac = text.trim().toLowerCase();
  if (!/^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/.test(mac) || mac === '00:00:00:00:00:00') return null;
  // The group bit: a multicast or broadcast address is never an interface's own.
  return (parseInt(mac.slice(0, 2), 16) & 1) === 0 ? mac : null;
}

interface IpRouteJson {
  dst?: string;
  gateway?: string;
  via?: { family?: string; host?: string };
  nexthops?: { gateway?: string }[];
}

export function parseIpAddr(json: string): { addresses: string[]; interfaces: string[]; macs: Record<string, string> } {
  const addresses = new Set<string>();
  const interfaces = new Set<string>();
  const macs: Record<string, string> = {};
  let links: IpAddrJson[];
  try {
    links = JSON.parse(json) as IpAddrJson[];
  } catch {
    return { addresses: [], interfaces: [], macs };
  }
  if (!Array.isArray(links)) return { addresses: [], interfaces: [], macs };
  for (const l of links) {
    if (typeof l.ifname === 'string') {
      interfaces.add(l.ifname);
      const mac = l.link_type === 'ether' ? etherAddress(l.address) : null;
      if (mac !== null) macs[l.ifname] = mac;
    }
    for (const a of l.addr_info ?? []) {
      const ip = typeof a.local === 'string' ? canonicalIp(a.local) : null;
      if (ip) addresses.add(ip);
    }
  }
  return { addresses: [...addresses], interfaces: [...interfaces], macs };
}

export function parseIpRouteGateways(json: string): string[] {
  let routes: IpRouteJson[];
  try {
    routes = JSON.parse(json) as IpRouteJson[];
  } catch {
    return [];
  }
  if (!Array.isArray(routes)) return [];
  const out = new Set<string>();
  for (const r of routes) {
    if (r.dst !== 'default') continue;
    for (const g of [r.gateway, r.via?.host, ...(r.nexthops ?? []).map((n) => n.gateway)]) {
      const ip = typeof g === 'string' ? canonicalIp(g) : null;
      if (ip) out.add(ip);
    }
  }
  return [...out];
}

/** Reads the namespace's addresses, interfaces and default gateways; falls back to os.networkInterfaces(). */
export async function readHostInfo(exec: Exec = execArgv, nameservers: () => string[] = readNameservers): Promise<HostInfo> {
  const addr = await exec('ip', ['-j', 'addr', 'show']);
  let { addresses, interfaces, macs } = addr.code === 0 ? parseIpAddr(addr.stdout) : { addresses: [] as string[], interfaces: [] as string[], macs: {} as Record<string, string> };
  if (addresses.length === 0) {
    const nics = networkInterfaces();
    interfaces = Object.keys(nics);
    macs = {};
    for (const [name, list] of Object.entries(nics)) {
      const mac = etherAddress(list?.[0]?.mac);
      if (mac !== null) macs[name] = mac;
    }
    addresses = Object.values(nics)
      .flat()
      .map((n) => (n ? canonicalIp(n.address.replace(/%.*$/, '')) : null))
      .filter((x): x is NonNullable<typeof x> => x !== null);
  }
  const gateways = new Set<string>();
  for (const fam of ['-4', '-6']) {
    const r = await exec('ip', ['-j', fam, 'route', 'show']);
    if (r.code === 0) for (const g of parseIpRouteGateways(r.stdout)) gateways.add(g);
  }
  const lanSubnets = addr.code === 0 ? parseLanSubnets(addr.stdout) : [];
  return { addresses, interfaces, gateways: [...gateways], macs, nameservers: nameservers(), lanSubnets };
}
