/**
 * The engine's duplicate-record test (detect/duplicates.ts: a second LOG line of one packet) run by
 * a replay's parse stage on its records, so that the detect stage — the replay's critical path, a
 * thread of its own in the pipeline — need not: it cost ~10% of that stage's time (a ring of 16
 * slots compared with every record, 13 fields written per record), where the parse stage has
 * time to spare (it waits for the detect stage). Records it finds to be duplicates get
 * BITS_DUPLICATE in their C_BITS (cleared in the others); the batch says `duplicates: true`, and
 * the engine then takes that answer instead of asking its own DuplicateRecords.
 *
 * The same answer record for record, by the same rule on the same records in the same order:
 * - which records are looked at: those classify() does not set aside as 'prefix-not-counted' or
 *   'not-inbound' (a counted prefix, IN= set, OUT= empty unless the prefix counts forwarded
 *   records), which is all that comes before the engine's test in a replay (no host filter, no
 *   kernel-trust requirement);
 * - identity: the same fields compared in the same order, the first matching slot taken, a slot
 *   forgotten once matched, slots overwritten in turn. The source: its IPv4 value (from the text for
 *   a source the record carries as text, as DuplicateRecords does); else its text — the reader
 *   makes an IPv6 source given as its eight groups into v6TextOfGroups(groups), a canonical text
 *   (one address, one text), so two sources in groups compare by their groups, and a source in
 *   groups is made into text only to compare with one given as text.
 * tests/engine/record-duplicates.test.ts compares the two on records from both lanes.
 *
 * Pure (no Node, nothing of the engine's detection): it runs in the parse worker.
 */
import type { PacketEvent } from '../shared/packet.ts';
import { ipv4Value } from './parse/address.ts';
import { v6TextOfGroups } from './parse/bytes.ts';
import {
  BITS_V6, C_AUX, C_BITS, C_DPT, C_DST, C_FLAGS, C_ID, C_IN, C_LEN, C_OUT, C_PREFIX, C_PROTO, C_SPT, C_SRC, C_SRC6, C_SRCV4, C_TAG, C_TTL, C_WINDOW, RECORD_INTS, SRC_IN_GROUPS, SRC_V4, TAG_PACKET,
  TAG_SIDE_PACKET,
} from './parse/layout.ts';
import { FIXED_STRINGS, type RecordBatch } from './records.ts';

/** C_BITS of a packet record (a TAG_SIDE_PACKET one too): another LOG line of a packet already seen. */
export const BITS_DUPLICATE = 1 << 9;

/** What the parse stage needs to know to mark duplicates as the engine would find them. */
export interface DuplicateMarking {
  /** The engine's counted prefixes (ScanEngine.countedPrefixes()). */
  prefixes: string[];
  /** Prefixes whose records count with OUT= set (classify: the forward block's). */
  forwardPrefixes: string[];
}

/** As in detect/duplicates.ts. */
const DUPLICATE_WINDOW_MS = 2000;
const RING = 16;
const NONE = -1;

/** A number column as DuplicateRecords sees it (RecordReader: negative is undefined; then NONE). */
function column(n: number): number {
  return n < 0 ? NONE : n;
}

/** Where a slot's (or the current record's) non-IPv4 source is: its groups, or its text. */
const SRC_GROUPS = 1;
const SRC_TEXT = 2;

export class RecordDuplicates {
  private readonly prefixes: ReadonlySet<string>;
  private readonly forwardPrefixes: ReadonlySet<string>;
  /** The batch's string table as its news build it (RecordReader.news). */
  private strings: string[] = [...FIXED_STRINGS];

