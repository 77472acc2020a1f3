/**
 * `portcullis replay` on two threads: a worker runs the parse stage (replay-worker.ts: reading a
 * regular file itself, splitting, the WebAssembly fast lane, the JavaScript parser), this thread
 * the detect stage (ReplaySession.ingest: the engine and the summary's bookkeeping). Each stage is
 * about half of a replay's work, so side by side they replay faster than one thread; the result is
 * the same, record for record: the records cross in line order, and the parse stage is the same
 * code either way (tests compare the two).
 *
 * Bounded: records cross through a ring of RING_SLOTS batches in shared memory (the worker waits
 * for a free slot), and at most IN_FLIGHT chunks of a streamed input are with the worker at once
 * (push() waits for one to come back), so neither side can queue the input up in memory.
 */
import type { Worker } from 'node:worker_threads';
import type { ReplaySession } from '../engine/replay.ts';
import { RECORD_INTS, type RecordBatch } from '../engine/records.ts';
import { RING_SLOTS, type FromParseWorker, type ParseWorkerData, type ToParseWorker } from './replay-protocol.ts';
import { newParseWorker, takeEarlyParseWorker } from './replay-start.ts';

/** Chunks of a streamed input handed to the worker and not yet parsed. */
const IN_FLIGHT = 3;
/** Largest chunk handed over at once (what the fast lane's input holds). */
const CHUNK_MAX = 1 << 20;
/** A streamed input is handed over once this much is gathered… */
const HAND_OVER_BYTES = 256 * 1024;
/** …or when no more has come for this long. */
const HAND_OVER_WAIT_MS = 20;
/** Records in a batch (ReplayParser's capacity: the fast lane's 4096). */
const BATCH_RECORDS = 4096;

/**
 * Where a pipelined replay's time went, in ms of this thread's clock (performance.now(): from the
 * process's start): when this thread had the command loaded and started the pipeline, when the
 * worker was ready to parse (booted, modules loaded, fast lane compiled), when the first batch of
 * records reached the detect stage, how long the detect stage worked on batches, when the parse
 * stage finished and how long it slept waiting for a free ring slot. Which thread holds the other
 * up: the one that never waits.
 */
export interface PipelineTiming {
  startAt: number;
  parseReadyAt: number | null;
  firstBatchAt: number | null;
  detectMs: number;
  batches: number;
  parseEndedAt: number | null;
  parseWaitedMs: number | null;
}

/** The worker's failure: the message, and the errno code of a read error. */
export class ParseWorkerError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

export class ReplayPipeline {
  private readonly worker: Worker;
  private readonly session: ReplaySession;
  private readonly slots: Int32Array[] = [];
  private readonly control: Int32Array;
  private readonly free: ArrayBuffer[] = [];
  private inFlight = 0;
  /** A streamed input's bytes gathered for the next hand-over, and how many. */
  private gathering: ArrayBuffer | null = null;
  private gathered = 0;
  private handOverTimer: ReturnType<typeof setTimeout> | null = null;
  /** The last hand-over (the next waits for it); push()es waiting for room. */
  private handing: Promise<void> = Promise.resolve();
  private waiting: (() => void)[] = [];
  private done = false;
  private doneWaiter: (() => void) | null = null;
  private failure: Error | null = null;

  /** Called after each batch reached the engine (the CLI prints the bans it made). */
  private readonly afterBatch: () => void;

  /** Where the time went (two clock readings a batch; PORTCULLIS_REPLAY_TIMING prints it). */
  readonly timing: PipelineTiming = { startAt: 0, parseReadyAt: null, firstBatchAt: null, detectMs: 0, batches: 0, parseEndedAt: null, parseWaitedMs: null };

