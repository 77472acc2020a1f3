/**
 * Sources tracked by network as well as by address: a scanner on a cloud /64 can use a new address
 * for every probe (twenty addresses, one port each, is nobody to ban address by address). Every
 * counted probe of an IPv6 source (of an IPv4 source too when `ipv4PrefixLength` is set) is also
 * counted under its network — `2001:db8:1:2::/64` — by a tracker of its own, under the same scan
 * rule; a network that meets it is a prefix scan, banned whole unless it holds a protected address
 * (the engine decides). The member addresses seen are kept (at most MAX_MEMBERS) as the evidence,
 * as the tag of the network's slot (no second lookup by network text per probe).
 *
 * Pure, like the address tracker: times are event times.
 */
import type { ScanType } from '../../shared/model.ts';
import { isPrefixText, v4PrefixText, v6PrefixText } from '../../shared/prefix.ts';
import type { DetectionSettings } from '../../shared/settings.ts';
import { MAX_MEMBERS } from './banbook.ts';
import { ipv4Key, ipv4Text, NO_SLOT, SourceTracker, type WindowSummary } from './tracker.ts';
import { v6ToWords } from './whitelist.ts';

export class PrefixWatch {
  /**
   * Networks, each tagged with its member addresses seen while it is tracked, first seen first: the
   * one address itself while it is the only one (most networks; an array each cost a replay of 100k
   * sources megabytes).
   */
  readonly tracker: SourceTracker<string | string[]>;
  private readonly addresses: SourceTracker;
  private v6Bits = 128;
  private v4Bits: number | null = null;
  private readonly words = new Uint32Array(4);
  /**
   * Per address slot: the slot its network had at its last probe — a guess, checked against the
   * network tracker's key for that slot (a network's slot changes when it is forgotten and tracked
   * again, or on a re-layout), so a known source's network is found without a lookup by its text.
   */
  private netSlots = new Int32Array(0);

  /**
   * `addresses`: the engine's address tracker, whose slots cache each source's network (a tag), so
   * a known source's network is not parsed and written out again on every probe.
   */
  constructor(s: DetectionSettings, addresses: SourceTracker) {
    this.addresses = addresses;
    this.tracker = new SourceTracker<string | string[]>(s);
    this.configure(s);
  }

  /** Whether any source is tracked by network (IPv6 shorter than /128, or IPv4 aggregation on). */
  get active(): boolean {
    return this.v6Bits < 128 || this.v4Bits !== null;
  }

  configure(s: DetectionSettings): void {
    const changed = s.ipv6PrefixLength !== this.v6Bits || s.ipv4PrefixLength !== this.v4Bits;
    this.v6Bits = s.ipv6PrefixLength;
    this.v4Bits = s.ipv4PrefixLength === 32 ? null : s.ipv4PrefixLength;
    this.tracker.configure(s);
    if (changed) {
      this.clear(); // windows of networks of another length say nothing about the new ones
      this.addresses.clearTags();
    }
  }

  clear(): void {
    this.tracker.clear();
  }

  /**
   * The network a source is tracked under, or null when it is tracked by address only. `v4`: its
   * 32-bit IPv4 value when the caller has it (then `ip` may be ''), else -1.
   */
  networkOf(ip: string, v4: number): string | null {
    if (v4 >= 0 || ip.indexOf(':') < 0) {
      if (this.v4Bits === null) return null;
      const key = v4 >= 0 ? v4 : ipv4Key(ip);
      return key < 0 ? null : v4PrefixText(key, this.v4Bits);
    }
    if (this.v6Bits >= 128 || !v6ToWords(ip, this.words)) return null;
    return v6PrefixText(this.words, this.v6Bits);
  }

  /**
   * Counts one probe of `ip` (as for networkOf) under its network; `slot`: the source's slot in the
   * address tracker. Returns the network when it now meets the scan rule, else null.
   */
  probe(ip: string, v4: number, slot: number, time: number, port: number | null, type: ScanType): string | null {
    // Most sources of a busy host are IPv4 ones, tracked by address only unless IPv4 aggregation is on.
    if (v4 >= 0 && this.v4Bits === null) return null;
    let net = this.addresses.tagOf(slot) ?? null;
    if (net === null) {
      net = this.networkOf(ip, v4);
      this.addresses.setTag(slot, net ?? '');
    }
    if (net === null || net === '') return null;
    const guess = slot < this.netSlots.length ? this.netSlots[slot]! : NO_SLOT;
    const known = guess !== NO_SLOT && this.tracker.ipOf(guess) === net ? guess : this.tracker.get(net);
    const crossed = this.tracker.probe(net, time, port, type, known);
    const at = this.tracker.lastSlot;
    if (slot >= this.netSlots.length) this.growNetSlots(slot);
    this.netSlots[slot] = at;
    const seen = this.tracker.tagOf(at);
    if (seen === undefined) this.tracker.setTag(at, ip === '' ? ipv4Text(v4) : ip);
    else if (typeof seen === 'string') {
      const addr = ip === '' ? ipv4Text(v4) : ip;
      if (addr !== seen) this.tracker.setTag(at, [seen, addr]);
    } else if (seen.length < MAX_MEMBERS) {
      const addr = ip === '' ? ipv4Text(v4) : ip;
      if (!seen.includes(addr)) seen.push(addr);
    }
    return crossed === NO_SLOT ? null : net;
  }

  private growNetSlots(slot: number): void {
    const grown = new Int32Array(Math.max(64, 2 * this.netSlots.length, slot + 1)).fill(NO_SLOT);
    grown.set(this.netSlots);
    this.netSlots = grown;
  }

  /** Member addresses seen of a tracked network (empty when it is not tracked). */
  membersOf(net: string): string[] {
    const slot = this.tracker.get(net);
    const seen = slot === NO_SLOT ? undefined : this.tracker.tagOf(slot);
    return seen === undefined ? [] : typeof seen === 'string' ? [seen] : [...seen];
  }

  /** The window of a tracked network, or null. */
  summary(net: string, limit: number): WindowSummary | null {
    const slot = this.tracker.get(net);
    return slot === NO_SLOT ? null : this.tracker.summary(slot, limit);
  }

  portCount(net: string): number {
    const slot = this.tracker.get(net);
    return slot === NO_SLOT ? 0 : this.tracker.portCount(slot);
  }

  setPending(net: string, pending: boolean): void {
    const slot = this.tracker.get(net);
    if (slot !== NO_SLOT) this.tracker.setPending(slot, pending);
  }

  /** Stops tracking a network (banned, or judged address by address). */
  forget(net: string): void {
    if (!isPrefixText(net)) return;
    this.tracker.delete(net);
  }
}
