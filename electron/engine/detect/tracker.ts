/**
 * Per-source sliding windows: which sources probe many ports within `findtime`.
 *
 * Three parts, each in its own file:
 * - the scan rule (`scan-rule.ts`): what counts as a scan — window, distinct ports, evidence;
 * - the source table (`source-table.ts`): which sources are tracked under which slot, IPv4 hashing,
 *   which to evict first (least recently seen, sources seen once before those seen again);
 * - the window records (`source-windows.ts`): per slot, what the rule reads, in typed-array pages.
 * `SourceTracker` joins them: a probe finds or files its source, records into its window and asks
 * the rule; past `maxTrackedSources` a source is evicted: the least recently seen of those seen once
 * (the table's probation area), before any seen again (source-table.ts: one-packet sources, spoofed
 * by the thousand, must not push a real scanner's partial window out).
 *
 * Slots are handles valid until the source is deleted or evicted (or configure() changes the
 * layout); callers look them up again rather than keeping them.
 *
 * Pure: no clock of its own, times are the packets' event times (ms).
 */
import type { ScanType } from '../../shared/model.ts';
import { ScanRule, summarize, topPorts, type TrackerSettings, type WindowCopy, type WindowSummary } from './scan-rule.ts';
import { ipv4Key, MAIN, NO_SLOT, PROBATION, SAME_AREA, SourceTable } from './source-table.ts';
import { SourceWindows } from './source-windows.ts';

export { ipv4Key, ipv4Text, NO_SLOT } from './source-table.ts';
export { scanTypeOf, type TrackerSettings, type WindowSummary } from './scan-rule.ts';

/**
 * How much longer than findtime a source must be quiet before forgetQuiet() drops it. Records come
 * a little out of time order (the kernel's CPUs, merged logs): a probe stamped up to this much
 * before the latest one still finds the window it would have found; it only delays the memory's
 * return by a minute. A record further back than this may find its source forgotten already (a
 * wall clock stepped back, a merged log), and stops the engine's forgetting for good (engine.ts).
 */
export const FORGET_SLACK_MS = 60_000;

/** `Tag`: what a caller notes per tracked source (the engine's addresses: their network; PrefixWatch's networks: their members). */
export class SourceTracker<Tag = string> {
  private readonly rule: ScanRule;
  private readonly table: SourceTable;
  private readonly windows = new SourceWindows();
  /**
   * Per slot: a caller's note about the source, dropped with the source, kept through a re-layout.
   * In an array when most sources have one (PrefixWatch's networks: their members), else (`sparseTags`)
   * in a Map: the engine's addresses, of which a few IPv6 ones cache their network's text. An
   * array then had to be filled up to the slot of the first such address, ~100k pushes (~10–30 ms
   * of a 1M-line replay, in code run too rarely to be optimised, and its copies for the GC).
   */
  private tags: (Tag | undefined)[] = [];
  private readonly sparse: Map<number, Tag> | null;
  /** The slot the last probe() counted into (valid until the next change of the tracker). */
  lastSlot = NO_SLOT;
  evictedCount = 0;

  /** Called with every source evicted by the bound (ip, event time of the probe that pushed it out). */
  onEvict: ((ip: string, time: number) => void) | null = null;

  /**
   * Called with a slot whose window is about to be dropped (delete, eviction, clear, `over`: false)
   * or moved to another slot (re-layout), while it can still be read: PrefixWatch copies out a
   * network's window that it keeps in its only member's. `over`: the window is dropped because it
   * is over (forgetQuiet): what is kept in it is over too.
   */
  onWindowGone: ((slot: number, over: boolean) => void) | null = null;

  /** Sources with a tag (tests: the sparse Map stays as small as its callers say). */
  get taggedCount(): number {
    return this.sparse ? this.sparse.size : this.tags.filter((t) => t !== undefined).length;
  }

  constructor(settings: TrackerSettings, opts: { sparseTags?: boolean } = {}) {
    this.sparse = opts.sparseTags === true ? new Map() : null;
    this.rule = new ScanRule(settings);
    this.table = new SourceTable(settings.maxTrackedSources);
    this.windows.setWindow(this.rule.findtimeMs);
    this.windows.layout(this.rule.maxretry, this.rule.portCap);
  }

  configure(s: TrackerSettings): void {
    const { maxretry, portCap } = this.rule;
    this.rule.configure(s);
    this.table.bound = s.maxTrackedSources;
    this.windows.setWindow(this.rule.findtimeMs);
    if (this.rule.maxretry !== maxretry || this.rule.portCap !== portCap) {
      // Re-layout: copy every window out, area by area and least recently seen first, and back in
      // the new layout, each in its area in the same order.
      const order = this.table.inAreaOrder();
      const copies = order.map((slot) => this.windows.copyOut(slot, this.table.keyOf(slot)));
      const tags = order.map((slot) => this.tagOf(slot));
      const areas = order.map((slot) => this.table.areaOf(slot));
      this.clear();
      copies.forEach((c, i) => {
        const slot = this.table.add(c.ip, ipv4Key(c.ip));
        this.windows.copyIn(slot, c);
        if (areas[i] === MAIN) this.table.touch(slot, MAIN);
        if (tags[i] !== undefined) this.setTag(slot, tags[i]);
      });
    }
    while (this.size > s.maxTrackedSources) this.evictOldest(Number.NaN);
  }

