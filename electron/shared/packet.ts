/**
 * What the parser makes of one firewall log record. Plain data (no classes) so it crosses IPC,
 * the helper socket and SQLite unchanged.
 */
import type { Ip } from './domain.ts';

/** Whether a record provably came from the kernel, or could have been written by any local user. */
export type Trust = 'kernel' | 'spoofable';

/** How the record was framed. */
/** pve: the Proxmox VE firewall log; logread: OpenWrt's `logread` (both only ever read by replay); nflog: not text at all, an NFLOG message decoded by parse/nflog.ts. */
export type Framing = 'syslog' | 'kmsg' | 'journal' | 'dmesg' | 'pve' | 'logread' | 'nflog';

/** TCP flag bits as they appear in netfilter LOG lines. */
export const TcpFlag = {
  CWR: 0x80,
  ECE: 0x40,
  URG: 0x20,
  ACK: 0x10,
  PSH: 0x08,
  RST: 0x04,
  SYN: 0x02,
  FIN: 0x01,
} as const;
export type TcpFlagName = keyof typeof TcpFlag;

export interface PacketEvent {
  /** Event time in ms since the epoch, taken from the record (never from the wall clock at parse time). */
  time: number;
  framing: Framing;
  trust: Trust;
  /** kmsg sequence number, when the record came from /dev/kmsg (used to resume without loss or duplicates). */
  seq?: number;
  /** Hostname of a syslog line, when present. */
  host?: string;
  /** The log prefix without brackets and surrounding blanks, e.g. "UFW BLOCK", "PORT DENIED:". */
  prefix: string;
  in: string;
  out: string;
  physIn?: string;
  physOut?: string;
  mac?: string;
  src: Ip;
  dst: Ip;
  family: 4 | 6;
  len?: number;
  /** TTL (IPv4) or HOPLIMIT (IPv6). */
  ttl?: number;
  id?: number;
  df?: boolean;
  /** IPv4 fragment (MF set or non-zero FRAG offset): ports are absent and the packet is not a probe. */
  fragment?: boolean;
  /** Upper-case protocol name (TCP, UDP, ICMP, ICMPv6, UDPLITE, SCTP, …) or the number as text. */
  proto: string;
  spt?: number;
  dpt?: number;
  icmpType?: number;
  icmpCode?: number;
  /** Bitmask of TcpFlag, 0 for a TCP NULL packet; undefined for non-TCP. */
  tcpFlags?: number;
  window?: number;
  /** Source of the packet quoted inside an ICMP error ("[SRC=… ]"), never the packet's own source. */
  innerSrc?: Ip;
  innerDst?: Ip;
  /**
   * Proxmox VE log only (framing 'pve'): the VMID of the guest whose inbound firewall chain logged
   * the record — a packet for that guest, bridged through this host. A replay counts it as inbound
   * (to the guest); the live engine never reads this log and never counts a forwarded record.
   */
  guest?: number;
}

/** Why a line was not turned into a PacketEvent. Counted by reason, never thrown. */
export const REJECT_REASONS = [
  'empty',
  'too-long',
  'binary',
  'not-firewall',
  'truncated',
  'bad-address',
  'bad-field',
  'bad-framing',
  'untrusted-transport',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type ParseResult = { ok: true; packet: PacketEvent } | { ok: false; reason: RejectReason };