  /**
   * Starts the worker (or takes the one started early, replay-start.ts). With `file` (a regular
   * file) the worker reads it and end(false) waits for the last record; without, push() the input
   * and then end().
   */
  constructor(session: ReplaySession, file?: string, afterBatch: () => void = () => {}) {
    this.session = session;
    this.afterBatch = afterBatch;
    const slotInts = BATCH_RECORDS * RECORD_INTS;
    const ring = new SharedArrayBuffer(RING_SLOTS * slotInts * 4);
    for (let s = 0; s < RING_SLOTS; s++) this.slots.push(new Int32Array(ring, s * slotInts * 4, slotInts));
    const control = new SharedArrayBuffer(4);
    this.control = new Int32Array(control);
    const workerData: ParseWorkerData = { parse: session.parseStageOptions, ring, slotInts, control, ...(file !== undefined ? { file } : {}) };
    this.worker = takeEarlyParseWorker() ?? newParseWorker();
    this.worker.on('message', (m: FromParseWorker) => {
      try {
        if (m.type === 'batch') {
          // After a failure the records are no longer read: the summary covers the lines up to it,
          // as in one thread (batches the worker had queued meanwhile would leave a hole).
          if (this.failure !== null) return;
          // Every batch with the same properties (framing undefined when absent): one object shape,
          // where a batch with a property of its own deoptimized the code reading batches.
          const batch: RecordBatch = { ints: this.slots[m.slot]!, count: m.count, news: m.news, sides: m.sides, framing: m.framing };
          const t0 = performance.now();
          this.timing.firstBatchAt ??= t0;
          this.session.ingest(batch);
          this.timing.detectMs += performance.now() - t0;
          this.timing.batches++;
          Atomics.add(this.control, 0, 1);
          Atomics.notify(this.control, 0);
          this.afterBatch();
        } else if (m.type === 'parsed') {
          this.inFlight--;
          this.free.push(m.buf);
          this.resume();
        } else if (m.type === 'ended') {
          this.timing.parseReadyAt = m.readyAt - performance.timeOrigin;
          this.timing.parseEndedAt = m.endedAt - performance.timeOrigin;
          this.timing.parseWaitedMs = m.waitedMs;
          this.finish();
        }
        else this.fail(new ParseWorkerError(m.message, m.code));
      } catch (e) {
        this.fail(e);
      }
    });
    // The worker itself failed (not the input): said as such, so that it is not read as a bad file.
    this.worker.on('error', (e) => this.fail(new Error(`the parse worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => {
      if (!this.done) this.fail(new Error(`the parse worker stopped (exit code ${code})`));
    });
    this.timing.startAt = performance.now();
    this.post({ type: 'start', data: workerData });
  }

  /**
   * Next chunk of a streamed input (copied: the caller may reuse it). Resolves when the worker can
   * take more. Small chunks (stdin's 64 KiB) are gathered up to HAND_OVER_BYTES before they go, each
   * piece costing a message and a batch; a piece that waits HAND_OVER_WAIT_MS for more goes anyway,
   * so a slow stream (a log followed live) is replayed as it comes.
   */
  async push(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; ) {
      if (this.failure !== null) throw this.failure;
      if (this.gathering === null) {
        const free = this.free.pop();
        this.gathering = free !== undefined && free.byteLength >= CHUNK_MAX ? free : new ArrayBuffer(CHUNK_MAX);
        this.gathered = 0;
      }
      const n = Math.min(chunk.length - at, CHUNK_MAX - this.gathered);
      new Uint8Array(this.gathering, this.gathered, n).set(chunk.subarray(at, at + n));
      this.gathered += n;
      at += n;
      if (this.gathered >= HAND_OVER_BYTES) await this.handOver();
    }
    if (this.gathering !== null && this.handOverTimer === null) {
      this.handOverTimer = setTimeout(() => {
        this.handOverTimer = null;
        void this.handOver().catch(() => undefined); // a failure is reported by the next push() or end()
      }, HAND_OVER_WAIT_MS);
    }
  }

  /** What is gathered goes to the worker (waiting while IN_FLIGHT chunks are with it). */
  private async handOver(): Promise<void> {
    if (this.handOverTimer !== null) {
      clearTimeout(this.handOverTimer);
      this.handOverTimer = null;
    }
    const buf = this.gathering;
    const length = this.gathered;
    if (buf === null || length === 0) return this.handing;
    this.gathering = null;
    this.gathered = 0;
    // In order, one after the other (the timer's hand-over and push()'s may both be waiting for room).
    const sent = this.handing.then(async () => {
      while (this.inFlight >= IN_FLIGHT && this.failure === null) await new Promise<void>((r) => this.waiting.push(r));
      if (this.failure !== null) throw this.failure;
      this.inFlight++;
      this.post({ type: 'chunk', buf, length }, [buf]);
    });
    this.handing = sent.catch(() => undefined);
    return sent;
  }

  /**
   * End of input (a streamed one: tells the worker), then resolves when every record is through
   * the detect stage, or rejects with the worker's failure (what it had read is ingested by then).
   */
  async end(streamed = true): Promise<void> {
    try {
      if (streamed && this.failure === null && !this.done) {
        await this.handOver().catch(() => undefined); // the failure is thrown below
        if (this.failure === null) this.post({ type: 'end' });
      }
      await new Promise<void>((resolve) => {
        if (this.done || this.failure !== null) resolve();
        else this.doneWaiter = resolve;
      });
      if (this.failure !== null) throw this.failure;
    } finally {
      this.done = true;
      if (this.handOverTimer !== null) clearTimeout(this.handOverTimer);
      await this.worker.terminate();
    }
  }

  /** Stop the worker without waiting for the rest. */
  async abort(): Promise<void> {
    this.done = true;
    if (this.handOverTimer !== null) clearTimeout(this.handOverTimer);
    await this.worker.terminate();
  }

  private post(m: ToParseWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  private resume(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
  }

  private finish(): void {
    this.done = true;
    const w = this.doneWaiter;
    this.doneWaiter = null;
    w?.();
  }

  private fail(e: unknown): void {
    this.failure ??= e instanceof Error ? e : new Error(String(e));
    this.resume();
    const w = this.doneWaiter;
    this.doneWaiter = null;
    w?.();
  }
}
