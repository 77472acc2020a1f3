/**
 * The kernel's NFLOG messages as a log source (`logs.source: "nflog"`), read by portcullis-nflog
 * (native/nflog/portcullis-nflog.c) and decoded here into the packets the LOG text parser would
 * make of the same records (parse/nflog.ts).
 *
 * Why: LOG records go through the kernel's printk ring (128 KB by default, ~28 ms of a 20k/s
 * flood): a reader held off longer — a VM host stalling a vCPU — loses what was overwritten. NFLOG
 * messages wait in the reader's socket buffer, which root can make large (NFLOG_BUFFER_BYTES: ~4 s
 * of a 20k/s flood; the soak bench's experiment lost none in 1.2 M, stalls of 1 s included).
 * - Trusted like kmsg: only the kernel sends to the bound group (the reader drops datagrams from any
 *   other sender), and a namespace's NFLOG carries only that namespace's packets.
 * - Lost messages are exact: the group's sequence numbers (gaps) and the reader's ENOBUFS reports.
 * - Nothing is kept while no reader is bound: what the rules logged while Portcullis was stopped
 *   (or its reader restarting) is gone — no resume position, unlike kmsg's ring — but counted, from
 *   the rules' packet counters, by the ledger asked before each reader binds (nflog-ledger.ts).
 * - The reader is started argv-only (no shell), with its stdout a pipe of frames; it dies with
 *   this process (PR_SET_PDEATHSIG) and is stopped with SIGTERM.
 * - A reader that stops on its own (killed, a failed system call) is started again, after 0.5 s
 *   doubling to 30 s (back to 0.5 s once one has read for a minute): one stderr line per restart
 *   with the reader's last words; health `error` while none reads, `warning` ("read on after …")
 *   once one reads again. What was logged while none was bound is a `warning` (over, counted). Each new reader is a new kernel instance (sequence numbers from 0): a new
 *   decoder, its counts added to those before it.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { systemClock, type Clock } from '../../shared/domain.ts';
import type { PacketEvent } from '../../shared/packet.ts';
import type { LogSourcePort, SourceHealth } from '../ports.ts';
import { NflogStreamDecoder } from '../parse/nflog.ts';
import { errorText, SourceStats } from './stats.ts';
import type { NflogLedgerPort } from './nflog-ledger.ts';

import { PORTCULLIS_NFLOG_GROUP } from '../../shared/settings.ts';
/** The NFLOG group Portcullis's rules log to and its reader binds (shared/settings.ts: the helper's block writes it too). */
export { PORTCULLIS_NFLOG_GROUP };
/**
 * The reader's socket buffer, asked for; the kernel grants twice as much (64 MiB). Each queued message
 * takes ~850 bytes of it (its socket buffer's whole size, not the bytes copied: the soak bench's
 * experiment held ~19.8k messages in a 16 MiB buffer), so ~80k messages: ~4 s of a 20k/s flood.
 */
export const NFLOG_BUFFER_BYTES = 32 << 20;
/** How long the reader may take to bind its group before start() gives up. */
const READY_TIMEOUT_MS = 10_000;
/** How long stop() waits after SIGTERM before SIGKILL. */
const STOP_KILL_MS = 3_000;
/** The reader's standard error kept for messages (its last words). */
const STDERR_KEEP = 2048;
/** Restarts of a reader that stopped on its own: the first delay, doubled up to the last, back to the first after a healthy minute. */
export const RESTART_BACKOFF = { firstMs: 500, maxMs: 30_000, healthyMs: 60_000 } as const;

/** The part of a child process the source uses (tests fake it). */
export interface ReaderProcess {
  stdout: Readable;
  stderr: Readable;
  kill(signal?: NodeJS.Signals): boolean;
  /** After it exited AND its stdout and stderr were drained ('exit' can come before their last bytes). */
  once(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (e: Error) => void): unknown;
}

