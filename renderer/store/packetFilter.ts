/**
 * The Blocked packets filters, as the user types them, and the predicate they make.
 * The source filter accepts an address prefix ("203.0.113.") or a CIDR ("203.0.113.0/24",
 * "2001:db8::/32"), because "everything from that network" is what one looks for after a scan.
 */
import ipaddr from 'ipaddr.js';
import { canonicalCidr, canonicalIp } from '../../electron/shared/domain.ts';
import type { PacketRow } from '../../electron/shared/api.ts';

export interface PacketFilterInput {
  src: string;
  port: string;
  proto: string;
  prefix: string;
}

export const EMPTY_FILTER: PacketFilterInput = { src: '', port: '', proto: '', prefix: '' };

export type FilterCheck = { ok: true; test: (row: PacketRow) => boolean; active: boolean } | { ok: false; field: keyof PacketFilterInput; error: string };

export function compilePacketFilter(f: PacketFilterInput): FilterCheck {
  const tests: ((row: PacketRow) => boolean)[] = [];
  const src = f.src.trim();
  if (src) {
    if (src.includes('/')) {
      const cidr = canonicalCidr(src);
      if (!cidr) return { ok: false, field: 'src', error: `"${src}" is not a CIDR (e.g. 203.0.113.0/24)` };
      const [net, bits] = ipaddr.parseCIDR(cidr);
      tests.push((row) => {
        if (!ipaddr.isValid(row.src)) return false;
        let a = ipaddr.parse(row.src);
        if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
        return a.kind() === net.kind() && a.match(net, bits);
      });
    } else {
      // A whole address matches in any of its spellings (2001:db8:feed:0:0:0:0:7 is shown as
      // 2001:db8:feed::7); anything shorter is a prefix of the text shown.
      const whole = canonicalIp(src);
      const needle = (whole ?? src).toLowerCase();
      tests.push(whole !== null ? (row) => row.src.toLowerCase() === needle : (row) => row.src.toLowerCase().startsWith(needle));
    }
  }
  const portText = f.port.trim();
  if (portText) {
    const port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return { ok: false, field: 'port', error: 'a port is a number from 1 to 65535' };
    tests.push((row) => row.dpt === port);
  }
  const proto = f.proto.trim().toUpperCase();
  if (proto) tests.push((row) => row.proto.toUpperCase() === proto);
  const prefix = f.prefix.trim().toLowerCase();
  if (prefix) tests.push((row) => row.prefix.toLowerCase().includes(prefix));
  return { ok: true, active: tests.length > 0, test: (row) => tests.every((t) => t(row)) };
}

const CSV_COLUMNS = ['id', 'time', 'src', 'dst', 'proto', 'spt', 'dpt', 'flags', 'in', 'prefix'] as const;

function csvField(v: string): string {
  // Quote when needed; a leading = + - @ is neutralised so a spreadsheet never runs it as a formula.
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function packetsToCsv(rows: readonly PacketRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [String(r.id), new Date(r.time).toISOString(), r.src, r.dst, r.proto, r.spt === null ? '' : String(r.spt), r.dpt === null ? '' : String(r.dpt), r.flags, r.in, r.prefix]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}
