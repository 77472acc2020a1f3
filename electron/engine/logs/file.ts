/**
 * Tails a log file (the fallback source: /var/log/kern.log, ufw.log, syslog, messages).
 *
 * Lines from a file are SPOOFABLE — any local user can `logger "[UFW BLOCK] SRC=…"` into syslog —
 * so health() says kernelTrusted: false, and the parser marks syslog lines spoofable.
 *
 * Rotation:
 * - by RENAME (logrotate default): the path gets a new inode. The old file keeps being read through
 *   its open descriptor to its end, and for `rotateGraceMs` more (the daemon writes to the old file
 *   until it is told to reopen), then closed; the new file is read from offset 0 meanwhile.
 *   Not covered: a file created at the path and rotated away again before the source looks at the
 *   path even once (faster than one wake-up); real rotations are hours apart.
 * - by COPYTRUNCATE: the same inode shrinks below our offset. Before restarting at 0, the bytes
 *   we had not read yet are recovered from the copy (`<path>.1` by default) when its content at our
 *   offset matches what we read last. What remains lost is inherent to copytruncate: lines written
 *   between logrotate's copy and its truncate are in neither file. A truncate-then-refill past our
 *   offset before we look is caught too: the last bytes we read must still sit just before our
 *   offset (one 256-byte pread per wake-up).
 *   A line being written across the copy or the truncate is cut: its first half stays pending and
 *   is joined to what comes at offset 0 (right when the rest was written after the truncate, a
 *   garbage line the parser refuses when the rest fell in the window). Measured with the real
 *   logrotate and a writer at ~10k lines/s: 15–135 lines lost per rotation, all of them in no file.
 *   A writer without O_APPEND leaves a hole of NUL bytes after truncation: leading NULs are dropped.
 * - resume: a saved {ino, offset} continues in the same file, or in the rotated copy holding that
 *   inode (then the new file from 0), so a restart loses and repeats nothing.
 *
 * Lines are split on bytes (not with the parser's LineSplitter) because the resume offset must be
 * the exact byte after the last COMPLETE line delivered; a partial line is held until its newline
 * arrives, so a line written in two writes is delivered once, whole.
 *
 * Change detection: fs.watch on the directory (sees writes, renames and the new file appearing),
 * plus a slow poll as a safety net for filesystems where inotify says nothing (NFS, some overlays).
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from '../../shared/domain.ts';
import type { LogSourcePort, SourceHealth } from '../ports.ts';
import { errorText, SourceStats } from './stats.ts';

export interface FilePosition {
  ino: number;
  /** Byte just after the last complete line delivered. */
  offset: number;
}

export interface FileTailOptions {
  path: string;
  /** Where a previous run stopped. */
  resume?: FilePosition | null;
  /** Without a resume position: read what the file already holds (default false: start at its end). */
  fromStart?: boolean;
  /** Called after each delivery with the position that covers it (persist it with the stored packets). */
  onPosition?: (pos: FilePosition) => void;
  /** Safety-net poll. Default 1000 ms. */
  pollIntervalMs?: number;
  /** How long a renamed-away file is still read after rotation. Default 2000 ms. */
  rotateGraceMs?: number;
  /** Where copytruncate / an offline rename leaves the old content. Default [path + '.1']. */
  rotatedNames?: (filePath: string) => string[];
  /** Longer lines are dropped (and counted as rejects). Default 8192 bytes. */
  maxLineBytes?: number;
  /** Use fs.watch (default true); the poll runs either way. */
  watch?: boolean;
  clock?: Clock;
}

const CHUNK = 64 * 1024;
/** Bytes remembered from the end of what we read, to recognise our data in a copytruncate copy. */
const TAIL_PROBE = 256;

interface Reader {
  fh: FileHandle;
  ino: number;
  /** Bytes read from this file so far (its read position). */
  offset: number;
  /** Partial line waiting for its newline. */
  pending: Buffer;
  /** Dropping an over-long line up to its newline. */
  dropping: boolean;
  /** Last bytes read, for the copytruncate check. */
  tail: Buffer;
  /** When this reader last got data (for the rename grace period). */
  lastDataAt: number;
  /** Set when the path moved on to another inode. */
  rotatedAt: number | null;
}

export class FileTailSource implements LogSourcePort {
  readonly kind = 'file' as const;
  readonly path: string;
  private readonly opts: FileTailOptions;
  private readonly clock: Clock;
  private readonly stats: SourceStats;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private onLines: ((lines: string[]) => void) | null = null;
  private cur: Reader | null = null;
  private old: Reader[] = [];
  private watcher: FSWatcher | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  /** Lines recovered from copytruncate copies, and truncations seen (for tests and health). */
  recoveredLines = 0;
  truncations = 0;
  rotations = 0;

  constructor(opts: FileTailOptions) {
    this.opts = opts;
    this.path = opts.path;
    this.clock = opts.clock ?? systemClock;
    this.stats = new SourceStats(this.clock);
  }

