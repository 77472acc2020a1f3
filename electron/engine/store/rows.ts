/**
 * Row shapes of the SQLite store and their conversion to the domain types (split out of sqlite.ts,
 * which keeps the statements and the transactions).
 */
import type { BanRecord, Offender } from '../../shared/model.ts';
import { BanReasonSchema, OffenderStateSchema, ScanTypeSchema } from '../../shared/model.ts';
import { TcpFlag, type PacketEvent, type TcpFlagName } from '../../shared/packet.ts';
import type { PacketRow } from '../../shared/api.ts';

const FLAG_ORDER: TcpFlagName[] = ['CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'];

/** TCP flag bitmask as netfilter logs it ("ACK SYN"), empty for non-TCP. */
export function flagsText(bits: number | null | undefined): string {
  if (bits === null || bits === undefined) return '';
  return FLAG_ORDER.filter((f) => (bits & TcpFlag[f]) !== 0).join(' ');
}

export interface PacketDbRow {
  id: number;
  time: number;
  src: string;
  dst: string;
  family: number;
  proto: string;
  spt: number | null;
  dpt: number | null;
  prefix: string;
  iface_in: string;
  iface_out: string;
  tcp_flags: number | null;
  icmp_type: number | null;
  icmp_code: number | null;
  fragment: number;
  len: number | null;
  ttl: number | null;
  framing: string;
  trusted: number;
  seq: number | null;
}

export interface BanDbRow {
  id: number;
  ip: string;
  at: number;
  until: number | null;
  strikes: number;
  reason: string;
  ended_at: number | null;
  end_why: string | null;
}

export interface OffenderDbRow {
  ip: string;
  hits: number;
  distinct_ports: number;
  ports: string;
  first_seen: number;
  last_seen: number;
  scan_type: string;
  state: string;
  strikes: number;
  banned_until: number | null;
}

export function toRow(r: PacketDbRow): PacketRow {
  return {
    id: r.id,
    time: r.time,
    src: r.src,
    dst: r.dst,
    proto: r.proto,
    spt: r.spt,
    dpt: r.dpt,
    prefix: r.prefix,
    in: r.iface_in,
    flags: flagsText(r.tcp_flags),
  };
}

export function toEvent(r: PacketDbRow): PacketEvent {
  const p: PacketEvent = {
    time: r.time,
    framing: r.framing as PacketEvent['framing'],
    trust: r.trusted ? 'kernel' : 'spoofable',
    prefix: r.prefix,
    in: r.iface_in,
    out: r.iface_out,
    src: r.src as PacketEvent['src'],
    dst: r.dst as PacketEvent['dst'],
    family: r.family === 6 ? 6 : 4,
    proto: r.proto,
  };
  if (r.seq !== null) p.seq = r.seq;
  if (r.spt !== null) p.spt = r.spt;
  if (r.dpt !== null) p.dpt = r.dpt;
  if (r.tcp_flags !== null) p.tcpFlags = r.tcp_flags;
  if (r.icmp_type !== null) p.icmpType = r.icmp_type;
  if (r.icmp_code !== null) p.icmpCode = r.icmp_code;
  if (r.fragment) p.fragment = true;
  if (r.len !== null) p.len = r.len;
  if (r.ttl !== null) p.ttl = r.ttl;
  return p;
}

/** A stored reason that no longer parses is shown as a bare manual ban rather than failing the query. */
function parseReason(text: string, at: number): BanRecord['reason'] {
  try {
    const r = BanReasonSchema.safeParse(JSON.parse(text));
    if (r.success) return r.data;
  } catch {
    /* fall through */
  }
  return { kind: 'manual', ports: [], hits: 0, firstSeen: at, lastSeen: at, note: 'unreadable stored reason' };
}

export function toBan(r: BanDbRow): BanRecord {
  const ban: BanRecord = { ip: r.ip, at: r.at, until: r.until, strikes: r.strikes, reason: parseReason(r.reason, r.at) };
  if (r.ended_at !== null) ban.ended = { at: r.ended_at, why: r.end_why ?? 'manual' };
  return ban;
}

export function toOffender(r: OffenderDbRow): Offender {
  let ports: number[] = [];
  try {
    const parsed = JSON.parse(r.ports) as unknown;
    if (Array.isArray(parsed)) ports = parsed.filter((n): n is number => Number.isInteger(n));
  } catch {
    /* keep [] */
  }
  const scanType = ScanTypeSchema.safeParse(r.scan_type);
  const state = OffenderStateSchema.safeParse(r.state);
  return {
    ip: r.ip,
    hits: r.hits,
    distinctPorts: r.distinct_ports,
    ports,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    scanType: scanType.success ? scanType.data : 'OTHER',
    state: state.success ? state.data : 'watching',
    strikes: r.strikes,
    bannedUntil: r.banned_until,
  };
}
