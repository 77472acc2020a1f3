/**
 * The fast lane's memory (fixed size, never grown, so JavaScript's views of it stay valid):
 * where the fields of the last line, the recent values, the records and the input live. The size
 * in pages is scripts/build-wasm.ts MEMORY_PAGES; FastLine (electron/engine/parse/fastline.ts)
 * checks that the layout fits.
 */
import { KINDS, RECORD_INTS } from './vocabulary';

/** The fields of the last line (i32 each, layout.ts F_*). */
export const FIELDS: i32 = 65536;
/** Recent values: KINDS × SLOTS values of at most VALUE_MAX bytes, their lengths and their string ids. */
export const VALUES: i32 = FIELDS + 256;
export const SLOTS: i32 = 8;
export const VALUE_MAX: i32 = 64;
export const LENS: i32 = VALUES + KINDS * SLOTS * VALUE_MAX;
export const IDS: i32 = LENS + KINDS * SLOTS * 4;
export const LAST: i32 = IDS + KINDS * SLOTS * 4;
export const NEXT: i32 = LAST + KINDS * 4;
/** Records, RECORD_INTS i32 each. */
export const RECORDS: i32 = 131072;
export const RECORDS_MAX: i32 = 4096;
/** The input: lines are read from here (INPUT_MAX bytes, and 16 bytes of slack after it). */
export const INPUT: i32 = RECORDS + RECORDS_MAX * RECORD_INTS * 4;
export const INPUT_MAX: i32 = 1 << 20;

@inline export function field(i: i32, v: i32): void { store<i32>(FIELDS + (i << 2), v); }
@inline export function fieldAt(i: i32): i32 { return load<i32>(FIELDS + (i << 2)); }
