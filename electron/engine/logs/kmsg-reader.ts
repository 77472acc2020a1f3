/**
 * Reads /dev/kmsg in the way the moment needs: at rest, one blocking read() at a time on the libuv
 * threadpool; while records come fast, on a thread of its own (kmsg-thread.ts) that is started for
 * the flood and retired after it.
 *
 * WHY: the reading thread is a second V8 isolate, ~15 MB of the service's resident memory
 * (bench/idle.bench.ts: `run` idle 84 MB, of which the thread's isolate ~15). At rest a record
 * comes every few seconds and a threadpool hop per record costs nothing worth a thread; under a
 * flood (10k+ records/s) the hop per record is what fell behind the kernel's ring before the thread
 * existed. So: pool reads until START_RECORDS arrive within WINDOW_MS, then the thread, until
 * RETIRE_AFTER_MS pass with fewer than QUIET_RECORDS per second.
 *
 * WHY the main thread reads while the thread boots: a Node worker takes 50–100 ms to boot on a quiet
 * machine, more on a busy one, and the kernel's ring holds ~28 ms of a 20k records/s flood. Pool
 * reads (a threadpool hop and an event-loop turn per record) fell behind in that time: 1,450–7,600
 * records of every 20k/s flood were overwritten at its start (soak bench). So while the thread
 * boots, the main thread drains a second, non-blocking fd on the same device itself: once before the
 * thread is made, then every turn it reads with `readSync` until EAGAIN (the kernel's ring emptied
 * first) and hands one small batch on (BOOT_BATCH); a 1 ms timer when nothing was waiting. No hop,
 * no turn per record.
 *
 * No record is lost or doubled at a switch. The pool reads and the thread use the SAME fd, whose
 * read position the kernel keeps per open file, and never read at the same time; the second fd has
 * a position of its own, so what it reads is matched by sequence number:
 * - to the thread: the pool reads stop at the start (the read that saw the burst issues no next
 *   one), the second fd is read from its position on, records up to the last one handed over are
 *   skipped (a new open starts at the ring's oldest); once the thread has booted the main thread's
 *   reads stop, and the thread, on the first fd (still where the pool reads left it), skips every
 *   record up to the last one the main thread handed over. Without a second fd (the option below),
 *   the pool reads go on while it boots and the next pool read's callback lets the thread go;
 * - back to the pool: the thread is asked to retire and woken (one user-facility record written to
 *   /dev/kmsg, see wakeKmsgReaders); it hands over every record it read and ends; only then do the
 *   pool reads resume.
 * Records the kernel overwrote while nobody read are still counted by the source (sequence gaps).
 */
import { closeSync, read, readSync } from 'node:fs';
import { KMSG_MAX_RECORD, KMSG_RING_BYTES, startKmsgThread, type KmsgThread, type KmsgThreadSink } from './kmsg-thread.ts';

/** When the reader switches; tests use small values to switch often. */
export interface KmsgReaderTuning {
  /** Records within WINDOW_MS that start the thread. */
  startRecords: number;
  windowMs: number;
  /**
   * Or: this many records within WINDOW_MS, written by the kernel at START_RECORDS per WINDOW_MS or
   * faster (by their stamps), the last of them read BEHIND_MS later after it was written than the
   * window's first was — a flood the pool reads are falling behind (see DEFAULT_TUNING) — provided
   * the kernel's ring, read at once, holds enough records after them to make START_RECORDS.
   */
  behindRecords: number;
  behindMs: number;
  /** Records per second below which a second counts as quiet. */
  quietRecords: number;
  /** Quiet time after which the thread is retired. */
  retireAfterMs: number;
  /** After a thread failed to start: pool reads only, for this long. */
  retryAfterMs: number;
}

