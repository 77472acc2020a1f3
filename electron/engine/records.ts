/**
 * Parsed lines as records: the hand-over between the replay's parse stage and its detect stage
 * (replay.ts), in one thread or across a worker (electron/headless/replay-pipeline.ts).
 *
 * Why records and not PacketEvent objects: the parse stage's fast lane (WebAssembly,
 * wasm/fastline.ts) writes them without making a string, and a batch of them crosses to another
 * thread as one transferred buffer, where a million objects would each be cloned.
 *
 * A record is RECORD_INTS 32-bit integers (the two doubles, time and seq, take two each). Strings
 * that repeat (host, prefix, interfaces, MAC, DST, protocol) are ids into a string table that the
 * parse stage grows and the batch's `news` carry to the reader. An IPv4 source is its 32-bit value
 * only: the reader leaves `src` empty and the engine makes the text for a source it has not seen.
 * An IPv6 source as the kernel prints it is its eight groups: the reader makes its text once per
 * address (so the same source is the same string, whose hash the engine's maps keep). Other
 * sources, and the addresses quoted by an ICMP error, are strings in the batch's `sides`.
 * The columns are declared once in parse/layout.ts, which wasm/fastline.ts writes too.
 */
import type { Framing, PacketEvent, RejectReason } from '../shared/packet.ts';
import { REJECT_REASONS } from '../shared/packet.ts';
import type { Ip } from '../shared/ip.ts';
import { v6TextOfGroups } from './parse/bytes.ts';
import { hashWords } from './detect/key-hash.ts';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from './parse/grammar.ts';
import {
  BITS_FRAMING_HIGH, BITS_KERNEL, BITS_V6, C_AUX, C_BITS, C_DST, C_FLAGS, C_HOST, C_ICMPCODE, C_ICMPTYPE, C_ID, C_IN, C_INNERDST, C_INNERSRC, C_LEN, C_MAC, C_OUT, C_PHYSIN, C_PHYSOUT, C_PREFIX, C_PROTO, C_SPT, C_DPT,
  C_GUEST, C_SRC, C_SRC6, C_SRCV4, C_TAG, C_TTL, C_WINDOW, DF_SHIFT, FRAGMENT_SHIFT, RECORD_INTS, SRC_IN_GROUPS, SRC_V4, TAG_PACKET, TAG_REJECTED, TAG_SIDE_PACKET,
} from './parse/layout.ts';

/** The record layout (parse/layout.ts), for the readers of records. */
export { C_TAG, C_AUX, C_TIME, C_SEQ, RECORD_INTS, TAG_PACKET, TAG_REJECTED, TAG_SIDE_PACKET } from './parse/layout.ts';

const FRAMINGS: readonly Framing[] = ['syslog', 'kmsg', 'journal', 'dmesg', 'pve', 'logread', 'nflog'];
/** Strings every table starts with, at the ids layout.ts names ID_TCP … ID_ICMPV6 (the fast lane writes those). */
const FIXED_STRINGS = [PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6];
/** Strings a table holds before it starts again (a FORWARD-chain log can have many DST values). */
const STRING_IDS_MAX = 4096;
const REASON_INDEX = new Map<RejectReason, number>(REJECT_REASONS.map((r, i) => [r, i]));

/** Records of consecutive lines, in order, and what it takes to read them. */
export interface RecordBatch {
  /** count × RECORD_INTS integers (may be longer). */
  ints: Int32Array;
  count: number;
  /** Strings the table gained: triples record index (applied before that record is read), id, string; id -1: the table starts again. */
  news: (number | string)[];
  /** IPv6 sources, quoted addresses, whole packets (see the columns). */
  sides: unknown[];
  /** The input's framing once the parse stage knows it (null: none recognised). */
  framing?: Framing | null;
}

/** The parse stage's string table: ids for strings, and the news a batch carries. */
export class StringIds {
  private readonly ids = new Map<string, number>();
  private nextId = 0;

  constructor() {
    this.seed();
  }

  private seed(): void {
    this.ids.clear();
    for (const s of FIXED_STRINGS) this.ids.set(s, this.ids.size);
    this.nextId = FIXED_STRINGS.length;
  }

