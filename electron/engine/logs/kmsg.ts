/**
 * The kernel ring buffer as a log source, from /dev/kmsg directly (root) or from a feed of raw
 * records (the desktop app gets them from the root helper over its socket) — the same record
 * handling either way:
 * - A record is "prio,seq,usec,flags;message\n" then optional " KEY=value" dictionary lines; only
 *   the first line is the record. prio = facility*8 + level.
 * - Kernel facility only: userspace may write to /dev/kmsg, but the kernel never lets it claim
 *   facility 0 (a write of "<4>…" is stored with facility 1, user), so facility 0 proves the
 *   record came from the kernel. Other records are counted as untrusted and not passed on; only
 *   those that imitate a firewall line (forged) are rejects in the health's rejectsPerMinute —
 *   systemd's records, or a reader's own wake-up record, are just no firewall records.
 * - Sequence numbers are consecutive across ALL records, so a jump means records were overwritten
 *   in the ring before anyone read them (a read fails with EPIPE, the next one returns the oldest
 *   survivor): the gap is counted as lost and reading goes on.
 * - Resume: records with seq ≤ resumeAfterSeq are skipped, and onSeq reports the last seq handled
 *   (queue it with the stored packets), so a restart loses nothing and repeats nothing.
 * - Dating: kmsg stamps are µs of the kernel's local clock since boot, which (like
 *   CLOCK_MONOTONIC, and unlike /proc/uptime's CLOCK_BOOTTIME) stops during suspend. bootTimeMs()
 *   is therefore Date.now() − CLOCK_MONOTONIC (process.hrtime), recomputed on every call, so it
 *   stays right after a suspend or a wall-clock step.
 */
import { constants, openSync } from 'node:fs';
import { startKmsgReader, type KmsgReader, type KmsgReaderMode, type KmsgReaderTuning } from './kmsg-reader.ts';
import { systemClock, type Clock } from '../../shared/domain.ts';
import type { LogSourcePort, SourceHealth } from '../ports.ts';
import { errorText, SourceStats } from './stats.ts';
import { parseRecord, type ParseOptions } from '../parse/index.ts';
import type { ParseResult } from '../../shared/packet.ts';
import { parseKmsgHeader, type KmsgRecord } from '../../shared/kmsg-header.ts';
import type { KmsgBatchInfo } from '../../shared/helper-protocol.ts';
import { newestKmsgSeq, readKmsgRing, wakeKmsgReaders, type KmsgRingView } from '../../node/kmsg-ring.ts';

export { MAX_KMSG_LINE, parseKmsgHeader, type KmsgRecord } from '../../shared/kmsg-header.ts';
export { newestKmsgSeq, wakeKmsgReaders };

/** CLOCK_MONOTONIC in ms — the time base of kmsg stamps (Node's hrtime reads it on Linux). */
export const monotonicNowMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

/** Wall-clock ms of "boot" on the kmsg time base, right now. */
export function kmsgBootTimeMs(now: number = Date.now(), monotonicMs: number = monotonicNowMs()): number {
  return now - monotonicMs;
}

/**
 * A line parser for live kmsg records whose time base is read again for every record. kmsg stamps
 * count CLOCK_MONOTONIC, which stops while the machine is suspended: the wall-clock time of their
 * zero moves forward by every suspend. Read once at start, every record after a laptop's resume
 * would be dated hours too early — outside findtime, or a ban expiring as it is made. (/proc/uptime
 * counts suspended time too, so it is the wrong base even at start.) For other framings the options
 * are used as they are.
 */
export function liveLineParser(opts: ParseOptions, bootTimeMs: () => number = kmsgBootTimeMs): (line: string) => ParseResult {
  if (opts.framing !== 'kmsg') return (line) => parseRecord(line, opts);
  return (line) => {
    opts.bootTimeMs = bootTimeMs();
    return parseRecord(line, opts);
  };
}

/** What a feed tells the source. */
export interface KmsgFeedSink {
  /**
   * Raw records; a prefiltered feed also says what it skipped besides (lost, filtered), possibly
   * with no record, and newBoot: it reads this boot from its start (the resume position was another boot's).
   */
  records(raw: string[], info?: KmsgBatchInfo): void;
  /** Reading stopped or failed (SourceHealth.error). */
  error(message: string): void;
  /** Reading runs again after error() (the helper's stream was restarted), before any record comes. */
  running?(): void;
  /** A problem the feed read on past (SourceHealth.warning); null: it is over. */
  warning(message: string | null): void;
}