/**
 * 64 records in 32 ms (2k/s) start the thread: the kernel's ring holds ~560 firewall records here
 * (28 ms of a 20k/s flood), and a flood that starts at full speed outruns the pool reads at once:
 * the sooner the start, the fewer records wait in the ring when the main thread's own reads begin
 * (see above). A port scan of one source is a few dozen records over a fraction of
 * a second: no thread. Retired after 10 s under 100 records/s: a flood that pauses for a moment
 * keeps its thread.
 *
 * WHY the second trigger (16 records written at 2k/s or faster, the last one read 4 ms later after
 * it was written than the window's first): at a flood's start the pool reads run cold code, ~300 µs
 * a record against one every 50 µs at 20k/s; by the 64th record they read records 22 ms old, and
 * the kernel's ring (28 ms) overflowed before the main thread's own reads began — 65 records lost at
 * one start of four (soak bench, busy machine). Records written fast and read ever later say the
 * reads are behind a flood; a scan the pool reads keep up with never starts a thread, nor do a few
 * records read late because the main thread was busy (at start-up: without the write rate, 8
 * records did start a thread there, 30 MB resident for good). Relative to the window's first
 * record, because the kernel's stamps (local_clock) and CLOCK_MONOTONIC differ by an amount of
 * their own on every host (1.4 ms here, after 15 hours up). The second trigger only looks ahead at
 * the first: it reads the ring at once (as a start does anyway, before it makes the thread), and
 * starts the thread only if the records read and those waiting make 64; a short burst read late by
 * a busy main thread (a boot burst, a fast scan during a store commit: 16 records within 8 ms
 * were enough) is handed over and the pool reads go on (finding K2: a thread, ~15 MB for 10 s or
 * more, for nothing).
 */
export const DEFAULT_TUNING: KmsgReaderTuning = { startRecords: 64, windowMs: 32, behindRecords: 16, behindMs: 4, quietRecords: 100, retireAfterMs: 10_000, retryAfterMs: 60_000 };

/** Reading threads of every reader of this process that exist right now (started and not yet ended). */
let threadsAlive = 0;
/** How many reading threads exist right now: the service trims its memory only once they have ended (headless/rest-trim.ts). */
export function liveKmsgThreads(): number {
  return threadsAlive;
}

/** CLOCK_MONOTONIC in ms, the time base of kmsg stamps. */
const monotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

export type KmsgReaderMode = 'pool' | 'starting' | 'thread' | 'retiring' | 'stopped';

export interface KmsgReader {
  /** How it reads right now (tests, diagnostics). */
  mode(): KmsgReaderMode;
  /** Threads started and retired so far, the records the threads read, and those the main thread read from the second fd (while a thread booted, or looking ahead for one: K2's check). */
  readonly counts: { threadStarts: number; threadRetires: number; threadRecords: number; bootRecords: number };
  /** Stops reading (a read parked in the kernel is woken through the `wake` option, and the fd closed after it). */
  stop(): void;
}

export interface KmsgReaderOptions {
  ringBytes?: number;
  tuning?: Partial<KmsgReaderTuning>;
  /** Makes a read parked in the kernel return (writes one record): to retire the thread, and at stop(). */
  wake: () => void;
  /**
   * Opens a second fd on the same device, O_NONBLOCK: the main thread reads it while the thread
   * boots. Without it, pool reads go on during the boot (slower: a hop per record).
   */
  openNonBlocking?: () => number;
  now?: () => number;
  /**
   * Seq of the newest record the ring held when the fd was opened (null: it was empty): records up
   * to it are a backlog (re-read from the ring's oldest at every start, hundreds at once after a
   * restart), read once, never a flood to start a thread for.
   */
  backlogUpToSeq?: number | null;
  /** CLOCK_MONOTONIC in ms, the kernel stamps' time base (tests). */
  monotonicNow?: () => number;
  /** The device's reads and the reading thread (tests inject a device and a thread they control). */
  io?: KmsgReaderIo;
}

export interface KmsgReaderIo {
  read: typeof read;
  readSync: typeof readSync;
  closeSync: typeof closeSync;
  startThread: typeof startKmsgThread;
}
const NODE_IO: KmsgReaderIo = { read, readSync, closeSync, startThread: startKmsgThread };

/**
 * Records handed to the sink at once while the main thread reads the second fd, one batch per
 * event-loop turn, the ring read again before each. The time between two reads of the ring is one
 * batch's handling (and whatever else the turn runs): at a flood's start, on cold code and a busy
 * machine, 256 records took 3–29 ms, and the ring holds 28 ms at 20k records/s (soak bench trace).
 */
