/**
 * The kernel log through journald: `journalctl -k -f -o json`, one JSON object per line.
 *
 * Trust: `-k` selects _TRANSPORT=kernel, a field journald sets itself. But journald files EVERY
 * record read from /dev/kmsg under _TRANSPORT=kernel, including what userspace wrote into
 * /dev/kmsg (measured here: `echo "<4>[UFW BLOCK] SRC=…" > /dev/kmsg` arrives as
 * _TRANSPORT=kernel, SYSLOG_FACILITY=1). Only SYSLOG_FACILITY=0 is the kernel's own, so records of
 * any other facility are refused here as untrusted, like the kmsg source does.
 *
 * Resume: the __CURSOR of the last record handled is reported (persist it with the stored
 * packets); the next start passes `--after-cursor=…`, so nothing is lost or repeated. Without a
 * cursor it starts with `-n 0` (only what comes next) unless `initialLines` asks for history.
 * If journalctl exits (journald restarted, rotated away), it is started again after the last
 * cursor, with a growing delay.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { systemClock, type Clock } from '../../shared/domain.ts';
import type { LogSourcePort, SourceHealth } from '../ports.ts';
import { errorText, SourceStats } from './stats.ts';

export interface JournalRecordInfo {
  cursor: string | null;
  transport: string | null;
  facility: string | null;
  message: string;
}

export interface JournalSourceOptions {
  /** Absolute path of journalctl (injectable for tests). Default /usr/bin/journalctl. */
  journalctl?: string;
  /** Resume after this cursor. */
  cursor?: string | null;
  /** Without a cursor: how much history to read first (default 0: only new records). */
  initialLines?: number | 'all';
  /** Extra arguments, e.g. ['--directory=/path/to/journal'] or ['--machine=…']. */
  extraArgs?: string[];
  /** Cursor of the last record handled, after each batch. */
  onCursor?: (cursor: string) => void;
  /** Records refused for not being the kernel's own (tests, diagnostics). */
  onUntrusted?: (record: JournalRecordInfo) => void;
  /** First restart delay after journalctl exits; doubles up to 30 s. Default 500 ms. */
  restartDelayMs?: number;
  clock?: Clock;
}

/** Cursors are short printable tokens ("s=…;i=…;b=…;m=…;t=…;x=…"); anything else is not ours. */
const CURSOR = /^[A-Za-z0-9=;_.:-]{1,512}$/;
/** journald caps fields at 64 KiB by default; longer lines are not records we can use. */
const MAX_LINE = 256 * 1024;

export class JournalSource implements LogSourcePort {
  readonly kind = 'journal' as const;
  private readonly opts: JournalSourceOptions;
  private readonly bin: string;
  private readonly clock: Clock;
  private readonly stats: SourceStats;
  private cursor: string | null;
  private child: ChildProcess | null = null;
  private onLines: ((lines: string[]) => void) | null = null;
  private stopped = true;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private delay: number;
  private partial = '';
  private lastStderr = '';
  /** Records refused: not the kernel's own, or not JSON. */
  untrusted = 0;
  malformed = 0;
  starts = 0;

  constructor(opts: JournalSourceOptions = {}) {
    this.opts = opts;
    this.bin = opts.journalctl ?? '/usr/bin/journalctl';
    this.clock = opts.clock ?? systemClock;
    this.stats = new SourceStats(this.clock);
    this.cursor = opts.cursor && CURSOR.test(opts.cursor) ? opts.cursor : null;
    if (opts.cursor && !this.cursor) this.stats.error = 'the saved journal cursor was not valid; starting from new records';
    this.delay = opts.restartDelayMs ?? 500;
  }

  /** The argv for the current position (exported for tests and the Doctor's "what runs"). */
  args(): string[] {
    const a = ['-k', '-f', '-o', 'json', '--no-pager'];
    // -f alone would start with the last 10 records: after a cursor we want all of them (--no-tail),
    // without one exactly the history asked for.
    if (this.cursor) a.push(`--after-cursor=${this.cursor}`, '--no-tail');
    else {
      const n = this.opts.initialLines ?? 0;
      a.push('-n', n === 'all' ? 'all' : String(Math.max(0, Math.floor(n))));
    }
    return [...a, ...(this.opts.extraArgs ?? [])];
  }