export interface NflogSourceOptions {
  /** The portcullis-nflog binary (the runner finds it beside the CLI bundle). */
  readerPath: string;
  group?: number;
  bufferBytes?: number;
  /** Starts the reader: argv only, no shell (tests inject a fake). */
  spawn?: (file: string, args: string[]) => ReaderProcess;
  /** Interface name of an index in this namespace (null: none); default: /sys/class/net, read again on a miss. */
  ifName?: (index: number) => string | null;
  clock?: Clock;
  /** One line per restart of the reader (default: stderr). */
  log?: (line: string) => void;
  /**
   * Counts what the logging rules logged while no reader was bound (nflog-ledger.ts): asked before
   * each reader starts, told each reader's account as it reads. Absent: not counted.
   */
  ledger?: NflogLedgerPort;
  /** Restart delays (default RESTART_BACKOFF). */
  backoff?: { firstMs: number; maxMs: number; healthyMs: number };
}

/** Interface names by index from /sys/class/net, re-read when an index is not known (at most once a second). */
export function sysfsInterfaceNames(clock: Clock = systemClock, root = '/sys/class/net'): (index: number) => string | null {
  let names = new Map<number, string>();
  let readAt = -Infinity;
  const read = (): void => {
    const next = new Map<number, string>();
    try {
      for (const name of readdirSync(root)) {
        try {
          next.set(Number(readFileSync(`${root}/${name}/ifindex`, 'utf8').trim()), name);
        } catch {
          // an interface that went away between the listing and the read
        }
      }
    } catch {
      // no sysfs: every index stays unknown, and those packets are counted as malformed
    }
    names = next;
    readAt = clock.now();
  };
  return (index) => {
    const known = names.get(index);
    if (known !== undefined) return known;
    if (clock.now() - readAt >= 1000) read();
    return names.get(index) ?? null;
  };
}

export class NflogSource implements LogSourcePort {
  readonly kind = 'nflog' as const;
  private readonly o: NflogSourceOptions;
  private readonly clock: Clock;
  private readonly stats: SourceStats;
  private readonly group: number;
  private readonly bufferBytes: number;
  private readonly ifName: (index: number) => string | null;
  private readonly backoff: { firstMs: number; maxMs: number; healthyMs: number };
  private readonly log: (line: string) => void;
  /** Per reader: a new reader is a new kernel instance, whose sequence numbers start again at 0 (else a restart would count ~2^32 lost). */
  private decoder = new NflogStreamDecoder();
  /** Records read and lost by the earlier readers of this start (restarts). */
  private carried = { read: 0, lost: 0, overruns: 0 };
  private reader: ReaderProcess | null = null;
  private onPackets: ((packets: PacketEvent[]) => void) | null = null;
  private stderrTail = '';
  /**
   * Each start() and stop() begins a new generation: work of an older one (a restart reading the
   * counters when stop() and start() came) starts no reader. (A `stopping` flag, cleared by the
   * next start(), let that restart start a second reader beside the new one: EBUSY.)
   */
  private generation = 0;
  private rejectsNoted = 0;
  /** When the running reader said READY (null: none reads). */
  private readySince: number | null = null;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private nextDelayMs: number;
  /** Readers started again since start(). */
  private restarts = 0;
  /** Why the last reader stopped on its own (the warning once another reads). */
  private lastStop: string | null = null;

  constructor(o: NflogSourceOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.stats = new SourceStats(this.clock);
    this.group = o.group ?? PORTCULLIS_NFLOG_GROUP;
    this.bufferBytes = o.bufferBytes ?? NFLOG_BUFFER_BYTES;
    this.ifName = o.ifName ?? sysfsInterfaceNames(this.clock);
    this.backoff = o.backoff ?? RESTART_BACKOFF;
    this.nextDelayMs = this.backoff.firstMs;
    this.log = o.log ?? ((line) => void process.stderr.write(`${line}\n`));
  }

  /** The running reader's decoder counts (packets, lost, overruns, malformed, the buffer granted): tests, diagnostics. */
  get counts(): NflogStreamDecoder['counts'] {
    return this.decoder.counts;
  }

