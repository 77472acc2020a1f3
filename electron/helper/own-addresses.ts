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
 * configured earlier, and an interface without IPv6 gets no new address either. Without the monitor (not started, exited, failed) every check reads the list, as before.
 * A bounded age covers the monitor's first moments, before it has subscribed.
 */
import type { ChildProcess } from 'node:child_process';
import { hostAddresses } from './ban-guard.ts';
import { BINARIES, spawnArgv } from './exec.ts';

export interface OwnAddresses {
  /** The addresses now (canonical). */
  get(): string[];
  /** Stops the monitor. */
  close(): void;
}

export interface OwnAddressesOptions {
  /** Reads the addresses (default: os.networkInterfaces() of this namespace). */
  read?: () => string[];
  /** Starts the change monitor (default: `ip -o monitor link address`); null = none. */
  monitor?: (() => ChildProcess) | null;
  /** A list older than this is read again even without a change seen (ms). */
  maxAgeMs?: number;
  now?: () => number;
}

export function ownAddressCache(opts: OwnAddressesOptions = {}): OwnAddresses {
  const read = opts.read ?? hostAddresses;
  const startMonitor = opts.monitor === undefined ? () => spawnArgv('setpriv', ['--pdeathsig', 'KILL', '--', BINARIES.ip, '-o', 'monitor', 'link', 'address']) : opts.monitor;
  const maxAgeMs = opts.maxAgeMs ?? 10_000;
  const now = opts.now ?? Date.now;
  let list: string[] | null = null;
  let readAt = 0;
  let child: ChildProcess | null = null;
  let tried = false;
  let closed = false;

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
    const gone = () => {
      if (child === c) child = null;
      list = null;
    };
    c.stdout?.on('data', () => void (list = null));
    c.on('error', gone);
    c.on('exit', gone);
    c.stdin?.end();
    c.stderr?.resume(); // read and dropped: a full pipe would stall it
    // A monitor must never keep the process alive (one-shot commands that ban in-process).
    c.unref();
    for (const s of [c.stdout, c.stderr]) (s as { unref?: () => void } | null)?.unref?.();
  };

  return {
    get() {
      if (!tried && !closed) watch();
      if (list === null || child === null || now() - readAt > maxAgeMs) {
        list = read();
        readAt = now();
      }
      return list;
    },
    close() {
      closed = true;
      const c = child;
      child = null;
      list = null;
      c?.kill();
    },
  };
}
