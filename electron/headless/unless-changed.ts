/**
 * The service's 30-second refreshes (ufw's status and rules, this host's addresses and gateways),
 * re-read only when something they read from changed.
 *
 * WHY: each refresh spawned processes (`ufw status numbered` and `ufw app list`, Python, ~0.2 s of
 * CPU each on a 2-core machine; `ip -j addr`, `ip -4/-6 route`), and every spawn stops the main
 * thread for the fork/exec (~5–10 ms each here, more at load) — under a flood, the event loop's
 * lag peaks. What they read changes rarely, and cheaply visibly: ufw's files in /etc/ufw and
 * /etc/default/ufw (every ufw command that changes rules or state rewrites one), the forwarding
 * sysctls; the kernel's interface addresses (getifaddrs, no process) and route tables
 * (/proc/net/route, /proc/net/ipv6_route). A fingerprint of those costs well under a millisecond.
 * The full read still runs at least every `maxAgeMs`, for what no fingerprint sees.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';

export interface UnlessChanged<T> {
  /** The last answer while the fingerprint is unchanged and the answer young enough; else a new read. */
  get(): Promise<T>;
  /** The next get() reads again (after a change we made ourselves). */
  invalidate(): void;
  /** Full reads so far (tests, diagnostics). */
  reads(): number;
}

export function unlessChanged<T>(read: () => Promise<T>, fingerprint: () => string, opts: { maxAgeMs: number; now?: () => number }): UnlessChanged<T> {
  const now = opts.now ?? Date.now;
  let last: { value: T; print: string; at: number } | null = null;
  let reads = 0;
  return {
    async get() {
      const print = fingerprint();
      if (last !== null && last.print === print && now() - last.at < opts.maxAgeMs) return last.value;
      reads++;
      const at = now();
      const value = await read();
      // A change while we read: the fingerprint taken before the read still differs next time.
      last = { value, print, at };
      return value;
    },
    invalidate() {
      last = null;
    },
    reads: () => reads,
  };
}

/** Size and modification time of a file (or directory), or '-' when it is missing. */
function stamp(p: string): string {
  try {
    const s = statSync(p);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return '-';
  }
}

function text(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '-';
  }
}

/** What `ufw status` and the helper's status read: ufw's files, its defaults, the forwarding switches. */
export function ufwFingerprint(etcUfw = '/etc/ufw'): string {
  const parts: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      parts.push(`${dir}:-`);
      return;
    }
    parts.push(`${dir}:${stamp(dir)}`);
    for (const n of names) {
      const p = path.join(dir, n);
      parts.push(`${n}:${stamp(p)}`);
      if (n === 'applications.d') walk(p);
    }
  };
  walk(etcUfw);
  parts.push(stamp('/etc/default/ufw'), text('/proc/sys/net/ipv4/ip_forward'), text('/proc/sys/net/ipv6/conf/all/forwarding'));
  return parts.join('|');
}

/** Columns of a /proc/net route table that say where routes go (not their use counters). */
function routes(file: string, columns: number[]): string {
  return text(file)
    .split('\n')
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return columns.map((c) => f[c] ?? '').join(' ');
    })
    .join(';');
}

/** What readHostInfo reads: the interfaces and their addresses, the routes, the resolver's files. */
export function hostFingerprint(): string {
  return [
    JSON.stringify(networkInterfaces()),
    // Iface, Destination, Gateway, Mask
    routes('/proc/net/route', [0, 1, 2, 7]),
    // destination, its prefix length, next hop, device
    routes('/proc/net/ipv6_route', [0, 1, 4, 9]),
    stamp('/etc/resolv.conf'),
    stamp('/run/systemd/resolve/resolv.conf'),
  ].join('|');
}
