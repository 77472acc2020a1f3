/**
 * /dev/kmsg read by a thread of its own, in a tight loop of blocking read()s, handing records over
 * through a ring in shared memory.
 *
 * WHY: a read of /dev/kmsg returns exactly one record. Read on the libuv threadpool (fs.read with a
 * callback), every record cost a threadpool hop, a promise and an event-loop turn — a third of
 * ~60 µs of CPU per record, and at 10k records/s the reader fell behind the kernel ring (25% lost).
 * Here the reading thread does nothing but read() and copy the record's first line into the ring;
 * the main thread is woken once (Atomics.waitAsync) and then takes every record waiting, so under
 * load one wake-up carries hundreds of records. No added latency: the first record of a burst wakes
 * the main thread at once.
 *
 * The thread's code is a fixed string run with `eval` (it needs no module of ours, and so works the
 * same from the TypeScript sources and from any bundle). It only reads: the device, and the ring.
 * When the ring is full it waits for room (the kernel ring then overwrites, which the source counts
 * as lost through the sequence numbers — never a silent drop here).
 *
 * The thread reads an fd it is given, not one of its own: /dev/kmsg keeps the read position per open
 * file, so the thread takes over exactly where the owner's reads on the same fd stopped (kmsg-reader.ts
 * starts it only while records come fast, and retires it after). It reads only once told to go (no
 * other read may be in flight on the fd then), and a retired thread hands over every record it read
 * before it ends: between the two readers no record is lost or read twice.
 */
/**
 * node:worker_threads is loaded at the first thread start, not with this module: the service at rest
 * has no thread, and the module and what it loads (internal/worker, its message ports, locks) cost
 * ~1.9 MB of resident memory in a bare Node (bench/idle.bench.ts: `run` idle, issue 14 item 4).
 */
const workerThreads = () => process.getBuiltinModule('node:worker_threads');

/**
 * Bytes of the ring (a power of two): records are packed (a 4-byte length, the record's first line,
 * padding to 4), ~330 bytes for a firewall record, so 8 MB hold ~25k records — over a second at
 * 20k records/s. The kernel's own ring holds far fewer (here ~560 records, 128 KB): this ring is what
 * rides out a main thread held up by a SQLite checkpoint, a process spawn or a busy machine.
 * Its pages are only touched (resident) as far as a backlog ever reached (see RESTART_AT).
 */
export const KMSG_RING_BYTES = 8 << 20;
/** A kmsg record's text is at most ~1000 bytes (LOG_LINE_MAX) plus its header: longer lines are cut. */
export const KMSG_MAX_RECORD = 2048;
/**
 * The reading thread's nice value. The kernel's ring holds ~560 firewall records here (28 ms at 20k
 * records/s): a reader kept off the CPU that long by other processes loses records, which the soak
 * bench saw as 1–2% lost at 20k/s on a shared 2-core machine with the main thread far from busy. The
 * thread blocks in read() whenever the ring is drained, so its priority costs others nothing but the
 * reading itself. It takes CAP_SYS_NICE, which the installed unit grants for this
 * (build/server/portcullis.service); without it the thread reads at the process's priority.
 */
export const READER_NICE = -10;
/**
 * The writer goes back to the ring's start whenever it finds the ring empty past this offset: the
 * 8 MB were all resident after the first 25k records of a flood (the position went round them),
 * where a backlog rarely passes a few hundred KB.
 *
 * WHY 1 MB, not less: until the main thread has read the marker of a skip to the start, the writer
 * may fill the ring's start only up to that marker (ringPlace). A restart at 64 KB left room for
 * ~270 records (13 ms of a 20k/s flood) until the main thread's next turn; on a busy machine that
 * turn came 30-40 ms later now and then, the writer waited for room and the kernel's ring
 * overwrote 150-1,700 records (soak bench, 20k/s, two busy loops; a trace of the thread: it waited
 * 31-44 ms with the ring counted full, 8 MB less the 64-78 KB before the marker). From 1 MB a
 * restart leaves room for ~4,000 records (200 ms), for at most 1 MB more resident during a flood.
 */
const RESTART_AT = 1 << 20;

/** The offset past which the writer of a ring of `ringBytes` restarts at its start when it finds it empty. */
export function ringRestartAt(ringBytes: number): number {
  return Math.min(RESTART_AT, ringBytes / 4);
}

/**
 * Where the writer puts a record of `need` bytes (bytes counted as wrapping 32-bit `written` and
 * `consumed`): the bytes it first skips to the ring's start (0: none), or -1 when there is no room
 * until the consumer takes more. It skips when the record would not fit before the ring's end, and
 * when the ring is empty past `restartAt` (see RESTART_AT) — only if the record fits before the
 * current offset, or an empty ring would have no room for good. Skipped bytes count as used until
 * the consumer has passed the skip's marker. Pure: its source is also the reading thread's code,
 * and tests call it.
 */
