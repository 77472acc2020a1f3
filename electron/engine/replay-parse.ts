/**
 * The parse stage of a replay (replay.ts has the detect stage): byte chunks in, batches of records
 * (records.ts) out. Its own module so that a worker running it (electron/headless/replay-worker.ts)
 * loads the parser and nothing of the engine.
 */
import { REJECT_REASONS, type Framing, type PacketEvent, type RejectReason } from '../shared/packet.ts';
import { ipv4Value } from './parse/address.ts';
import { decodeAscii, decodeLine, quotedAddress, v6Address } from './parse/bytes.ts';
import { FastLine } from './parse/fastline.ts';
import { detectFraming, parseRecord, syslogYearOf, type ParseOptions } from './parse/index.ts';
import {
  C_DST, C_HOST, C_IN, C_INNERDST, C_INNERSRC, C_MAC, C_OUT, C_PREFIX, C_SRC, F_IDST_A, F_IDST_E, F_ISRC_A, F_ISRC_E, F_KIND_A, F_NEW, F_REASON, F_SRC6, F_SRC_A, F_SRC_E, F_STAMP, F_V4, KIND_DST, KINDS, RECORD_INTS,
  RUN_DECLINED, RUN_DONE, RUN_FULL, RUN_GLUE, RUN_REJECTED,
} from './parse/layout.ts';
import { LineSplitter, type LineSink } from './parse/lines.ts';
import { localTime, SyslogYear } from './parse/time.ts';
import { StringIds, writePacket, writeRejected, type RecordBatch } from './records.ts';

/** How the parse stage reads the input. */
export interface ReplayParseOptions {
  framing?: Framing | 'auto';
  year?: number;
  bootTimeMs?: number;
  /** Count firewall lines other programs wrote (ParseOptions.anyProgram): logs forwarded from routers. */
  anyProgram?: boolean;
}

/** Lines the splitter hands out as bytes while the framing is still being recognised (mid-input: a BOM is a character). */
const lineDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Lines looked at to recognise the framing. */
const SNIFF_LINES = 64;

/** Record column of each kind of recent value of the fast lane (layout.ts KIND_*). */
const KIND_COLUMN = [C_HOST, C_PREFIX, C_IN, C_OUT, C_MAC, C_DST];
/** What pushRead() reads at a time without the fast lane. */
const READ_BUFFER_BYTES = 1 << 20;
/** Records per batch when the fast lane is not available. */
const RECORDS_WITHOUT_FAST_LANE = 4096;

/**
 * The parse stage of a replay: byte chunks in, batches of records (records.ts) out, in line order.
 * Lines are cut by LineSplitter; a BSD syslog firewall line goes through the fast lane
 * (WebAssembly, fastline.ts) when it takes it, anything else is decoded for parseRecord, which
 * answers the same for the lines both take (tests/engine/replay-parse.test.ts compares them). A batch is handed out when it is full and at the end of every push() and of end();
 * its `ints` are valid only during the call (the consumer copies them to keep them).
 */
export class ReplayParser {
  private readonly splitter = new LineSplitter();
  private readonly parseOptions: ParseOptions;
  private framingKnown: Framing | null;
  private framingToTell: Framing | null | undefined;
  /** Lines kept to recognise the framing (null: a line over the cap, rejected in its turn). */
  private sniffBuffer: (string | null)[] | null;
  private readonly fast: FastLine | null;
  /** The chunk being split, when it was copied into the fast lane's input (lines of it are parsed there). */
  private input: Uint8Array | null = null;
  private readonly ints: Int32Array;
  private readonly f64: Float64Array;
  private readonly capacity: number;
  private count = 0;
  private news: (number | string)[] = [];
  private sides: unknown[] = [];
  private readonly strings = new StringIds();
  private readonly sink: LineSink;
  /** Stamp of the last fast-lane line and its time (forgotten after a JavaScript-lane line: it may have moved the year). */
  private lastStamp = -1;
  private lastTime = 0;
  /** Lines whose record the fast lane wrote (the rest went through the JavaScript parser). */
  fastLines = 0;

  private readonly onBatch: (batch: RecordBatch) => void;

