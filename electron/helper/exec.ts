/**
 * The only way the helper runs a program: an absolute path from a fixed table, an argv array
 * (never a shell string), a clean environment, a timeout. Every firewall-changing call goes
 * through `FirewallQueue` so ufw never runs concurrently with itself.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';

/** Absolute paths of every binary the helper may run. Nothing else can be executed. */
export const BINARIES = {
  ufw: '/usr/sbin/ufw',
  iptables: '/usr/sbin/iptables',
  ip6tables: '/usr/sbin/ip6tables',
  iptablesRestore: '/usr/sbin/iptables-restore',
  ip6tablesRestore: '/usr/sbin/ip6tables-restore',
  ipset: '/usr/sbin/ipset',
  nft: '/usr/sbin/nft',
  conntrack: '/usr/sbin/conntrack',
  ip: '/usr/sbin/ip',
  journalctl: '/usr/bin/journalctl',
  /** iproute2's socket lister: the peer of a control-socket connection, for the audit log (headless/peer-identity.ts). */
  ss: '/usr/bin/ss',
  /** Only to run `ipset restore` line-buffered as a long-lived coprocess (firewall/ipset-session.ts). */
  stdbuf: '/usr/bin/stdbuf',
  /** Only to hold ufw's own lock (fcntl.lockf on /run/ufw.lock) while its rules files are edited (firewall/ufw-lock.ts). */
  python3: '/usr/bin/python3',
  /** Only to start `ip monitor link address` with a parent-death signal, so it never outlives the helper (own-addresses.ts). */
  setpriv: '/usr/bin/setpriv',
} as const;
export type BinaryName = keyof typeof BINARIES;

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
}

/** Injected so tests can record what would run; the real one is `execArgv`. */
export type Exec = (bin: BinaryName, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

// A minimal environment: no LD_PRELOAD, no PATH tricks, predictable (untranslated) output to parse.
const CLEAN_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' };

/**
 * The nice value every program started here is set to, or null: left as inherited. A child inherits
 * the nice of the thread that starts it, and the runner raises its main thread to -10 so that a ban
 * waits less for a CPU (headless/runner.ts, raiseMainThreadPriority); without this, ufw's Python, ip,
 * ss, iptables… would all outrank the user's own work too. The runner sets it to the process's nice
 * from before the raise. The ipset coprocess then sets its own (firewall/ipset-session.ts).
 */
let childNice: number | null = null;
export function setChildNice(nice: number | null): void {
  childNice = nice;
}
function atChildNice<T extends ChildProcess>(child: T): T {
  if (childNice !== null && child.pid !== undefined) {
    try {
      setPriority(child.pid, childNice);
    } catch {
      // it has already exited, or lowering is refused: it runs at the thread's nice
    }
  }
  return child;
}

export const execArgv: Exec = (bin, args, opts = {}) =>
  new Promise((resolve) => {
    const child = execFile(
      BINARIES[bin],
      [...args],
      { env: CLEAN_ENV, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, shell: false },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : (err as { killed?: boolean }).killed ? 124 : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code !== 0 && !stderr ? err.message : '') });
      },
    );
    atChildNice(child);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });

/** A long-lived child with piped stdio: the same fixed binaries, argv and clean environment as execArgv. */
export function spawnArgv(bin: BinaryName, args: readonly string[]): ChildProcess {
  return atChildNice(spawn(BINARIES[bin], [...args], { env: CLEAN_ENV, stdio: ['pipe', 'pipe', 'pipe'], shell: false }));
}

/** Runs firewall operations one at a time, in arrival order (ufw is not safe to run concurrently). */
export class FirewallQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.tail.then(op, op);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