  /** The last cursor handled (resume position). */
  position(): string | null {
    return this.cursor;
  }

  async start(onLines: (lines: string[]) => void): Promise<void> {
    this.onLines = onLines;
    this.stopped = false;
    await this.spawnOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.onLines = null;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
  }

  health(): SourceHealth {
    return this.stats.health('journal', `systemd journal (${this.bin} -k)`, true);
  }

  noteRejects(count: number): void {
    this.stats.noteRejects(count);
  }

  private spawnOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(this.bin, this.args(), {
          stdio: ['ignore', 'pipe', 'pipe'],
          // A clean environment: no pager, no colours, a UTF-8 locale, nothing inherited.
          env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' },
        });
      } catch (e) {
        this.stats.error = `cannot start ${this.bin}: ${errorText(e)}`;
        reject(e);
        return;
      }
      this.child = child;
      this.starts++;
      this.partial = '';
      child.stdout!.setEncoding('utf8');
      child.stderr!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => this.take(chunk));
      child.stderr!.on('data', (chunk: string) => {
        const l = chunk.trim().split('\n').at(-1);
        if (l) this.lastStderr = l.slice(0, 300);
      });
      child.once('spawn', () => {
        this.stats.error = undefined;
        resolve();
      });
      child.once('error', (e) => {
        this.stats.error = `cannot start ${this.bin}: ${errorText(e)}`;
        if (this.child === child) this.child = null;
        reject(e);
      });
      child.once('exit', (code, signal) => {
        if (this.child !== child) return;
        this.child = null;
        if (this.stopped) return;
        this.stats.error = `journalctl exited (${signal ?? `code ${code}`})${this.lastStderr ? `: ${this.lastStderr}` : ''}; restarting`;
        this.restartTimer = setTimeout(() => {
          this.restartTimer = null;
          if (!this.stopped) this.spawnOnce().catch(() => this.scheduleAgain());
        }, this.delay);
        this.delay = Math.min(this.delay * 2, 30_000);
      });
    });
  }

  private scheduleAgain(): void {
    if (this.stopped) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopped) this.spawnOnce().catch(() => this.scheduleAgain());
    }, this.delay);
    this.delay = Math.min(this.delay * 2, 30_000);
  }

  private take(chunk: string): void {
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    if (this.partial.length > MAX_LINE) {
      this.partial = '';
      this.malformed++;
    }
    this.handle(parts);
  }

  /** The record handling (public for tests): trust check, cursor, delivery. */
  handle(rawLines: string[]): void {
    const lines: string[] = [];
    let lastAt: number | undefined;
    let cursor: string | null = null;
    for (const raw of rawLines) {
      if (raw.length === 0) continue;
      let rec: Record<string, unknown>;
      try {
        const v = JSON.parse(raw) as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        rec = v as Record<string, unknown>;
      } catch {
        this.malformed++;
        this.stats.noteRejects(1);
        continue;
      }
      const c = typeof rec['__CURSOR'] === 'string' && CURSOR.test(rec['__CURSOR']) ? rec['__CURSOR'] : null;
      if (c) cursor = c;
      const transport = typeof rec['_TRANSPORT'] === 'string' ? rec['_TRANSPORT'] : null;
      const facility = typeof rec['SYSLOG_FACILITY'] === 'string' ? rec['SYSLOG_FACILITY'] : null;
      if (transport !== 'kernel' || (facility !== null && facility !== '0')) {
        this.untrusted++;
        this.stats.noteRejects(1);
        this.opts.onUntrusted?.({ cursor: c, transport, facility, message: typeof rec['MESSAGE'] === 'string' ? rec['MESSAGE'] : '' });
        continue;
      }
      const usec = Number(rec['__REALTIME_TIMESTAMP']);
      if (Number.isFinite(usec) && usec > 0) lastAt = Math.round(usec / 1000);
      lines.push(raw);
    }
    if (lines.length) {
      this.stats.noteLines(lines.length, lastAt);
      this.onLines?.(lines);
    }
    if (cursor && cursor !== this.cursor) {
      this.cursor = cursor;
      this.delay = this.opts.restartDelayMs ?? 500;
      this.opts.onCursor?.(cursor);
    }
  }
}
