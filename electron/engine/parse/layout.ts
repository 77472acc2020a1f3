/**
 * The layout the replay's fast lane and JavaScript share, declared once: the columns of a record
 * (records.ts reads and writes them, wasm/fastline.ts writes them), the fields the fast lane
 * reports about its last line and why a run stopped (fastline.ts reads them). wasm/fastline.ts
 * gets these same names through wasm/vocabulary.ts, which scripts/build-wasm.ts generates from
 * this module and grammar.ts (only the exported numeric constants are carried over).
 */
import { REJECT_REASONS } from '../../shared/packet.ts';

// ---- a record: RECORD_INTS 32-bit integers (each f64 takes two) ----
export const RECORD_INTS = 34;
export const C_TAG = 0;
export const C_AUX = 1;
/** f64 (ints 2-3 and 4-5). */
export const C_TIME = 2;
export const C_SEQ = 4;
export const C_BITS = 6;
export const C_HOST = 7;
export const C_PREFIX = 8;
export const C_IN = 9;
export const C_OUT = 10;
export const C_PHYSIN = 11;
export const C_PHYSOUT = 12;
export const C_MAC = 13;
export const C_DST = 14;
export const C_PROTO = 15;
export const C_SRC = 16;
export const C_SRCV4 = 17;
export const C_INNERSRC = 18;
export const C_INNERDST = 19;
export const C_LEN = 20;
export const C_TTL = 21;
export const C_ID = 22;
export const C_SPT = 23;
export const C_DPT = 24;
export const C_ICMPTYPE = 25;
export const C_ICMPCODE = 26;
export const C_FLAGS = 27;
export const C_WINDOW = 28;
/**
 * The VMID of a Proxmox VE guest (PacketEvent.guest), -1 none. Read for 'pve' records only: the
 * fast lane, which reads syslog lines alone, never writes this column.
 */
export const C_GUEST = 29;
/** Four columns: the eight 16-bit groups of an IPv6 source (C_SRC = SRC_IN_GROUPS), two per column. */
export const C_SRC6 = 30;
/** C_SRC: the source is IPv4, its value in C_SRCV4. */
export const SRC_V4 = -1;
/** C_SRC: the source is IPv6, its groups in C_SRC6 (the reader keeps one string per address). */
export const SRC_IN_GROUPS = -2;

/** A packet in the columns; C_AUX unused. */
export const TAG_PACKET = 1;
/** A rejected line: C_AUX is the index of its reason in REJECT_REASONS. */
export const TAG_REJECTED = 2;
/** A packet the columns cannot hold (a number out of their range): sides[C_AUX] is the PacketEvent. */
export const TAG_SIDE_PACKET = 3;

/** C_BITS: bits 0-1 and BITS_FRAMING_HIGH the framing's index (syslog = 0), then trust, family, DF, fragment. */
export const BITS_FRAMING_HIGH = 1 << 8;
export const BITS_KERNEL = 1 << 2;
export const BITS_V6 = 1 << 3;
/** DF and fragment: 0 undefined, 1 false, 2 true, at these shifts. */
export const DF_SHIFT = 4;
export const FRAGMENT_SHIFT = 6;
export const BITS_DF_FALSE = 1 << DF_SHIFT;
export const BITS_DF_TRUE = 2 << DF_SHIFT;
export const BITS_FRAGMENT_FALSE = 1 << FRAGMENT_SHIFT;

/** String ids every table starts with (records.ts FIXED_STRINGS: grammar.ts PROTO_TCP, _UDP, _ICMP, _ICMPV6). */
export const ID_TCP = 0;
export const ID_UDP = 1;
export const ID_ICMP = 2;
export const ID_ICMPV6 = 3;

// ---- what the fast lane reports about its last line (i32 index in its fields) ----
/** month << 28 | day << 21 | hour << 14 | minute << 7 | second. */
export const F_STAMP = 0;
/** Bit k: the value of kind k took a new slot (its string is to be made). */
export const F_NEW = 1;
export const F_V4 = 2;
/** Kind k's value: [F_KIND_A + 2k, F_KIND_A + 2k + 1). */
export const F_KIND_A = 3;
export const F_SRC_A = 15;
export const F_SRC_E = 16;
/** The quoted header of an ICMP error (-1 when none). */
export const F_ISRC_A = 17;
export const F_ISRC_E = 18;
export const F_IDST_A = 19;
export const F_IDST_E = 20;
/** 1: the IPv6 source is in the record's C_SRC6 columns. */
export const F_SRC6 = 21;
/** RUN_REJECTED: the index in REJECT_REASONS of the line's rejection. */
export const F_REASON = 22;

/** Kinds of recent values, in order (the string of each goes to its column: KIND_COLUMNS). */
export const KIND_HOST = 0;
export const KIND_PREFIX = 1;
export const KIND_IN = 2;
export const KIND_OUT = 3;
export const KIND_MAC = 4;
export const KIND_DST = 5;
export const KINDS = 6;

/** What a run of the fast lane stopped for. */
export const RUN_DONE = 0; // every line up to `end` is done
export const RUN_FULL = 1; // the records are full: hand them out, then run on from pos()
export const RUN_GLUE = 2; // the line is written as record count() but needs JavaScript to finish it
export const RUN_DECLINED = 3; // the line is for the JavaScript parser
export const RUN_LONG = 4; // the line at pos() is longer than maxLine bytes: for LineSplitter's text path
export const RUN_REJECTED = 5; // the line is rejected (F_REASON) in a second JavaScript has not dated yet

/** Indexes in REJECT_REASONS of the rejections the fast lane answers. */
export const REASON_NOT_FIREWALL = REJECT_REASONS.indexOf('not-firewall');
export const REASON_UNTRUSTED_TRANSPORT = REJECT_REASONS.indexOf('untrusted-transport');
