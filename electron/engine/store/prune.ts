/**
 * Retention of the store's two tables that grow with the traffic: packets (one row per logged
 * record) and offenders (one row per source ever seen — a spoofed flood makes every packet a new
 * source, 437k rows in 3 minutes at 5k SYN/s). Both by age and by a row cap; the bans table is not
 * pruned here (it holds strikes, and grows only with bans, which the per-minute cap limits).
 *
 * Deletes run in chunks, each its own transaction: a first prune after weeks offline must not hold
 * the write lock (and grow the WAL) for one huge delete while the UI and the CLI read.
 */
import type { DatabaseSync } from 'node:sqlite';

export interface PruneResult {
  byAge: number;
  byCap: number;
}

const CHUNK = 20_000;

/** Runs a chunked DELETE until a chunk deletes less than CHUNK rows; returns the rows deleted. */
function inChunks(run: () => number): number {
  let total = 0;
  for (;;) {
    const n = run();
    total += n;
    if (n < CHUNK) return total;
  }
}

/** Deletes packets older than `before`, then the oldest (by insertion) beyond `maxRows`; `count` is the table's row count. */
export function prunePackets(db: DatabaseSync, before: number, maxRows: number, count: number): PruneResult {
  const ageChunk = db.prepare('DELETE FROM packets WHERE id IN (SELECT id FROM packets WHERE time < ? LIMIT ?)');
  const byAge = inChunks(() => Number(ageChunk.run(before, CHUNK).changes));
  let byCap = 0;
  if (count - byAge > maxRows) {
    // Oldest by insertion (id): the row cap keeps the most recently logged packets.
    const edge = db.prepare('SELECT id FROM packets ORDER BY id DESC LIMIT 1 OFFSET ?').get(maxRows) as { id: number } | undefined;
    if (edge) {
      const capChunk = db.prepare('DELETE FROM packets WHERE id IN (SELECT id FROM packets WHERE id <= ? ORDER BY id LIMIT ?)');
      byCap = inChunks(() => Number(capChunk.run(edge.id, CHUNK).changes));
    }
  }
  return { byAge, byCap };
}

/**
 * Deletes offenders last seen before `before`, then the least recently seen beyond `maxRows` —
 * except a source whose ban still stands at `now`: the Offenders screen must show every active ban
 * with its reason. The cap counts the other rows (the active bans come on top; the ban cap bounds them).
 */
export function pruneOffenders(db: DatabaseSync, now: number, before: number, maxRows: number): PruneResult {
  const kept = "NOT (state = 'banned' AND (banned_until IS NULL OR banned_until > ?))";
  const ageChunk = db.prepare(`DELETE FROM offenders WHERE ip IN (SELECT ip FROM offenders WHERE last_seen < ? AND ${kept} LIMIT ?)`);
  const byAge = inChunks(() => Number(ageChunk.run(before, now, CHUNK).changes));
  let byCap = 0;
  const { c } = db.prepare(`SELECT COUNT(*) AS c FROM offenders WHERE ${kept}`).get(now) as { c: number };
  if (c > maxRows) {
    const edge = db.prepare(`SELECT last_seen AS t FROM offenders WHERE ${kept} ORDER BY last_seen DESC LIMIT 1 OFFSET ?`).get(now, maxRows) as { t: number } | undefined;
    if (edge) {
      // Ties at the edge go too (<=): the cap is a ceiling, never exceeded by sources seen in the same ms.
      const capChunk = db.prepare(`DELETE FROM offenders WHERE ip IN (SELECT ip FROM offenders WHERE last_seen <= ? AND ${kept} ORDER BY last_seen LIMIT ?)`);
      byCap = inChunks(() => Number(capChunk.run(edge.t, now, CHUNK).changes));
    }
  }
  return { byAge, byCap };
}