  async start(onLines: (lines: string[]) => void): Promise<void> {
    this.onLines = onLines;
    this.stopped = false;
    await this.openInitial();
    if (this.opts.watch !== false) {
      try {
        this.watcher = watch(path.dirname(this.path), { persistent: false }, (_event, name) => {
          const base = path.basename(this.path);
          if (name === null || String(name).startsWith(base)) this.schedule();
        });
        this.watcher.on('error', () => {
          /* the poll keeps going */
        });
      } catch {
        this.watcher = null;
      }
    }
    this.timer = setInterval(() => this.schedule(), this.opts.pollIntervalMs ?? 1000);
    await this.pumpNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.running) await this.running.catch(() => undefined);
    for (const r of [this.cur, ...this.old]) if (r) await r.fh.close().catch(() => undefined);
    this.cur = null;
    this.old = [];
  }

  health(): SourceHealth {
    return this.stats.health('file', `log file ${this.path} (spoofable: any local user can write to syslog)`, false);
  }

  /** The runner reports how many delivered lines the parser refused. */
  noteRejects(count: number): void {
    this.stats.noteRejects(count);
  }

  /** Byte after the last complete line delivered from the current file. */
  position(): FilePosition | null {
    const r = this.cur;
    return r ? { ino: r.ino, offset: Math.max(0, r.offset - r.pending.length) } : null;
  }

  /** Reads whatever is new now (also what the watcher and poll trigger). Resolves when caught up. */
  async pumpNow(): Promise<void> {
    this.schedule();
    while (this.running) await this.running;
  }

  // ------------------------------------------------------------------ internals

  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pump();
        } while (this.again && !this.stopped);
      } catch (e) {
        this.stats.error = errorText(e);
      } finally {
        this.running = null;
      }
    })();
  }

  private async openReader(at: number, ino?: number): Promise<Reader | null> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch (e) {
      this.stats.error = `cannot open ${this.path}: ${errorText(e)}`;
      return null;
    }
    const st = await fh.stat();
    if (ino !== undefined && st.ino !== ino) {
      await fh.close();
      return null;
    }
    return { fh, ino: st.ino, offset: Math.min(at, st.size), pending: Buffer.alloc(0), dropping: false, tail: Buffer.alloc(0), lastDataAt: this.clock.now(), rotatedAt: null };
  }

  private async openInitial(): Promise<void> {
    const resume = this.opts.resume ?? null;
    const st = await stat(this.path).catch(() => null);
    if (!st) {
      this.stats.error = `waiting for ${this.path} to appear`;
      return;
    }
    if (resume && resume.ino === st.ino) {
      // Same file: continue, unless it was truncated while we were away (then from its start).
      this.cur = await this.openReader(resume.offset <= st.size ? resume.offset : 0);
      return;
    }
    if (resume) {
      // Rotated while we were away: finish the old file where the copy holds it, then the new one from 0.
      for (const name of this.rotatedNames()) {
        const rst = await stat(name).catch(() => null);
        if (rst && rst.ino === resume.ino && rst.size >= resume.offset) {
          const fh = await open(name, 'r').catch(() => null);
          if (fh) {
            this.old.push({ fh, ino: rst.ino, offset: resume.offset, pending: Buffer.alloc(0), dropping: false, tail: Buffer.alloc(0), lastDataAt: this.clock.now(), rotatedAt: this.clock.now() });
          }
          break;
        }
      }
      this.cur = await this.openReader(0);
      return;
    }
    this.cur = await this.openReader(this.opts.fromStart ? 0 : st.size);
  }

  private rotatedNames(): string[] {
    return this.opts.rotatedNames ? this.opts.rotatedNames(this.path) : [this.path + '.1'];
  }

  private async pump(): Promise<void> {
    // Renamed-away files first: their lines are older than the new file's.
    for (const r of [...this.old]) {
      if ((await this.drain(r)) > 0) r.lastDataAt = this.clock.now();
      if (this.clock.now() - Math.max(r.lastDataAt, r.rotatedAt ?? 0) >= (this.opts.rotateGraceMs ?? 2000)) {
        this.finish(r);
        this.old = this.old.filter((x) => x !== r);
        await r.fh.close().catch(() => undefined);
      }
    }
    if (!this.cur) {
      const st = await stat(this.path).catch(() => null);
      if (!st) return;
      // The file appeared (or came back): all of it is new.
      this.cur = await this.openReader(0);
      if (!this.cur) return;
      this.stats.error = undefined;
    }
    const cur = this.cur;
    // Truncated AND refilled past our offset since we last looked: the size alone cannot tell, but
    // the bytes just before our offset are no longer the ones we read.
    if (await this.replacedUnderneath(cur)) await this.restartAfterTruncate(cur);
    await this.drain(cur);
    const st = await stat(this.path).catch(() => null);
    if (!st) return; // renamed away, new file not created yet: keep reading the old descriptor
    if (st.ino !== cur.ino) {
      // Rotation by rename: keep draining the old file for the grace period, read the new one from 0.
      await this.drain(cur);
      cur.rotatedAt = this.clock.now();
      this.old.push(cur);
      this.rotations++;
      this.cur = await this.openReader(0);
      if (this.cur) await this.drain(this.cur);
      return;
    }
    if (st.size < cur.offset) await this.restartAfterTruncate(cur);
  }

  /** Copytruncate: recover what the copy holds beyond our offset, then read the file again from 0. */
  private async restartAfterTruncate(cur: Reader): Promise<void> {
    this.truncations++;
    await this.recoverFromCopy(cur);
    cur.offset = 0;
    cur.tail = Buffer.alloc(0);
    // cur.pending is kept: a line cut by the truncation continues at offset 0 of the new content.
    await this.drain(cur);
  }

  private async replacedUnderneath(r: Reader): Promise<boolean> {
    if (r.tail.length === 0 || r.offset === 0) return false;
    const probe = Buffer.alloc(r.tail.length);
    const { bytesRead } = await r.fh.read(probe, 0, probe.length, r.offset - r.tail.length);
    return bytesRead !== probe.length || !probe.equals(r.tail);
  }

  /** Reads r to its current end; returns bytes read. */
  private async drain(r: Reader): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.stopped) return total;
      const { bytesRead } = await r.fh.read(this.buf, 0, CHUNK, r.offset);
      if (bytesRead === 0) return total;
      r.offset += bytesRead;
      total += bytesRead;
      this.consume(r, this.buf.subarray(0, bytesRead));
    }
  }

  private async recoverFromCopy(r: Reader): Promise<void> {
    if (r.tail.length === 0) return;
    for (const name of this.rotatedNames()) {
      const fh = await open(name, 'r').catch(() => null);
      if (!fh) continue;
      try {
        const st = await fh.stat();
        if (st.size < r.offset) continue;
        const probe = Buffer.alloc(r.tail.length);
        const { bytesRead } = await fh.read(probe, 0, probe.length, r.offset - r.tail.length);
        if (bytesRead !== probe.length || !probe.equals(r.tail)) continue;
        const before = this.stats.totalLines;
        const copy: Reader = { ...r, fh };
        await this.drain(copy);
        // Carry the copy's partial tail over: its rest, if any, was written after the truncate.
        r.pending = copy.pending;
        r.dropping = copy.dropping;
        this.recoveredLines += this.stats.totalLines - before;
        return;
      } finally {
        await fh.close().catch(() => undefined);
      }
    }
  }

  private consume(r: Reader, chunk: Buffer): void {
    const keep = Math.min(TAIL_PROBE, chunk.length);
    r.tail = r.tail.length + keep > TAIL_PROBE
      ? Buffer.concat([r.tail, chunk.subarray(chunk.length - keep)]).subarray(-TAIL_PROBE)
      : Buffer.concat([r.tail, chunk.subarray(chunk.length - keep)]);
    const max = this.opts.maxLineBytes ?? 8192;
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      if (r.dropping) {
        r.dropping = false;
        this.stats.noteRejects(1);
      } else {
        const bytes = r.pending.length ? Buffer.concat([r.pending, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
        r.pending = Buffer.alloc(0);
        if (bytes.length > max) this.stats.noteRejects(1);
        else {
          const line = decodeLine(bytes);
          if (line !== null) lines.push(line);
        }
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      if (r.dropping) {
        /* still inside an over-long line */
      } else if (r.pending.length + (chunk.length - start) > max) {
        r.dropping = true;
        r.pending = Buffer.alloc(0);
      } else {
        // Copy: the chunk buffer is reused by the next read.
        r.pending = Buffer.concat([r.pending, chunk.subarray(start)]);
      }
    }
    this.deliver(r, lines);
  }

  /** A file that is done (renamed away and quiet): its last partial line is a line. */
  private finish(r: Reader): void {
    if (r.pending.length && !r.dropping) {
      const line = decodeLine(r.pending);
      r.pending = Buffer.alloc(0);
      if (line !== null) this.deliver(r, [line]);
    }
  }

  private deliver(r: Reader, lines: string[]): void {
    if (lines.length === 0 || !this.onLines) return;
    this.stats.noteLines(lines.length);
    this.onLines(lines);
    if (r === this.cur && this.opts.onPosition) this.opts.onPosition({ ino: r.ino, offset: Math.max(0, r.offset - r.pending.length) });
  }
}

/** UTF-8 text of a line without CR and without the NUL hole a non-append writer leaves after a truncate. */
function decodeLine(bytes: Buffer): string | null {
  let s = 0;
  while (s < bytes.length && bytes[s] === 0) s++;
  let e = bytes.length;
  if (e > s && bytes[e - 1] === 13) e--;
  if (e <= s) return null;
  return bytes.toString('utf8', s, e);
}
