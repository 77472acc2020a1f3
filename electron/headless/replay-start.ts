/**
 * The replay's parse worker started before the rest of the command is loaded.
 *
 * Why: a worker takes ~100–300 ms to boot (its own V8 isolate, Node's bootstrap, the parse modules,
 * the WebAssembly fast lane), and the main thread meanwhile loads the engine, the settings schemas
 * and zod. Started first, the worker boots on the other core while this one loads; started where
 * the pipeline needs it (as before), the replay waited for one and then the other.
 *
 * This module loads nothing but node:worker_threads and node:fs, so cli.ts can call it before it
 * imports replay.ts. The worker then waits for its 'start' message (replay-protocol.ts), which the
 * pipeline sends with what it learnt from the flags. Only a replay that will use a worker gets one
 * early: a plain (not compressed) regular file of WORKER_MIN_BYTES or more, without --single-thread
 * or --help; anything else (standard input, gzip, an error) starts as before, and an early worker
 * left unused is ended.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

/** The replay's flags (parseArgs options): replay.ts parses them with these too. */
export const REPLAY_OPTIONS = {
  format: { type: 'string' },
  maxretry: { type: 'string' },
  findtime: { type: 'string' },
  'min-ports': { type: 'string' },
  'ipv6-prefix': { type: 'string' },
  'ipv4-prefix': { type: 'string' },
  whitelist: { type: 'string', multiple: true },
  prefix: { type: 'string', multiple: true },
  bantime: { type: 'string' },
  'max-bans-per-minute': { type: 'string' },
  'open-port': { type: 'string', multiple: true },
  year: { type: 'string' },
  'boot-time': { type: 'string' },
  json: { type: 'boolean' },
  'single-thread': { type: 'boolean' },
  'any-program': { type: 'boolean' },
  'kernel-only': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

let early: Worker | null = null;

/**
 * A regular file smaller than this is replayed in one thread: the worker's fixed cost (its isolate,
 * modules, fast lane and JIT warm-up: ~100 ms of CPU and ~15 MB) is won back only on big files.
 * Measured (whole command, 5 runs each, quiet 2-core machine, bench log cut to size): 1,000 lines
 * 0.40 s with the worker, 0.30 s without; 30k lines (7.7 MB) 0.38–0.41 s against 0.36–0.38 s and
 * 103 against 93 MB; 100k (25 MB) 0.52–0.56 against 0.49–0.54 s; 200k (51 MB) even (0.64–0.74
 * against 0.68–0.72 s, 120 against 105 MB); 1M (257 MB) 1.3 against 1.65 s. Tests and the bench
 * set PORTCULLIS_REPLAY_WORKER_BYTES (0: any file) to replay small files through the worker too.
 */
export const WORKER_MIN_BYTES = 48 << 20;

/**
 * A stream (a pipe: no size known) that ends before this many bytes (~30k ufw lines) is replayed in
 * one thread (replay-stream-choice.ts). Less than WORKER_MIN_BYTES: a stream's first bytes wait in
 * memory, unparsed, until it ends or reaches this; between the two a stream goes through the worker
 * as it always did.
 */
export const STREAM_WORKER_MIN_BYTES = 8 << 20;

/** WORKER_MIN_BYTES (a regular file) or STREAM_WORKER_MIN_BYTES (a stream), or the PORTCULLIS_REPLAY_WORKER_BYTES override of both. */
export function workerMinBytes(stream = false): number {
  const v = process.env.PORTCULLIS_REPLAY_WORKER_BYTES;
  if (v !== undefined && /^\d+$/.test(v)) return Number(v);
  return stream ? STREAM_WORKER_MIN_BYTES : WORKER_MIN_BYTES;
}

/** A new parse worker, waiting for its 'start' message. */
export function newParseWorker(): Worker {
  return new Worker(new URL(import.meta.url.endsWith('.ts') ? './replay-worker.ts' : './replay-worker.mjs', import.meta.url));
}

/** What the first bytes of the input say it is: gzip (read through zlib), another compressor (refused with its name), or plain. */
export function compressionOf(head: Uint8Array): 'gzip' | 'plain' | { other: string; tool: string } {
  const is = (...magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (is(0x1f, 0x8b)) return 'gzip';
  if (is(0x42, 0x5a, 0x68)) return { other: 'bzip2', tool: 'bzcat' };
  if (is(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return { other: 'xz', tool: 'xzcat' };
  if (is(0x28, 0xb5, 0x2f, 0xfd)) return { other: 'zstd', tool: 'zstdcat' };
  return 'plain';
}

/** Bytes that compressionOf needs to see (the longest magic, xz's). */
export const MAGIC_BYTES = 6;

/** Does the regular file start as plain text (not a compressor's magic number)? */
export function isPlainFile(input: string): boolean {
  const fd = openSync(input, 'r');
  try {
    const head = Buffer.alloc(MAGIC_BYTES);
    const n = readSync(fd, head, 0, MAGIC_BYTES, 0);
    return compressionOf(head.subarray(0, n)) === 'plain';
  } finally {
    closeSync(fd);
  }
}

/**
 * `portcullis replay ARGV`: starts the parse worker now when the replay will surely want one.
 * Never throws: whatever it cannot tell, the command decides later as before.
 */
export function startParseWorkerEarly(argv: string[]): void {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: REPLAY_OPTIONS, allowPositionals: true, strict: true });
    if (values.help || values['single-thread'] || positionals.length !== 1 || positionals[0] === '-') return;
    const file = positionals[0]!;
    const st = statSync(file);
    if (!st.isFile() || st.size < workerMinBytes() || !isPlainFile(file)) return;
    const w = (early = newParseWorker());
    // Its failures are the pipeline's to report once it takes it; one never taken is only ended.
    w.on('error', () => undefined);
    // One that stopped before it was taken (it could not boot) is not handed out: the pipeline starts its own.
    w.once('exit', () => {
      if (early === w) early = null;
    });
  } catch {
    // Invalid flags, a missing file: the command says so itself.
  }
}

/** The worker started early, for the pipeline to use (once), or null. */
export function takeEarlyParseWorker(): Worker | null {
  const w = early;
  early = null;
  if (w !== null) w.removeAllListeners('error');
  return w;
}

/** Ends an early worker the command did not use. */
export async function discardEarlyParseWorker(): Promise<void> {
  const w = takeEarlyParseWorker();
  if (w !== null) await w.terminate();
}
