/**
 * Active bans with their expiry and reasons.
 *
 * "What expires next" must be cheap (it is asked on every tick and every ingested packet): a binary
 * min-heap of (until, ip) with lazy deletion — unbanning or extending a ban leaves its old heap
 * entry behind, and an entry is only trusted when it still matches the active ban. The heap is
 * rebuilt when stale entries outnumber live ones, so it stays O(active bans).
 * Permanent bans (until null) never enter the heap.
 */
import type { BanReason, BanRecord } from '../../shared/model.ts';
import { isPrefixText, v4PrefixText, v6PrefixText } from '../../shared/prefix.ts';
import { ipv4Key } from './tracker.ts';
import { v6ToWords } from './whitelist.ts';
import { V4Set } from './v4-set.ts';

/** Member addresses a prefix ban keeps (the evidence shown, not a bound on what it blocks). */
export const MAX_MEMBERS = 64;

export type AddResult = { record: BanRecord; extended: boolean };

export class BanBook {
  private readonly active = new Map<string, BanRecord>();
  private heapUntil: number[] = [];
  private heapIp: string[] = [];
  /** Network bans by family and prefix length → how many: the lengths covering() tries. */
  private readonly v4NetLengths = new Map<number, number>();
  private readonly v6NetLengths = new Map<number, number>();
  private readonly words = new Uint32Array(4);
  /** The banned IPv4 addresses (not networks) of `active` by value: hasV4() makes no text. */
  private readonly activeV4 = new V4Set();

  get size(): number {
    return this.active.size;
  }

  has(ip: string): boolean {
    return this.active.has(ip);
  }

  /** has() of an IPv4 address given as its 32-bit value (a replay record's): no text made. */
  hasV4(v4: number): boolean {
    return this.activeV4.has(v4);
  }

  get(ip: string): BanRecord | undefined {
    return this.active.get(ip);
  }

  /** Active bans, oldest ban first. */
  list(): BanRecord[] {
    return [...this.active.values()].sort((a, b) => a.at - b.at || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  }

  /**
   * Adds a ban, or extends the active one of the same address (never two bans for one address):
   * the later end wins (permanent beats any end), strikes keep the higher count, and the reason
   * merges (ports united, hits added, first/last seen widened; the newer kind/note/scan type).
   * Two fleet bans are the exception: the newer one is the fleet's decision that stands now, and the
   * ban takes its origin and its end, even an earlier one (mergedEnd). A ban of this host's own that
   * a fleet ban outlasts keeps its own end apart (`reason.ownUntil`): that is what it pushes.
   */
  add(ban: BanRecord): AddResult {
    const cur = this.active.get(ban.ip);
    if (!cur) {
      const record = { ...ban, reason: { ...ban.reason, ports: [...ban.reason.ports] } };
      this.active.set(ban.ip, record);
      this.countPrefix(ban.ip, 1);
      if (record.until !== null) this.push(record.until, record.ip);
      return { record, extended: false };
    }
    const until = mergedEnd(cur, ban);
    const record: BanRecord = {
      ip: cur.ip,
      at: cur.at,
      until,
      strikes: Math.max(cur.strikes, ban.strikes),
      reason: mergeReasons(cur.reason, ban.reason),
    };
    const origin = mergedOrigin(cur, ban);
    if (origin !== undefined) record.reason.origin = origin;
    else {
      const own = laterEnd(ownEnd(cur), ownEnd(ban));
      if (own !== undefined && own !== until && own !== null) record.reason.ownUntil = own;
    }
    this.active.set(ban.ip, record);
    if (until !== null && until !== cur.until) this.push(until, record.ip);
    return { record, extended: true };
  }

  remove(ip: string): BanRecord | undefined {
    const cur = this.active.get(ip);
    if (cur) {
      this.active.delete(ip);
      this.countPrefix(ip, -1);
    }
    if (this.heapUntil.length > 64 && this.heapUntil.length > 2 * this.active.size) this.rebuild();
    return cur;
  }

  /** End of the ban that expires first, or null when no active ban has an end. */
  nextExpiry(): number | null {
    this.dropStale();
    return this.heapUntil.length ? this.heapUntil[0]! : null;
  }

  /** Removes and returns every ban whose end is ≤ now, in expiry order. */
  expire(now: number): BanRecord[] {
    const out: BanRecord[] = [];
    for (;;) {
      this.dropStale();
      if (this.heapUntil.length === 0 || this.heapUntil[0]! > now) break;
      const ip = this.heapIp[0]!;
      this.pop();
      const rec = this.active.get(ip)!;
      this.active.delete(ip);
      this.countPrefix(ip, -1);
      out.push(rec);
    }
    return out;
  }

  /**
   * The active prefix ban that holds address `ip` (canonical, as the parser emits it), or null.
   * Costs nothing while there is no prefix ban; else one lookup per prefix length in use. `v6`: the
   * four words of an IPv6 `ip` when the caller has them (then its text is not parsed).
   */
  covering(ip: string, v6: Uint32Array | null = null): string | null {
    if (this.v4NetLengths.size === 0 && this.v6NetLengths.size === 0) return null;
    const v4 = v6 === null && ip.indexOf(':') < 0 ? ipv4Key(ip) : -1;
    if (v4 >= 0) return this.coveringV4(v4);
    if (this.v6NetLengths.size === 0) return null;
    if (v6 !== null) this.words.set(v6);
    else if (!v6ToWords(ip, this.words)) return null;
    for (const bits of this.v6NetLengths.keys()) {
      const net = v6PrefixText(this.words, bits);
      if (this.active.has(net)) return net;
    }
    return null;
  }

  /** Whether an active network ban holds the IPv4 address of 32-bit value `v4` (covering() without its text). */
  coversV4(v4: number): boolean {
    return this.v4NetLengths.size !== 0 && this.coveringV4(v4) !== null;
  }

  private coveringV4(v4: number): string | null {
    for (const bits of this.v4NetLengths.keys()) {
      const net = v4PrefixText(v4, bits);
      if (this.active.has(net)) return net;
    }
    return null;
  }

  /** Keeps the indexes of `active` (prefix lengths in use, IPv4 addresses by value) as `target` is filed (+1) or dropped (-1). */
  private countPrefix(target: string, by: 1 | -1): void {
    if (!isPrefixText(target)) {
      const v4 = ipv4Key(target);
      if (v4 >= 0) {
        if (by > 0) this.activeV4.add(v4);
        else this.activeV4.delete(v4);
      }
      return;
    }
    const lengths = target.indexOf(':') >= 0 ? this.v6NetLengths : this.v4NetLengths;
    const bits = Number(target.slice(target.indexOf('/') + 1));
    const n = (lengths.get(bits) ?? 0) + by;
    if (n > 0) lengths.set(bits, n);
    else lengths.delete(bits);
  }

  clear(): void {
    this.v4NetLengths.clear();
    this.v6NetLengths.clear();
    this.activeV4.clear();
    this.active.clear();
    this.heapUntil = [];
    this.heapIp = [];
  }

  /** Heap entries, live and stale (for tests of the bound). */
  get heapSize(): number {
    return this.heapUntil.length;
  }

  // ------------------------------------------------------------------ heap

  /** Pops stale entries off the top: the address is no longer banned, or its ban ends at another time. */
  private dropStale(): void {
    while (this.heapUntil.length) {
      const rec = this.active.get(this.heapIp[0]!);
      if (rec !== undefined && rec.until === this.heapUntil[0]) return;
      this.pop();
    }
  }

  private push(until: number, ip: string): void {
    const u = this.heapUntil;
    const p = this.heapIp;
    let i = u.length;
    u.push(until);
    p.push(ip);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (u[parent]! <= until) break;
      u[i] = u[parent]!;
      p[i] = p[parent]!;
      i = parent;
    }
    u[i] = until;
    p[i] = ip;
  }

