/**
 * The parse stage of `portcullis replay` in a worker thread (replay-pipeline.ts has the other
 * side): the input in — read here from a regular file, or handed over in chunks — and batches of
 * records out, in line order.
 *
 * Batches go through a ring of RING_SLOTS slots in shared memory: batch k is written into slot
 * k mod RING_SLOTS once the detect stage has read batch k - RING_SLOTS (the count it has read is
 * control[0]; this thread sleeps on it), so memory is bounded whoever is faster, and nothing is
 * allocated or transferred per batch. The message of a batch carries what is not numbers: the
 * strings the table gained and the side values.
 *
 * Messages in:  { type: 'start', data } (first: the worker may start before the flags are known,
 *               replay-start.ts) | { type: 'chunk', buf, length } (the buffer comes back in 'parsed')
 *               | { type: 'end' }
 * Messages out: { type: 'batch', slot, count, news, sides, framing? } | { type: 'parsed', buf }
 *               | { type: 'ended', readyAt, endedAt, waitedMs } | { type: 'failed', message, code? }
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { compileFastLine } from '../engine/parse/fastline.ts';
import { ReplayParser } from '../engine/replay-parse.ts';
import { RECORD_INTS } from '../engine/records.ts';
import { RING_SLOTS, type BatchMessage, type FromParseWorker, type ParseWorkerData, type ToParseWorker } from './replay-protocol.ts';

const port = parentPort!;
let parser: ReplayParser | null = null;
/** Time this thread slept waiting for a free ring slot (the detect stage was behind). */
let waitedMs = 0;

function ended(): void {
  port.postMessage({ type: 'ended', readyAt, endedAt: performance.timeOrigin + performance.now(), waitedMs } satisfies FromParseWorker);
}

function failed(e: unknown): void {
  const err = e as NodeJS.ErrnoException;
  port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(e), ...(err?.code ? { code: err.code } : {}) } satisfies FromParseWorker);
}

/** The parser writing batches into the ring of `data`. */
function parserFor(data: ParseWorkerData): ReplayParser {
  const control = new Int32Array(data.control);
  let produced = 0;
  return new ReplayParser(data.parse, (batch) => {
    // Wait for the slot: the detect stage must have read the batch that used it last.
    for (;;) {
      const read = Atomics.load(control, 0);
      if (produced - read < RING_SLOTS) break;
      const t0 = performance.now();
      Atomics.wait(control, 0, read);
      waitedMs += performance.now() - t0;
    }
    const slot = produced % RING_SLOTS;
    new Int32Array(data.ring, slot * data.slotInts * 4, data.slotInts).set(batch.ints.subarray(0, batch.count * RECORD_INTS));
    const m: BatchMessage = { type: 'batch', slot, count: batch.count, news: batch.news, sides: batch.sides };
    if (batch.framing !== undefined) m.framing = batch.framing;
    port.postMessage(m);
    produced++;
  });
}

/** A regular file, read here to the end. */
function replayFile(p: ReplayParser, file: string): void {
  try {
    const fd = openSync(file, 'r');
    try {
      // Read straight into the parser's memory (the fast lane's input): no copy of each chunk.
      while (p.pushRead((into) => readSync(fd, into, 0, into.length, null)) > 0);
    } finally {
      closeSync(fd);
    }
    p.end();
    ended();
  } catch (e) {
    // What was read is parsed and handed out; the summary says the input was cut short.
    p.end();
    failed(e);
  }
}

port.on('message', (m: ToParseWorker) => {
  try {
    if (m.type === 'start') {
      parser = parserFor(m.data);
      if (m.data.file !== undefined) replayFile(parser, m.data.file);
    } else if (m.type === 'chunk') {
      parser!.push(new Uint8Array(m.buf, 0, m.length));
      port.postMessage({ type: 'parsed', buf: m.buf } satisfies FromParseWorker, [m.buf]);
    } else {
      parser!.end();
      ended();
    }
  } catch (e) {
    failed(e);
  }
});
// Started early (replay-start.ts), this worker compiles the fast lane while the main thread still
// loads the command; the 'start' message waits in the queue meanwhile.
compileFastLine();
const readyAt = performance.timeOrigin + performance.now();