  /** Before record `index` is written: start again when the table is (nearly) full; true when it did. */
  beforeRecord(index: number, news: (number | string)[]): boolean {
    if (this.nextId < STRING_IDS_MAX - 16) return false;
    this.seed();
    news.push(index, -1, '');
    return true;
  }

  /** The id of `s`, announced in `news` at record `index` when new. */
  id(s: string, index: number, news: (number | string)[]): number {
    const known = this.ids.get(s);
    if (known !== undefined) return known;
    const id = this.nextId++;
    this.ids.set(s, id);
    news.push(index, id, s);
    return id;
  }
}

function optString(s: string | undefined, ids: StringIds, index: number, news: (number | string)[]): number {
  return s === undefined ? -1 : ids.id(s, index, news);
}

/** A column's number (fitsColumn): -1 for undefined. */
function column(n: number | undefined): number {
  return n === undefined ? -1 : n;
}

function triState(b: boolean | undefined): number {
  return b === undefined ? 0 : b ? 2 : 1;
}

/**
 * Writes packet `p` (from the JavaScript parser) as record `index` of `ints`/`f64`. `srcV4`: the
 * 32-bit value of p.src when it is IPv4, else -1.
 */
export function writePacket(p: PacketEvent, srcV4: number, ints: Int32Array, f64: Float64Array, index: number, ids: StringIds, news: (number | string)[], sides: unknown[]): void {
  const o = index * RECORD_INTS;
  const framing = FRAMINGS.indexOf(p.framing);
  if (!fits(p) || framing < 0 || (p.seq !== undefined && !Number.isFinite(p.seq))) {
    ints[o + C_TAG] = TAG_SIDE_PACKET;
    ints[o + C_AUX] = sides.push({ ...p }) - 1;
    return;
  }
  ints[o + C_TAG] = TAG_PACKET;
  f64[o / 2 + 1] = p.time;
  f64[o / 2 + 2] = p.seq ?? Number.NaN;
  ints[o + C_BITS] = (framing & 3) | (framing & 4 ? BITS_FRAMING_HIGH : 0) | (p.trust === 'kernel' ? BITS_KERNEL : 0) | (p.family === 6 ? BITS_V6 : 0) | (triState(p.df) << DF_SHIFT) | (triState(p.fragment) << FRAGMENT_SHIFT);
  ints[o + C_HOST] = optString(p.host, ids, index, news);
  ints[o + C_PREFIX] = ids.id(p.prefix, index, news);
  ints[o + C_IN] = ids.id(p.in, index, news);
  ints[o + C_OUT] = ids.id(p.out, index, news);
  ints[o + C_PHYSIN] = optString(p.physIn, ids, index, news);
  ints[o + C_PHYSOUT] = optString(p.physOut, ids, index, news);
  ints[o + C_MAC] = optString(p.mac, ids, index, news);
  ints[o + C_DST] = ids.id(p.dst, index, news);
  ints[o + C_PROTO] = ids.id(p.proto, index, news);
  if (srcV4 >= 0) {
    ints[o + C_SRC] = SRC_V4;
    ints[o + C_SRCV4] = srcV4 | 0;
  } else ints[o + C_SRC] = sides.push(p.src) - 1;
  ints[o + C_INNERSRC] = p.innerSrc === undefined ? -1 : sides.push(p.innerSrc) - 1;
  ints[o + C_INNERDST] = p.innerDst === undefined ? -1 : sides.push(p.innerDst) - 1;
  ints[o + C_LEN] = column(p.len);
  ints[o + C_TTL] = column(p.ttl);
  ints[o + C_ID] = column(p.id);
  ints[o + C_SPT] = column(p.spt);
  ints[o + C_DPT] = column(p.dpt);
  ints[o + C_ICMPTYPE] = column(p.icmpType);
  ints[o + C_ICMPCODE] = column(p.icmpCode);
  ints[o + C_FLAGS] = column(p.tcpFlags);
  ints[o + C_WINDOW] = column(p.window);
  ints[o + C_GUEST] = column(p.guest);
}

/** Do the packet's numbers fit their columns? */
function fits(p: PacketEvent): boolean {
  return fitsColumn(p.len) && fitsColumn(p.ttl) && fitsColumn(p.id) && fitsColumn(p.spt) && fitsColumn(p.dpt) && fitsColumn(p.icmpType) && fitsColumn(p.icmpCode) && fitsColumn(p.tcpFlags) && fitsColumn(p.window) && fitsColumn(p.guest);
}