  private pop(): void {
    const u = this.heapUntil;
    const p = this.heapIp;
    const lastU = u.pop()!;
    const lastP = p.pop()!;
    const n = u.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && u[r]! < u[l]! ? r : l;
      if (u[c]! >= lastU) break;
      u[i] = u[c]!;
      p[i] = p[c]!;
      i = c;
    }
    u[i] = lastU;
    p[i] = lastP;
  }

  private rebuild(): void {
    const entries = [...this.active.values()].filter((r) => r.until !== null);
    this.heapUntil = [];
    this.heapIp = [];
    for (const r of entries) this.push(r.until!, r.ip);
  }
}

/** The later of two ends (null: permanent, beats any end; undefined: none). */
function laterEnd(a: number | null | undefined, b: number | null | undefined): number | null | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a === null || b === null ? null : Math.max(a, b);
}

/** Where this host's own part of a ban ends: undefined for a fleet ban (it has none). */
function ownEnd(r: BanRecord): number | null | undefined {
  if (r.reason.origin !== undefined) return undefined;
  return r.reason.ownUntil ?? r.until;
}

/**
 * When an extended ban ends: the later end — but of two fleet bans the newer one's. The fleet link
 * hands on only the decision that stands now for the address (the longest; a shorter one only once
 * the longer one is gone: deleted at the LAPI), so a fleet ban that followed the longer, deleted
 * decision stayed until that decision's end, under that decision's origin (mergedOrigin), and a
 * restart took the ban for that deleted decision's: a lift by hand before the first pull was pinned
 * to that origin, and the decision that does stand came back. A decision the link cannot vouch for
 * so (its memory of fleet.maxBans values is full) never reaches here over a longer one: the bridge
 * keeps the later end then (FleetDecision.unchecked).
 */
function mergedEnd(cur: BanRecord, ban: BanRecord): number | null {
  if (cur.reason.origin !== undefined && ban.reason.origin !== undefined) return ban.until;
  return cur.until === null || ban.until === null ? null : Math.max(cur.until, ban.until);
}

/**
 * Whose ban an extended ban is. This host's own evidence on either side makes it this host's (no
 * origin: pushed to the fleet — only its own part, `ownUntil` — and kept when the fleet's decision
 * goes). Two fleet bans stay a fleet ban, of the newer decision's origin: the one that stands now
 * (mergedEnd) — dropping the origin here made every extension a fleet decision got (its host's
 * second strike, another host's longer ban) this host's own ban, pushed back to the LAPI as this
 * host's decision.
 */
function mergedOrigin(cur: BanRecord, ban: BanRecord): string | undefined {
  const a = cur.reason.origin;
  const b = ban.reason.origin;
  if (a === undefined || b === undefined) return undefined;
  return b;
}

function mergeReasons(a: BanReason, b: BanReason): BanReason {
  const ports = [...new Set([...a.ports, ...b.ports])].sort((x, y) => x - y).slice(0, 64);
  const merged: BanReason = {
    kind: b.kind,
    ports,
    hits: a.hits + b.hits,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
  };
  const scanType = b.scanType ?? a.scanType;
  if (scanType !== undefined) merged.scanType = scanType;
  const note = b.note ?? a.note;
  if (note !== undefined) merged.note = note;
  if (a.members !== undefined || b.members !== undefined) merged.members = [...new Set([...(a.members ?? []), ...(b.members ?? [])])].slice(0, MAX_MEMBERS);
  return merged;
}
