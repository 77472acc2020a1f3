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
 *   wait in a FIFO queue and are released in order when the budget frees — never dropped.
 *   Extending an active ban or a manual ban does not consume the budget.
 */
import type { BanReason } from '../../shared/model.ts';
import type { BanSettings } from '../../shared/settings.ts';

export interface StrikeRecord {
  strikes: number;
  lastBanAt: number;
}

export interface DeferredBan {
  ip: string;
  /** Event time at which the ban was decided and held back. */
  queuedAt: number;
  reason: BanReason;
}

const MINUTE_MS = 60_000;

export class BanPolicy {
  private settings: BanSettings;
  private readonly strikeBook = new Map<string, StrikeRecord>();
  /** Ring of the start times of the last `maxNewBansPerMinute` new bans. */
  private recent: number[] = [];
  private recentPos = 0;
  private queue: DeferredBan[] = [];
  private queueHead = 0;
  private readonly queued = new Set<string>();

  constructor(settings: BanSettings) {
    this.settings = settings;
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

  defer(ban: DeferredBan): number {
    if (!this.queued.has(ban.ip)) {
      this.queue.push(ban);
      this.queued.add(ban.ip);
    }
    return this.deferredCount;
  }

  isDeferred(ip: string): boolean {
    return this.queued.has(ip);
  }

  /** Removes a queued ban (manual unban, whitelisted meanwhile). */
  cancelDeferred(ip: string): boolean {
    if (!this.queued.delete(ip)) return false;
    const i = this.queue.findIndex((b, k) => k >= this.queueHead && b.ip === ip);
    if (i >= 0) this.queue.splice(i, 1);
    return true;
  }

  /** Next queued ban in order (removed from the queue), or null. */
  nextDeferred(): DeferredBan | null {
    while (this.queueHead < this.queue.length) {
      const b = this.queue[this.queueHead++]!;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (this.queued.delete(b.ip)) return b;
    }
    return null;
  }

  get deferredCount(): number {
    return this.queued.size;
  }

  deferredIps(): string[] {
    const out: string[] = [];
    for (let i = this.queueHead; i < this.queue.length; i++) if (this.queued.has(this.queue[i]!.ip)) out.push(this.queue[i]!.ip);
    return out;
  }
}
