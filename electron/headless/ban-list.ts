/**
 * The address list of `portcullis ban --from FILE`: one IPv4 or IPv6 address per line; blank lines
 * and `#` comments (whole-line or trailing) are skipped. A list with any bad line is refused whole,
 * with the line numbers: half a blocklist banned is worse than none plus a clear error.
 */
import { canonicalIp } from '../shared/domain.ts';

export type BanList = { ok: true; ips: string[] } | { ok: false; errors: string[] };

const MAX_REPORTED = 10;

export function parseBanList(text: string): BanList {
  const ips: string[] = [];
  const seen = new Set<string>();
  const errors: string[] = [];
  let bad = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const ip = canonicalIp(line);
    if (!ip || ip.includes('%')) {
      if (++bad <= MAX_REPORTED) errors.push(`line ${i + 1}: "${line.slice(0, 60)}" is not an IPv4 or IPv6 address`);
      return;
    }
    if (!seen.has(ip)) {
      seen.add(ip);
      ips.push(ip);
    }
  });
  if (bad > MAX_REPORTED) errors.push(`… and ${bad - MAX_REPORTED} more bad lines`);
  return bad ? { ok: false, errors } : { ok: true, ips };
}
