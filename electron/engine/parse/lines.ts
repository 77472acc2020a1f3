/**
 * Splits a byte stream into lines: feed it chunks as they are read, it hands out complete lines
 * and keeps the partial tail for the next chunk. Pure (no I/O), used by the replay CLI and the
 * file-tail source.
 *
 * Decoding: UTF-8, once per chunk, in streaming mode (a character split across two chunks is
 * decoded correctly). Why not latin1: both are fast here (ASCII is the common case and V8's
 * decoder copies it straight), but UTF-8 shows hostnames and custom prefixes as the user wrote
 * them, and bytes that are not UTF-8 become U+FFFD, which the parser refuses as 'binary' instead
 * of letting them pass as look-alike Latin-1 letters. Decoding a whole chunk and cutting lines
 * out of the resulting string with indexOf is several times faster than decoding line by line.
 *
 * Bounded: a line longer than `maxLineLength` characters is not kept — its text is dropped up to
 * the next newline and the sink is told (the caller counts it as 'too-long'), so a file without
 * newlines cannot make the tail grow without limit.
 */
import { CH_CR, CH_LF, MAX_RECORD_LENGTH } from './grammar.ts';

export interface LineSink {
  line(text: string): void;
  /** A line longer than the cap was dropped; `length` is how many characters were seen of it. */
  tooLong?(length: number): void;
  /**
   * When present, most lines come here undecoded instead of to line(): the line is
   * `buf[start, end)` (UTF-8 bytes, no newline, a CRLF's CR removed), readable only during the
   * call. Decoding it gives exactly the text line() would have had. Lines that continue across
   * chunks, the first line of the input (a BOM is dropped there) and lines over the cap in bytes
   * still come to line() / tooLong() as text.
   */
  bytes?(buf: Uint8Array, start: number, end: number): void;
  /**
   * With bytes(): whole lines buf[start, end) (`end` just after a newline), offered in bulk. The
   * sink takes as many as it likes, each exactly as bytes() would have had it, and returns where it
   * stopped (the start of a line); the splitter hands out that line itself and offers the rest
   * again. It must stop before a line of more than maxLineLength bytes (the text path decides those).
   */
  block?(buf: Uint8Array, start: number, end: number): number;
}

export interface LineSplitterOptions {
  /** Longest line handed out, in characters (default: the parser's MAX_RECORD_LENGTH, 8 KiB). */
  maxLineLength?: number;
}

export class LineSplitter {
  readonly maxLineLength: number;
  /** Lines handed out one by one (not those a sink's block() took) and lines dropped for length, since construction. */
  lines = 0;
  tooLongLines = 0;
  /**
   * BOMs are kept by the decoder and only the input's first character is dropped when it is one
   * (see take): the decoder's own BOM handling depends on how the input was cut into chunks (after
   * a first call that returned nothing, it also dropped a BOM that was not the first character),
   * so the two lanes could disagree on the same bytes.
   */
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /** No text decoded yet since the start of the input: a BOM now is the input's own, and dropped. */
  private atStart = true;
  private tail = '';
  /** Inside an over-long line: drop everything up to the next newline. */
  private dropping = false;
  private dropped = 0;

  constructor(options: LineSplitterOptions = {}) {
    const max = options.maxLineLength ?? MAX_RECORD_LENGTH;
    this.maxLineLength = Number.isInteger(max) && max > 0 ? max : MAX_RECORD_LENGTH;
  }

  /**
   * Bytes lane (sinks with bytes()): the decoder and the text tail are at rest — nothing pending,
   * not dropping, past the start of the input — so a whole line of the chunk can be handed out as
   * bytes without the decoder ever seeing it (after a newline its state is empty whatever came
   * before, so skipping whole lines changes nothing it decodes later).
   */
  private atRest = false;

  /** Feed the next chunk; every complete line in it (with what was pending) goes to the sink. */
  push(chunk: Uint8Array, sink: LineSink): void {
    if (sink.bytes === undefined) {
      this.take(this.decoder.decode(chunk, { stream: true }), sink);
      this.atRest = false;
    } else this.pushBytes(chunk, sink, sink.bytes);
  }