/** Where raw records come from: /dev/kmsg, or the helper's stream. */
export interface KmsgFeed {
  readonly description: string;
  /**
   * The feed already dropped non-kernel records (the helper's stream does): seq gaps are then
   * expected and not counted as records lost to ring overwrite — the feed counts those itself and
   * says so with its records (KmsgFeedSink.records' `skipped`).
   */
  readonly prefiltered?: boolean;
  /** Seq of the newest record now, for startAt 'now' (feeds that can look; others need resumeAfterSeq). */
  newestSeq?(): number | null;
  /** About how much the kernel's ring holds, once it was seen full (feeds that can look: /dev/kmsg at start). */
  kernelRing?(): { bytes: number; records: number } | null;
  start(sink: KmsgFeedSink): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reads /dev/kmsg (kmsg-reader.ts): blocking reads on the libuv threadpool at rest, and on a thread
 * of its own while records come fast — a record is handed over the moment the kernel writes it, and
 * under load one event-loop turn takes hundreds. A read parked in the kernel cannot be interrupted:
 * stop() (and retiring the thread after a flood) writes one user-facility record to wake it.
 */
export class DevKmsgFeed implements KmsgFeed {
  readonly description: string;
  private readonly path: string;
  private reader: KmsgReader | null = null;
  private readonly opts: { ringBytes?: number; tuning?: Partial<KmsgReaderTuning> };
  private ring: KmsgRingView['full'] = null;

  /**
   * `ringBytes`: the thread's hand-over ring (default KMSG_RING_BYTES; tests use small ones to wrap
   * it often); `tuning`: when the thread starts and retires (tests switch often).
   */
  constructor(path = '/dev/kmsg', opts: { ringBytes?: number; tuning?: Partial<KmsgReaderTuning> } = {}) {
    this.path = path;
    this.opts = opts;
    this.description = `kernel ring buffer (${path})`;
  }

  newestSeq(): number | null {
    return newestKmsgSeq(this.path);
  }

  kernelRing(): KmsgRingView['full'] {
    return this.ring;
  }

  /** How the feed reads right now, and how often it switched (tests, diagnostics). */
  readerState(): { mode: KmsgReaderMode; threadStarts: number; threadRetires: number; threadRecords: number; bootRecords: number } {
    return { mode: this.reader?.mode() ?? 'stopped', ...(this.reader?.counts ?? { threadStarts: 0, threadRetires: 0, threadRecords: 0, bootRecords: 0 }) };
  }

  async start(sink: KmsgFeedSink): Promise<void> {
    this.reader?.stop();
    // The ring's backlog and size, before the open (a failure here leaves no fd behind): a record
    // written in between is read as new, as any after the open is.
    const ring = readKmsgRing(this.path);
    const backlogUpToSeq = ring.newestSeq;
    if (ring.full) this.ring = ring.full;
    // Opened here, so that a device we cannot read fails start().
    const fd = openSync(this.path, constants.O_RDONLY);
    this.reader = startKmsgReader(
      fd,
      { records: (raw) => sink.records(raw), error: (m) => sink.error(`reading ${this.path}: ${m}`), warning: (m) => sink.warning(m === null ? null : `reading ${this.path}: ${m}`) },
      {
        ...(this.opts.ringBytes !== undefined ? { ringBytes: this.opts.ringBytes } : {}),
        ...(this.opts.tuning ? { tuning: this.opts.tuning } : {}),
        // The parked read would wait for the next kernel record: write one ourselves (user facility,
        // never trusted as a firewall record by anyone).
        wake: () => wakeKmsgReaders(this.path),
        backlogUpToSeq,
        // Read by the main thread while the reading thread boots (kmsg-reader.ts says why).
        openNonBlocking: () => openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK),
      },
    );
  }

  async stop(): Promise<void> {
    // Kept after the stop: readerState() still tells how it read.
    this.reader?.stop();
  }
}


/**
 * A non-kernel record that imitates a firewall line: the parser refuses it as 'untrusted-transport',
 * any other program's record as 'not-firewall' — its own rule (framing.ts looksLikeFirewall), not a second one.
 */
function forgedFirewallLine(line: string): boolean {
  const r = parseRecord(line, { framing: 'kmsg' });
  return !r.ok && r.reason === 'untrusted-transport';
}

/** A kernel ring this large holds ~1 s of a 20k records/s flood: past any stall but a long one. */
const LARGE_KERNEL_RING = 4 << 20;

/**
 * What to do about records lost to ring overwrite: the kernel's ring is all that holds records while
 * the reader is held off (a busy host, a virtual CPU its hypervisor holds back, a stop), and its
 * size is a boot parameter — nothing the service can set (soak bench: 128 KB here, ~28 ms of a
 * 20k/s flood). Empty when the ring is large already.
 */
export function ringHint(ring: KmsgRingView['full']): string {
  if (ring && ring.bytes >= LARGE_KERNEL_RING) return '';
  const size = ring ? `holds ~${Math.round(ring.bytes / 1024)} KB (~${ring.records} records like the ones in it now); a larger one` : 'is a boot parameter; a larger one';
  return `; the kernel's log ring ${size} rides out longer stalls of the reader: kernel parameter log_buf_len=4M (GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot)`;
}