export const BOOT_BATCH = 32;
/**
 * Records the main thread may hold, read from the second fd but not yet handed over (~3 MB): it
 * empties the kernel's ring first in every turn and hands over one batch, so a turn's work never
 * lets the ring overflow. Past this, it stops reading ahead (the kernel's ring overwrites, counted).
 */
const HOLD_MAX = 8192;

/** The record in the first `n` bytes one read returned: its first line only (dictionary lines follow), at most KMSG_MAX_RECORD. */
function recordIn(buf: Buffer, n: number): string {
  let len = buf.indexOf(10);
  if (len < 0 || len > n) len = n;
  if (len > KMSG_MAX_RECORD) len = KMSG_MAX_RECORD;
  return buf.toString('utf8', 0, len);
}

/** The sequence number of a raw record ("prio,seq,usec,flags;…"), NaN if it has none. */
function seqOf(record: string): number {
  const a = record.indexOf(',');
  return Number(record.slice(a + 1, record.indexOf(',', a + 1)));
}

/** What the reader tells its owner. */
export interface KmsgReaderSink extends KmsgThreadSink {
  /**
   * A problem it read on past, in a slower way (no second fd, no thread for now): the source's
   * health shows it as a warning, not as the fault `error` is (reading stopped). Null: over (a
   * thread took over, with a second fd).
   */
  warning(message: string | null): void;
}

