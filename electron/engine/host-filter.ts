/**
 * Which records of a kernel log shared by every network namespace are this host's (live mode, with
 * `nf_log_all_netns` on, the ring carries every namespace's records).
 */
import { canonicalIp } from '../shared/domain.ts';
import type { PacketEvent } from '../shared/packet.ts';

/**
 * Which records are this host's: those that arrived on one of `interfaces` — and, for an interface
 * with an Ethernet address in `macs`, whose MAC= begins with that address — whatever their DST
 * (between an address change and the next refresh it may not be one of ours yet). A DST among
 * `addresses` decides only for a record without IN=: names and even addresses repeat across
 * namespaces (a container's own `eth0`, a lab's copy of our address), the receiving interface's MAC does not.
 */
export interface HostFilter {
  addresses: string[];
  interfaces: string[];
  /** Interface name → its own Ethernet address, lower case. */
  macs?: Record<string, string>;
}

export class HostRecords {
  private addresses: Set<string>;
  private interfaces: Set<string>;
  private macs: Map<string, string>;

  constructor(f: HostFilter) {
    this.addresses = new Set(f.addresses.map((a) => canonicalIp(a.trim()) ?? a));
    this.interfaces = new Set(f.interfaces);
    this.macs = new Map(Object.entries(f.macs ?? {}));
  }

  /** The host's addresses changed; `interfaces`/`macs` when they did too. */
  update(addresses: string[], interfaces?: string[], macs?: Record<string, string>): void {
    this.addresses = new Set(addresses.map((a) => canonicalIp(a.trim()) ?? a));
    if (interfaces !== undefined) this.interfaces = new Set(interfaces);
    if (macs !== undefined) this.macs = new Map(Object.entries(macs));
  }

  /**
   * A record that names the interface it arrived on is this host's only when that interface is
   * (name, and MAC where both are known) — whatever its DST says: another namespace may give its own
   * interface one of our addresses, and our name (a soak lab did), and its records must not ban
   * anyone here. Only a record without IN= (or a host whose interfaces are unknown) is judged by its
   * destination address alone.
   */
  isThisHosts(p: PacketEvent): boolean {
    if (p.in && this.interfaces.size !== 0) return this.arrivedHere(p);
    return this.addresses.has(p.dst);
  }

  /** Did a record arrive on one of this host's interfaces? */
  private arrivedHere(p: PacketEvent): boolean {
    if (!this.interfaces.has(p.in)) return false;
    const own = this.macs.get(p.in);
    // No link-layer address to compare (tun, wireguard, ppp; or a record without MAC=): the name decides.
    if (own === undefined || p.mac === undefined) return true;
    // MAC= is destination, source, EtherType: the destination must be the interface's own address.
    return p.mac.length > own.length && p.mac.charCodeAt(own.length) === 58 && p.mac.toLowerCase().startsWith(own);
  }
}