  get size(): number {
    return this.table.size;
  }

  /** The slot of a tracked source, or NO_SLOT. */
  get(ip: string): number {
    const key = ipv4Key(ip);
    if (key < 0) return this.table.getName(ip);
    return this.table.getV4(key);
  }

  /**
   * The slot of a tracked IPv4 source given as its 32-bit value (the source whose canonical text
   * is that dotted quad), or NO_SLOT: get() without making or reading the text.
   */
  getV4(key: number): number {
    return this.table.getV4(key);
  }


  delete(ip: string): boolean {
    const slot = this.get(ip);
    if (slot === NO_SLOT) return false;
    this.release(slot);
    return true;
  }

  clear(): void {
    if (this.onWindowGone !== null) for (const slot of this.table.inAreaOrder()) this.onWindowGone(slot, false);
    this.table.clear();
    this.windows.layout(this.rule.maxretry, this.rule.portCap);
    this.clearTags();
  }

  tagOf(slot: number): Tag | undefined {
    return this.sparse !== null ? this.sparse.get(slot) : this.tags[slot];
  }

  setTag(slot: number, tag: Tag | undefined): void {
    if (this.sparse !== null) {
      if (tag === undefined) this.sparse.delete(slot);
      else this.sparse.set(slot, tag);
      return;
    }
    // Kept dense (a write far past the end would turn the array into a slow dictionary when few slots have tags).
    while (this.tags.length < slot) this.tags.push(undefined);
    this.tags[slot] = tag;
  }

  /** Forgets every tag (what they said no longer holds). */
  clearTags(): void {
    this.tags = [];
    this.sparse?.clear();
  }

  /** Slots of all tracked sources (no particular order). */
  slots(): number[] {
    return this.table.slots();
  }

  /** Slots of the sources seen once from the least to the most recently seen, then those of the sources seen again so (source-table.ts). */
  inAreaOrder(): number[] {
    return this.table.inAreaOrder();
  }

  ipOf(slot: number): string {
    return this.table.keyOf(slot);
  }

  /**
   * A caller's number about a tracked source (PrefixWatch: where its network is), kept in the
   * source's window record so that reading it right after a probe costs no cache miss of its own;
   * -1 for a new source, and after a re-layout. Unlike tags, numbers only.
   */
  noteOf(slot: number): number {
    return this.windows.noteOf(slot);
  }

  setNote(slot: number, note: number): void {
    this.windows.setNote(slot, note);
  }

  /** Sets every tracked source's note back to -1 (what they said no longer holds). */
  clearNotes(): void {
    for (const slot of this.table.slots()) this.windows.setNote(slot, -1);
  }

  hitsOf(slot: number): number {
    return this.windows.hitsOf(slot);
  }

  lastSeenOf(slot: number): number {
    return this.windows.lastSeenOf(slot);
  }

  isPending(slot: number): boolean {
    return this.windows.isPending(slot);
  }

  setPending(slot: number, pending: boolean): void {
    this.windows.setPending(slot, pending);
  }

  /** Probes in the ring (at most maxretry): the rule's first question. */
  probesOf(slot: number): number {
    return this.windows.probesOf(slot);
  }

  /** Distinct ports a source has on record (pruned to the window when it matters). */
  portCount(slot: number): number {
    return this.windows.portCount(slot);
  }

  /** The ring's probe times, oldest first. */
  times(slot: number): number[] {
    return this.windows.copyOut(slot, this.table.keyOf(slot)).times;
  }

  /**
   * Counts one probe. `port` null for probes without a port (pings). Returns the source's slot when
   * it now meets the scan rule, else NO_SLOT. The caller bans and then deletes the source.
   * `known` is the caller's own lookup of `ip` (NO_SLOT: not tracked), to save a second one;
   * `v4`: ip's 32-bit IPv4 value when the caller has it, to save parsing it again (else -1).
   * `connPorts`, `connFrom`: the probe's connection key in its two halves (scan-rule.ts; connFrom -1:
   * none): a repeat of a probe in the ring counts as evidence only, never as a probe of the rule.
   */
  probe(ip: string, time: number, port: number | null, type: ScanType, known?: number, v4 = -1, connPorts = 0, connFrom = -1): number {
    let slot = known === undefined ? this.get(ip) : known;
    const w = this.windows;
    const seen = slot !== NO_SLOT;
    let restarted = false;
    if (!seen) {
      slot = this.table.add(ip, v4 >= 0 ? v4 : ipv4Key(ip));
      w.start(slot, time);
      if (this.table.size > this.table.bound) this.evictOldest(time);
    } else {
      // Everything it did before has left the window: start afresh (the common case of a slow source).
      restarted = w.restartIfQuiet(slot, time);
    }
    this.lastSlot = slot;
    const probes = w.record(slot, time, port, type, connPorts, connFrom);
    // A known source's area (source-table.ts): a window started afresh holds one probe, as a
    // newcomer's (probation); a counted probe in a going window is at least its second (main); a
    // repeat leaves it where it was. Set after record(), which says whether the probe counted.
    if (seen) this.table.touch(slot, restarted ? PROBATION : probes === 0 ? SAME_AREA : MAIN);
    // Most probes stop at the rule's first question (fewer than maxretry probes in the window; 0: a repeat).
    if (probes < this.rule.maxretry) return NO_SLOT;
    return this.rule.isScan(w, slot, time, probes) ? slot : NO_SLOT;
  }

