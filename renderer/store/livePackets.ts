/**
 * The live packet rows as one delivered batch of events changes them, at a cost linear in the
 * batch's rows plus one copy of the list per batch (and, for a late row, the rows newer than it):
 * appending each 'packets' event's rows to a copy of the whole list (up to MAX_PACKET_ROWS), and
 * sorting it after an out-of-order one, made a batch of many small events cost their number times
 * the list. What the table shows is what that per-event append gave: ids sorted, repeats of recent
 * rows dropped, the newest MAX_PACKET_ROWS kept by position, rows held while paused.
 */
import type { PacketRow } from '../../electron/shared/api.ts';
import type { AppState } from './appState.ts';

/** Rows kept in memory for the live table (older ones remain in the service's store). */
export const MAX_PACKET_ROWS = 100_000;

/** The last `max` rows of `list` then `add` (a new array; `list` itself when nothing is added). */
export function appendBounded<T>(list: T[], add: T[], max: number): T[] {
  if (add.length === 0) return list;
  return list.length + add.length <= max ? list.concat(add) : list.concat(add).slice(-max);
}

const byId = (a: PacketRow, b: PacketRow) => a.id - b.id;

/** Whether the ids of rows[from, to) never go down. */
function inIdOrder(rows: readonly PacketRow[], from = 0, to = rows.length): boolean {
  for (let i = from + 1; i < to; i++) if (rows[i]!.id < rows[i - 1]!.id) return false;
  return true;
}

/** The rows of `a` and `b`, each in id order, in id order: `a`'s first on equal ids (as a stable sort of `a` then `b`). */
function mergeById(a: readonly PacketRow[], b: readonly PacketRow[], into: PacketRow[]): void {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) into.push(b[j]!.id < a[i]!.id ? b[j++]! : a[i++]!);
  while (i < a.length) into.push(a[i++]!);
  while (j < b.length) into.push(b[j++]!);
}

/**
 * One bounded row list (the table's, or the rows held while paused) as a batch grows it: the list
 * before the batch is not copied but read (before[droppedBefore, beforeEnd): the bound drops rows
 * from its head, a late row takes its tail), and the batch's rows are pushed onto one array of
 * their own. `list()` joins the two once.
 */
export class BoundedRows {
  private before: readonly PacketRow[];
  private droppedBefore = 0;
  private beforeEnd: number;
  private added: PacketRow[] = [];
  /** Rows of `added` the bound dropped (its head; cut off once they are as many as the bound). */
  private droppedAdded = 0;
  /** Whether the list is in id order; null until some event needs to know. */
  private ordered: boolean | null = null;
  private changed = false;
  private readonly initial: PacketRow[];
  private readonly max: number;

  constructor(initial: PacketRow[], max: number) {
    this.initial = initial;
    this.before = initial;
    this.beforeEnd = initial.length;
    this.max = max;
  }

  get length(): number {
    return this.beforeEnd - this.droppedBefore + this.added.length - this.droppedAdded;
  }

  last(): PacketRow | undefined {
    if (this.added.length > this.droppedAdded) return this.added[this.added.length - 1];
    return this.beforeEnd > this.droppedBefore ? this.before[this.beforeEnd - 1] : undefined;
  }

  /** The ids of the last `n` rows (all of them when there are fewer). */
  lastIds(n: number): Set<number> {
    const ids = new Set<number>();
    let left = n;
    for (let i = this.added.length - 1; i >= this.droppedAdded && left > 0; i--, left--) ids.add(this.added[i]!.id);
    for (let i = this.beforeEnd - 1; i >= this.droppedBefore && left > 0; i--, left--) ids.add(this.before[i]!.id);
    return ids;
  }

  /** As appendBounded(list, add, max): the rows at the end, the oldest dropped past the bound. */
  append(add: readonly PacketRow[]): void {
    if (add.length === 0) return;
    if (this.ordered !== null) {
      const tail = this.last();
      this.ordered = this.ordered && (tail === undefined || add[0]!.id >= tail.id) && inIdOrder(add);
    }
    for (let i = 0; i < add.length; i++) this.added.push(add[i]!);
    this.changed = true;
    this.dropHead(this.length - this.max);
  }

