/**
 * The vocabulary of the firewall-log grammar, declared once: the characters the parsers look for,
 * the keys of the netfilter LOG fields, the TCP flag and protocol words, the month names of a
 * syslog stamp. Both parser lanes spell the grammar with these names — the JavaScript walk
 * (framing.ts, message.ts) and the WebAssembly fast lane (wasm/fastline.ts, which gets them through
 * wasm/vocabulary.ts, generated from this module by scripts/build-wasm.ts) — so a new field is
 * declared here and then read where its level is parsed.
 *
 * The generator takes every exported constant: numbers are character codes (equal in the decoded
 * text and in its UTF-8 bytes, all ASCII); strings are words as the kernel prints them
 * (nf_log_syslog.c), which it packs for 8-byte compares. The functions at the end are the
 * JavaScript walk's ways of comparing them.
 */
import { TcpFlag } from '../../shared/packet.ts';

/** Longest record looked at; longer lines are refused before any scanning. */
export const MAX_RECORD_LENGTH = 8192;

// ---- characters ----
export const CH_TAB = 9;
export const CH_LF = 10;
export const CH_CR = 13;
export const CH_SPACE = 32;
export const CH_QUOTE = 34;
export const CH_PLUS = 43;
export const CH_LPAREN = 40;
export const CH_RPAREN = 41;
export const CH_COMMA = 44;
export const CH_DASH = 45;
export const CH_DOT = 46;
export const CH_SLASH = 47;
export const CH_0 = 48;
export const CH_9 = 57;
export const CH_COLON = 58;
export const CH_SEMICOLON = 59;
export const CH_LT = 60;
export const CH_EQUALS = 61;
export const CH_GT = 62;
export const CH_UPPER_A = 65;
export const CH_UPPER_F = 70;
/** The ISO 8601 date/time separator, either case. */
export const CH_UPPER_T = 84;
export const CH_UPPER_Z = 90;
export const CH_LBRACKET = 91;
export const CH_BACKSLASH = 92;
export const CH_RBRACKET = 93;
export const CH_LOWER_A = 97;
export const CH_LOWER_F = 102;
export const CH_LOWER_T = 116;
export const CH_LOWER_Z = 122;
export const CH_LBRACE = 123;
/** Last printable ASCII character (`~`); 127 is DEL. */
export const CH_TILDE = 126;
export const CH_DEL = 127;
/** What a byte that was not UTF-8 decodes to: the parsers call such a line 'binary'. */
export const CH_REPLACEMENT = 0xfffd;

// ---- field keys (with their '='), in the order the kernel prints them ----
export const KEY_IN = 'IN=';
export const KEY_OUT = 'OUT=';
export const KEY_PHYSIN = 'PHYSIN=';
export const KEY_PHYSOUT = 'PHYSOUT=';
export const KEY_MAC = 'MAC=';
export const KEY_SRC = 'SRC=';
export const KEY_DST = 'DST=';
export const KEY_LEN = 'LEN=';
/** IPv4 header: TOS=0x.. PREC=0x.. TTL= ID= */
export const KEY_TOS = 'TOS=';
export const KEY_PREC = 'PREC=';
export const KEY_TTL = 'TTL=';
export const KEY_ID = 'ID=';
/** A fragment's offset (`FRAG=n`), and IPv6's fragment header word (`FRAG:n`). */
export const KEY_FRAG = 'FRAG=';
export const WORD_FRAG = 'FRAG:';
/** IPv6 header: TC= HOPLIMIT= FLOWLBL= */
export const KEY_TC = 'TC=';
export const KEY_HOPLIMIT = 'HOPLIMIT=';
export const KEY_FLOWLBL = 'FLOWLBL=';
export const KEY_PROTO = 'PROTO=';
/** Transport header: SPT= DPT= [SEQ= ACK=] WINDOW= RES=0x.. flags URGP= (TCP), LEN= (UDP), TYPE= CODE= [ID= SEQ=] (ICMP). */
export const KEY_SPT = 'SPT=';
export const KEY_DPT = 'DPT=';
export const KEY_SEQ = 'SEQ=';
export const KEY_WINDOW = 'WINDOW=';
export const KEY_RES = 'RES=';
export const KEY_URGP = 'URGP=';
export const KEY_TYPE = 'TYPE=';
export const KEY_CODE = 'CODE=';
/** A hex value's lead (`TOS=0x00`). */
export const HEX_LEAD = '0x';
/** An ICMP error's quoted packet opens with `[SRC=`. */
export const QUOTE_OPEN = '[SRC=';

