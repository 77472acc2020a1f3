/**
 * The new-bans-per-minute cap's state in the store: the start times of the last new bans (its
 * sliding window) and the bans it holds back. Saved by the service as it runs and restored at start,
 * so that after a kill -9 the held-back scanners are still banned (the kernel ring may have been
 * overwritten meanwhile, though the store still holds their probes) and the cap does not start from
 * zero (50 new bans within a minute of a restart). Kept as one JSON value in the store's key/value
 * table: it is small (the queue is bounded, detect/deferred.ts) and always read and written whole.
 */
import * as z from 'zod';
import { BanReasonSchema } from '../../shared/model.ts';
import { MAX_DEFERRED_CAPACITY } from '../detect/deferred.ts';
import type { BanCapState } from '../detect/policy.ts';

export const BAN_CAP_KEY = 'engine.banCap';

const BanCapStateSchema = z.object({
  recent: z.array(z.number()).max(10_000),
  deferred: z
    .array(z.object({ ip: z.string().max(64), queuedAt: z.number(), reason: BanReasonSchema, ports: z.number().int().min(0), lastSeen: z.number() }))
    .max(MAX_DEFERRED_CAPACITY),
});

/** The saved state, or null when there is none or it does not read (then the cap starts afresh). */
export function loadBanCap(store: { getSetting(key: string): string | null }): BanCapState | null {
  const text = store.getSetting(BAN_CAP_KEY);
  if (!text) return null;
  try {
    const r = BanCapStateSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** The text saveBanCap writes for `state` (the caller skips a write when it did not change). */
export function banCapText(state: BanCapState): string {
  return JSON.stringify(state);
}