  /**
   * As appendBounded(list, add, max) sorted by id (stably: a repeated id after the one listed),
   * for rows that came out of order. The list being in id order, only the rows newer than the
   * oldest added one move: rows newer than the list's last are appended, a late row is merged in
   * with the rows after it. (A list not in id order, which the service never sends, is sorted whole.)
   */
  appendSorted(add: readonly PacketRow[]): void {
    this.ordered ??= this.isInIdOrder();
    if (!this.ordered) {
      this.append(add);
      this.sortWhole();
      return;
    }
    if (add.length === 0) return;
    // What the bound keeps of the list then `add`, by position, is what gets sorted.
    const kept = add.length > this.max ? add.slice(add.length - this.max) : add;
    const late = inIdOrder(kept) ? kept : kept.slice().sort(byId);
    this.changed = true;
    this.dropHead(this.length + late.length - this.max);
    // The first listed row newer than the oldest added one: from there on the list and `late` merge.
    const oldest = late[0]!.id;
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).id <= oldest) lo = mid + 1;
      else hi = mid;
    }
    const listedBefore = this.beforeEnd - this.droppedBefore;
    let newer: PacketRow[];
    if (lo >= listedBefore) {
      const from = this.droppedAdded + (lo - listedBefore);
      newer = this.added.slice(from);
      this.added.length = from;
    } else {
      newer = this.before.slice(this.droppedBefore + lo, this.beforeEnd);
      for (let i = this.droppedAdded; i < this.added.length; i++) newer.push(this.added[i]!);
      this.beforeEnd = this.droppedBefore + lo;
      this.added = [];
      this.droppedAdded = 0;
    }
    mergeById(newer, late, this.added);
  }

  /** The list now: the one before the batch itself when the batch did not change it. */
  list(): PacketRow[] {
    if (!this.changed) return this.initial;
    const rows = this.before.slice(this.droppedBefore, this.beforeEnd);
    for (let i = this.droppedAdded; i < this.added.length; i++) rows.push(this.added[i]!);
    return rows;
  }

  /** The i-th row of the list. */
  private at(i: number): PacketRow {
    const listedBefore = this.beforeEnd - this.droppedBefore;
    return i < listedBefore ? this.before[this.droppedBefore + i]! : this.added[this.droppedAdded + i - listedBefore]!;
  }

  /** Drops the `excess` oldest rows by position (none when it is not positive). */
  private dropHead(excess: number): void {
    if (excess <= 0) return;
    const fromBefore = Math.min(excess, this.beforeEnd - this.droppedBefore);
    this.droppedBefore += fromBefore;
    this.droppedAdded += excess - fromBefore;
    // The dropped head of `added` goes once it is as long as the bound: one copy of at most the
    // bound, after at least as many rows were pushed.
    if (this.droppedAdded >= this.max) {
      this.added = this.added.slice(this.droppedAdded);
      this.droppedAdded = 0;
    }
  }

  private sortWhole(): void {
    this.before = (this.changed ? this.list() : this.initial.slice()).sort(byId);
    this.droppedBefore = 0;
    this.beforeEnd = this.before.length;
    this.added = [];
    this.droppedAdded = 0;
    this.ordered = true;
    this.changed = true;
  }

  private isInIdOrder(): boolean {
    if (!inIdOrder(this.before, this.droppedBefore, this.beforeEnd) || !inIdOrder(this.added, this.droppedAdded)) return false;
    const head = this.beforeEnd > this.droppedBefore ? this.before[this.beforeEnd - 1] : undefined;
    const next = this.added[this.droppedAdded];
    return head === undefined || next === undefined || next.id >= head.id;
  }
}

type PacketState = Pick<AppState, 'packets' | 'heldPackets' | 'packetsPaused' | 'packetsReceived' | 'packetsMissing' | 'packetsSkippedUpTo'>;

/** The packet part of the store as a batch's 'packets' and 'packetsSkipped' events change it, in their order. */
export class LivePackets {
  private readonly table: BoundedRows;
  private readonly held: BoundedRows;
  /** Where new rows go: held back while the table is paused. */
  private readonly target: BoundedRows;
  private received: number;
  private missing: number;
  private skippedUpTo: number;
  private readonly s: PacketState;

  constructor(s: PacketState, max = MAX_PACKET_ROWS) {
    this.s = s;
    this.table = new BoundedRows(s.packets, max);
    this.held = new BoundedRows(s.heldPackets, max);
    this.target = s.packetsPaused ? this.held : this.table;
    this.received = s.packetsReceived;
    this.missing = s.packetsMissing;
    this.skippedUpTo = s.packetsSkippedUpTo;
  }

  /** The list whose newest row the next rows follow: the held rows, if any, come after the table's. */
  private newest(): BoundedRows {
    return this.held.length ? this.held : this.table;
  }

  rows(rows: PacketRow[]): void {
    if (rows.length === 0) return;
    this.received += rows.length;
    const newest = this.newest();
    const tail = newest.last();
    const first = rows[0]!.id;
    // The service sheds live rows when a burst outruns the stream: a jump in ids is a hole
    // (not counted again when a packetsSkipped event already announced it).
    const seen = Math.max(tail?.id ?? 0, this.skippedUpTo);
    if (tail && first > seen + 1) this.missing += first - seen - 1;
    if (tail && first <= tail.id) {
      // Out of order or repeated (e.g. after a reconnect): keep ids unique and sorted.
      const known = newest.lastIds(rows.length * 2);
      this.target.appendSorted(rows.filter((r) => !known.has(r.id)));
      return;
    }
    this.target.append(rows);
  }

  skipped(upToId: number): void {
    const seen = Math.max(this.newest().last()?.id ?? 0, this.skippedUpTo);
    if (upToId > seen) {
      this.missing += upToId - seen;
      this.skippedUpTo = upToId;
    }
  }

  /** What changed, for the store (nothing when the batch had no packet events). */
  patch(): Partial<AppState> {
    const s = this.s;
    const patch: Partial<AppState> = {};
    const packets = this.table.list();
    const held = this.held.list();
    if (packets !== s.packets) patch.packets = packets;
    if (held !== s.heldPackets) patch.heldPackets = held;
    if (this.received !== s.packetsReceived) patch.packetsReceived = this.received;
    if (this.missing !== s.packetsMissing) patch.packetsMissing = this.missing;
    if (this.skippedUpTo !== s.packetsSkippedUpTo) patch.packetsSkippedUpTo = this.skippedUpTo;
    return patch;
  }
}