  private pushBytes(chunk: Uint8Array, sink: LineSink, bytes: (buf: Uint8Array, start: number, end: number) => void): void {
    const n = chunk.length;
    let p = 0;
    if (!this.atRest) {
      // What continues the pending text (or starts the input) goes through the decoder up to the first newline.
      const nl = chunk.indexOf(CH_LF);
      if (nl < 0) {
        this.take(this.decoder.decode(chunk, { stream: true }), sink);
        return;
      }
      this.take(this.decoder.decode(chunk.subarray(0, nl + 1), { stream: true }), sink);
      this.atRest = true;
      p = nl + 1;
    }
    const max = this.maxLineLength;
    const block = sink.block;
    const lastNl = block === undefined ? -1 : chunk.lastIndexOf(CH_LF);
    while (p < n) {
      if (p <= lastNl) {
        const q = block!.call(sink, chunk, p, lastNl + 1);
        if (q > p) {
          p = q;
          continue;
        }
      }
      const nl = chunk.indexOf(CH_LF, p);
      if (nl < 0) {
        // A partial last line: kept as text (or dropped when too long) by the decoder path.
        this.take(this.decoder.decode(chunk.subarray(p), { stream: true }), sink);
        this.atRest = false;
        return;
      }
      let e = nl;
      if (e > p && chunk[e - 1] === CH_CR) e--; // CRLF
      if (e - p > max) {
        // Over the cap in bytes, perhaps not in characters: the text path decides.
        this.take(this.decoder.decode(chunk.subarray(p, nl + 1), { stream: true }), sink);
      } else {
        this.lines++;
        bytes.call(sink, chunk, p, e);
      }
      p = nl + 1;
    }
  }

  /** End of input: the pending partial line, if any, is handed out as a last line. */
  end(sink: LineSink): void {
    this.atRest = false;
    this.take(this.decoder.decode(), sink);
    this.atStart = true; // a new input may follow (its BOM is dropped again)
    if (this.dropping) {
      this.reportTooLong(sink);
    } else if (this.tail.length > 0) {
      this.emit(this.tail, sink);
    }
    this.tail = '';
  }

  /** Convenience for tests and small inputs: all lines of one chunk. */
  pushLines(chunk: Uint8Array): string[] {
    const out: string[] = [];
    this.push(chunk, { line: (l) => out.push(l) });
    return out;
  }

  private take(text: string, sink: LineSink): void {
    if (text.length === 0) return;
    if (this.atStart) {
      this.atStart = false;
      if (text.charCodeAt(0) === 0xfeff) {
        text = text.slice(1);
        if (text.length === 0) return;
      }
    }
    const max = this.maxLineLength;
    let p = 0;
    const n = text.length;
    while (p < n) {
      const nl = text.indexOf('\n', p);
      if (nl < 0) {
        // No newline left: keep the rest, unless it already makes the line too long.
        const rest = n - p;
        if (this.dropping) this.dropped += rest;
        else if (this.tail.length + rest > max + 1) {
          // (+1: a CR of a CRLF may still belong to a line of exactly max characters)
          this.dropping = true;
          this.dropped = this.tail.length + rest;
          this.tail = '';
        } else this.tail = this.tail.length === 0 ? text.slice(p) : this.tail + text.slice(p);
        return;
      }
      if (this.dropping) {
        this.dropped += nl - p;
        this.reportTooLong(sink);
      } else if (this.tail.length > 0) {
        const whole = this.tail + text.slice(p, nl);
        this.tail = '';
        this.emitChecked(whole, sink);
      } else {
        let e = nl;
        if (e > p && text.charCodeAt(e - 1) === CH_CR) e--; // CRLF
        if (e - p > max) {
          this.dropped = e - p;
          this.reportTooLong(sink);
        } else {
          this.lines++;
          sink.line(text.slice(p, e));
        }
      }
      p = nl + 1;
    }
  }

  private emitChecked(whole: string, sink: LineSink): void {
    if (whole.length > 0 && whole.charCodeAt(whole.length - 1) === CH_CR) whole = whole.slice(0, -1);
    if (whole.length > this.maxLineLength) {
      this.dropped = whole.length;
      this.reportTooLong(sink);
    } else this.emit(whole, sink);
  }

  private emit(text: string, sink: LineSink): void {
    if (text.length > 0 && text.charCodeAt(text.length - 1) === CH_CR) text = text.slice(0, -1);
    this.lines++;
    sink.line(text);
  }

  private reportTooLong(sink: LineSink): void {
    this.tooLongLines++;
    const length = this.dropped;
    this.dropping = false;
    this.dropped = 0;
    sink.tooLong?.(length);
  }
}
