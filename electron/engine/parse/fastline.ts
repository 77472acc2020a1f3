/**
 * The replay parser's fast lane: wasm/fastline.ts compiled to WebAssembly (fastline-wasm.ts). It
 * answers the common BSD syslog firewall line exactly as parseCommonBytes (bytes.ts) does and
 * writes it as a record (records.ts); any other line it declines, for the JavaScript parser.
 *
 * One instance per parse stage (its memory holds the input, the records and the recent values).
 * The memory never grows, so the views below stay valid for the instance's life.
 */
import { FASTLINE_WASM_BASE64 } from './fastline-wasm.ts';

interface FastLineExports {
  memory: WebAssembly.Memory;
  run(start: number, end: number, auto: number, index: number, max: number, maxLine: number): number;
  count(): number;
  pos(): number;
  lineAt(): number;
  lineTo(): number;
  setTime(stamp: number, time: number): void;
  setId(kind: number, id: number): void;
  forget(): void;
  drop(kind: number): void;
  fieldsAt(): number;
  recordsAt(): number;
  recordInts(): number;
  recordsMax(): number;
  inputAt(): number;
  inputMax(): number;
}

/** Offsets (i32 index) in the fields of the last line, as wasm/fastline.ts writes them. */
export const F_STAMP = 0;
export const F_NEW = 1;
export const F_V4 = 2;
/** Kind k's value: [F_KIND_A + 2k, F_KIND_A + 2k + 1). */
export const F_KIND_A = 3;
export const F_SRC_A = 15;
export const F_SRC_E = 16;
export const F_ISRC_A = 17;
export const F_ISRC_E = 18;
export const F_IDST_A = 19;
export const F_IDST_E = 20;
/** 1: the IPv6 source is in the record's C_SRC6 columns. */
export const F_SRC6 = 21;
/** RUN_REJECTED: the index in REJECT_REASONS of the line's rejection. */
export const F_REASON = 22;

/** What FastLine.run() stopped for (wasm/fastline.ts RUN_*). */
export const RUN_DONE = 0;
export const RUN_FULL = 1;
export const RUN_GLUE = 2;
export const RUN_DECLINED = 3;
export const RUN_LONG = 4;
export const RUN_REJECTED = 5;

/** Kinds of recent values (wasm/fastline.ts K_*), in order. */
export const KIND_HOST = 0;
export const KIND_PREFIX = 1;
export const KIND_IN = 2;
export const KIND_OUT = 3;
export const KIND_MAC = 4;
export const KIND_DST = 5;
export const KINDS = 6;

let compiled: WebAssembly.Module | null | undefined;

function moduleOnce(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      const text = atob(FASTLINE_WASM_BASE64);
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      compiled = new WebAssembly.Module(bytes);
    } catch {
      // No WebAssembly here (node --jitless, a locked-down runtime): the JavaScript parser does it all.
      compiled = null;
    }
  }
  return compiled;
}

export class FastLine {
  /** The whole memory, and the views of its parts. */
  readonly bytes: Uint8Array;
  readonly fields: Int32Array;
  readonly records: Int32Array;
  readonly recordsF64: Float64Array;
  readonly recordInts: number;
  readonly recordsMax: number;
  /** Where the input starts in `bytes`, and how much of it there is. */
  readonly inputAt: number;
  readonly inputMax: number;
  private readonly x: FastLineExports;

  private constructor(x: FastLineExports) {
    this.x = x;
    const buf = x.memory.buffer;
    this.bytes = new Uint8Array(buf);
    this.fields = new Int32Array(buf, x.fieldsAt(), 32);
    this.recordInts = x.recordInts();
    this.recordsMax = x.recordsMax();
    this.records = new Int32Array(buf, x.recordsAt(), this.recordsMax * this.recordInts);
    this.recordsF64 = new Float64Array(buf, x.recordsAt(), (this.recordsMax * this.recordInts) / 2);
    this.inputAt = x.inputAt();
    this.inputMax = x.inputMax();
    // The input and the 8-byte reads past a line's end must stay inside the memory.
    if (this.inputAt + this.inputMax + 16 > buf.byteLength) throw new Error('fastline: the memory is smaller than its layout (scripts/build-wasm.ts MEMORY_PAGES)');
    x.forget();
  }

  /** A new instance, or null when WebAssembly is not available. */
  static create(): FastLine | null {
    const m = moduleOnce();
    if (m === null) return null;
    const instance = new WebAssembly.Instance(m, {
      env: {
        abort: () => {
          throw new Error('fastline: abort');
        },
      },
    });
    return new FastLine(instance.exports as unknown as FastLineExports);
  }

  /**
   * The whole lines of bytes[start, end) (absolute; `end` just after a newline) into records from
   * `index` on, until the records reach `max`, a line needs JavaScript, or a line is longer than
   * maxLine bytes: returns RUN_*; count(), pos(), lineAt() and lineTo() say where it stopped.
   */
  run(start: number, end: number, auto: boolean, index: number, max: number, maxLine: number): number {
    return this.x.run(start, end, auto ? 1 : 0, index, max, maxLine);
  }

  /** Records written by the last run (the index of the next one). */
  count(): number {
    return this.x.count();
  }

  /** Where the last run stopped: the start of the next line to look at. */
  pos(): number {
    return this.x.pos();
  }

  /** The line the last run stopped at (RUN_GLUE, RUN_DECLINED). */
  lineAt(): number {
    return this.x.lineAt();
  }

  lineTo(): number {
    return this.x.lineTo();
  }

  /** The time of `stamp` (fields[F_STAMP]), which run() then writes itself; -1 forgets it. */
  setTime(stamp: number, time: number): void {
    this.x.setTime(stamp, time);
  }

  /** The value of `kind` the last parse kept as new has string id `id`. */
  setId(kind: number, id: number): void {
    this.x.setId(kind, id);
  }

  /** Forget the value of `kind` the last parse kept (its string could not be used). */
  drop(kind: number): void {
    this.x.drop(kind);
  }

  /** Forget every recent value (the string table was reset). */
  forget(): void {
    this.x.forget();
  }
}