function fitsColumn(n: number | undefined): boolean {
  return n === undefined || (Number.isInteger(n) && n >= 0 && n <= 0x7fffffff);
}

/** Writes a rejected line as record `index`. */
export function writeRejected(reason: RejectReason, ints: Int32Array, index: number): void {
  const o = index * RECORD_INTS;
  ints[o + C_TAG] = TAG_REJECTED;
  ints[o + C_AUX] = REASON_INDEX.get(reason)!;
}

function orUndefined(n: number): number | undefined {
  return n < 0 ? undefined : n;
}

/**
 * Text of IPv6 sources by their value (four int32 of two groups each): one string per address,
 * made on first sight. Open addressing, linear probing, at most half full.
 */
class V6Names {
  private keys = new Int32Array(4 << 10);
  private names: (Ip | undefined)[] = new Array<Ip | undefined>(1 << 10);
  private bits = 10;
  private count = 0;
  private readonly groups = new Uint16Array(8);

  name(a: number, b: number, c: number, d: number): Ip {
    const mask = (1 << this.bits) - 1;
    let i = hashWords(a, b, c, d) >>> (32 - this.bits);
    const K = this.keys;
    for (;;) {
      const n = this.names[i];
      if (n === undefined) break;
      const k = 4 * i;
      if (K[k] === a && K[k + 1] === b && K[k + 2] === c && K[k + 3] === d) return n;
      i = (i + 1) & mask;
    }
    const g = this.groups;
    g[0] = a >>> 16;
    g[1] = a & 0xffff;
    g[2] = b >>> 16;
    g[3] = b & 0xffff;
    g[4] = c >>> 16;
    g[5] = c & 0xffff;
    g[6] = d >>> 16;
    g[7] = d & 0xffff;
    const name = v6TextOfGroups(g);
    this.put(i, a, b, c, d, name);
    if (2 * ++this.count > this.names.length) this.grow();
    return name;
  }

  private put(i: number, a: number, b: number, c: number, d: number, name: Ip): void {
    const k = 4 * i;
    this.keys[k] = a;
    this.keys[k + 1] = b;
    this.keys[k + 2] = c;
    this.keys[k + 3] = d;
    this.names[i] = name;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldNames = this.names;
    this.bits++;
    this.keys = new Int32Array(4 << this.bits);
    this.names = new Array<Ip | undefined>(1 << this.bits);
    const mask = (1 << this.bits) - 1;
    for (let j = 0; j < oldNames.length; j++) {
      const n = oldNames[j];
      if (n === undefined) continue;
      const a = oldKeys[4 * j]!;
      const b = oldKeys[4 * j + 1]!;
      const c = oldKeys[4 * j + 2]!;
      const d = oldKeys[4 * j + 3]!;
      let i = hashWords(a, b, c, d) >>> (32 - this.bits);
      while (this.names[i] !== undefined) i = (i + 1) & mask;
      this.put(i, a, b, c, d, n);
    }
  }
}

/** The detect stage's side: the string table as the news build it, and records back into packets. */
export class RecordReader {
  private strings: string[] = [...FIXED_STRINGS];
  private readonly v6 = new V6Names();

  /** Applies the news of `batch` due at record `index` (call it for every index in order). */
  news(batch: RecordBatch, index: number, from: number): number {
    const news = batch.news;
    let k = from;
    while (k < news.length && news[k] === index) {
      const id = news[k + 1] as number;
      if (id < 0) this.strings = [...FIXED_STRINGS];
      else this.strings[id] = news[k + 2] as string;
      k += 3;
    }
    return k;
  }

