/**
 * The engine's configuration: where a change of settings (updateSettings), of this host's addresses
 * (setHostAddresses) or of the ports the firewall allows (setAllowedPorts) is applied, and what the
 * per-packet checks read from it — the counted log prefixes, the ignored ports, the whitelist in
 * force, the host filter — derived here once per change, not per packet.
 *
 * ScanEngine (engine.ts) extends it: the derived state stays in the engine's own fields, so ingest's
 * per-packet path reads it with no object in between (the replay's hot path, bench/engine.bench.ts).
 * The detectors the settings configure (tracker, prefix watch, ban policy) are made here, beside
 * the updateSettings that reconfigures them; engine.ts drives them.
 *
 * - updateSettings() keeps active bans, even of addresses that are whitelisted now: the caller
 *   lifts those (isWhitelisted + unban), so the lifting goes through its firewall path. Tracked
 *   sources and held-back bans of addresses whitelisted now are dropped.
 */
import type { Clock } from '../shared/domain.ts';
import { cidrContains, cidrsOverlap, isPrefixText } from '../shared/prefix.ts';
import type { Framing } from '../shared/packet.ts';
import type { Settings } from '../shared/settings.ts';
import { canonicalTarget } from './ban-target.ts';
import { normalisePrefix } from './detect/classify.ts';
import { capacityFor, type DeferredBan } from './detect/deferred.ts';
import { BanPolicy } from './detect/policy.ts';
import { PrefixWatch } from './detect/prefix-watch.ts';
import { NO_SLOT, SourceTracker } from './detect/tracker.ts';
import { Whitelist } from './detect/whitelist.ts';
import { type HostFilter, HostRecords } from './host-filter.ts';
import type { AllowedPorts } from './ports.ts';

export interface ScanEngineOptions {
  settings: Settings;
  clock: Clock;
  /** This host's own addresses: always whitelisted. */
  hostAddresses?: string[];
  /** Whitelisted when settings.whitelist.includeGateway. */
  gatewayAddresses?: string[];
  /** The name servers this host uses: whitelisted unless settings.whitelist.includeNameservers is off. */
  nameserverAddresses?: string[];
  /** This host's subnets (its LAN): whitelisted when settings.whitelist.includeLanSubnets. */
  lanSubnets?: string[];
  /** Ports the firewall allows, by address family (probes to them are not evidence when settings.detection.ignoreAllowedPorts). */
  isAllowedPort?: AllowedPorts;
  /** Live mode on a shared kernel log: act only on this host's records (see HostFilter). null = act on all. */
  hostFilter?: HostFilter | null;
  parse?: { year?: number; bootTimeMs?: number; framing?: Framing | 'auto' };
  /**
   * Emit a 'probe' event for every counted probe (default true). A caller that ignores them (replay)
   * says false: at one event object per counted line, they were a good part of a replay's garbage.
   */
  probeEvents?: boolean;
  /**
   * Replay only: a Proxmox VE guest's record (PacketEvent.guest: the guest's inbound chain logged it)
   * is inbound — to that guest, the host scanned — though this host bridged it (OUT= set). Default
   * false, and the live engine never sets it: it guards this host, whose forwarded records count
   * only from its own forward block.
   */
  countGuestRecords?: boolean;
  /**
   * Whether the trackers may forget the sources whose window is over (forgetQuiet; default true).
   * Forgetting decides as keeping would (a quiet source's next probe starts afresh anyway) while
   * records come in time order, short of the bound and of network members of an expired window
   * (README, "Memory follows the last findtime"); the kernel's log, the journal and NFLOG come in
   * order but for a wall-clock step. A syslog file's local-time stamps go back an hour at the end
   * of DST, and a replay's input may be files in any order: those say false (every source kept
   * until maxTrackedSources evicts).
   */
  forgetQuiet?: boolean;
}

const noAllowedPorts = (): boolean => false;
/** At most this many addresses learned by addHostAddress (a replay's destinations); more are not protected from network bans. */
export const MAX_LEARNED_HOST_ADDRESSES = 4096;

/** Link-local ranges: never banned whole (holdsProtected). */
const LINK_LOCAL = ['fe80::/10', '169.254.0.0/16'];

export class EngineConfiguration {
  protected settings: Settings;
  private hostAddresses: string[];
  /** Addresses addHostAddress added (a replay learns them from its records): protected from network bans, not whitelisted. */
  private readonly learnedHostAddresses = new Set<string>();
  private gatewayAddresses: string[];
  private nameserverAddresses: string[];
  private lanSubnets: string[];
  protected isAllowedPort: AllowedPorts;
  /** Live mode on a shared kernel log: which records are this host's (null: all). */
  protected hostRecords: HostRecords | null = null;
  /** ScanEngineOptions.countGuestRecords (replay only). */
  protected readonly countGuestRecords: boolean;

  protected whitelist!: Whitelist;
  protected prefixes!: Set<string>;
  protected ignoredPorts!: Set<number>;
  protected readonly tracker: SourceTracker;
  /** The same probes counted by network (IPv6 /64 by default): prefix scans. */
  protected readonly networks: PrefixWatch;
  protected readonly policy: BanPolicy;

  constructor(opts: ScanEngineOptions) {
    this.settings = opts.settings;
    this.hostAddresses = opts.hostAddresses ?? [];
    this.gatewayAddresses = opts.gatewayAddresses ?? [];
    this.nameserverAddresses = opts.nameserverAddresses ?? [];
    this.lanSubnets = opts.lanSubnets ?? [];
    this.isAllowedPort = opts.isAllowedPort ?? noAllowedPorts;
    if (opts.hostFilter) this.hostRecords = new HostRecords(opts.hostFilter);
    this.countGuestRecords = opts.countGuestRecords === true;
    // Sparse tags: only PrefixWatch tags addresses, and few of them (the IPv6 ones whose network has a window of its own).
    this.tracker = new SourceTracker(opts.settings.detection, { sparseTags: true });
    this.networks = new PrefixWatch(opts.settings.detection, this.tracker);
    this.policy = new BanPolicy(opts.settings.ban, capacityFor(opts.settings.ban.maxNewBansPerMinute, opts.settings.detection.findtimeSec));
    this.applyDetectionSettings();
  }

