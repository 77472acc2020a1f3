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
 *   is gone (no resume position, unlike kmsg's ring).
 * - The reader is started argv-only (no shell), with its stdout a pipe of frames; it dies with
 *   this process (PR_SET_PDEATHSIG) and is stopped with SIGTERM.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { systemClock, type Clock } from '../../shared/domain.ts';
import type { PacketEvent } from '../../shared/packet.ts';
import type { LogSourcePort, SourceHealth } from '../ports.ts';
import { NflogStreamDecoder } from '../parse/nflog.ts';
import { errorText, SourceStats } from './stats.ts';

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

/** The part of a child process the source uses (tests fake it). */
export interface ReaderProcess {
  stdout: Readable;
  stderr: Readable;
  kill(signal?: NodeJS.Signals): boolean;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
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
  /** Per start: a new reader is a new kernel instance, whose sequence numbers start again at 0 (else a restart would count ~2^32 lost). */
  private decoder = new NflogStreamDecoder();
  private reader: ReaderProcess | null = null;
  private stderrTail = '';
  private stopping = false;
  private rejectsNoted = 0;

  constructor(o: NflogSourceOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.stats = new SourceStats(this.clock);
    this.group = o.group ?? PORTCULLIS_NFLOG_GROUP;
    this.bufferBytes = o.bufferBytes ?? NFLOG_BUFFER_BYTES;
    this.ifName = o.ifName ?? sysfsInterfaceNames(this.clock);
  }

  /** The decoder's counts (packets, lost, overruns, malformed, the buffer granted): tests, diagnostics. */
  get counts(): NflogStreamDecoder['counts'] {
    return this.decoder.counts;
  }

  async start(_onLines: (lines: string[]) => void, onPackets?: (packets: PacketEvent[]) => void): Promise<void> {
    if (!onPackets) throw new Error('the nflog source delivers packets: its consumer must take them');
    this.stopping = false;
    if (this.decoder.counts.receiveBuffer !== null) {
      this.decoder = new NflogStreamDecoder();
      this.rejectsNoted = 0;
    }
    const spawn = this.o.spawn ?? ((file: string, args: string[]) => nodeSpawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false }));
    let reader: ReaderProcess;
    try {
      reader = spawn(this.o.readerPath, [String(this.group), String(this.bufferBytes)]);
    } catch (e) {
      this.stats.error = `cannot start ${this.o.readerPath}: ${errorText(e)}`;
      throw new Error(this.stats.error);
    }
    this.reader = reader;
    reader.stderr.on('data', (c: Buffer) => {
      this.stderrTail = (this.stderrTail + c.toString('utf8')).slice(-STDERR_KEEP);
    });
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (e: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) {
          this.stats.error = e.message;
          reject(e);
        } else resolve();
      };
      const timer = setTimeout(() => {
        reader.kill('SIGTERM');
        settle(new Error(`${this.describeReader()} did not bind NFLOG group ${this.group} within ${READY_TIMEOUT_MS / 1000} s`));
      }, READY_TIMEOUT_MS);
      reader.stdout.on('data', (chunk: Buffer) => {
        const packets = this.decoder.push(chunk, { ifName: this.ifName, now: this.clock.now() });
        if (this.decoder.counts.receiveBuffer !== null) settle(null);
        this.noteDecoderRejects();
        if (packets.length) {
          this.stats.noteLines(packets.length, packets[packets.length - 1]!.time);
          onPackets(packets);
        }
      });
      reader.once('error', (e) => {
        // A failed spawn emits no 'exit': nothing to wait for in stop().
        if (this.reader === reader) this.reader = null;
        settle(new Error(`cannot start ${this.o.readerPath}: ${e.message}`));
      });
      reader.once('exit', (code, signal) => {
        this.reader = null;
        const why = `${this.describeReader()} stopped (${signal ?? `exit code ${code}`})${this.stderrTail.trim() ? `: ${this.stderrTail.trim()}` : ''}`;
        settle(new Error(why));
        // After the start: reading stopped, a fault until the source is started again.
        if (!this.stopping) this.stats.error = why;
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const r = this.reader;
    if (!r) return;
    // The reader ends within a second of SIGTERM (its recv wakes each second); one that does not is
    // killed, so that a stop (a failed start's too) never waits for good.
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => r.kill('SIGKILL'), STOP_KILL_MS);
      r.once('exit', () => {
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
    h.recordsRead = c.packets + Object.values(c.malformed).reduce((a, b) => a + b, 0);
    h.recordsLost = c.lost;
    if (this.decoder.corrupt && h.error === undefined) h.error = `the reader's stream lost its frames: ${description} reads nothing more until restarted`;
    if (c.lost > 0 && h.error === undefined) {
      h.error = `${c.lost} NFLOG messages were dropped by the kernel: the reader's socket was full (${c.overruns} times); Portcullis fell behind a flood`;
    }
    return h;
  }

  noteRejects(count: number): void {
    this.stats.noteRejects(count);
  }

  /** The decoder's malformed messages, as rejects per minute. */
  private noteDecoderRejects(): void {
    const total = Object.values(this.decoder.counts.malformed).reduce((a, b) => a + b, 0);
    if (total > this.rejectsNoted) this.stats.noteRejects(total - this.rejectsNoted);
    this.rejectsNoted = total;
  }

  private describeReader(): string {
    return `the NFLOG reader (${this.o.readerPath})`;
  }
}