  /**
   * Record `index` of `batch` written into `into` (every field; make it with newPacket()), or a
   * packet of its own for TAG_SIDE_PACKET. For an IPv4 source `src` is left empty: its 32-bit value
   * is in lastSrcV4 (-1 otherwise); for an IPv6 source in the columns, its words are in lastSrc6.
   */
  packet(batch: RecordBatch, f64: Float64Array, index: number, into: PacketEvent): PacketEvent {
    const I = batch.ints;
    const o = index * RECORD_INTS;
    this.lastSrc6 = null;
    if (I[o + C_TAG] === TAG_SIDE_PACKET) {
      this.lastSrcV4 = -1;
      return batch.sides[I[o + C_AUX]!] as PacketEvent;
    }
    const S = this.strings;
    const bits = I[o + C_BITS]!;
    const host = I[o + C_HOST]!;
    const physIn = I[o + C_PHYSIN]!;
    const physOut = I[o + C_PHYSOUT]!;
    const mac = I[o + C_MAC]!;
    const src = I[o + C_SRC]!;
    const innerSrc = I[o + C_INNERSRC]!;
    const innerDst = I[o + C_INNERDST]!;
    const seq = f64[o / 2 + 2]!;
    const df = (bits >> DF_SHIFT) & 3;
    const fragment = (bits >> FRAGMENT_SHIFT) & 3;
    into.time = f64[o / 2 + 1]!;
    into.framing = FRAMINGS[(bits & 3) | (bits & BITS_FRAMING_HIGH ? 4 : 0)]!;
    into.trust = bits & BITS_KERNEL ? 'kernel' : 'spoofable';
    into.seq = Number.isNaN(seq) ? undefined : seq;
    into.host = host < 0 ? undefined : S[host];
    into.prefix = S[I[o + C_PREFIX]!]!;
    into.in = S[I[o + C_IN]!]!;
    into.out = S[I[o + C_OUT]!]!;
    into.physIn = physIn < 0 ? undefined : S[physIn];
    into.physOut = physOut < 0 ? undefined : S[physOut];
    into.mac = mac < 0 ? undefined : S[mac];
    if (src === SRC_V4) {
      into.src = '' as Ip;
      this.lastSrcV4 = I[o + C_SRCV4]! >>> 0;
    } else if (src === SRC_IN_GROUPS) {
      const w = this.src6;
      w[0] = I[o + C_SRC6]!;
      w[1] = I[o + C_SRC6 + 1]!;
      w[2] = I[o + C_SRC6 + 2]!;
      w[3] = I[o + C_SRC6 + 3]!;
      into.src = this.v6.name(I[o + C_SRC6]!, I[o + C_SRC6 + 1]!, I[o + C_SRC6 + 2]!, I[o + C_SRC6 + 3]!);
      this.lastSrcV4 = -1;
      this.lastSrc6 = w;
    } else {
      into.src = batch.sides[src] as Ip;
      this.lastSrcV4 = -1;
    }
    into.dst = S[I[o + C_DST]!]! as Ip;
    into.family = bits & BITS_V6 ? 6 : 4;
    into.len = orUndefined(I[o + C_LEN]!);
    into.ttl = orUndefined(I[o + C_TTL]!);
    into.id = orUndefined(I[o + C_ID]!);
    into.df = df === 0 ? undefined : df === 2;
    into.fragment = fragment === 0 ? undefined : fragment === 2;
    into.proto = S[I[o + C_PROTO]!]!;
    into.spt = orUndefined(I[o + C_SPT]!);
    into.dpt = orUndefined(I[o + C_DPT]!);
    into.icmpType = orUndefined(I[o + C_ICMPTYPE]!);
    into.icmpCode = orUndefined(I[o + C_ICMPCODE]!);
    into.tcpFlags = orUndefined(I[o + C_FLAGS]!);
    into.window = orUndefined(I[o + C_WINDOW]!);
    into.innerSrc = innerSrc < 0 ? undefined : (batch.sides[innerSrc] as Ip);
    into.innerDst = innerDst < 0 ? undefined : (batch.sides[innerDst] as Ip);
    into.guest = into.framing === 'pve' ? orUndefined(I[o + C_GUEST]!) : undefined;
    return into;
  }

  /** The 32-bit value of the source of the record packet() last read, -1 when not IPv4 (then src holds it). */
  lastSrcV4 = -1;

  /**
   * The IPv6 source of the record packet() last read as four 32-bit words (the record's C_SRC6
   * columns; src holds its text too), or null when the record carries no words. Valid until the
   * next packet(): prefix tracking takes its network from them instead of parsing the text.
   */
  lastSrc6: Uint32Array | null = null;
  private readonly src6 = new Uint32Array(4);
}
