/**
 * One long-lived `ipset restore -exist` process that the set backend writes its commands to, so a
 * ban costs a pipe write (~0.1 ms measured) instead of starting a process (5–30 ms on a busy host).
 *
 * How each batch's answer is known (measured with ipset v7.17):
 * - `ipset restore` prints nothing on success, runs the lines in order, and on the first failing line
 *   prints "Error in line N: …" to stderr and exits: later lines never run.
 * - So every batch ends with a marker, `list portcullis-ban4 -name`, which prints the set's name
 *   (one line, whatever the set holds). Its line is printed only once every line before it ran:
 *   the marker's line on stdout means the batch succeeded; an exit means the batch holding line N
 *   failed and those after it never ran. (`test` cannot be the marker: it ends the restore session.)
 * - ipset's stdout is a C stdio stream, fully buffered on a pipe: the marker would only show at exit.
 *   coreutils' `stdbuf -oL` makes it line-buffered.
 * A dead process is started again by the next batch; a batch with no answer in time kills it.
 *
 * Its priority: a ban is in force only once this process has run its `add`, and it sleeps until a
 * batch comes. On a busy 2-core machine it waited 1–70 ms for a CPU after each write (perf sched,
 * ban-latency lab: run time 0.1–0.7 ms a batch) — most of a ban's time. So it runs at the kmsg
 * reading thread's nice -10 (engine/logs/kmsg-thread.ts, same reasoning: it blocks whenever idle, so
 * its priority costs others nothing but its own work); without CAP_SYS_NICE it keeps the helper's.
 */
import type { ChildProcess } from 'node:child_process';
import { setPriority as osSetPriority } from 'node:os';
import { BAN_SET_NAMES } from './blocks.ts';
import { FirewallError } from './errors.ts';

/** Starts the coprocess (argv fixed by the caller); injected so tests can fake ipset. */
export type SpawnIpsetRestore = () => ChildProcess;

export interface IpsetSession {
  /** Runs the lines (ipset restore syntax, one command each) in one batch; rejects when any failed. */
  run(lines: readonly string[]): Promise<void>;
  /** Stops the coprocess (pending batches fail). */
  close(): void;
}

const MARKER = `list ${BAN_SET_NAMES[4]} -name`;
const MARKER_ANSWER = BAN_SET_NAMES[4];

interface Pending {
  /** Line numbers (1-based, counted from the process start) of the batch's commands and marker. */
  first: number;
  last: number;
  resolve(): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface IpsetSessionOptions {
  timeoutMs?: number;
  /** The coprocess's nice value, set once it is started (0: left as it is). */
  nice?: number;
  /** Sets a process's nice value (os.setPriority; tests record it). Throws without the right (ignored). */
  setPriority?: (pid: number, nice: number) => void;
}

/** The coprocess's nice value: the kmsg reading thread's (see the top of this file). */
export const IPSET_NICE = -10;

export function createIpsetSession(spawnRestore: SpawnIpsetRestore, opts: IpsetSessionOptions = {}): IpsetSession {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const nice = opts.nice ?? 0;
  const setPriority = opts.setPriority ?? osSetPriority;
  let child: ChildProcess | null = null;
  let linesWritten = 0;
  let pending: Pending[] = [];
  let stdoutBuf = '';
  let stderrText = '';

  const failAll = (child0: ChildProcess, why: string): void => {
    if (child !== child0) return;
    child = null;
    const failedLine = /Error in line (\d+)/.exec(stderrText);
    const n = failedLine ? Number(failedLine[1]) : NaN;
    const message = stderrText.replace(/^ipset v[\d.]+: /gm, '').trim() || why;
    pending.forEach((p, i) => {
      clearTimeout(p.timer);
      // The batch holding the failing line; without a line number (timeout, crash) the oldest one.
      const culprit = Number.isNaN(n) ? i === 0 : n >= p.first && n <= p.last;
      if (culprit) p.reject(new FirewallError('ipset', `ipset: ${message}`));
      else p.reject(new FirewallError('ipset', `ipset restore stopped before this change ran (${message}); nothing after the failing line was applied`));
    });
    pending = [];
    try {
      child0.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  };

  const start = (): ChildProcess => {
    const c = spawnRestore();
    child = c;
    if (nice !== 0 && c.pid !== undefined) {
      try {
        setPriority(c.pid, nice);
      } catch {
        // EACCES without CAP_SYS_NICE: it runs at the helper's priority, as before
      }
    }
    linesWritten = 0;
    stdoutBuf = '';
    stderrText = '';
    c.stdout!.setEncoding('utf8');
    c.stderr!.setEncoding('utf8');
    c.stdout!.on('data', (chunk: string) => {
      stdoutBuf += chunk;
      let nl: number;
      while ((nl = stdoutBuf.indexOf('\n')) >= 0) {
        const line = stdoutBuf.slice(0, nl).trim();
        stdoutBuf = stdoutBuf.slice(nl + 1);
        if (line !== MARKER_ANSWER) continue;
        const p = pending.shift();
        if (p) {
          clearTimeout(p.timer);
          p.resolve();
        }
      }
    });
    c.stderr!.on('data', (chunk: string) => {
      if (stderrText.length < 4096) stderrText += chunk;
    });
    c.stdin!.on('error', () => undefined); // EPIPE after an exit: reported through 'exit'
    c.on('error', (e) => failAll(c, `cannot run ipset restore: ${e.message}`));
    c.on('exit', (code, signal) => failAll(c, `ipset restore exited (${signal ?? code})`));
    return c;
  };

  return {
    run(lines) {
      for (const l of lines) {
        if (l.includes('\n')) return Promise.reject(new FirewallError('ipset', 'an ipset command cannot span lines'));
      }
      const c = child ?? start();
      return new Promise<void>((resolve, reject) => {
        const first = linesWritten + 1;
        linesWritten += lines.length + 1;
        const p: Pending = {
          first,
          last: linesWritten,
          resolve,
          reject,
          timer: setTimeout(() => failAll(c, `ipset restore gave no answer within ${timeoutMs} ms`), timeoutMs),
        };
        p.timer.unref?.();
        pending.push(p);
        c.stdin!.write(lines.length ? `${lines.join('\n')}\n${MARKER}\n` : `${MARKER}\n`);
      });
    },
    close() {
      const c = child;
      if (!c) return;
      stderrText = 'the ipset session was closed';
      failAll(c, 'closed');
      c.stdin?.end();
    },
  };
}