  constructor(opts: ReplayParseOptions, onBatch: (batch: RecordBatch) => void, fastLane = true) {
    this.onBatch = onBatch;
    const autoFraming = opts.framing === undefined || opts.framing === 'auto';
    this.framingKnown = autoFraming ? null : (opts.framing as Framing);
    this.framingToTell = autoFraming ? undefined : this.framingKnown;
    this.sniffBuffer = autoFraming ? [] : null;
    this.parseOptions = { framing: this.framingKnown ?? 'auto' };
    if (opts.year !== undefined) this.parseOptions.year = opts.year;
    // Year-less syslog stamps: from --year (or the year that keeps the first stamp out of the future), rolling over at New Year.
    this.parseOptions.syslogYear = new SyslogYear(opts.year);
    if (opts.bootTimeMs !== undefined) this.parseOptions.bootTimeMs = opts.bootTimeMs;
    if (opts.anyProgram === true) this.parseOptions.anyProgram = true;
    this.fast = fastLane ? FastLine.create() : null;
    if (this.fast !== null) {
      this.ints = this.fast.records;
      this.f64 = this.fast.recordsF64;
      this.capacity = this.fast.recordsMax;
    } else {
      const buf = new ArrayBuffer(RECORDS_WITHOUT_FAST_LANE * RECORD_INTS * 4);
      this.ints = new Int32Array(buf);
      this.f64 = new Float64Array(buf);
      this.capacity = RECORDS_WITHOUT_FAST_LANE;
    }
    this.sink = {
      line: (text) => this.line(text),
      bytes: (buf, start, end) => {
        if (this.sniffBuffer !== null) this.line(lineDecoder.decode(buf.subarray(start, end)));
        else this.slowBytes(buf, start, end);
      },
      block: (buf, start, end) => this.block(buf, start, end),
      tooLong: () => {
        // While the framing is being recognised, in its place among the kept lines (records stay in line order).
        const buf = this.sniffBuffer;
        if (buf === null) this.rejected('too-long');
        else {
          buf.push(null);
          // It counts among the lines looked at, as a line of text does.
          if (buf.length >= SNIFF_LINES) this.flushSniffed();
        }
      },
    };
  }

  /** Next chunk of the input. */
  push(chunk: Uint8Array): void {
    const fast = this.fast;
    if (fast === null) this.splitter.push(chunk, this.sink);
    else {
      // Into the fast lane's memory, a piece at a time (the chunk itself is not kept).
      for (let at = 0; at < chunk.length; at += fast.inputMax) {
        const piece = chunk.subarray(at, Math.min(chunk.length, at + fast.inputMax));
        fast.bytes.set(piece, fast.inputAt);
        this.input = fast.bytes.subarray(fast.inputAt, fast.inputAt + piece.length);
        this.splitter.push(this.input, this.sink);
      }
      this.input = null;
    }
    this.flush();
  }

  /**
   * Next chunk of the input, which `read` writes into the memory it is given (up to its length) and
   * returns the length of (0: nothing more). With the fast lane that memory is the lane's own input,
   * so the bytes are not copied there afterwards as push() copies them (a worker reading a file
   * copied every byte once more: ~50 ms of a 257 MB replay). Returns what `read` returned.
   */
  pushRead(read: (into: Uint8Array) => number): number {
    const fast = this.fast;
    if (fast === null) {
      this.readBuffer ??= new Uint8Array(READ_BUFFER_BYTES);
      const n = read(this.readBuffer);
      if (n > 0) this.push(this.readBuffer.subarray(0, n));
      return n;
    }
    const n = read(fast.bytes.subarray(fast.inputAt, fast.inputAt + fast.inputMax));
    if (n > 0) {
      this.input = fast.bytes.subarray(fast.inputAt, fast.inputAt + n);
      this.splitter.push(this.input, this.sink);
      this.input = null;
      this.flush();
    }
    return n;
  }

  /** pushRead()'s memory without the fast lane. */
  private readBuffer: Uint8Array | null = null;

  /** One already-split line. */
  pushLine(text: string): void {
    this.line(text);
    this.flush();
  }

