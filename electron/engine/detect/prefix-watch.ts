/**
 * Sources tracked by network as well as by address: a scanner on a cloud /64 can use a new address
 * for every probe (twenty addresses, one port each, is nobody to ban address by address). Every
 * counted probe of an IPv6 source (of an IPv4 source too when `ipv4PrefixLength` is set) is also
 * counted under its network — `2001:db8:1:2::/64` — by a tracker of its own, under the same scan
 * rule; a network that meets it is a prefix scan, banned whole unless it holds a protected address
 * (the engine decides). The member addresses seen are kept (at most MAX_MEMBERS) as the evidence,
 * as the tag of the network's slot (no second lookup by network text per probe).
 *
 * Lazily: most networks only ever hold one address (a busy host's IPv6 sources are scattered over
 * as many /64s), and such a network's window holds exactly what its member's own window holds —
 * the same probes, the same restarts — until one of a few things tells them apart. So a network is
 * first kept "in its member": no window, no slot in the network tracker, just its text → the
 * member's address slot, and it gets a window of its own (a copy of the member's) when:
 * - a second distinct address of it is seen (the copy, then that address's probe, as before);
 * - the member's next probe could meet the rule (its ring holds maxretry - 1 probes): the address
 *   tracker counts a crossing probe and the network does not, so they would differ from then on;
 * - the member's window is dropped or renumbered (ban, whitelist, eviction, re-layout): the
 *   network keeps what it had;
 * - the network is asked for anything but its members and summary (pending), or the settings change.
 * A network starts in its member only when both windows start at the same probe (the member's holds
 * that one probe, and the network was not tracked). The source table's bound counts networks kept
 * in their members too, and its least-recently-seen order runs over both kinds: each probe gets a
 * sequence number (kept per member's slot, per network slot), so when the bound is reached (or a
 * setting changes) every network gets its window and the tracker its true order (each network in
 * the area of the table its member is in, source-table.ts: a network kept in its member has been
 * seen exactly as often, and started afresh when it did), and from then on
 * (at the bound) every network is tracked as before. Decisions are the same as tracking every
 * network's window from its first probe (tests/engine/prefix-lazy.property.test.ts).
 *
 * By number: every tracked network, kept in its member or with a window of its own, is found by
 * its prefix's words in a NetIndex (`net-index.ts`), so a new address whose network is not tracked
 * (most of them) costs a parse of its address and one hash probe: no CIDR text, no Map. A
 * network's text is written only when it gets a window of its own (then the network tracker files
 * it by text, as it is reported).
 *
 * Pure, like the address tracker: times are event times.
 */
import type { ScanType } from '../../shared/model.ts';
import { isPrefixText, v4PrefixText, v6PrefixText } from '../../shared/prefix.ts';
import type { DetectionSettings } from '../../shared/settings.ts';
import { MAX_MEMBERS } from './banbook.ts';
import { NET_ABSENT, NetIndex } from './net-index.ts';
import { ipv4Key, ipv4Text, NO_SLOT, SourceTracker, type WindowSummary } from './tracker.ts';
import { v6ToWords } from './whitelist.ts';

/**
 * An address's note (SourceTracker.noteOf) at or below this: its network is kept in it (it is the
 * network's only member), and its last probe's sequence number is -note - 2 (sequence numbers start at 1).
 */
const IN_MEMBER = -3;

export class PrefixWatch {
  /**
   * Networks with a window of their own, each tagged with its member addresses seen while it is
   * tracked, first seen first: the one address itself while it is the only one (an array each cost
   * a replay of 100k sources megabytes). Networks kept in their member are not here (`size`, `has`).
   */
  readonly tracker: SourceTracker<string | string[]>;
  private readonly addresses: SourceTracker;
  private v6Bits = 128;
  private v4Bits: number | null = null;
  private maxretry = 1;
  private bound = 0;
  /** The network (NetIndex key) of the source a probe is about; `spare`: of a member getting its window, of a text. */
  private readonly key = new Uint32Array(4);
  private readonly spare = new Uint32Array(4);
  /** Every tracked network by number: its tracker slot, or the member it is kept in. */
  private readonly index = new NetIndex();
  /** Per network tracker slot: its NetIndex key (four words), to take it out of the index when its window goes. */
  private netKeys = new Uint32Array(0);
  // Per address, in its note (the address tracker keeps it in the address's window record, which
  // the probe has just read, so an IPv6 probe pays no cache miss for it): the slot its network had
  // at its last probe — a guess, checked against the network tracker's key for that slot (a
  // network's slot changes when it is forgotten and tracked again, or on a re-layout), so a known
  // source's network is found without a lookup; -1: none; or ≤ IN_MEMBER (exact, not a guess): its
  // network is kept in this address's window, with the sequence number of the address's last probe.
  /** Sequence number of the last probe of a network, per network slot. */
  private netSeq = new Float64Array(0);
  private seq = 0;
  /** The bound was reached: every network has its window, in the tracker's own order (until clear()). */
  private full = false;

