/**
 * The replay parser's fast lane: wasm/fastline.ts compiled to WebAssembly (fastline-wasm.ts). It
 * answers the common BSD syslog firewall line exactly as parseRecord does and writes it as a record
 * (records.ts); any other line it declines, for parseRecord. What its fields and run codes mean:
 * layout.ts.
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

/** Compiles the module now (a worker waiting for its input does it while the main thread loads). */
export function compileFastLine(): void {
  moduleOnce();
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
   * maxLine bytes: returns RUN_* (layout.ts); count(), pos(), lineAt() and lineTo() say where it stopped.
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

  /** The time of `stamp` (fields[F_STAMP], layout.ts), which run() then writes itself; -1 forgets it. */
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