  /** A source's window as plain values. */
  windowOf(slot: number): WindowCopy {
    return this.windows.copyOut(slot, this.table.keyOf(slot));
  }

  /**
   * Files a source with a window copied from elsewhere (windowOf; same settings) as the most
   * recently seen of probation; returns its slot. Never evicts: the caller keeps within the bound.
   */
  adopt(ip: string, window: WindowCopy): number {
    const slot = this.table.add(ip, ipv4Key(ip));
    this.windows.copyIn(slot, window);
    return slot;
  }

  /**
   * adopt() of `other`'s window of `from` (windowOf), copied record for record when both trackers
   * lay windows out alike (the same settings), without the plain values in between; filed in the
   * area `from` is in (PrefixWatch: a network kept in its only member was seen as often as it).
   */
  adoptFrom(ip: string, other: SourceTracker<unknown>, from: number): number {
    const slot = this.table.add(ip, ipv4Key(ip));
    if (!this.windows.copyFrom(slot, other.windows, from)) this.windows.copyIn(slot, other.windowOf(from));
    if (other.table.areaOf(from) === MAIN) this.table.touch(slot, MAIN);
    return slot;
  }

  /** Marks a source the most recently seen of its area (touching all, least recent first, puts each area in that order). */
  touch(slot: number): void {
    this.table.touch(slot);
  }

  /** Ban-reason / offender view of a source. `limit` caps the port list (ascending). */
  summary(slot: number, limit = 64): WindowSummary {
    return summarize(this.windows.copyOut(slot, this.table.keyOf(slot)), limit);
  }

  /** Ports of a source, most probed first (ties: lower port first), at most `limit`. */
  topPorts(slot: number, limit: number): number[] {
    return topPorts(this.windows.copyOut(slot, this.table.keyOf(slot)), limit);
  }

  /**
   * Forgets the sources whose window is over at event time `now` — quiet for findtime (their next
   * probe would start afresh, so they hold no evidence) and FORGET_SLACK_MS more — unless a ban of
   * them is pending; returns how many. As fail2ban's failmanager forgets failures older than
   * findtime: what is tracked is the sources of the last findtime, not of the whole history. Before,
   * a source stayed until the bound evicted it: a host that saw 100k sources over a day kept all of
   * them (~26 MB of records and tables), where those of its last ten minutes were a few thousand.
   * The caller decides when this is safe (engine.ts: records in time order).
   * Every slot is looked at, in slot order (a walk over the records' pages, not the lists): which
   * sources are forgotten must not depend on the order of the lists, which is not the order of last
   * probes for windows copied in (PrefixWatch's networks) or in a log whose times jump back.
   */
  forgetQuiet(now: number): number {
    const quietMs = this.rule.findtimeMs + FORGET_SLACK_MS;
    const used = this.table.slotsUsed;
    let forgotten = 0;
    for (let slot = 0; slot < used; slot++) {
      if (!this.table.isFiled(slot) || !this.windows.quietFor(slot, now, quietMs) || this.windows.isPending(slot)) continue;
      this.release(slot, true);
      forgotten++;
    }
    return forgotten;
  }

  private release(slot: number, over = false): void {
    this.onWindowGone?.(slot, over);
    if (this.sparse !== null) {
      if (this.sparse.size !== 0) this.sparse.delete(slot);
    } else if (slot < this.tags.length) this.tags[slot] = undefined;
    this.windows.release(slot);
    this.table.remove(slot);
  }

  /**
   * Evicts the source the bound evicts first: the main area's least recently seen when its window is
   * over (quiet for a whole findtime: its next probe would start afresh, so it holds no evidence),
   * else SourceTable.oldest. Without the first rule nothing left the main area by age: on a host up
   * for days it stayed at its 3/4 share of long-expired sources, and a scanner's fresh first probe
   * competed for the last quarter. `time` NaN (a settings change): SourceTable.oldest.
   */
  private evictOldest(time: number): void {
    const stale = this.table.mainOldest();
    const slot = stale !== NO_SLOT && time - this.windows.lastSeenOf(stale) >= this.rule.findtimeMs ? stale : this.table.oldest();
    if (slot === NO_SLOT) return;
    const ip = this.table.keyOf(slot);
    const last = this.windows.lastSeenOf(slot);
    this.release(slot);
    this.evictedCount++;
    this.onEvict?.(ip, Number.isNaN(time) ? last : time);
  }
}
