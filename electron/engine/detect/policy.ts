/**
 * How long a ban lasts and whether it may happen now.
 *
 * - Duration: bantime × 2^(strikes−1) when `increment` (strikes counts this ban: a first ban lasts
 *   bantime, the second 2×, the third 4×…), capped at maxbantime; permanent (until null) from
 *   `permanentAfterStrikes` strikes on.
 * - Strikes are forgotten when the last ban of the address started more than `strikeForgetSec`
 *   before the new one.
 * - At most `maxNewBansPerMinute` NEW bans in any sliding minute of event time (a spoofed flood
 *   must not make the host ban half the internet or exhaust the firewall). Bans over the budget
 *   wait in a bounded queue (deferred.ts) and are released strongest and freshest evidence first
 *   when the budget frees; entries whose evidence aged past findtime, or that a full queue pushes
 *   out, are dropped (counted). Extending an active ban or a manual ban does not consume the budget.
 * - The budget's window and the queue can be saved and restored (capState / restoreCap), so a
 *   restart neither forgets held-back scanners nor starts the cap from zero.
 */
import type { BanSettings } from '../../shared/settings.ts';
import { DeferredQueue, type DeferredBan } from './deferred.ts';

export type { DeferredBan } from './deferred.ts';

export interface StrikeRecord {
  strikes: number;
  lastBanAt: number;
}

/** What capState() saves: the start times of the last new bans (oldest first) and the waiting bans. */
export interface BanCapState {
  recent: number[];
  deferred: DeferredBan[];
}

const MINUTE_MS = 60_000;

export class BanPolicy {
  private settings: BanSettings;
  private readonly strikeBook = new Map<string, StrikeRecord>();
  /** Ring of the start times of the last `maxNewBansPerMinute` new bans. */
  private recent: number[] = [];
  private recentPos = 0;
  private readonly queue: DeferredQueue;

  constructor(settings: BanSettings, deferredCapacity = 1000) {
    this.settings = settings;
    this.queue = new DeferredQueue(deferredCapacity);
  }

  /** Bound of the deferred queue; returns the entries dropped to meet it. */
  setDeferredCapacity(capacity: number): DeferredBan[] {
    return this.queue.setCapacity(capacity);
  }

  configure(settings: BanSettings): void {
    if (settings.maxNewBansPerMinute !== this.settings.maxNewBansPerMinute) {
      const ordered = [...this.recent.slice(this.recentPos), ...this.recent.slice(0, this.recentPos)];
      this.recent = ordered.slice(Math.max(0, ordered.length - settings.maxNewBansPerMinute));
      this.recentPos = 0;
    }
    this.settings = settings;
  }

  /** Strikes an address has now (0 when forgotten or never banned). */
  strikesAt(ip: string, now: number): number {
    const r = this.strikeBook.get(ip);
    if (!r) return 0;
    return now - r.lastBanAt > this.settings.strikeForgetSec * 1000 ? 0 : r.strikes;
  }

  strikeRecord(ip: string): StrikeRecord | undefined {
    return this.strikeBook.get(ip);
  }

  /** Ban length for a ban that is offence number `strikes` (1 = first); null = permanent. */
  durationMs(strikes: number): number | null {
    const s = this.settings;
    if (s.permanentAfterStrikes !== null && strikes >= s.permanentAfterStrikes) return null;
    const base = s.bantimeSec * 1000;
    if (!s.increment) return Math.min(base, s.maxbantimeSec * 1000);
    // 2^(strikes-1) overflows nothing here: the cap applies long before doubles lose meaning.
    const factor = 2 ** Math.min(strikes - 1, 60);
    return Math.min(base * factor, s.maxbantimeSec * 1000);
  }

  /** Records a ban of `ip` at `at` as the next strike; returns the new strike count and its end. */
  strike(ip: string, at: number): { strikes: number; until: number | null } {
    const strikes = this.strikesAt(ip, at) + 1;
    this.strikeBook.set(ip, { strikes, lastBanAt: at });
    const d = this.durationMs(strikes);
    return { strikes, until: d === null ? null : at + d };
  }

  /**
   * Takes back the strike of a ban that never took effect (the firewall refused it: a rule of the
   * user's own decides that source's traffic), when it is still the address's latest: a ban that
   * blocked nothing must not make its next one longer, nor permanent.
   */
  unstrike(ip: string, strikes: number): void {
    const r = this.strikeBook.get(ip);
    if (!r || r.strikes !== strikes) return;
    if (strikes <= 1) this.strikeBook.delete(ip);
    else this.strikeBook.set(ip, { strikes: strikes - 1, lastBanAt: r.lastBanAt });
  }