export function ringPlace(written: number, consumed: number, need: number, size: number, restartAt: number): number {
  const off = written & (size - 1);
  let skip = size - off < need ? size - off : 0;
  if (skip === 0 && off >= restartAt && consumed === written && need <= off) skip = size - off;
  return ((written - consumed) | 0) + skip + need <= size ? skip : -1;
}
/**
 * Records handed to the sink at once; the rest wait for the next event-loop turn. Small enough that
 * a batch in flight (its raw lines, then its packets) stays well inside the 1 MB young generation
 * (`--max-semi-space-size=1`): at 2048 (~700 KB of lines alone) a scavenge in the middle of a batch
 * promoted it to the old generation, and under a 20k records/s flood the GC took 2.6 s of the main
 * thread's CPU per 400k records; at 256, 1.0 s (soak bench profile).
 */
const MAX_BATCH = 256;
/** Length word of a skip to the ring's start (the next record did not fit before its end). */
const WRAP = 0xffffffff;

/**
 * The reader's side of ringPlace: up to `max` records from `consumed` on (a length word, the record,
 * padding to 4; a WRAP marker sends it to the ring's start), and where it got to. Pure: tests play
 * it against ringPlace.
 */
export function ringTake(data: Buffer, consumed: number, written: number, max: number): { records: string[]; consumed: number } {
  const size = data.length;
  const records: string[] = [];
  while (consumed !== written && records.length < max) {
    const off = consumed & (size - 1);
    const len = data.readUInt32LE(off);
    if (len === WRAP) {
      consumed = (consumed + (size - off)) | 0;
      continue;
    }
    records.push(data.toString('utf8', off + 4, off + 4 + len));
    consumed = (consumed + 4 + ((len + 3) & ~3)) | 0;
  }
  return { records, consumed };
}

/** Indexes in the control words. */
const WRITTEN = 0;
const CONSUMED = 1;
const STOP = 2;
const GO = 3;
/** STOP values: retire (hand over everything read, then end) and shut down (end now, hand over nothing more). */
const RETIRE = 1;
const SHUTDOWN = 2;

const READER_THREAD = `
const ringPlace = ${ringPlace.toString()};
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { fd, ring, control, skip, max, nice, restartAt } = workerData;
const data = Buffer.from(ring);
const size = data.length;
const ctl = new Int32Array(control);
const buf = Buffer.alloc(16384);
// This thread only reads: raise its own priority (a thread is a task of its own to the scheduler)
// so that a busy machine cannot keep it off the CPU while the kernel's small ring wraps. Needs
// CAP_SYS_NICE (root); without it the thread keeps the process's priority.
if (nice !== 0) {
  try {
    require('node:os').setPriority(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {}
}
// Booted: wait until the owner has no read of its own in flight on the fd.
parentPort.postMessage({ ready: true });
while (Atomics.load(ctl, ${GO}) === 0 && Atomics.load(ctl, ${STOP}) === 0) Atomics.wait(ctl, ${GO}, 0, 1000);
// Records up to this seq were handed over by the owner's reads of another fd (while this thread
// booted): skipped. Those after it come in order, so only the first records read need the check.
let skipTo = new Float64Array(skip)[0];
// Bytes written and consumed so far, as wrapping 32-bit counters (the ring is a power of two).
let written = 0;
for (;;) {
  if (Atomics.load(ctl, ${STOP}) !== 0) break;
  let n;
  try {
    n = fs.readSync(fd, buf, 0, buf.length, null);
  } catch (e) {
    // EPIPE: records were overwritten before this read; the next read returns the oldest survivor.
    if (e.code === 'EPIPE') continue;
    if (Atomics.load(ctl, ${STOP}) === 0) parentPort.postMessage({ error: e.message });
    break;
  }
  if (n === 0 || Atomics.load(ctl, ${STOP}) === ${SHUTDOWN}) break;
  if (skipTo >= 0) {
    const a = buf.indexOf(44);
    if (Number(buf.toString('latin1', a + 1, buf.indexOf(44, a + 1))) <= skipTo) continue;
    skipTo = -1;
  }
  // Only the first line is the record (dictionary lines follow).
  let len = buf.indexOf(10);
  if (len < 0 || len > n) len = n;
  if (len > max) len = max;
  const need = 4 + ((len + 3) & ~3);
  let off = written & (size - 1);
  // Room for it (after a skip to the ring's start: when it would not fit before the end, or when
  // the consumer has taken everything, so that only as much of the ring as a backlog ever reached
  // is touched, resident, not all of it as the position goes round), or wait for the consumer.
  let skip;
  for (;;) {
    const consumed = Atomics.load(ctl, ${CONSUMED});
    skip = ringPlace(written, consumed, need, size, restartAt);
    if (skip >= 0) break;
    if (Atomics.load(ctl, ${STOP}) === ${SHUTDOWN}) break;
    Atomics.wait(ctl, ${CONSUMED}, consumed, 100);
  }
  if (Atomics.load(ctl, ${STOP}) === ${SHUTDOWN}) break;
  if (skip !== 0) {
    data.writeUInt32LE(${WRAP}, off);
    written = (written + skip) | 0;
    off = 0;
  }
  data.writeUInt32LE(len, off);
  buf.copy(data, off + 4, 0, len);
  written = (written + need) | 0;
  Atomics.store(ctl, ${WRITTEN}, written);
  Atomics.notify(ctl, ${WRITTEN});
}
// The fd is the owner's: it reads on from here (retire) or closes it (shutdown).
`;