// ---- bare words ----
/** IP flags before PROTO= (CE congestion, DF don't fragment, MF more fragments). */
export const WORD_CE = 'CE';
export const WORD_DF = 'DF';
export const WORD_MF = 'MF';
/** `OPT (hex…)`: IP or TCP options. */
export const WORD_OPT = 'OPT';
/** An ICMP error whose quoted packet was cut. */
export const WORD_INCOMPLETE = 'INCOMPLETE';
/** The syslog tag of the kernel (BSD framing) and its RFC 5424 app-name. */
export const WORD_KERNEL_TAG = 'kernel:';
export const WORD_KERNEL = 'kernel';
/** OpenWrt logread's facility of the kernel (`kern.warn`). */
export const WORD_KERN_FACILITY = 'kern.';
/** RFC 5424's VERSION after <PRI>. */
export const RFC5424_VERSION = '1 ';

// ---- protocols (PROTO=); records.ts gives them the first string ids, in this order ----
export const PROTO_TCP = 'TCP';
export const PROTO_UDP = 'UDP';
export const PROTO_ICMP = 'ICMP';
export const PROTO_ICMPV6 = 'ICMPv6';
export const PROTO_UDPLITE = 'UDPLITE';

// ---- TCP flag words and their bits ----
export const BIT_CWR = TcpFlag.CWR;
export const BIT_ECE = TcpFlag.ECE;
export const BIT_URG = TcpFlag.URG;
export const BIT_ACK = TcpFlag.ACK;
export const BIT_PSH = TcpFlag.PSH;
export const BIT_RST = TcpFlag.RST;
export const BIT_SYN = TcpFlag.SYN;
export const BIT_FIN = TcpFlag.FIN;
export const FLAG_CWR = 'CWR';
export const FLAG_ECE = 'ECE';
export const FLAG_URG = 'URG';
export const FLAG_ACK = 'ACK';
export const FLAG_PSH = 'PSH';
export const FLAG_RST = 'RST';
export const FLAG_SYN = 'SYN';
export const FLAG_FIN = 'FIN';

// ---- syslog stamps ----
export const MONTH_JAN = 'Jan';
export const MONTH_FEB = 'Feb';
export const MONTH_MAR = 'Mar';
export const MONTH_APR = 'Apr';
export const MONTH_MAY = 'May';
export const MONTH_JUN = 'Jun';
export const MONTH_JUL = 'Jul';
export const MONTH_AUG = 'Aug';
export const MONTH_SEP = 'Sep';
export const MONTH_OCT = 'Oct';
export const MONTH_NOV = 'Nov';
export const MONTH_DEC = 'Dec';

/** The first three letters at `p` packed (first in the low byte): how month and flag words are compared. */
export function packed3(s: string, p = 0): number {
  return s.charCodeAt(p) | (s.charCodeAt(p + 1) << 8) | (s.charCodeAt(p + 2) << 16);
}

/** Is `word` at s[p…]? (A loop of charCodeAt: String#startsWith is a runtime call that costs more.) */
export function wordAt(s: string, p: number, word: string): boolean {
  const n = word.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(p + i) !== word.charCodeAt(i)) return false;
  return true;
}

/** Is s[p, p + word.length) exactly `word`, with `n` = the token's length? */
export function tokenIs(s: string, p: number, n: number, word: string): boolean {
  return n === word.length && wordAt(s, p, word);
}

export function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

export function isHexDigit(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= CH_LOWER_A && c <= CH_LOWER_F) || (c >= CH_UPPER_A && c <= CH_UPPER_F);
}
