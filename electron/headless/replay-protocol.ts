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
export type FromParseWorker = BatchMessage | { type: 'parsed'; buf: ArrayBuffer } | { type: 'ended' } | { type: 'failed'; message: string; code?: string };