  private readonly time = new Float64Array(RING).fill(-Infinity);
  private readonly dpt = new Int32Array(RING).fill(-2);
  private readonly spt = new Int32Array(RING);
  private readonly id = new Int32Array(RING);
  private readonly len = new Int32Array(RING);
  private readonly ttl = new Int32Array(RING);
  private readonly flags = new Int32Array(RING);
  private readonly window = new Int32Array(RING);
  private readonly srcV4 = new Float64Array(RING);
  /** Non-IPv4 sources: SRC_GROUPS (words in srcWords) or SRC_TEXT (srcText). */
  private readonly srcKind = new Int32Array(RING);
  private readonly srcWords = new Int32Array(4 * RING);
  private readonly srcText: string[] = new Array<string>(RING).fill('');
  private readonly dst: string[] = new Array<string>(RING).fill('');
  private readonly proto: string[] = new Array<string>(RING).fill('');
  private readonly prefix: string[] = new Array<string>(RING).fill('');
  private next = 0;

  /** The current record's groups (a source in groups). */
  private readonly words = new Int32Array(4);

  constructor(marking: DuplicateMarking) {
    this.prefixes = new Set(marking.prefixes);
    this.forwardPrefixes = new Set(marking.forwardPrefixes);
  }

  /** Marks the packet records of `batch` (in order; every batch of the input, each once). */
  mark(batch: RecordBatch): void {
    const I = batch.ints;
    const f64 = new Float64Array(I.buffer, I.byteOffset, (batch.count * RECORD_INTS) >> 1);
    const news = batch.news;
    let k = 0;
    for (let i = 0; i < batch.count; i++) {
      while (k < news.length && news[k] === i) {
        const id = news[k + 1] as number;
        if (id < 0) this.strings = [...FIXED_STRINGS];
        else this.strings[id] = news[k + 2] as string;
        k += 3;
      }
      const o = i * RECORD_INTS;
      const tag = I[o + C_TAG]!;
      if (tag === TAG_PACKET) {
        const dup = this.record(I, f64, o, batch.sides);
        I[o + C_BITS] = dup ? I[o + C_BITS]! | BITS_DUPLICATE : I[o + C_BITS]! & ~BITS_DUPLICATE;
      } else if (tag === TAG_SIDE_PACKET) I[o + C_BITS] = this.side(batch.sides[I[o + C_AUX]!] as PacketEvent) ? BITS_DUPLICATE : 0;
    }
    batch.duplicates = true;
  }

  /** classify()'s counted prefix and inbound. */
  private looked(prefix: string, inIf: string, out: string): boolean {
    return this.prefixes.has(prefix) && inIf !== '' && (out === '' || this.forwardPrefixes.has(prefix));
  }

  /** A record in the columns, read as RecordReader.packet reads it. */
  private record(I: Int32Array, f64: Float64Array, o: number, sides: unknown[]): boolean {
    const S = this.strings;
    const prefix = S[I[o + C_PREFIX]!]!;
    if (!this.looked(prefix, S[I[o + C_IN]!]!, S[I[o + C_OUT]!]!)) return false;
    const src = I[o + C_SRC]!;
    let srcV4 = -1;
    let kind = 0;
    let text = '';
    if (src === SRC_V4) srcV4 = I[o + C_SRCV4]! >>> 0;
    else if (src === SRC_IN_GROUPS) {
      kind = SRC_GROUPS;
      const w = this.words;
      w[0] = I[o + C_SRC6]!;
      w[1] = I[o + C_SRC6 + 1]!;
      w[2] = I[o + C_SRC6 + 2]!;
      w[3] = I[o + C_SRC6 + 3]!;
    } else {
      kind = SRC_TEXT;
      text = sides[src] as string;
      // DuplicateRecords keys an IPv4 source given as text by its value too.
      if ((I[o + C_BITS]! & BITS_V6) === 0) srcV4 = ipv4Value(text);
    }
    return this.seen(
      f64[(o >> 1) + 1]!,
      column(I[o + C_DPT]!),
      column(I[o + C_SPT]!),
      column(I[o + C_ID]!),
      column(I[o + C_LEN]!),
      column(I[o + C_TTL]!),
      column(I[o + C_FLAGS]!),
      column(I[o + C_WINDOW]!),
      srcV4,
      kind,
      text,
      S[I[o + C_DST]!]!,
      S[I[o + C_PROTO]!]!,
      prefix,
    );
  }

