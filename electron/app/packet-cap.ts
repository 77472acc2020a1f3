/**
 * The cap on stored packet rows per second (`logs.maxStoredPacketsPerSecond`). Under a flood, a row
 * per blocked packet costs most of the service's CPU (a packets INSERT touches six B-trees) and fills
 * the table's row cap in minutes with one spoofed source after another. Detection still sees every
 * record; only storage is capped, and what is not stored is counted per minute (the store keeps the
 * counts beside the packets, and the status, the dashboard and the packet log show them), so the
 * numbers a user reads stay true.
 *
 * Seconds are the records' own time (the rows' time column): at most `perSecond` rows carry a time in
 * any one second. Records a little out of order (another second of the last RECENT_SECONDS) are
 * charged to their own second; one from further back (the clock was stepped back) starts the count
 * again from there.
 */
export class PacketStorageCap {
  private second = -Infinity;
  private used = 0;
  /** Rows used by the seconds before `second`, kept RECENT_SECONDS back. */
  private readonly recent = new Map<number, number>();

  /** Whether a packet of this time (ms) is stored; false: count it instead. */
  admit(timeMs: number, perSecond: number): boolean {
    const s = Math.floor(timeMs / 1000);
    if (s !== this.second) return this.admitOther(s, perSecond);
    if (this.used >= perSecond) return false;
    this.used++;
    return true;
  }

  private admitOther(s: number, perSecond: number): boolean {
    if (s < this.second && s >= this.second - RECENT_SECONDS) {
      const used = this.recent.get(s) ?? 0;
      if (used >= perSecond) return false;
      this.recent.set(s, used + 1);
      return true;
    }
    if (s > this.second) this.recent.set(this.second, this.used);
    else this.recent.clear();
    for (const k of this.recent.keys()) if (k < s - RECENT_SECONDS) this.recent.delete(k);
    this.second = s;
    this.used = 1;
    return true;
  }
}

const RECENT_SECONDS = 10;

/** Counts of packets not stored, by the minute (ms of its start) of their time. */
export class NotStoredTally {
  private readonly byMinute = new Map<number, number>();
  total = 0;

  add(timeMs: number): void {
    const minute = Math.floor(timeMs / 60_000) * 60_000;
    this.byMinute.set(minute, (this.byMinute.get(minute) ?? 0) + 1);
    this.total++;
  }

  entries(): IterableIterator<[number, number]> {
    return this.byMinute.entries();
  }
}