export interface KmsgThreadSink {
  records(raw: string[]): void;
  error(message: string): void;
}

export interface KmsgThread {
  /** Resolves once the thread has booted and waits for go() (rejects if it failed to start). */
  readonly ready: Promise<void>;
  /**
   * Lets the thread read: call it only while no other read is in flight on the fd. `skipTo`: the
   * seq of the last record the owner handed over from another fd; the thread skips records up to it.
   */
  go(skipTo?: number): void;
  /**
   * Asks the thread to end after its current read() and hand over everything it read; `exited`
   * resolves when it has ended and every record it read has reached the sink. Its read may be
   * parked until the next kernel record (see wakeKmsgReaders).
   */
  retire(): void;
  /** Ends the thread without handing over anything more (the source is stopping). */
  stop(): void;
  /** Resolves when the thread has ended (after retire(): with every record handed over). */
  readonly exited: Promise<void>;
}

/**
 * Starts the reading thread on the open `fd` (it reads only after go()); records reach `sink` in
 * batches, in order. `ringBytes`: a power of two (tests use small ones).
 */
export function startKmsgThread(fd: number, sink: KmsgThreadSink, ringBytes = KMSG_RING_BYTES): KmsgThread {
  // At least 4 of the largest records: a skip to the start (a record not fitting before the end)
  // then always leaves room for it in an empty ring (ringPlace).
  const least = 4 * (KMSG_MAX_RECORD + 4);
  if (ringBytes < least || (ringBytes & (ringBytes - 1)) !== 0) throw new Error(`kmsg ring: ${ringBytes} bytes is not a power of two ≥ ${least}`);
  const ring = new SharedArrayBuffer(ringBytes);
  const control = new SharedArrayBuffer(4 * 4);
  const skip = new SharedArrayBuffer(8);
  const ctl = new Int32Array(control);
  const data = Buffer.from(ring);
  let stopped = false;
  let consumed = 0;
  const worker = new (workerThreads().Worker)(`(() => {${READER_THREAD}})()`, {
    eval: true,
    workerData: { fd, ring, control, skip, max: KMSG_MAX_RECORD, nice: READER_NICE, restartAt: ringRestartAt(ringBytes) },
    // A small thread: it allocates one 16 KB buffer and nothing per record.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    stdout: false,
    stderr: false,
  });
  // A read parked in the kernel must not hold the process at exit (stop() wakes it anyway).
  worker.unref();
  let markReady!: () => void;
  let failReady!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => undefined);
  worker.on('message', (m: { error?: string; ready?: boolean }) => {
    if (m.ready) markReady();
    if (!stopped && m.error !== undefined) sink.error(m.error);
  });
  worker.on('error', (e) => {
    failReady(e);
    if (!stopped) sink.error(e.message);
  });

  /** Takes up to `max` records waiting in the ring. */
  const take = (max: number): string[] => {
    const taken = ringTake(data, consumed, Atomics.load(ctl, WRITTEN), max);
    const out = taken.records;
    consumed = taken.consumed;
    Atomics.store(ctl, CONSUMED, consumed);
    Atomics.notify(ctl, CONSUMED);
    return out;
  };
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      failReady(new Error('the kmsg reading thread ended before it was ready'));
      // Whatever the thread wrote before it ended, in order, before the owner reads on.
      if (!stopped) for (let out = take(MAX_BATCH); out.length; out = take(MAX_BATCH)) sink.records(out);
      stopped = true;
      // Settle the pending waitAsync (it has no timeout): until it does, its callback holds the ring
      // (the pages a flood's backlog touched stay resident) after the thread has ended.
      Atomics.notify(ctl, WRITTEN);
      resolve();
    }),
  );

  const drain = (): void => {
    if (stopped) return;
    const out = take(MAX_BATCH);
    if (out.length) sink.records(out);
    if (consumed !== Atomics.load(ctl, WRITTEN)) setImmediate(drain);
    else arm();
  };
  const arm = (): void => {
    if (stopped) return;
    const w = Atomics.waitAsync(ctl, WRITTEN, consumed);
    if (w.async) void w.value.then(drain);
    else setImmediate(drain);
  };
  arm();

  const end = (how: number): void => {
    if (Atomics.load(ctl, STOP) !== 0 && how === RETIRE) return;
    Atomics.store(ctl, STOP, how);
    Atomics.notify(ctl, GO);
    Atomics.notify(ctl, CONSUMED);
  };
  return {
    ready,
    exited,
    go(skipTo = -1) {
      new Float64Array(skip)[0] = skipTo;
      Atomics.store(ctl, GO, 1);
      Atomics.notify(ctl, GO);
    },
    retire: () => end(RETIRE),
    stop() {
      stopped = true;
      end(SHUTDOWN);
      // Let a waitAsync that is still pending settle (it holds nothing, but say we are done).
      Atomics.notify(ctl, WRITTEN);
    },
  };
}