  /** A packet kept whole (TAG_SIDE_PACKET). */
  private side(p: PacketEvent): boolean {
    if (!this.looked(p.prefix, p.in, p.out)) return false;
    let srcV4 = -1;
    if (p.family === 4) srcV4 = ipv4Value(p.src);
    return this.seen(p.time, p.dpt ?? NONE, p.spt ?? NONE, p.id ?? NONE, p.len ?? NONE, p.ttl ?? NONE, p.tcpFlags ?? NONE, p.window ?? NONE, srcV4, SRC_TEXT, p.src, p.dst, p.proto, p.prefix);
  }

  private seen(t: number, dpt: number, spt: number, id: number, len: number, ttl: number, flags: number, window: number, srcV4: number, kind: number, text: string, dst: string, proto: string, prefix: string): boolean {
    for (let i = 0; i < RING; i++) {
      if (
        this.dpt[i] === dpt &&
        this.spt[i] === spt &&
        this.id[i] === id &&
        this.prefix[i] !== prefix &&
        Math.abs(t - this.time[i]!) <= DUPLICATE_WINDOW_MS &&
        this.len[i] === len &&
        this.ttl[i] === ttl &&
        this.flags[i] === flags &&
        this.window[i] === window &&
        (srcV4 >= 0 ? this.srcV4[i] === srcV4 : this.srcV4[i]! < 0 && this.sameSource(i, kind, text)) &&
        this.dst[i] === dst &&
        this.proto[i] === proto
      ) {
        this.time[i] = -Infinity;
        return true;
      }
    }
    const k = this.next;
    this.next = k === RING - 1 ? 0 : k + 1;
    this.time[k] = t;
    this.dpt[k] = dpt;
    this.spt[k] = spt;
    this.id[k] = id;
    this.len[k] = len;
    this.ttl[k] = ttl;
    this.flags[k] = flags;
    this.window[k] = window;
    this.srcV4[k] = srcV4;
    this.srcKind[k] = srcV4 >= 0 ? 0 : kind;
    if (srcV4 < 0 && kind === SRC_GROUPS) {
      const w = this.words;
      this.srcWords[4 * k] = w[0]!;
      this.srcWords[4 * k + 1] = w[1]!;
      this.srcWords[4 * k + 2] = w[2]!;
      this.srcWords[4 * k + 3] = w[3]!;
      this.srcText[k] = '';
    } else this.srcText[k] = srcV4 >= 0 ? '' : text;
    this.dst[k] = dst;
    this.proto[k] = proto;
    this.prefix[k] = prefix;
    return false;
  }

  /** Is slot i's non-IPv4 source the current record's (kind, text; groups in this.words)? Their texts compared. */
  private sameSource(i: number, kind: number, text: string): boolean {
    const slotKind = this.srcKind[i]!;
    const W = this.srcWords;
    const w = this.words;
    if (slotKind === SRC_GROUPS && kind === SRC_GROUPS) return W[4 * i] === w[0] && W[4 * i + 1] === w[1] && W[4 * i + 2] === w[2] && W[4 * i + 3] === w[3];
    const slotText = slotKind === SRC_GROUPS ? textOfWords(W[4 * i]!, W[4 * i + 1]!, W[4 * i + 2]!, W[4 * i + 3]!) : this.srcText[i]!;
    const ownText = kind === SRC_GROUPS ? textOfWords(w[0]!, w[1]!, w[2]!, w[3]!) : text;
    return slotText === ownText;
  }
}

/** The text RecordReader makes of a source in groups (records.ts V6Names). */
function textOfWords(a: number, b: number, c: number, d: number): string {
  return v6TextOfGroups([a >>> 16, a & 0xffff, b >>> 16, b & 0xffff, c >>> 16, c & 0xffff, d >>> 16, d & 0xffff]);
}
