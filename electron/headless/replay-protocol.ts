/** Messages and shared memory between replay-pipeline.ts and its worker, replay-worker.ts. */
import type { ReplayParseOptions } from '../engine/replay-parse.ts';
import type { RecordBatch } from '../engine/records.ts';

export interface ParseWorkerData {
  parse: ReplayParseOptions;
  /** RING_SLOTS × slotInts int32. */
  ring: SharedArrayBuffer;
  slotInts: number;
  /** Int32 [batches read by the detect stage]. */
  control: SharedArrayBuffer;
  /** Read this regular file here (else chunks come in messages). */
  file?: string;
}

export const RING_SLOTS = 4;

/** 'start' comes first (the worker may have been started before the command knew its flags: replay-start.ts). */
export type ToParseWorker = { type: 'start'; data: ParseWorkerData } | { type: 'chunk'; buf: ArrayBuffer; length: number } | { type: 'end' };
export type BatchMessage = Omit<RecordBatch, 'ints'> & { type: 'batch'; slot: number };
/**
 * 'ended' says where the parse stage's time went (PORTCULLIS_REPLAY_TIMING, replay-pipeline.ts):
 * when it was ready to parse (booted, its modules and the fast lane compiled) and when it finished
 * (ms since the epoch, fractional: the threads' clocks start apart) and how long
 * it slept waiting for the detect stage to free a ring slot.
 */
export type EndedMessage = { type: 'ended'; readyAt: number; endedAt: number; waitedMs: number };
export type FromParseWorker = BatchMessage | { type: 'parsed'; buf: ArrayBuffer } | EndedMessage | { type: 'failed'; message: string; code?: string };

