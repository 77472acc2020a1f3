/**
 * Is one blocked packet a probe (and of which kind), or why not. psad-like signatures:
 *
 * - Only inbound blocked connection attempts count: IN set, OUT empty (a forwarded or outgoing
 *   packet is not someone scanning this host) — except the forward block's records (IN and OUT set,
 *   prefix PORTCULLIS FORWARD): probes of hosts behind this one; and, in a replay only, a Proxmox VE
 *   guest's records (its inbound chain logged them): probes of that guest — and only records whose
 *   log prefix counts as blocked.
 * - TCP: SYN without ACK = 'SYN' (ECE/CWR allowed: an ECN-setup SYN is still a SYN); FIN alone =
 *   'FIN'; no flag = 'NULL'; FIN+PSH+URG = 'XMAS'. SYN-ACK (backscatter of someone spoofing us),
 *   RST, and anything carrying ACK (late packets of a closed connection, ACK/Maimon scans that
 *   cannot be told from those) are 'not-a-probe'. Other flag mixes without ACK/RST (SYN+FIN,
 *   FIN+URG, …) exist only in crafted packets: 'OTHER'.
 * - UDP: 'UDP', except a late reply: from a well-known service port (DNS, NTP, QUIC, IKE, SSDP, mDNS,
 *   NetBIOS, STUN, …) to an ephemeral port (≥ 32768) — the answer to a query of ours that arrived
 *   after conntrack forgot it — or, from DNS, NTP and mDNS, to any port ≥ 1024 (resolvers and
 *   chrony query from any of them: WIDE_REPLY_SERVICE_PORTS). Why not every port ≥ 1024 for the
 *   others: their queries come from the ephemeral range, 32768–60999 on Linux (ip_local_port_range),
 *   49152–65535 on Windows and macOS (hosts behind a router, whose forwarded records count too), and
 *   taking 1024–32767 for late replies hid any UDP scan sent from such a port (`nmap -sU -g 443`) of
 *   the registered ports (1434, 1900, 3389, 5060, 11211, …). Left: a scan from port 53, 123 or 5353
 *   (`nmap -sU -g 53`) is still taken for late replies (banning the host's own resolver after a
 *   conntrack flush would be worse), as is one of ports ≥ 32768 from any service port (bursts of
 *   late replies to many such ports are real); a host whose ip_local_port_range starts lower may see
 *   a few late replies counted.
 * - ICMP errors (v4 types 3, 4, 5, 11, 12; v6 types 1–4) quote someone else's packet: 'icmp-error'.
 * - IPv4 fragments carry no ports: 'fragment'.
 * - ICMP echo request (and v4 timestamp / address-mask requests): a probe with port null, type
 *   'OTHER'. Why count them: nmap's host discovery sends echo + timestamp before a port scan, so
 *   they are reconnaissance evidence; and because they carry no port they never add a distinct
 *   port, so pings alone (a monitoring host, a curious user) can never reach minDistinctPorts and
 *   never cause a ban. ufw accepts echo requests by default, so a logged one means the user chose
 *   to block ping.
 * - Any other protocol (GRE, SCTP, numeric, …): 'not-a-probe' (no port semantics we can use).
 */
import type { IgnoreReason, ScanType } from '../../shared/model.ts';
import type { PacketEvent } from '../../shared/packet.ts';
import { PORTCULLIS_FORWARD_PREFIX } from '../../shared/settings.ts';

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;
/** The six classic flags; ECE/CWR (ECN) are ignored when telling scan kinds apart. */
const CLASSIC = FIN | SYN | RST | PSH | ACK | URG;

/**
 * UDP source ports of services whose answers come back to an ephemeral port: DNS 53, DHCP 67/68,
 * TFTP 69, NTP 123, NetBIOS 137/138, SNMP 161, LDAP 389, QUIC 443, IKE 500, syslog 514, RIP 520,
 * DNS-over-QUIC 853, OpenVPN 1194, L2TP 1701, SSDP 1900, STUN/TURN 3478/3479, IKE NAT-T 4500,
 * mDNS 5353, LLMNR 5355, WireGuard 51820.
 */