  /** End of input: the partial last line, the lines kept to recognise the framing. */
  end(): void {
    this.splitter.end(this.sink);
    this.flushSniffed();
    this.flush();
  }

  private flush(): void {
    if (this.count === 0 && this.framingToTell === undefined) return;
    // Every batch with the same properties (one object shape for the code reading batches).
    const batch: RecordBatch = { ints: this.ints, count: this.count, news: this.news, sides: this.sides, framing: undefined };
    if (this.framingToTell !== undefined) {
      batch.framing = this.framingToTell;
      this.framingToTell = undefined;
    }
    this.count = 0;
    this.news = [];
    this.sides = [];
    this.onBatch(batch);
  }

  /** Index of the next record (a full batch is handed out first). */
  private next(): number {
    if (this.count === this.capacity) this.flush();
    this.stringsFull(this.count);
    return this.count;
  }

  /**
   * Before record `index`: a (nearly) full string table starts again, and the fast lane forgets its
   * recent values, whose ids were the old table's. True when that happened.
   */
  private stringsFull(index: number): boolean {
    if (!this.strings.beforeRecord(index, this.news)) return false;
    this.fast?.forget();
    return true;
  }

  private rejected(reason: RejectReason): void {
    writeRejected(reason, this.ints, this.next());
    this.count++;
  }

  private packet(p: PacketEvent, srcV4: number): void {
    writePacket(p, srcV4, this.ints, this.f64, this.next(), this.strings, this.news, this.sides);
    this.count++;
  }

  private line(text: string): void {
    const buf = this.sniffBuffer;
    if (buf !== null) {
      buf.push(text);
      if (buf.length >= SNIFF_LINES) this.flushSniffed();
      return;
    }
    this.forgetStamp();
    const r = parseRecord(text, this.parseOptions);
    if (r.ok) this.packet(r.packet, ipv4Value(r.packet.src));
    else this.rejected(r.reason);
  }

  /** A line of the JavaScript parser may have moved the syslog year: the next stamp's time is computed again. */
  private forgetStamp(): void {
    if (this.lastStamp === -1) return;
    this.lastStamp = -1;
    this.fast?.setTime(-1, 0);
  }

  private flushSniffed(): void {
    const buf = this.sniffBuffer;
    if (buf === null) return;
    this.sniffBuffer = null;
    this.framingKnown = detectFraming(buf.filter((l) => l !== null));
    this.framingToTell = this.framingKnown;
    // Nothing recognisable: let the parser judge every line on its own.
    this.parseOptions.framing = this.framingKnown ?? 'auto';
    for (const l of buf) {
      if (l === null) this.rejected('too-long');
      else this.line(l);
    }
  }

  /** A line the fast lane does not take: decoded, for parseRecord. */
  private slowBytes(buf: Uint8Array, start: number, end: number): void {
    this.line(decodeLine(buf, start, end));
  }

  /**
   * Whole lines of the input (LineSplitter's block()): the fast lane runs through them, and this
   * finishes the records it cannot (new strings, a new second, IPv6 sources, quoted addresses) and
   * hands the lines it declines to the JavaScript parser. Returns where it stopped.
   */
  private block(buf: Uint8Array, start: number, end: number): number {
    const framing = this.parseOptions.framing;
    if (buf !== this.input || this.sniffBuffer !== null || (framing !== 'syslog' && framing !== 'auto')) return start;
    const fast = this.fast!;
    const at = fast.inputAt;
    const auto = framing === 'auto';
    const maxLine = this.splitter.maxLineLength;
    let p = start + at;
    const stop = end + at;
    for (;;) {
      if (this.count === this.capacity) this.flush();
      const before = this.count;
      const r = fast.run(p, stop, auto, this.count, this.capacity, maxLine);
      this.count = fast.count();
      this.fastLines += this.count - before;
      p = fast.pos();
      if (r === RUN_DONE) return p - at;
      if (r === RUN_FULL) this.flush();
      else if (r === RUN_GLUE) {
        if (this.finish(this.count)) {
          this.count++;
          this.fastLines++;
        } else this.slowBytes(fast.bytes, fast.lineAt(), fast.lineTo());
      } else if (r === RUN_REJECTED) {
        // Another program's line, or a kernel line not from the firewall, in a new second: dated
        // as the JavaScript parser dates every line (the syslog year follows the log). With
        // anyProgram another program's firewall line is a packet: the JavaScript parser reads it.
        const reason = REJECT_REASONS[fast.fields[F_REASON]!]!;
        if (reason === 'untrusted-transport' && this.parseOptions.anyProgram === true) this.slowBytes(fast.bytes, fast.lineAt(), fast.lineTo());
        else if (this.dated(fast.fields[F_STAMP]!)) this.rejected(reason);
        else this.slowBytes(fast.bytes, fast.lineAt(), fast.lineTo());
      } else if (r === RUN_DECLINED) this.slowBytes(fast.bytes, fast.lineAt(), fast.lineTo());
      else return p - at; // RUN_LONG: LineSplitter's text path
    }
  }