  async start(_onLines: (lines: string[]) => void, onPackets?: (packets: PacketEvent[]) => void): Promise<void> {
    if (!onPackets) throw new Error('the nflog source delivers packets: its consumer must take them');
    const gen = ++this.generation;
    this.onPackets = onPackets;
    this.carried = { read: 0, lost: 0, overruns: 0 };
    this.restarts = 0;
    this.lastStop = null;
    this.nextDelayMs = this.backoff.firstMs;
    this.stats.warning = undefined;
    this.stats.error = undefined;
    this.o.ledger?.newRun();
    await this.startReader(gen);
  }

  /** Starts one reader and resolves once it said READY; rejects (with stats.error set) when it could not. */
  private async startReader(gen: number): Promise<void> {
    if (this.decoder.counts.receiveBuffer !== null || this.decoder.counts.packets > 0) {
      this.decoder = new NflogStreamDecoder();
      this.rejectsNoted = 0;
    }
    this.stderrTail = '';
    this.readySince = null;
    // Before the bind: a packet logged between the counters' read and the bind is no reader's (lost, counted).
    if (this.o.ledger) await this.o.ledger.readerStarting();
    // Stopped (and maybe started again) while the counters were read: no reader to start.
    if (gen !== this.generation) throw new Error('the source was stopped');
    const spawn = this.o.spawn ?? ((file: string, args: string[]) => nodeSpawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false }));
    let reader: ReaderProcess;
    try {
      reader = spawn(this.o.readerPath, [String(this.group), String(this.bufferBytes)]);
    } catch (e) {
      this.stats.error = `cannot start ${this.o.readerPath}: ${errorText(e)}`;
      throw new Error(this.stats.error);
    }
    this.reader = reader;
    const decoder = this.decoder;
    reader.stderr.on('data', (c: Buffer) => {
      if (this.reader === reader) this.stderrTail = (this.stderrTail + c.toString('utf8')).slice(-STDERR_KEEP);
    });
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      /** It said READY: its exit from then on is a reader that stopped reading (a start that failed is not). */
      let read = false;
      const settle = (e: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) {
          this.stats.error = e.message;
          reject(e);
        } else {
          read = true;
          this.readySince = this.clock.now();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        reader.kill('SIGTERM');
        settle(new Error(`${this.describeReader()} did not bind NFLOG group ${this.group} within ${READY_TIMEOUT_MS / 1000} s`));
      }, READY_TIMEOUT_MS);
      reader.stdout.on('data', (chunk: Buffer) => {
        if (decoder !== this.decoder) return;
        const packets = decoder.push(chunk, { ifName: this.ifName, now: this.clock.now() });
        if (decoder.counts.receiveBuffer !== null) settle(null);
        this.noteDecoderRejects();
        this.o.ledger?.accounted(decoder.counts.accounted);
        if (packets.length) {
          this.stats.noteLines(packets.length, packets[packets.length - 1]!.time);
          this.onPackets?.(packets);
        }
      });
      reader.once('error', (e) => {
        // A failed spawn: nothing to wait for in stop().
        if (this.reader === reader) this.reader = null;
        settle(new Error(`cannot start ${this.o.readerPath}: ${e.message}`));
      });
      // 'close', not 'exit': its last words (stderr) and last frames (stdout) are read by then.
      reader.once('close', (code, signal) => {
        if (this.reader === reader) this.reader = null;
        const why = `${this.describeReader()} stopped (${signal ?? `exit code ${code}`})${this.stderrTail.trim() ? `: ${this.stderrTail.trim()}` : ''}`;
        if (!settled) return settle(new Error(why));
        // After its READY: reading stopped — a fault until another reader reads. (The exit of one
        // that never said READY, killed by the timeout, is that start's failure, already answered.)
        if (read && gen === this.generation) this.readerStopped(why);
      });
    });
  }

  /** A reader that had read stopped on its own: say so, and start another after the backoff. */
  private readerStopped(why: string): void {
    const ranFor = this.readySince === null ? 0 : this.clock.now() - this.readySince;
    this.readySince = null;
    if (ranFor >= this.backoff.healthyMs) this.nextDelayMs = this.backoff.firstMs;
    this.lastStop = why;
    this.scheduleRestart(why);
  }

  private scheduleRestart(why: string): void {
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.nextDelayMs * 2, this.backoff.maxMs);
    this.stats.error = `${why} — nothing is read until it is started again (in ${delay / 1000} s)`;
    this.log(`portcullis warn: ${why}; starting it again in ${delay / 1000} s`);
    const gen = this.generation;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      void this.restart(gen);
    }, delay);
  }

  private async restart(gen: number): Promise<void> {
    if (gen !== this.generation) return;
    const c = this.decoder.counts;
    this.carried.read += c.packets + malformedTotal(c);
    this.carried.lost += c.lost;
    this.carried.overruns += c.overruns;
    this.decoder = new NflogStreamDecoder();
    this.rejectsNoted = 0;
    this.restarts++;
    try {
      await this.startReader(gen);
    } catch (e) {
      if (gen !== this.generation) return;
      this.scheduleRestart(`starting the NFLOG reader again failed: ${errorText(e)}`);
      return;
    }
    if (gen !== this.generation) return;
    this.stats.error = undefined;
    this.stats.warning = `read on after ${this.lastStop ?? 'the reader stopped'} (started again at ${new Date(this.clock.now()).toISOString()}; ${this.restarts} restart${this.restarts === 1 ? '' : 's'} since the start)`;
  }

  async stop(): Promise<void> {
    this.generation++;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const r = this.reader;
    if (!r) return;
    // The reader ends within a second of SIGTERM (its recv wakes each second); one that does not is
    // killed, so that a stop (a failed start's too) never waits for good.
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => r.kill('SIGKILL'), STOP_KILL_MS);
      r.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      r.kill('SIGTERM');
    });
  }

  health(): SourceHealth {
    const receive = this.decoder.counts.receiveBuffer;
    const description = `NFLOG group ${this.group} (${this.o.readerPath.split('/').pop()}${receive !== null ? `, ${Math.round(receive / (1 << 20))} MiB socket buffer` : ''})`;
    const h = this.stats.health('nflog', description, true);
    const c = this.decoder.counts;
    h.recordsRead = this.carried.read + c.packets + malformedTotal(c);
    const dropped = this.carried.lost + c.lost;
    const unbound = this.o.ledger?.lost ?? 0;
    h.recordsLost = dropped + unbound;
    if (this.decoder.corrupt && h.error === undefined) h.error = `the reader's stream lost its frames: ${description} reads nothing more until restarted`;
    // Dropped while a reader read (its socket full): a fault of this run, an error (as kmsg's records
    // overwritten while it reads). Logged while none was bound: over when counted (at a reader's
    // start), and no setting would have kept them — NFLOG keeps nothing without a reader, where
    // kmsg's ring keeps what it has room for (its loss while stopped says the ring is too small: an
    // error there). A warning, so a service restarted under traffic does not run in error.
    if (h.error === undefined && dropped > 0) {
      h.error = `${dropped} NFLOG messages were dropped by the kernel: the reader's socket was full (${this.carried.overruns + c.overruns} times); Portcullis fell behind a flood`;
    }
    const warnings: string[] = h.warning ? [h.warning] : [];
    if (unbound > 0) warnings.push(`${unbound} NFLOG messages were logged while no reader was bound (Portcullis not running, or its reader restarting): never read, counted from the logging rules' counters`);
    const unknown = this.o.ledger?.unknown;
    if (unknown) warnings.push(unknown);
    if (warnings.length) h.warning = warnings.join('; ');
    return h;
  }

  noteRejects(count: number): void {
    this.stats.noteRejects(count);
  }

  /** The decoder's malformed messages, as rejects per minute. */
  private noteDecoderRejects(): void {
    const total = malformedTotal(this.decoder.counts);
    if (total > this.rejectsNoted) this.stats.noteRejects(total - this.rejectsNoted);
    this.rejectsNoted = total;
  }

  private describeReader(): string {
    return `the NFLOG reader (${this.o.readerPath})`;
  }
}

function malformedTotal(c: NflogStreamDecoder['counts']): number {
  return Object.values(c.malformed).reduce((a, b) => a + b, 0);
}