/** A feed the owner pushes raw records into (e.g. the helper client, as records arrive on its socket). */
export class PushKmsgFeed implements KmsgFeed {
  readonly description: string;
  readonly prefiltered: boolean;
  private sink: KmsgFeedSink | null = null;

  /** prefiltered defaults to true: the helper forwards kernel-facility records only, and counts what it skipped. */
  constructor(description = 'kernel ring buffer (through the Portcullis helper)', opts: { prefiltered?: boolean } = {}) {
    this.description = description;
    this.prefiltered = opts.prefiltered ?? true;
  }

  async start(sink: KmsgFeedSink): Promise<void> {
    this.sink = sink;
  }

  async stop(): Promise<void> {
    this.sink = null;
  }

  /** Records, and (prefiltered) what the pusher says besides: skipped since the last push, newBoot. */
  push(raw: string[], info?: KmsgBatchInfo): void {
    this.sink?.records(raw, info);
  }

  fail(message: string): void {
    this.sink?.error(message);
  }

  /** The stream runs again after fail() (restarted): no longer stopped, even before a record comes. */
  running(): void {
    this.sink?.running?.();
  }
}

export interface KmsgSourceOptions {
  /** Default: /dev/kmsg read directly. */
  feed?: KmsgFeed;
  /** Skip records up to and including this seq (the last one handled by a previous run). */
  resumeAfterSeq?: number | null;
  /**
   * Without a resume position: 'now' (default) skips what the ring already holds — the history
   * before the first start is not this run's business; 'oldest' reads the whole ring.
   * 'now' needs /dev/kmsg (newestKmsgSeq); with another feed, pass resumeAfterSeq instead.
   */
  startAt?: 'now' | 'oldest';
  /**
   * The position a previous run stored, when this one re-reads the ring from its oldest record
   * (startAt 'oldest'): if the ring no longer holds the record right after it, the records in
   * between were overwritten while nobody read them — counted as lost (lostWhileStopped), not
   * silently skipped. -1 after a reboot (the kernel numbers records from 0 again).
   */
  handledUpToSeq?: number | null;
  /** The last seq handled after each batch (trusted or not): persist it with the packets. */
  onSeq?: (seq: number) => void;
  /** Records refused for not being kernel facility (tests, diagnostics). */
  onUntrusted?: (record: KmsgRecord) => void;
  clock?: Clock;
  /** ms since boot on the clock kmsg stamps use. Default: CLOCK_MONOTONIC via process.hrtime. */
  monotonicMs?: () => number;
  /** For 'now' with the default feed; injectable for tests. */
  newestSeq?: () => number | null;
}

export class KmsgSource implements LogSourcePort {
  readonly kind = 'kmsg' as const;
  private readonly feed: KmsgFeed;
  private readonly opts: KmsgSourceOptions;
  private readonly clock: Clock;
  private readonly monotonicMs: () => number;
  private readonly stats: SourceStats;
  private afterSeq: number | null;
  private lastSeq: number | null = null;
  private reportedSeq: number | null = null;
  private onLines: ((lines: string[]) => void) | null = null;
  /** The feed said reading failed, and no record came since (health's `stopped`). */
  private feedStopped = false;
  /** Records overwritten in the ring before they were read (seq gaps), lostWhileStopped included. */
  lost = 0;
  /** Of those, the records overwritten while no one was reading (between the stored position and the ring's oldest). */
  lostWhileStopped = 0;
  /** Records handled (new sequence numbers, any facility). */
  read = 0;
  private gapChecked = false;
  /** Records refused for a non-kernel facility (userspace writes to /dev/kmsg). */
  untrusted = 0;
  /** Of those, the ones that imitate a firewall line (the parser's 'untrusted-transport'): counted as rejects. */
  forged = 0;
  /** Records skipped as already handled (resume, or a feed repeating itself). */
  skipped = 0;
  malformed = 0;

  constructor(opts: KmsgSourceOptions = {}) {
    this.opts = opts;
    this.feed = opts.feed ?? new DevKmsgFeed();
    this.clock = opts.clock ?? systemClock;
    this.monotonicMs = opts.monotonicMs ?? monotonicNowMs;
    this.stats = new SourceStats(this.clock);
    this.afterSeq = opts.resumeAfterSeq ?? null;
  }

  /** Wall-clock ms of boot on the kmsg time base: give it to the parser (ParseOptions.bootTimeMs). */
  bootTimeMs(): number {
    return kmsgBootTimeMs(this.clock.now(), this.monotonicMs());
  }

  /** The last seq handled (resume position). */
  position(): number | null {
    return this.lastSeq ?? this.afterSeq;
  }