/** Reads the open kmsg `fd` until stop(); owns the fd (closes it once no read can be in flight). */
export function startKmsgReader(fd: number, sink: KmsgReaderSink, opts: KmsgReaderOptions): KmsgReader {
  const tuning = { ...DEFAULT_TUNING, ...opts.tuning };
  const now = opts.now ?? Date.now;
  const io = opts.io ?? NODE_IO;
  const monotonicNow = opts.monotonicNow ?? monotonicMs;
  const backlogUpToSeq = opts.backlogUpToSeq ?? -1;
  const buf = Buffer.alloc(16 * 1024);
  let mode: KmsgReaderMode = 'pool';
  let poolReadInFlight = false;
  let thread: KmsgThread | null = null;
  /** The booted thread waits for the pool read in flight to come back. */
  let handOver = false;
  let windowStart = now();
  let windowCount = 0;
  /** Age of the window's first record when it was read (ms). */
  let windowFirstAge = 0;
  /** When the window's first record was written (its stamp, monotonic ms). */
  let windowFirstWritten = 0;
  let noThreadUntil = 0;
  let quietSince: number | null = null;
  let secondCount = 0;
  let ticker: NodeJS.Timeout | null = null;
  /** The thread was stopped before it took over (the burst ended while it booted). */
  let abandoned = false;
  let fdClosed = false;
  const counts = { threadStarts: 0, threadRetires: 0, threadRecords: 0, bootRecords: 0 };
  /** Seq of the last record handed to the sink (-1: none yet): where any other reader's records start. */
  let lastSeq = -1;
  /** Pool reads skip records up to this seq (after main-thread reads of the second fd: a thread that never took over). */
  let poolSkipTo = -1;
  /** The second, non-blocking fd (opened at the first thread start), and the main thread's reads of it. */
  let bootFd: number | null = null;
  let bootReading = false;
  let bootTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  const bootBuf = Buffer.alloc(16 * 1024);
  /** Records read but not yet handed to the sink, in order (batches); whatever is read later waits behind them. */
  const held: string[][] = [];
  let heldCount = 0;
  let heldTimer: NodeJS.Immediate | null = null;
  /** To the sink, behind anything still held. */
  const deliver = (records: string[]): void => {
    if (held.length === 0) sink.records(records);
    else hold(records);
  };
  const hold = (records: string[]): void => {
    held.push(records);
    heldCount += records.length;
  };
  /** Hands over one held batch; then, in the next turn, the next one (while no boot read does it). */
  const handHeld = (): void => {
    heldTimer = null;
    const batch = held.shift();
    if (batch === undefined) return;
    heldCount -= batch.length;
    sink.records(batch);
    if (held.length && !bootReading && (mode as KmsgReaderMode) !== 'stopped') heldTimer = setImmediate(handHeld);
  };

  /**
   * After stop(): closes the fd once nothing can read it any more. A read queued on the pool or
   * parked in the kernel still uses the fd NUMBER: closed under it, a new open() elsewhere could take
   * the number and the read would read that file.
   */
  const closeFd = (): void => {
    if (fdClosed || poolReadInFlight || thread !== null) return;
    fdClosed = true;
    io.closeSync(fd);
    if (bootFd !== null) io.closeSync(bootFd);
    bootFd = null;
  };

  const poolRead = (): void => {
    poolReadInFlight = true;
    io.read(fd, buf, 0, buf.length, null, (err, n) => {
      poolReadInFlight = false;
      if (mode === 'stopped') return closeFd();
      if (err) {
        // EPIPE: records were overwritten before this read; the next read returns the oldest survivor.
        // The kernel wrote faster than the pool reads read: a flood, whatever the records' seqs (a
        // start in the middle of one reads its backlog first, which never counts for a start).
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') {
          if (mode === 'pool' && now() >= noThreadUntil) startThread(false);
          return next();
        }
        sink.error(err.message);
        return;
      }
      if (n === 0) return;
      const record = recordIn(buf, n);
      const seq = seqOf(record);
      if (poolSkipTo >= 0) {
        // Already handed over from the second fd.
        if (seq <= poolSkipTo) return next();
        poolSkipTo = -1;
      }
      if (seq === seq) lastSeq = seq;
      deliver([record]);
      // The sink may have stopped us.
      if ((mode as KmsgReaderMode) === 'stopped') return closeFd();
      secondCount++;
      // By seq, not by stamp: the kernel's stamps (local_clock) and CLOCK_MONOTONIC (NTP-disciplined)
      // drift apart by uptime × the clock's correction, past any fixed "written within the last
      // second" after hours to a day (then no flood ever started a thread, or a backlog did).
      if (!(seq <= backlogUpToSeq)) countForStart(writtenMs(record));
      next();
    });
  };

  /**
   * When the kernel wrote the record (its stamp, monotonic ms; one without a stamp: now). Only ever
   * compared with other records' stamps and ages (countForStart): the offset between the stamps'
   * clock and CLOCK_MONOTONIC cancels out.
   */
  const writtenMs = (record: string): number => {
    const a = record.indexOf(',');
    const b = record.indexOf(',', a + 1);
    const usec = Number(record.slice(b + 1, record.indexOf(',', b + 1)));
    return usec === usec ? usec / 1000 : monotonicNow();
  };

  /** A thread took over, with the second fd (if one is to be had): any earlier trouble with either is over. */
  const tookOver = (): void => {
    if (opts.openNonBlocking && bootFd === null) return;
    sink.warning(null);
  };

  /** After a pool read: the next one, or the thread's turn. */
  const next = (): void => {
    // The main thread reads the second fd while the thread boots: no pool read meanwhile.
    if (bootReading || bootTimer !== null) return;
    if (handOver && thread !== null) {
      handOver = false;
      mode = 'thread';
      // Past anything the second fd handed over (its reads failed, and pool reads were still skipping).
      thread.go(lastSeq);
      tookOver();
      return;
    }
    poolRead();
  };

  /** A record written after the start (not the backlog), written at `written` (monotonic ms), read by the pool: the thread's turn? */
  const countForStart = (written: number): void => {
    if (mode !== 'pool') return;
    const t = now();
    const age = monotonicNow() - written;
    if (t - windowStart > tuning.windowMs || windowCount === 0) {
      windowStart = t;
      windowCount = 0;
      windowFirstAge = age;
      windowFirstWritten = written;
    }
    windowCount++;
    const fast = written - windowFirstWritten <= (windowCount * tuning.windowMs) / tuning.startRecords;
    const behind = windowCount >= tuning.behindRecords && fast && age - windowFirstAge >= tuning.behindMs;
    const burst = windowCount >= tuning.startRecords || behind;
    if (burst && t >= noThreadUntil) startThread(windowCount < tuning.startRecords);
  };

  /**
   * The main thread's reads of the second fd while the thread boots: every record waiting, up to a
   * batch per event-loop turn; when none is waiting, again in 1 ms (the kernel's ring holds ~28 ms of
   * a 20k/s flood).
   */
  const bootRead = (): void => {
    bootTimer = null;
    if (!bootReading || bootFd === null) return;
    const ring = readRing(bootFd);
    // The ring is empty (or the hold full): hand over one batch.
    handHeld();
    // The pool reads resume (skipping what was handed over) until the thread comes.
    if (ring === 'failed') return backToPool();
    if (!bootReading) {
      if (held.length && heldTimer === null && (mode as KmsgReaderMode) !== 'stopped') heldTimer = setImmediate(handHeld);
      return;
    }
    bootTimer = ring === 'full' || held.length ? setImmediate(bootRead) : setTimeout(bootRead, 1);
  };
  /** Reads the second fd until the kernel's ring is empty, or the hold full, into `held`. */
  const readRing = (from: number): 'empty' | 'full' | 'failed' => {
    let out: string[] = [];
    let read = 0;
    let result: 'empty' | 'full' | 'failed' = 'full';
    while (heldCount + out.length < HOLD_MAX) {
      let n: number;
      try {
        n = io.readSync(from, bootBuf, 0, bootBuf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // EPIPE: records were overwritten before this read; the next read returns the oldest survivor.
        if (code === 'EPIPE') continue;
        result = 'empty';
        if (code !== 'EAGAIN') {
          sink.warning(`reading the second fd: ${(e as Error).message} (read on without it)`);
          result = 'failed';
        }
        break;
      }
      if (n === 0) {
        result = 'empty';
        break;
      }
      const record = recordIn(bootBuf, n);
      const seq = seqOf(record);
      // Handed over already (this fd starts at the ring's oldest, or where its last boot left it).
      if (seq <= lastSeq) continue;
      if (seq === seq) lastSeq = seq;
      out.push(record);
      read++;
      if (out.length === BOOT_BATCH) {
        hold(out);
        out = [];
      }
    }
    if (out.length) hold(out);
    counts.bootRecords += read;
    secondCount += read;
    return result;
  };
  const stopBootRead = (): void => {
    bootReading = false;
    if (bootTimer !== null) {
      clearTimeout(bootTimer as NodeJS.Timeout);
      clearImmediate(bootTimer as NodeJS.Immediate);
    }
    bootTimer = null;
    // What it still holds goes first, a batch per turn; later records wait behind it (deliver()).
    if (held.length && heldTimer === null && (mode as KmsgReaderMode) !== 'stopped') heldTimer = setImmediate(handHeld);
  };
  /** A thread that will not take over after all, while the main thread read the second fd: the pool reads resume, skipping what it handed over. */
  const backToPool = (): void => {
    const wasBootReading = bootReading || bootTimer !== null;
    stopBootRead();
    if (wasBootReading && !poolReadInFlight) {
      poolSkipTo = lastSeq;
      poolRead();
    }
  };

  /** In startThread: no boot reads after all; the pool reads resume past what they handed over (the caller's next()). */
  const leaveBootRead = (): void => {
    if (!bootReading) return;
    stopBootRead();
    poolSkipTo = lastSeq;
  };
  /**
   * Called from a pool read's callback: no pool read is in flight, and none is issued while the main
   * thread reads the second fd (next()); when this returns without a boot read going on, the
   * callback's next() resumes the pool reads.
   */
  const startThread = (early: boolean): void => {
    mode = 'starting';
    if (opts.openNonBlocking && bootFd === null) {
      try {
        bootFd = opts.openNonBlocking();
      } catch (e) {
        sink.warning(`cannot open a second fd to read while the thread boots: ${(e as Error).message} (read on without it)`);
      }
    }
    // The ring is read once before the thread is made: making it holds the main thread 3–7 ms (soak
    // bench trace, busy machine), a quarter of what the kernel's ring holds at 20k records/s.
    if (bootFd !== null && !poolReadInFlight) {
      bootReading = true;
      const before = counts.bootRecords;
      const ring = readRing(bootFd);
      if (ring === 'failed') leaveBootRead();
      else if (early && ring === 'empty' && windowCount + counts.bootRecords - before < tuning.startRecords) {
        // Started early (reads falling behind records written fast), but the ring held too few
        // records after them to make the window's START_RECORDS: a short burst read late by a busy
        // main thread (a boot burst, a fast scan during a store commit), over by now. It has been
        // read: hand it over, and the pool reads go on past it; a thread (~15 MB while it lives,
        // 10 s at least) is for a flood.
        leaveBootRead();
        mode = 'pool';
        windowCount = 0;
        return;
      }
    }
    counts.threadStarts++;
    let t: KmsgThread;
    try {
      // Whatever goes wrong in the thread, the pool reads go on (ready's rejection, exited below): a
      // warning, not the error of a source that stopped reading.
      t = io.startThread(fd, { records: (raw) => onThreadRecords(raw), error: (m) => sink.warning(`the kmsg reading thread: ${m} (read on without it)`) }, opts.ringBytes ?? KMSG_RING_BYTES);
    } catch (e) {
      noThreadUntil = now() + tuning.retryAfterMs;
      mode = 'pool';
      sink.warning(`cannot start the kmsg reading thread: ${(e as Error).message} (read on without it; tried again in ${Math.round(tuning.retryAfterMs / 1000)} s)`);
      leaveBootRead();
      return;
    }
    thread = t;
    threadsAlive++;
    void t.exited.then(() => threadsAlive--);
    if (bootReading) bootTimer = setImmediate(bootRead);
    t.ready.then(
      () => {
        if (thread !== t || mode !== 'starting' || abandoned) return;
        if (bootReading || bootTimer !== null) {
          // The main thread read the second fd up to lastSeq: the thread skips as far on the first.
          stopBootRead();
          mode = 'thread';
          t.go(lastSeq);
          tookOver();
          return;
        }
        // A pool read is in flight (pool mode always has one): its callback lets the thread go.
        if (poolReadInFlight) handOver = true;
        else next();
      },
      () => {
        // It never read: the pool reads simply go on (or resume, after the main thread's reads).
        if (thread !== t) return;
        thread = null;
        if (mode === 'starting') mode = 'pool';
        noThreadUntil = now() + tuning.retryAfterMs;
        backToPool();
      },
    );
    void t.exited.then(() => {
      if (thread !== t) return;
      thread = null;
      stopTicker();
      if (mode === 'stopped') return closeFd();
      if (mode === 'starting') {
        // Ended before it read: dropped because the burst was over before it could take over, or
        // an error. The pool reads are still running, or resume after the main thread's reads.
        mode = 'pool';
        if (abandoned) counts.threadRetires++;
        else noThreadUntil = now() + tuning.retryAfterMs;
        backToPool();
        return;
      }
      // Retired (or it ended on an error while reading): every record it read has been handed over.
      if (mode === 'retiring') counts.threadRetires++;
      else noThreadUntil = now() + tuning.retryAfterMs;
      mode = 'pool';
      windowStart = now();
      windowCount = 0;
      poolRead();
    });
    abandoned = false;
    secondCount = 0;
    quietSince = null;
    ticker = setInterval(tick, 1000);
    ticker.unref();
  };

  const onThreadRecords = (raw: string[]): void => {
    secondCount += raw.length;
    counts.threadRecords += raw.length;
    const seq = seqOf(raw[raw.length - 1]!);
    if (seq === seq) lastSeq = seq;
    deliver(raw);
  };

  /**
   * Once a second while a thread exists: retire it after RETIRE_AFTER_MS of quiet seconds. One that
   * has not taken over yet (it waits for the pool read parked in the kernel, and the burst is over)
   * just ends: it never read.
   */
  const tick = (): void => {
    if (mode !== 'thread' && mode !== 'starting') return;
    const t = now();
    if (secondCount >= tuning.quietRecords) quietSince = null;
    else if (quietSince === null) quietSince = t - 1000;
    secondCount = 0;
    if (quietSince === null || t - quietSince < tuning.retireAfterMs) return;
    if (mode === 'starting') {
      abandoned = true;
      handOver = false;
      thread?.stop();
      return;
    }
    mode = 'retiring';
    thread?.retire();
    // Its read is parked in the kernel until a record comes: bring one.
    opts.wake();
  };
  const stopTicker = (): void => {
    if (ticker !== null) clearInterval(ticker);
    ticker = null;
  };

  poolRead();
  return {
    mode: () => mode,
    counts,
    stop() {
      if (mode === 'stopped') return;
      mode = 'stopped';
      stopTicker();
      stopBootRead();
      if (heldTimer !== null) clearImmediate(heldTimer);
      held.length = 0;
      thread?.stop();
      if (poolReadInFlight || thread !== null) opts.wake();
      else closeFd();
    },
  };
}
