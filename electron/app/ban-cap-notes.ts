/**
 * The new-bans-per-minute cap, seen from the service: a warning at most once a minute with how many
 * bans it held back (a flood defers thousands), and the cap's window and held-back bans saved to the
 * store when they change, so a restart or a crash keeps them.
 */
import type { Clock } from '../shared/domain.ts';
import { BAN_CAP_KEY, banCapText } from '../engine/store/bancap.ts';
import type { EngineLike, ServiceStore } from './contracts.ts';

export class BanCapNotes {
  private readonly clock: Clock;
  private readonly store: ServiceStore;
  private readonly warn: (message: string) => void;
  private deferredSinceWarning = 0;
  private deferredWarnedAt = -Infinity;
  private savedBanCap = '';

  constructor(clock: Clock, store: ServiceStore, warn: (message: string) => void) {
    this.clock = clock;
    this.store = store;
    this.warn = warn;
  }

  /** One ban held back by the cap. */
  deferred(engine: EngineLike, maxPerMinute: number): void {
    this.deferredSinceWarning++;
    this.warnDeferred(engine, maxPerMinute);
  }

  /** At most once a minute: how many bans the cap held back, how many wait, how many were dropped. */
  warnDeferred(engine: EngineLike, maxPerMinute: number): void {
    const now = this.clock.now();
    if (this.deferredSinceWarning === 0 || now - this.deferredWarnedAt < 60_000) return;
    const stats = engine.stats();
    const dropped = stats.deferredDropped ? stats.deferredDropped.aged + stats.deferredDropped.full : 0;
    const first = this.deferredWarnedAt === -Infinity;
    this.warn(
      `${this.deferredSinceWarning} new ban(s) held back by the new-bans-per-minute cap (${maxPerMinute}) ${first ? 'just now' : 'in the last minute'}; ` +
        `${stats.deferredBans} waiting, strongest evidence first` +
        (dropped ? `; ${dropped} dropped so far (evidence older than findtime, or the queue was full)` : ''),
    );
    this.deferredSinceWarning = 0;
    this.deferredWarnedAt = now;
  }

  /** The cap's window and held-back bans into the store, when they changed. */
  save(engine: EngineLike | undefined): void {
    if (!engine?.banCapState) return;
    const text = banCapText(engine.banCapState());
    if (text === this.savedBanCap) return;
    this.store.setSetting(BAN_CAP_KEY, text);
    this.savedBanCap = text;
  }
}