  updateSettings(s: Settings): void {
    this.settings = s;
    this.tracker.configure(s.detection);
    this.networks.configure(s.detection);
    this.policy.configure(s.ban);
    for (const d of this.policy.setDeferredCapacity(capacityFor(s.ban.maxNewBansPerMinute, s.detection.findtimeSec))) this.leftQueue(d);
    this.applyDetectionSettings();
  }

  setAllowedPorts(fn: AllowedPorts): void {
    this.isAllowedPort = fn;
  }

  /**
   * This host's addresses changed (a laptop joined another network): they are whitelisted, and —
   * when records are filtered by host — the records addressed to the NEW addresses (or arriving on
   * the given interfaces, `macs` as in HostFilter) are this host's from now on, those to the old ones no longer.
   */
  setHostAddresses(addrs: string[], gateways?: string[], interfaces?: string[], macs?: Record<string, string>, nameservers?: string[], lanSubnets?: string[]): void {
    this.hostAddresses = [...addrs];
    if (lanSubnets !== undefined) this.lanSubnets = [...lanSubnets];
    if (gateways !== undefined) this.gatewayAddresses = [...gateways];
    if (nameservers !== undefined) this.nameserverAddresses = [...nameservers];
    this.hostRecords?.update(addrs, interfaces, macs);
    this.rebuildWhitelist();
  }

  /**
   * One more address of this host, learned rather than told (a replay knows no addresses of the
   * host whose log it reads: the destinations of its inbound records are that host's): from now on
   * no network holding it is banned whole (holdsProtected), as one holding an address of
   * setHostAddresses' is not. Unlike those it is not whitelisted as a source — a rebuild of the
   * whitelist walks every tracked source, and a replay learns its addresses as it goes.
   */
  addHostAddress(addr: string): void {
    // A Set of their own: a replay may learn thousands (a host routing a /64 to itself), and a scan
    // of the list per address made it quadratic (80k destinations: about a minute); bounded, since
    // each network decision looks at them all.
    if (this.learnedHostAddresses.has(addr) || this.learnedHostAddresses.size >= MAX_LEARNED_HOST_ADDRESSES) return;
    this.learnedHostAddresses.add(addr);
  }

  /** For a network (a prefix ban): whether it holds a whitelisted or otherwise protected address. */
  isWhitelisted(ip: string): boolean {
    if (isPrefixText(String(ip))) {
      const net = canonicalTarget(ip);
      return net !== null && this.holdsProtected(net);
    }
    return this.whitelist.matches(String(ip));
  }

  /** The whitelist in force (loopback, host, gateways, user entries), canonical CIDRs. */
  whitelistEntries(): string[] {
    return this.whitelist.entries();
  }

  /**
   * Does a network hold a whitelisted address, or one of this host's or its gateways' (whitelisted
   * or not), or link-local addresses (fe80::/10, 169.254.0.0/16: the host's own link, where its
   * own link-local address and its neighbours' are, whatever addresses the engine was told)?
   */
  protected holdsProtected(net: string): boolean {
    if (LINK_LOCAL.some((l) => cidrsOverlap(l, net))) return true;
    if (this.whitelist.overlaps(net) || [...this.hostAddresses, ...this.gatewayAddresses].some((a) => cidrContains(net, a))) return true;
    for (const a of this.learnedHostAddresses) if (cidrContains(net, a)) return true;
    return false;
  }

  protected findtimeMs(): number {
    return this.settings.detection.findtimeSec * 1000;
  }

  /** A held-back ban left the queue without a ban: its source is an ordinary tracked one again. */
  protected readonly leftQueue = (d: DeferredBan): void => {
    const w = this.tracker.get(d.ip);
    if (w !== NO_SLOT) this.tracker.setPending(w, false);
    this.networks.setPending(d.ip, false);
  };

  private applyDetectionSettings(): void {
    const prefixes = new Set<string>();
    for (const raw of this.settings.detection.prefixes) {
      // The parser reports "PORT DENIED:" for `--log-prefix "PORT DENIED: "`; accept it with or without the colon.
      const p = normalisePrefix(raw);
      prefixes.add(p);
      if (p.endsWith(':')) prefixes.add(p.slice(0, -1).trimEnd());
      else prefixes.add(p + ':');
    }
    this.prefixes = prefixes;
    this.ignoredPorts = new Set(this.settings.detection.ignoredPorts);
    this.rebuildWhitelist();
  }

  private rebuildWhitelist(): void {
    const gateways = [
      ...(this.settings.whitelist.includeGateway ? this.gatewayAddresses : []),
      ...(this.settings.whitelist.includeNameservers ? this.nameserverAddresses : []),
    ];
    const user = this.settings.whitelist.includeLanSubnets ? [...this.settings.whitelist.entries, ...this.lanSubnets] : this.settings.whitelist.entries;
    this.whitelist = Whitelist.from({ host: this.hostAddresses, gateways, user });
    const now = this.tracker.slots().map((slot) => this.tracker.ipOf(slot)).filter((ip) => this.whitelist.has(ip));
    for (const ip of now) {
      this.tracker.delete(ip);
      this.policy.cancelDeferred(ip);
    }
  }
}
