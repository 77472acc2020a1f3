/**
 * Gives memory back when the service comes to rest: after its start, and after every flood of log
 * records.
 *
 * WHY: V8 keeps the pages its heap grew into, and SQLite its page cache, for as long as the process
 * lives. Nothing else in a resting service would ever ask for them back: V8's own memory reducer did
 * not run in 40 s of rest after a start (bench/idle.bench.ts). One "last resort" collection (full,
 * compacting, pages released) after a busy spell costs the main thread some tens of ms at a moment
 * nothing is waiting on it: measured ~4 MB less resident at idle, and more after a flood
 * (bench/soak.bench.ts prints RSS after the flood).
 *
 * "At rest": fewer than `quietRecords` log records in one `checkMs` interval. "Busy since": the start,
 * or an interval with more records. Each busy spell is followed by one trim, never more.
 */

export interface RestTrimOptions {
  /** Log records read so far (monotonic). */
  activity: () => number;
  /**
   * True while something holds memory that only its end gives back (the kmsg reading thread, retired
   * ~10 s after a flood): no trim until it has ended, then one — a trim while it still lived kept its
   * ring and what its isolate left in the malloc heap until the next flood.
   */
  busy?: () => boolean;
  /** Gives memory back (e.g. SQLite's page cache); called before the collection. */
  release?: () => void;
  /** The collection itself (tests count calls). Default: V8's last-resort full GC. */
  collect?: () => void;
  checkMs?: number;
  quietRecords?: number;
  /** Called after each trim (diagnostics, tests). */
  onTrim?: () => void;
}

export interface RestTrim {
  /** Trims done so far. */
  trims(): number;
  stop(): void;
}

let gcFunction: ((opts?: object) => void) | null = null;

/**
 * V8's gc() (the --expose-gc extension): the global one when node was started with the flag (the
 * installed service is: loading node:v8 to get it otherwise kept ~0.4 MB resident for good), else
 * got without the flag, from a context made while the flag is on. A full, compacting, "last resort"
 * collection releases the pages freed (what V8 does when the system is low on memory).
 */
export function lastResortGc(): void {
  if (gcFunction === null) {
    const global = (globalThis as { gc?: unknown }).gc;
    if (typeof global === 'function') gcFunction = global as (opts?: object) => void;
    else {
      const { setFlagsFromString } = process.getBuiltinModule('node:v8');
      setFlagsFromString('--expose-gc');
      gcFunction = process.getBuiltinModule('node:vm').runInNewContext('gc') as (opts?: object) => void;
      setFlagsFromString('--no-expose-gc');
    }
  }
  gcFunction({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

export function startRestTrim(o: RestTrimOptions): RestTrim {
  const checkMs = o.checkMs ?? 5000;
  const quiet = o.quietRecords ?? 50;
  const collect = o.collect ?? lastResortGc;
  let last = o.activity();
  // The start-up itself is a busy spell.
  let busy = true;
  let trims = 0;
  const timer = setInterval(() => {
    const now = o.activity();
    const records = now - last;
    last = now;
    if (records >= quiet || o.busy?.()) {
      busy = true;
      return;
    }
    if (!busy) return;
    busy = false;
    trims++;
    o.release?.();
    collect();
    o.onTrim?.();
  }, checkMs);
  timer.unref();
  return {
    trims: () => trims,
    stop: () => clearInterval(timer),
  };
}