  restoreStrikes(list: { ip: string; strikes: number; lastBanAt: number }[]): void {
    for (const r of list) {
      if (!Number.isFinite(r.strikes) || r.strikes < 1 || !Number.isFinite(r.lastBanAt)) continue;
      const cur = this.strikeBook.get(r.ip);
      if (!cur || cur.lastBanAt < r.lastBanAt) this.strikeBook.set(r.ip, { strikes: Math.floor(r.strikes), lastBanAt: r.lastBanAt });
    }
  }

  /** Drops strikes nobody will remember anyway (keeps the map bounded over months of running). */
  forgetOldStrikes(now: number): number {
    const limit = this.settings.strikeForgetSec * 1000;
    let n = 0;
    for (const [ip, r] of this.strikeBook) {
      if (now - r.lastBanAt > limit) {
        this.strikeBook.delete(ip);
        n++;
      }
    }
    return n;
  }

  get strikeCount(): number {
    return this.strikeBook.size;
  }

  // ------------------------------------------------------------------ the new-bans-per-minute cap

  /** May a new ban start at `now` without exceeding the per-minute budget? */
  hasBudget(now: number): boolean {
    const cap = this.settings.maxNewBansPerMinute;
    if (this.recent.length < cap) return true;
    return now - this.recent[this.recentPos]! >= MINUTE_MS;
  }

  /** Spends one unit of budget for a new ban at `now` (call only after hasBudget). */
  spend(now: number): void {
    const cap = this.settings.maxNewBansPerMinute;
    if (this.recent.length < cap) this.recent.push(now);
    else {
      this.recent[this.recentPos] = now;
      this.recentPos = (this.recentPos + 1) % cap;
    }
  }

  /** Event time at which the budget frees next (null when it is free now or nothing is spent). */
  budgetFreesAt(): number | null {
    if (this.recent.length < this.settings.maxNewBansPerMinute) return null;
    return this.recent[this.recentPos]! + MINUTE_MS;
  }

  /**
   * Holds a ban back. Returns the entry that left the full queue or was refused by it (the weaker
   * of the two), or null; `onDropped` hears of entries aged past findtime on the way.
   */
  defer(ban: Omit<DeferredBan, 'ports' | 'lastSeen'> & Partial<DeferredBan>, now: number, findtimeMs: number, onDropped?: (d: DeferredBan) => void): DeferredBan | null {
    return this.queue.add(ban, now, findtimeMs, onDropped);
  }

  isDeferred(ip: string): boolean {
    return this.queue.has(ip);
  }

  /** The evidence of a waiting ban grew (more ports, a later probe). */
  refreshDeferred(ip: string, ports: number, lastSeen: number): void {
    this.queue.refresh(ip, ports, lastSeen);
  }

  /** Removes a queued ban (manual unban, whitelisted meanwhile). */
  cancelDeferred(ip: string): boolean {
    return this.queue.delete(ip);
  }

  /** Next queued ban to make (removed from the queue), or null; aged entries are dropped on the way. */
  nextDeferred(now: number, findtimeMs: number, onDropped?: (d: DeferredBan) => void): DeferredBan | null {
    return this.queue.takeBest(now, findtimeMs, onDropped);
  }

  get deferredCount(): number {
    return this.queue.size;
  }

  /** Held-back bans dropped so far: evidence aged past findtime, or pushed out of the full queue. */
  get deferredDropped(): { aged: number; full: number } {
    return { aged: this.queue.droppedAged, full: this.queue.droppedFull };
  }

  deferredIps(): string[] {
    return this.queue.list().map((d) => d.ip);
  }

  // ------------------------------------------------------------------ persistence of the cap

  capState(): BanCapState {
    return { recent: [...this.recent.slice(this.recentPos), ...this.recent.slice(0, this.recentPos)], deferred: this.queue.list().map((d) => ({ ...d })) };
  }

  /**
   * Takes back a saved window and queue (after a restart): held-back scanners are banned after a
   * restart (the kernel ring may have been overwritten meanwhile) and the cap does not start from
   * zero. Entries already waiting are kept; saved entries that `admissible` refuses (the engine:
   * not in canonical form, banned or whitelisted now, a network holding a protected address) are
   * skipped; aged ones leave at their turn.
   */
  restoreCap(state: BanCapState, now: number, findtimeMs: number, admissible: (ip: string) => boolean = () => true): void {
    const cap = this.settings.maxNewBansPerMinute;
    const times = state.recent.filter((t) => Number.isFinite(t)).sort((a, b) => a - b);
    const merged = [...this.capState().recent, ...times].sort((a, b) => a - b);
    this.recent = merged.slice(Math.max(0, merged.length - cap));
    this.recentPos = 0;
    for (const d of state.deferred) if (admissible(d.ip)) this.queue.add(d, now, findtimeMs);
  }
}
