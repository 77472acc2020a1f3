/**
 * Fetching back the live rows the stream skipped. Under a burst the service sheds live rows (a hole
 * in the ids, or a `packetsSkipped` event); once the burst is over the window pages the service's
 * store, newest first, until the oldest hole is covered, merges what it finds, and tries again a
 * few times for rows the store had not written yet, before it accepts they are gone (retention).
 */
import type { PacketRow } from '../../electron/shared/api.ts';
import type { GetState, SetState } from './appState.ts';
import type { RendererApi } from '../api/index.ts';
import { MAX_PACKET_ROWS } from './livePackets.ts';

/** Ids missing between the smallest and the largest id held (rows are kept sorted by id). */
export function countMissing(rows: readonly PacketRow[]): { missing: number; lowest: number | null } {
  let missing = 0;
  let lowest: number | null = null;
  for (let i = 1; i < rows.length; i++) {
    const gap = rows[i]!.id - rows[i - 1]!.id - 1;
    if (gap > 0) {
      missing += gap;
      lowest ??= rows[i - 1]!.id + 1;
    }
  }
  return { missing, lowest };
}

const BACKFILL_PAGE = 5000;
/** Pages overlap so rows arriving while we page (which shift offsets) are not skipped. */
const BACKFILL_STEP = 4000;
const BACKFILL_MAX_PAGES = 40;
const BACKFILL_ATTEMPTS = 4;
const BACKFILL_RETRY_MS = 2000;

/** The slice's backfillPackets: one run at a time (a request meanwhile runs once more after it). */
export function createBackfill(set: SetState, get: GetState, api: RendererApi, later: (fn: () => void, ms: number) => unknown): () => Promise<void> {
  let backfilling = false;
  let again = false;
  let attempts = 0;
  let checkedUpTo = 0;
  return async function backfillPackets(): Promise<void> {
    if (get().packetsPaused) return;
    if (backfilling) {
      again = true;
      return;
    }
    // Holes between rows held, plus the tail the service told us it skipped (no later row reveals that one).
    const above = (rows: readonly PacketRow[]) => {
      const i = rows.findIndex((r) => r.id > checkedUpTo);
      const inside = countMissing(i < 0 ? [] : rows.slice(Math.max(0, i - 1)));
      const last = rows[rows.length - 1]?.id ?? 0;
      const skippedTo = get().packetsSkippedUpTo;
      if (skippedTo <= last || skippedTo <= checkedUpTo) return inside;
      const from = Math.max(last, checkedUpTo);
      return { missing: inside.missing + (skippedTo - from), lowest: inside.lowest ?? from + 1 };
    };
    const rows = get().packets;
    const start = above(rows);
    if (start.lowest === null) {
      attempts = 0;
      set({ packetsMissing: 0 });
      return;
    }
    const upTo = Math.max(rows[rows.length - 1]?.id ?? 0, get().packetsSkippedUpTo);
    const lowest = start.lowest;
    backfilling = true;
    try {
      const fetched: PacketRow[] = [];
      let newestStored = 0;
      // Newest first: page back until the oldest hole is covered.
      for (let page = 0, offset = 0; page < BACKFILL_MAX_PAGES; page++, offset += BACKFILL_STEP) {
        const r = await api.call('getPackets', { offset, limit: BACKFILL_PAGE });
        if (page === 0) newestStored = r.rows[0]?.id ?? 0;
        fetched.push(...r.rows);
        const oldest = r.rows[r.rows.length - 1];
        if (r.rows.length < BACKFILL_PAGE || !oldest || oldest.id <= lowest) break;
      }
      set((s) => {
        const floor = s.packets[0]?.id ?? 0;
        const byId = new Map<number, PacketRow>();
        for (const r of s.packets) byId.set(r.id, r);
        for (const r of fetched) if (r.id >= floor && r.id <= upTo && !byId.has(r.id)) byId.set(r.id, r);
        const packets = [...byId.values()].sort((a, b) => a.id - b.id).slice(-MAX_PACKET_ROWS);
        return { packets };
      });
      const left = above(get().packets);
      // Give up only after several tries that brought nothing: under load the store may write a
      // burst's rows well after they were streamed, and a try that fetched some is progress.
      // The store has not written up to the newest row we know of: the rows will come (under load the
      // writer lags the stream); only rows it should already hold and still lacks count as a try.
      const notWrittenYet = newestStored < upTo;
      if (left.missing === 0) attempts = 0;
      else if (left.missing < start.missing || notWrittenYet) {
        attempts = 0;
        later(() => void get().backfillPackets(), BACKFILL_RETRY_MS);
      } else if (++attempts >= BACKFILL_ATTEMPTS) {
        // Still absent after several tries: the service no longer has them (retention); stop asking.
        checkedUpTo = upTo;
        attempts = 0;
      } else {
        // Rows the service streamed but had not written yet: ask again a little later.
        later(() => void get().backfillPackets(), BACKFILL_RETRY_MS);
      }
      set({ packetsMissing: above(get().packets).missing });
    } catch {
      /* the service is unreachable: the holes stay counted and are retried on the next gap */
    } finally {
      backfilling = false;
      if (again) {
        again = false;
        later(() => void get().backfillPackets(), 0);
      }
    }
  };
}