  /**
   * `addresses`: the engine's address tracker, whose slots cache each source's network (a tag), so
   * a known source's network is not parsed and written out again on every probe (an address that
   * holds its network needs no tag: IN_MEMBER says all its probes need).
   */
  constructor(s: DetectionSettings, addresses: SourceTracker) {
    this.addresses = addresses;
    this.tracker = new SourceTracker<string | string[]>(s);
    addresses.onWindowGone = (slot, over) => {
      if (addresses.noteOf(slot) > IN_MEMBER) return;
      if (over) this.forgetInMember(slot);
      else this.ownWindow(slot);
    };
    this.tracker.onWindowGone = (slot) => {
      if (4 * slot < this.netKeys.length) this.index.remove(this.netKeys, 4 * slot, slot);
    };
    this.configure(s);
  }

  /** Networks tracked (with a window of their own or kept in their member). */
  get size(): number {
    return this.tracker.size + this.index.members;
  }

  /** Whether a network is tracked. */
  has(net: string): boolean {
    return this.memberOf(net) !== NO_SLOT || this.tracker.get(net) !== NO_SLOT;
  }

  configure(s: DetectionSettings): void {
    const changed = s.ipv6PrefixLength !== this.v6Bits || s.ipv4PrefixLength !== this.v4Bits;
    this.v6Bits = s.ipv6PrefixLength;
    this.v4Bits = s.ipv4PrefixLength === 32 ? null : s.ipv4PrefixLength;
    if (changed) {
      this.tracker.configure(s);
      this.maxretry = s.maxretry;
      this.bound = s.maxTrackedSources;
      this.clear(); // windows of networks of another length say nothing about the new ones
      this.addresses.clearTags();
      return;
    }
    // A re-layout renumbers slots in the tracker's order, a smaller bound evicts by it: every network
    // in its true place first, with a window of its own where the new settings could tell it from its member's.
    if (s.maxretry !== this.maxretry || this.size > s.maxTrackedSources) for (const member of this.index.memberSlots()) this.ownWindow(member);
    const seqs = new Map<string, number>();
    for (const slot of this.putInOrder()) seqs.set(this.tracker.ipOf(slot), this.netSeq[slot]!);
    this.maxretry = s.maxretry;
    this.bound = s.maxTrackedSources;
    this.tracker.configure(s);
    // The same networks (less those evicted), maybe under other slots: each keeps its sequence number.
    for (const slot of this.tracker.slots()) {
      this.growNetSeq(slot + 1);
      this.netSeq[slot] = seqs.get(this.tracker.ipOf(slot))!;
      if (this.keyOfNet(this.tracker.ipOf(slot), this.spare)) this.fileNet(slot, this.spare);
    }
  }

  clear(): void {
    this.tracker.clear();
    this.index.clear();
    this.addresses.clearNotes();
    this.full = false;
  }

  /**
   * The network a source is tracked under, or null when it is tracked by address only. `v4`: its
   * 32-bit IPv4 value when the caller has it (then `ip` may be ''), else -1.
   */
  networkOf(ip: string, v4: number): string | null {
    return this.keyOf(ip, v4, this.spare) ? this.keyText(this.spare) : null;
  }

