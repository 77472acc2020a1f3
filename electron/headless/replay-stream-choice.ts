/**
 * Whether a plain stream (standard input from a pipe, a FIFO) is replayed in this thread or through
 * the parse worker: its size is unknown, so its first bytes are held until they tell.
 *
 * Why: the worker's fixed cost (its isolate, modules, fast lane, JIT warm-up) is won back only on
 * big inputs (replay-start.ts, WORKER_MIN_BYTES), and a pipe gave no size, so every stream booted
 * one: `cat` of 1,000 lines into `replay -` took 0.34–0.44 s against 0.24–0.32 s from the file
 * (now 0.27–0.36 s, and ~77 MB peak instead of ~96).
 * Held bytes cannot be parsed yet: the parse stage's state (framing, the year of syslog dates, a
 * partial line) lives in whichever thread parses, so the choice is made once, before the first
 * byte is parsed, and kept.
 *
 * The choice: this thread when the stream ends before `minBytes` have come (replay-start.ts,
 * STREAM_WORKER_MIN_BYTES); the worker once that many have, or once the stream has taken
 * STREAM_CHOICE_WAIT_MS since its first bytes without ending (a slow writer, `tail -f`: its first
 * bytes are not held longer than that, and it is replayed as before, through the worker).
 */

/** The longest the first bytes are held (from the first chunk) before the worker is chosen anyway. */
export const STREAM_CHOICE_WAIT_MS = 100;

type Push = (chunk: Uint8Array) => Promise<void>;

export class StreamChoice {
  private readonly here: Push;
  private readonly worker: () => Push;
  private readonly minBytes: number;
  private readonly waitMs: number;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private chosen: Push | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Every push, in order: a chunk handed on once the one before it was. */
  private tail: Promise<void> = Promise.resolve();

  /**
   * `here`: replay a chunk in this thread; `worker()`: start the pipeline, returning its push.
   * `minBytes`: a stream ending before this many is replayed here; `waitMs`: tests pass their own.
   */
  constructor(here: Push, worker: () => Push, minBytes: number, waitMs = STREAM_CHOICE_WAIT_MS) {
    this.here = here;
    this.worker = worker;
    this.minBytes = minBytes;
    this.waitMs = waitMs;
  }

  /** The stream's next chunk. Resolves once it was handed on (a held chunk: at once). */
  push(chunk: Uint8Array): Promise<void> {
    if (this.chosen !== null) return this.pass(this.chosen, chunk);
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes >= this.minBytes) return this.chooseWorker();
    this.timer ??= setTimeout(() => void this.chooseWorker().catch(() => undefined), this.waitMs);
    return Promise.resolve();
  }

  /**
   * The stream ended (or failed: what was read is still replayed). Hands the held chunks to this
   * thread when nothing was chosen yet, and resolves once every chunk was handed on; a hand-over
   * that failed (the worker's) rejects here.
   */
  end(): Promise<void> {
    if (this.chosen === null) void this.choose(this.here).catch(() => undefined);
    return this.tail;
  }

  /** The worker; one that cannot start fails the held chunks' hand-over, so the next push() or end() says so. */
  private chooseWorker(): Promise<void> {
    let push: Push;
    try {
      push = this.worker();
    } catch (e) {
      push = () => Promise.reject(e);
    }
    return this.choose(push);
  }

  private choose(target: Push): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.chosen = target;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const chunk of held) void this.pass(target, chunk).catch(() => undefined);
    return this.tail;
  }

  private pass(target: Push, chunk: Uint8Array): Promise<void> {
    this.tail = this.tail.then(() => target(chunk));
    return this.tail;
  }
}