  async start(onLines: (lines: string[]) => void): Promise<void> {
    this.onLines = onLines;
    if (this.afterSeq === null && (this.opts.startAt ?? 'now') === 'now') {
      // Any feed that can tell its newest record gives 'now' a start position, so that records
      // overwritten between start() and the feed's first read count as lost, not as never written.
      const newest = this.opts.newestSeq ?? (() => this.feed.newestSeq?.() ?? null);
      try {
        this.afterSeq = newest();
      } catch (e) {
        this.stats.error = errorText(e);
        throw e;
      }
    }
    // The first record after the resume point may legitimately be far ahead (ring overwritten while
    // we were stopped): that gap is lost too, and counted.
    this.lastSeq = this.afterSeq;
    this.reportedSeq = this.afterSeq;
    try {
      await this.feed.start({
        records: (raw, info) => {
          // Records again after the feed failed (the helper's stream restarted): reading again.
          if (this.feedStopped) {
            this.feedStopped = false;
            this.stats.error = undefined;
          }
          this.handle(raw, info);
        },
        error: (message) => {
          this.stats.error = message;
          this.feedStopped = true;
        },
        running: () => {
          // A quiet host may send no record for hours: the restart itself says reading runs again.
          if (!this.feedStopped) return;
          this.feedStopped = false;
          this.stats.error = undefined;
        },
        warning: (message) => {
          this.stats.warning = message ?? undefined;
        },
      });
    } catch (e) {
      this.stats.error = errorText(e);
      throw e;
    }
  }

  async stop(): Promise<void> {
    this.onLines = null;
    await this.feed.stop();
  }

  health(): SourceHealth {
    const h = this.stats.health('kmsg', this.feed.description, true);
    h.recordsRead = this.read;
    h.recordsLost = this.lost;
    if (this.feedStopped) h.stopped = true;
    if (this.lost > 0 && h.error === undefined) {
      const whileStopped = this.lostWhileStopped > 0 ? ` (${this.lostWhileStopped} of them while Portcullis was not running)` : '';
      h.error = `${this.lost} kernel records were overwritten before they could be read${whileStopped}${ringHint(this.feed.kernelRing?.() ?? null)}`;
    }
    return h;
  }

  noteRejects(count: number): void {
    this.stats.noteRejects(count);
  }

  /**
   * The record handling shared by every feed; public so a feed-less caller can hand records in.
   * `info`, from a prefiltered feed: what it did not hand in — records it lost (overwritten before it
   * read them) and non-kernel records it filtered out (read, and refused as untrusted would have
   * been); newBoot: it reads this boot from its first record, as the records that follow are (-1).
   */
  handle(raw: string[], info?: KmsgBatchInfo): void {
    if (info) {
      this.lost += info.lost;
      this.read += info.filtered;
      this.untrusted += info.filtered;
      if (info.newBoot && this.lastSeq !== null) this.lastSeq = -1;
    }
    const lines: string[] = [];
    let lastUsec: number | null = null;
    for (const r of raw) {
      const rec = parseKmsgHeader(r);
      if (!rec) {
        this.malformed++;
        this.stats.noteRejects(1);
        continue;
      }
      if (!this.gapChecked) {
        this.gapChecked = true;
        const stored = this.opts.handledUpToSeq;
        // The first record read is the ring's oldest: everything between the stored position and it is gone.
        if (stored !== undefined && stored !== null && this.lastSeq === null && rec.seq > stored + 1) {
          this.lostWhileStopped = rec.seq - stored - 1;
          this.lost += this.lostWhileStopped;
        }
      }
      if (this.lastSeq !== null && rec.seq <= this.lastSeq) {
        this.skipped++;
        continue;
      }
      if (this.lastSeq !== null && rec.seq > this.lastSeq + 1 && !this.feed.prefiltered) this.lost += rec.seq - this.lastSeq - 1;
      this.lastSeq = rec.seq;
      this.read++;
      if (rec.facility !== 0) {
        this.untrusted++;
        // A reject only when it looks like a firewall record (a forgery), as the parser tells it.
        if (forgedFirewallLine(rec.line)) {
          this.forged++;
          this.stats.noteRejects(1);
        }
        this.opts.onUntrusted?.(rec);
        continue;
      }
      lines.push(rec.line);
      lastUsec = rec.usec;
    }
    if (lines.length) {
      this.stats.noteLines(lines.length, lastUsec === null ? undefined : Math.round(this.bootTimeMs() + lastUsec / 1000));
      this.onLines?.(lines);
    }
    if (this.lastSeq !== null && this.lastSeq !== this.reportedSeq) {
      this.reportedSeq = this.lastSeq;
      this.opts.onSeq?.(this.lastSeq);
    }
  }
}