  /**
   * The time of a syslog stamp of the fast lane (fields[F_STAMP]) into lastTime, as the JavaScript
   * parser dates it (the year from the SyslogYear that follows the log); false for a date that
   * does not exist (the JavaScript parser then judges the line).
   */
  private dated(stamp: number): boolean {
    if (stamp === this.lastStamp) return true;
    const month = stamp >>> 28;
    const day = (stamp >>> 21) & 127;
    const time = localTime(syslogYearOf(this.parseOptions, month, day), month, day, (stamp >>> 14) & 127, (stamp >>> 7) & 127, stamp & 127);
    if (Number.isNaN(time)) return false;
    this.lastStamp = stamp;
    this.lastTime = time;
    this.fast!.setTime(stamp, time);
    return true;
  }

  /**
   * Finishes record `index`, which the fast lane wrote for its last line: true when done, false when
   * the JavaScript parser is to decide the line after all.
   */
  private finish(index: number): boolean {
    const fast = this.fast!;
    const F = fast.fields;
    const I = this.ints;
    const o = index * RECORD_INTS;
    const b = fast.bytes;
    const v4 = F[F_V4] === 1;
    const fresh = F[F_NEW]!;
    // The string table started again: the ids the fast lane wrote for this line are gone too.
    if (this.stringsFull(index)) return false;
    let ok = true;
    // New recent values get their strings first, whatever follows: the fast lane keeps them.
    if (fresh !== 0) {
      for (let k = 0; k < KINDS; k++) {
        if ((fresh & (1 << k)) === 0) continue;
        const a = F[F_KIND_A + 2 * k]!;
        const e = F[F_KIND_A + 2 * k + 1]!;
        let text: string | null = k === KIND_DST && !v4 ? v6Address(b, a, e) : decodeAscii(b, a, e);
        // An IPv6 text whose canonical form is IPv4 (mapped): the JavaScript parser decides its family.
        if (text !== null && k === KIND_DST && !v4 && text.indexOf(':') < 0) text = null;
        if (text === null) {
          fast.drop(k);
          ok = false;
          continue;
        }
        const id = this.strings.id(text, index, this.news);
        fast.setId(k, id);
        I[o + KIND_COLUMN[k]!] = id;
      }
      if (!ok) return false;
    }
    if (!this.dated(F[F_STAMP]!)) return false;
    if (!v4 && F[F_SRC6] !== 1) {
      // An IPv6 source in another form than the kernel's eight full groups (the records carry those as numbers).
      const src = v6Address(b, F[F_SRC_A]!, F[F_SRC_E]!);
      if (src === null || src.indexOf(':') < 0) return false;
      I[o + C_SRC] = this.sides.push(src) - 1;
    }
    if (F[F_ISRC_A]! >= 0) {
      const innerSrc = quotedAddress(b, F[F_ISRC_A]!, F[F_ISRC_E]!);
      const innerDst = innerSrc === null ? null : quotedAddress(b, F[F_IDST_A]!, F[F_IDST_E]!);
      if (innerDst === null) return false;
      I[o + C_INNERSRC] = this.sides.push(innerSrc) - 1;
      I[o + C_INNERDST] = this.sides.push(innerDst) - 1;
    }
    this.f64[o / 2 + 1] = this.lastTime;
    return true;
  }
}