  /**
   * Counts one probe of `ip` (as for networkOf) under its network; `slot`: the source's slot in the
   * address tracker, which has just counted this probe (and found no scan). `src6`: the four words
   * of an IPv6 `ip` when the caller has them (a replay record's), so its text is not parsed; else
   * null. `connPorts`, `connFrom`: the probe's connection key, as the address tracker had it. Returns the network
   * when it now meets the scan rule, else null.
   */
  probe(ip: string, v4: number, src6: Uint32Array | null, slot: number, time: number, port: number | null, type: ScanType, connPorts = 0, connFrom = -1): string | null {
    // Most sources of a busy host are IPv4 ones, tracked by address only unless IPv4 aggregation is on.
    if (v4 >= 0 && this.v4Bits === null) return null;
    if (this.countedInMember(slot, src6)) return null;
    const guess = this.addresses.noteOf(slot);
    // The address's tag caches its network's text once the network has a window of its own (an
    // address that holds its network has none; '': tracked by address only).
    let net = this.addresses.tagOf(slot) ?? null;
    if (net === '') return null;
    const cached = net !== null;
    let known = NO_SLOT;
    if (cached && guess !== NO_SLOT && this.tracker.ipOf(guess) === net) known = guess;
    else {
      const key = this.key;
      if (!this.keyOf(ip, v4, key, src6)) {
        this.addresses.setTag(slot, '');
        return null;
      }
      // A network not tracked is kept in this address when its window would start with this probe,
      // as the address's did when it holds one probe: filed so in the same lookup that finds it absent.
      const keep = !this.full && this.maxretry > 2 && this.addresses.hitsOf(slot) === 1 && this.size < this.bound;
      const found = keep ? this.index.getOrSet(key, -slot - 2) : this.index.get(key);
      if (found === NET_ABSENT) {
        if (keep) {
          this.addresses.setNote(slot, -++this.seq - 2);
          return null;
        }
        if (!this.full && this.size >= this.bound) this.fill();
      } else if (found < 0) known = this.ownWindow(-found - 2); // its second address
      else known = found;
      if (net === null) net = this.keyText(key);
    }
    if (!cached) this.addresses.setTag(slot, net);
    const seq = ++this.seq;
    const crossed = this.tracker.probe(net, time, port, type, known, -1, connPorts, connFrom);
    const at = this.tracker.lastSlot;
    if (known === NO_SLOT) this.fileNet(at, this.key);
    this.addresses.setNote(slot, at);
    if (at >= this.netSeq.length) this.growNetSeq(at + 1);
    this.netSeq[at] = seq;
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

  /**
   * Whether a probe of `ip` (as for probe(); the address tracker has just counted it into `slot`
   * and found no scan) must go on to probe(): false when the source is tracked by address only (an
   * IPv4 source without IPv4 aggregation: most sources of a busy host, never tagged here) or when
   * its network is kept in it, which countedInMember has then counted. The engine asks this first,
   * for every counted probe: it needs neither the time (passing the event time to probe() boxed it
   * into a new heap number each call) nor, for a replay record's IPv6 source (`src6`), the text.
   */
  needsProbe(ip: string, v4: number, src6: Uint32Array | null, slot: number): boolean {
    if (this.v4Bits === null && (this.v6Bits >= 128 || v4 >= 0 || (src6 === null && ip.indexOf(':') < 0))) return false;
    return !this.countedInMember(slot, src6);
  }

  /**
   * probe()'s common case, which needs neither the address nor the time: when the source's network
   * is kept in it (its window is this address's own, which has just counted the probe and found no
   * scan), counts the probe for the network and returns true; else false (then probe() it). Most
   * probes of IPv6 sources end here.
   */
  countedInMember(slot: number, src6: Uint32Array | null): boolean {
    if (this.addresses.noteOf(slot) > IN_MEMBER) return false;
    this.addresses.setNote(slot, -++this.seq - 2);
    if (this.addresses.probesOf(slot) + 1 >= this.maxretry) this.ownWindow(slot, src6);
    return true;
  }

  /**
   * Writes into `out` the NetIndex key of a source's network (`v4` as for networkOf, `words` as
   * probe()'s `src6`); false when the source is tracked by address only.
   */
  private keyOf(ip: string, v4: number, out: Uint32Array, words: Uint32Array | null = null): boolean {
    if (v4 >= 0 || (words === null && ip.indexOf(':') < 0)) {
      const bits = this.v4Bits;
      if (bits === null) return false;
      const a = v4 >= 0 ? v4 : ipv4Key(ip);
      if (a < 0) return false;
      out[0] = bits === 0 ? 0 : a & (0xffffffff << (32 - bits));
      out[1] = out[2] = 0;
      out[3] = 0xffffffff; // no IPv6 key ends so (net-index.ts)
      return true;
    }
    const bits = this.v6Bits;
    if (bits >= 128) return false;
    if (words !== null) out.set(words);
    else if (!v6ToWords(ip, out)) return false;
    for (let w = 0; w < 4; w++) {
      const left = bits - 32 * w;
      if (left <= 0) out[w] = 0;
      else if (left < 32) out[w] = out[w]! & (0xffffffff << (32 - left));
    }
    return true;
  }

  /** The CIDR text of a NetIndex key (made by keyOf under the current settings). */
  private keyText(k: Uint32Array): string {
    return k[3] === 0xffffffff ? v4PrefixText(k[0]!, this.v4Bits!) : v6PrefixText(k, this.v6Bits);
  }

  /** The key of a network given as text into `out`: false unless it is the exact text of a network of the current lengths. */
  private keyOfNet(net: string, out: Uint32Array): boolean {
    const slash = net.indexOf('/');
    return slash > 0 && this.keyOf(net.slice(0, slash), -1, out) && this.keyText(out) === net;
  }

  /** The address slot a network is kept in, or NO_SLOT (not tracked, or with a window of its own). */
  private memberOf(net: string): number {
    if (this.index.members === 0 || !this.keyOfNet(net, this.spare)) return NO_SLOT;
    const v = this.index.get(this.spare);
    return v !== NET_ABSENT && v < 0 ? -v - 2 : NO_SLOT;
  }

  /** Files network slot `at` in the index under key `k`. */
  private fileNet(at: number, k: Uint32Array): void {
    this.index.set(k, at);
    if (4 * at + 4 > this.netKeys.length) {
      const grown = new Uint32Array(Math.max(256, 2 * this.netKeys.length, 4 * at + 4));
      grown.set(this.netKeys);
      this.netKeys = grown;
    }
    this.netKeys.set(k, 4 * at);
  }

  /**
   * Gives a network kept in its member (address slot `member`; `words`: the member's, when the
   * caller has them) a window of its own: a copy of the member's. Returns its slot.
   */
  private ownWindow(member: number, words: Uint32Array | null = null): number {
    const ip = this.addresses.ipOf(member);
    const k = this.spare;
    this.keyOf(ip, -1, k, words);
    const net = this.keyText(k);
    const at = this.tracker.adoptFrom(net, this.addresses, member);
    this.tracker.setTag(at, ip);
    // The member's cache of its network's text (as probe() keeps it): its next probe finds the
    // network by the slot in its note, without parsing its address and writing the text again.
    this.addresses.setTag(member, net);
    if (at >= this.netSeq.length) this.growNetSeq(at + 1);
    this.netSeq[at] = -this.addresses.noteOf(member) - 2;
    this.addresses.setNote(member, at);
    this.fileNet(at, k);
    return at;
  }

  /** The tracker in the order of the networks' last probes, each in its area (networks that got their window late were filed last). */
  private putInOrder(): number[] {
    const seqs = this.netSeq;
    const order = this.tracker.slots().sort((a, b) => seqs[a]! - seqs[b]!);
    for (const slot of order) this.tracker.touch(slot);
    return order;
  }

  /** The bound is reached: every network gets its window, in its true place, so that the tracker evicts as it would have. */
  private fill(): void {
    for (const member of this.index.memberSlots()) this.ownWindow(member);
    this.putInOrder();
    this.full = true;
  }

  private growNetSeq(n: number): void {
    if (n <= this.netSeq.length) return;
    const grown = new Float64Array(Math.max(64, 2 * this.netSeq.length, n));
    grown.set(this.netSeq);
    this.netSeq = grown;
  }

  /** Member addresses seen of a tracked network (empty when it is not tracked). */
  membersOf(net: string): string[] {
    const member = this.memberOf(net);
    if (member !== NO_SLOT) return [this.addresses.ipOf(member)];
    const slot = this.tracker.get(net);
    const seen = slot === NO_SLOT ? undefined : this.tracker.tagOf(slot);
    return seen === undefined ? [] : typeof seen === 'string' ? [seen] : [...seen];
  }

  /** The window of a tracked network, or null. */
  summary(net: string, limit: number): WindowSummary | null {
    const member = this.memberOf(net);
    if (member !== NO_SLOT) return this.addresses.summary(member, limit);
    const slot = this.tracker.get(net);
    return slot === NO_SLOT ? null : this.tracker.summary(slot, limit);
  }

  portCount(net: string): number {
    const member = this.memberOf(net);
    if (member !== NO_SLOT) return this.addresses.portCount(member);
    const slot = this.tracker.get(net);
    return slot === NO_SLOT ? 0 : this.tracker.portCount(slot);
  }

  setPending(net: string, pending: boolean): void {
    const member = this.memberOf(net);
    const slot = member !== NO_SLOT ? this.ownWindow(member) : this.tracker.get(net);
    if (slot !== NO_SLOT) this.tracker.setPending(slot, pending);
  }

  /**
   * Forgets the networks whose window is over at event time `now` (SourceTracker.forgetQuiet).
   * Networks kept in their member go with the member (the address tracker's forgetQuiet).
   */
  forgetQuiet(now: number): number {
    return this.tracker.forgetQuiet(now);
  }

  /** A network kept in `member`, whose window is over: so is the network's, the same window; no longer tracked (not copied out to be dropped later). */
  private forgetInMember(member: number): void {
    if (this.keyOf(this.addresses.ipOf(member), -1, this.spare)) this.index.remove(this.spare, 0, -member - 2);
  }

  /** Stops tracking a network (banned, or judged address by address). */
  forget(net: string): void {
    if (!isPrefixText(net)) return;
    const member = this.memberOf(net);
    if (member !== NO_SLOT) {
      this.index.remove(this.spare);
      this.addresses.setNote(member, NO_SLOT);
    } else this.tracker.delete(net);
  }
}