export const LATE_REPLY_SERVICE_PORTS: ReadonlySet<number> = new Set([
  53, 67, 68, 69, 123, 137, 138, 161, 389, 443, 500, 514, 520, 853, 1194, 1701, 1900, 3478, 3479, 4500, 5353, 5355, 51820,
]);

/** First port of the ephemeral range as the detector sees it: Linux's default ip_local_port_range (Windows and macOS start at 49152). */
export const EPHEMERAL_PORT_MIN = 32768;

/**
 * Source ports whose late replies may go to any port ≥ 1024, not only the ephemeral range: DNS 53,
 * NTP 123, mDNS 5353. Resolvers pick their query ports from all of them (unbound: "the non IANA
 * allocated ports above 1024"), chrony and mDNS responders likewise; counting their late answers
 * below 32768 as probes would ban the host's own upstream resolver after a conntrack flush.
 */
export const WIDE_REPLY_SERVICE_PORTS: ReadonlySet<number> = new Set([53, 123, 5353]);

export type Verdict = ScanType | IgnoreReason;

/** Kind of one packet that passed the prefix and direction checks (no settings involved). */
export function classifyPacket(p: PacketEvent): Verdict {
  if (p.fragment) return 'fragment';
  const proto = p.proto;
  if (proto === 'TCP') {
    const flags = p.tcpFlags;
    if (flags === undefined) return 'not-a-probe';
    const f = flags & CLASSIC;
    if (f & (ACK | RST)) return 'not-a-probe';
    if (f & SYN) return f === SYN ? 'SYN' : 'OTHER';
    if (f === 0) return 'NULL';
    if (f === FIN) return 'FIN';
    if (f === (FIN | PSH | URG)) return 'XMAS';
    return 'OTHER';
  }
  if (proto === 'UDP') {
    const spt = p.spt;
    const dpt = p.dpt;
    if (dpt === undefined) return 'not-a-probe';
    if (spt !== undefined && dpt >= 1024 && LATE_REPLY_SERVICE_PORTS.has(spt) && (dpt >= EPHEMERAL_PORT_MIN || WIDE_REPLY_SERVICE_PORTS.has(spt))) return 'late-reply';
    return 'UDP';
  }
  if (proto === 'ICMP') {
    const t = p.icmpType;
    if (t === 3 || t === 4 || t === 5 || t === 11 || t === 12) return 'icmp-error';
    if (t === 8 || t === 13 || t === 15 || t === 17) return 'OTHER';
    return 'not-a-probe';
  }
  if (proto === 'ICMPV6' || proto === 'ICMPv6') {
    const t = p.icmpType;
    if (t !== undefined && t >= 1 && t <= 4) return 'icmp-error';
    if (t === 128) return 'OTHER';
    return 'not-a-probe';
  }
  return 'not-a-probe';
}

/**
 * The whole verdict for one record: counted prefix, inbound, then the kind of packet.
 * `prefixes` is the set of settings.detection.prefixes; `guestsInbound` (replay only,
 * ScanEngineOptions.countGuestRecords): a Proxmox VE guest's record is inbound, to that guest.
 */
export function classify(p: PacketEvent, prefixes: ReadonlySet<string>, guestsInbound = false): Verdict {
  if (!prefixes.has(p.prefix)) return 'prefix-not-counted';
  // A forwarded record (OUT= set) counts only from Portcullis's forward block, whose rules log nothing
  // but new connections coming in from outside (helper/firewall/forward-blocks.ts) — and in a replay
  // of a Proxmox VE log, from a guest's inbound chain, which filters only what goes into that guest.
  if (p.in === '' || (p.out !== '' && p.prefix !== PORTCULLIS_FORWARD_PREFIX && !(guestsInbound && p.guest !== undefined))) return 'not-inbound';
  return classifyPacket(p);
}

/** Is a verdict a scan type (the packet counts as a probe)? Scan types are upper case, reasons lower. */
export function isScanType(v: Verdict): v is ScanType {
  const c = v.charCodeAt(0);
  return c >= 65 && c <= 90;
}

/** Normalises a configured prefix the way the parser reports it (no brackets, no outer blanks). */
export function normalisePrefix(prefix: string): string {
  let s = prefix.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1).trim();
  return s;
}
