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
import { MAX_RECORD_LENGTH } from './index.ts';

export interface LineSink {
  line(text: string): void;
  /** A line longer than the cap was dropped; `length` is how many characters were seen of it. */
  tooLong?(length: number): void;
}

export interface LineSplitterOptions {
  /** Longest line handed out, in characters (default: the parser's MAX_RECORD_LENGTH, 8 KiB). */
  maxLineLength?: number;
}

export class LineSplitter {
  readonly maxLineLength: number;
  /** Lines handed out and lines dropped for length, since construction. */
  lines = 0;
  tooLongLines = 0;
  private readonly decoder = new TextDecoder('utf-8');
  private tail = '';
  /** Inside an over-long line: drop everything up to the next newline. */
  private dropping = false;
  private dropped = 0;

  constructor(options: LineSplitterOptions = {}) {
    const max = options.maxLineLength ?? MAX_RECORD_LENGTH;
    this.maxLineLength = Number.isInteger(max) && max > 0 ? max : MAX_RECORD_LENGTH;
  }

  /** Feed the next chunk; every complete line in it (with what was pending) goes to the sink. */
  push(chunk: Uint8Array, sink: LineSink): void {
    this.take(this.decoder.decode(chunk, { stream: true }), sink);
  }

  /** End of input: the pending partial line, if any, is handed out as a last line. */
  end(sink: LineSink): void {
    this.take(this.decoder.decode(), sink);
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
        if (e > p && text.charCodeAt(e - 1) === 13) e--; // CRLF
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
    if (whole.length > 0 && whole.charCodeAt(whole.length - 1) === 13) whole = whole.slice(0, -1);
    if (whole.length > this.maxLineLength) {
      this.dropped = whole.length;
      this.reportTooLong(sink);
    } else this.emit(whole, sink);
  }

  private emit(text: string, sink: LineSink): void {
    if (text.length > 0 && text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
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
