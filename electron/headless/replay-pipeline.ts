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
import { Worker } from 'node:worker_threads';
import type { ReplaySession } from '../engine/replay.ts';
import { RECORD_INTS, type RecordBatch } from '../engine/records.ts';
import { RING_SLOTS, type FromParseWorker, type ParseWorkerData, type ToParseWorker } from './replay-protocol.ts';

/** Chunks of a streamed input handed to the worker and not yet parsed. */
const IN_FLIGHT = 3;
/** Largest chunk handed over at once (what the fast lane's input holds). */
const CHUNK_MAX = 1 << 20;
/** Records in a batch (ReplayParser's capacity: the fast lane's 4096). */
const BATCH_RECORDS = 4096;

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
  private wake: (() => void) | null = null;
  private done = false;
  private doneWaiter: (() => void) | null = null;
  private failure: Error | null = null;

  /**
   * Starts the worker. With `file` (a regular file) the worker reads it and end() waits for the
   * summary; without, push() the input and then end().
   */
  /** Called after each batch reached the engine (the CLI prints the bans it made). */
  private readonly afterBatch: () => void;

  constructor(session: ReplaySession, file?: string, afterBatch: () => void = () => {}) {
    this.session = session;
    this.afterBatch = afterBatch;
    const slotInts = BATCH_RECORDS * RECORD_INTS;
    const ring = new SharedArrayBuffer(RING_SLOTS * slotInts * 4);
    for (let s = 0; s < RING_SLOTS; s++) this.slots.push(new Int32Array(ring, s * slotInts * 4, slotInts));
    const control = new SharedArrayBuffer(4);
    this.control = new Int32Array(control);
    const workerData: ParseWorkerData = { parse: session.parseStageOptions, ring, slotInts, control, ...(file !== undefined ? { file } : {}) };
    this.worker = new Worker(new URL(import.meta.url.endsWith('.ts') ? './replay-worker.ts' : './replay-worker.mjs', import.meta.url), { workerData });
    this.worker.on('message', (m: FromParseWorker) => {
      try {
        if (m.type === 'batch') {
          const batch: RecordBatch = { ints: this.slots[m.slot]!, count: m.count, news: m.news, sides: m.sides };
          if (m.framing !== undefined) batch.framing = m.framing;
          this.session.ingest(batch);
          Atomics.add(this.control, 0, 1);
          Atomics.notify(this.control, 0);
          this.afterBatch();
        } else if (m.type === 'parsed') {
          this.inFlight--;
          this.free.push(m.buf);
          this.resume();
        } else if (m.type === 'ended') this.finish();
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
  }

  /** Next chunk of a streamed input (copied: the caller may reuse it). Resolves when the worker can take more. */
  async push(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; ) {
      while (this.inFlight >= IN_FLIGHT && this.failure === null) await new Promise<void>((r) => (this.wake = r));
      if (this.failure !== null) throw this.failure;
      const want = Math.min(chunk.length - at, CHUNK_MAX);
      let buf = this.free.pop();
      if (buf === undefined || buf.byteLength < want) buf = new ArrayBuffer(Math.max(want, 64 * 1024));
      const length = Math.min(want, buf.byteLength);
      new Uint8Array(buf, 0, length).set(chunk.subarray(at, at + length));
      at += length;
      this.inFlight++;
      this.post({ type: 'chunk', buf, length }, [buf]);
    }
  }

  /**
   * End of input (a streamed one: tells the worker), then resolves when every record is through
   * the detect stage, or rejects with the worker's failure (what it had read is ingested by then).
   */
  async end(streamed = true): Promise<void> {
    try {
      if (streamed && this.failure === null && !this.done) this.post({ type: 'end' });
      await new Promise<void>((resolve) => {
        if (this.done || this.failure !== null) resolve();
        else this.doneWaiter = resolve;
      });
      if (this.failure !== null) throw this.failure;
    } finally {
      this.done = true;
      await this.worker.terminate();
    }
  }

  /** Stop the worker without waiting for the rest. */
  async abort(): Promise<void> {
    this.done = true;
    await this.worker.terminate();
  }

  private post(m: ToParseWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  private resume(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
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
