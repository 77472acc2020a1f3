/**
 * This host's own addresses for the ban guard (ban-guard.ts), without a getifaddrs() on every ban.
 *
 * Why: the guard ran `os.networkInterfaces()` (a netlink dump of every link and address, synchronous)
 * ahead of every ban's firewall call. Measured in the ban-latency lab on a busy 2-core machine it
 * cost 0.3–0.5 ms a ban, and 5–10 ms in one ban of six: the slowest step between the decision and
 * the `ipset add`.
 *
 * How it stays true: the list is read once and kept while a long-lived `ip -o monitor link address`
 * (the kernel's own change notifications, argv-only; started through `setpriv --pdeathsig
 * KILL` so that it dies with the helper, even a helper killed with SIGKILL) runs and has printed nothing since;
 * any line it prints drops the list, and the next check reads it again. Links as well as addresses:
 * os.networkInterfaces() lists only the addresses of interfaces that are up and running, and bringing
 * an interface up (or its carrier) changes that list with a link event alone — its IPv4 address was
 * configured earlier, and an interface without IPv6 gets no new address either. Anything on its
 * stderr drops the list too: on a netlink overrun (ENOBUFS) `ip monitor` says so there, and the
 * changes it lost are printed nowhere. Without the monitor (not started, exited, failed), and until it
 * has joined the kernel's groups (its netlink socket in /proc/net/netlink: a change before that is
 * never printed), every check reads the list, as before. A bounded age is the last backstop.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostAddresses } from './ban-guard.ts';
import { BINARIES, spawnArgv } from './exec.ts';

export interface OwnAddresses {
  /** The addresses now (canonical). */
  get(): string[];
  /**
   * Starts the monitor now, if none was tried yet, without reading the list. Its spawn (a fork on the
   * main thread, 5–20 ms on a busy host) and the moments until it has joined the kernel's groups
   * (every check reads meanwhile) then fall before the first ban, not inside it.
   */
  warm(): void;
  /** Stops the monitor; the next check starts another. */
  close(): void;
}

export interface OwnAddressesOptions {
  /** Reads the addresses (default: os.networkInterfaces() of this namespace). */
  read?: () => string[];
  /** Starts the change monitor (default: `ip -o monitor link address`); null = none. */
  monitor?: (() => ChildProcess) | null;
  /** Has the monitor joined the kernel's link and address groups (default: netlinkSubscribed)? */
  subscribed?: (monitor: ChildProcess) => boolean;
  /** A list older than this is read again even without a change seen (ms). */
  maxAgeMs?: number;
  now?: () => number;
}

/** RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR: what `ip monitor link address` binds to. */
const MONITOR_GROUPS = 0x1 | 0x10 | 0x100;

/**
 * Whether process `pid` holds a NETLINK_ROUTE socket bound to the link and address groups, from this
 * namespace's /proc/net/netlink (columns: sk Eth Pid Groups …; ip's socket is autobound to its pid).
 * Unreadable or not found: false (the guard then reads the list every time).
 */
export function netlinkSubscribed(pid: number, table = '/proc/net/netlink'): boolean {
  let text: string;
  try {
    text = readFileSync(table, 'utf8');
  } catch {
    return false;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === '0' && f[2] === String(pid) && (Number.parseInt(f[3] ?? '', 16) & MONITOR_GROUPS) === MONITOR_GROUPS) return true;
  }
  return false;
}

export function ownAddressCache(opts: OwnAddressesOptions = {}): OwnAddresses {
  const read = opts.read ?? hostAddresses;
  const startMonitor = opts.monitor === undefined ? () => spawnArgv('setpriv', ['--pdeathsig', 'KILL', '--', BINARIES.ip, '-o', 'monitor', 'link', 'address']) : opts.monitor;
  const subscribed = opts.subscribed ?? ((c: ChildProcess) => c.pid !== undefined && netlinkSubscribed(c.pid));
  const maxAgeMs = opts.maxAgeMs ?? 10_000;
  const now = opts.now ?? Date.now;
  let list: string[] | null = null;
  let readAt = 0;
  let child: ChildProcess | null = null;
  /** The running monitor has joined the groups: a change from now on reaches it. */
  let ready = false;
  let tried = false;

  const watch = (): void => {
    tried = true;
    if (!startMonitor) return;
    let c: ChildProcess;
    try {
      c = startMonitor();
    } catch {
      return;
    }
    child = c;
    ready = false;
    const gone = () => {
      if (child === c) (child = null), (ready = false);
      list = null;
    };
    const changed = () => void (list = null);
    c.stdout?.on('data', changed);
    c.stderr?.on('data', changed); // e.g. a netlink overrun: changes were lost (and a full pipe would stall it)
    c.on('error', gone);
    c.on('exit', gone);
    c.stdin?.end();
    // A monitor must never keep the process alive (one-shot commands that ban in-process).
    c.unref();
    for (const s of [c.stdout, c.stderr]) (s as { unref?: () => void } | null)?.unref?.();
  };

  return {
    warm() {
      if (!tried) watch();
    },
    get() {
      if (!tried) watch();
      // The list is kept only once it was read after the monitor joined the groups.
      if (child !== null && !ready && subscribed(child)) (ready = true), (list = null);
      if (list === null || child === null || !ready || now() - readAt > maxAgeMs) {
        list = read();
        readAt = now();
      }
      return list;
    },
    close() {
      // Not for good: the socket helper closes its dispatcher whenever its client leaves, and the next
      // client's first check starts a new monitor (as the ipset session restarts).
      tried = false;
      const c = child;
      child = null;
      ready = false;
      list = null;
      c?.kill();
    },
  };
}
