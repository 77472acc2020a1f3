import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { FileTailSource, type FilePosition } from '../../electron/engine/logs/file.ts';

let dir: string;
let logPath: string;
const sources: FileTailSource[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pc-tail-'));
  logPath = path.join(dir, 'kern.log');
});
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Deterministic source: no watcher, a poll that never fires; the test pumps when it wants. */
function manual(opts: Partial<ConstructorParameters<typeof FileTailSource>[0]> = {}) {
  const clock = new ManualClock(1_000_000);
  const src = new FileTailSource({ path: logPath, watch: false, pollIntervalMs: 3_600_000, rotateGraceMs: 1000, clock, ...opts });
  sources.push(src);
  const got: string[] = [];
  return { src, clock, got, start: () => src.start((lines) => got.push(...lines)) };
}

/** Small seeded PRNG so every run of the randomised loops is the same run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const line = (i: number) => `Nov 22 10:00:00 host kernel: [UFW BLOCK] n=${i} ${'x'.repeat(i % 37)}`;

/** Asserts 0..count-1 each arrived exactly once, in order within what arrived. */
function expectExactlyOnce(got: string[], count: number): void {
  const nums = got.map((l) => Number(/n=(\d+)/.exec(l)?.[1]));
  const seen = new Map<number, number>();
  for (const n of nums) seen.set(n, (seen.get(n) ?? 0) + 1);
  const missing = [...Array(count).keys()].filter((i) => !seen.has(i));
  const dup = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
  expect({ missing, dup, total: got.length }).toEqual({ missing: [], dup: [], total: count });
  for (let i = 0; i < count; i++) expect(got[i]).toBe(line(nums[i]!));
}

describe('FileTailSource basics', () => {
  it('starts at the end, delivers appended lines, and a line written in two writes once, whole', async () => {
    writeFileSync(logPath, 'old line 1\nold line 2\n');
    const { src, got, start } = manual();
    await start();
    expect(got).toEqual([]);
    const fd = openSync(logPath, 'a');
    writeSync(fd, 'first half ');
    await src.pumpNow();
    expect(got).toEqual([]);
    writeSync(fd, 'second half\r\nnext\n');
    await src.pumpNow();
    expect(got).toEqual(['first half second half', 'next']);
    closeSync(fd);
    expect(src.health()).toMatchObject({ kind: 'file', kernelTrusted: false, linesPerMinute: 2 });
  });

  it('fromStart reads existing content; position points after the last complete line', async () => {
    writeFileSync(logPath, 'a\nb\npart');
    const positions: FilePosition[] = [];
    const { src, got, start } = manual({ fromStart: true, onPosition: (p) => positions.push(p) });
    await start();
    expect(got).toEqual(['a', 'b']);
    expect(src.position()!.offset).toBe(4);
    expect(positions.at(-1)!.offset).toBe(4);
  });

  it('drops over-long lines and counts them as rejects, then carries on', async () => {
    writeFileSync(logPath, '');
    const { src, got, start } = manual({ maxLineBytes: 10 });
    await start();
    writeFileSync(logPath, 'short\n' + 'y'.repeat(30) + '\nafter\n', { flag: 'a' });
    await src.pumpNow();
    expect(got).toEqual(['short', 'after']);
    expect(src.health().rejectsPerMinute).toBe(1);
  });

  it('waits for a missing file and reads it whole once it appears', async () => {
    const { src, got, start } = manual();
    await start();
    expect(src.health().error).toMatch(/waiting for/);
    writeFileSync(logPath, 'hello\n');
    await src.pumpNow();
    expect(got).toEqual(['hello']);
    expect(src.health().error).toBeUndefined();
  });

  it('reacts to writes through fs.watch without being pumped', async () => {
    writeFileSync(logPath, '');
    const src = new FileTailSource({ path: logPath, pollIntervalMs: 3_600_000 });
    sources.push(src);
    const got: string[] = [];
    await src.start((l) => got.push(...l));
    writeFileSync(logPath, 'via watch\n', { flag: 'a' });
    await vi.waitFor(() => expect(got).toEqual(['via watch']), { timeout: 5000 });
  });
});

describe('rotation while lines are written', () => {
  it('rename rotation: the daemon keeps writing to the old file for a while, then reopens — every line exactly once', async () => {
    writeFileSync(logPath, '');
    const { src, clock, got, start } = manual();
    await start();
    const rnd = prng(7);
    let fd = openSync(logPath, 'a');
    let oldFd: number | null = null;
    const COUNT = 3000;
    for (let i = 0; i < COUNT; i++) {
      const text = line(i) + '\n';
      // Some lines are written in two writes, split anywhere.
      if (rnd() < 0.3) {
        const cut = 1 + Math.floor(rnd() * (text.length - 1));
        writeSync(fd, text.slice(0, cut));
        if (rnd() < 0.5) await src.pumpNow();
        writeSync(fd, text.slice(cut));
      } else writeSync(fd, text);
      if (rnd() < 0.05) await src.pumpNow();
      if (i % 500 === 250) {
        // logrotate: .1 → .2, current → .1, new empty file at the path; the daemon has not reopened yet.
        if (existsSync(logPath + '.1')) renameSync(logPath + '.1', logPath + '.2');
        renameSync(logPath, logPath + '.1');
        writeFileSync(logPath, '');
        if (rnd() < 0.5) await src.pumpNow();
        oldFd = fd;
      }
      if (oldFd !== null && i % 500 === 260) {
        // …ten lines later the daemon gets its HUP and reopens the path.
        closeSync(oldFd);
        oldFd = null;
        fd = openSync(logPath, 'a');
      }
    }
    closeSync(fd);
    await src.pumpNow();
    clock.advance(5000);
    await src.pumpNow();
    expect(src.rotations).toBe(6);
    expectExactlyOnce(got, COUNT);
  });

  it('copytruncate: the unread part is recovered from the copy — every line exactly once', async () => {
    writeFileSync(logPath, '');
    const { src, got, start } = manual();
    await start();
    const rnd = prng(11);
    const fd = openSync(logPath, 'a'); // O_APPEND, as syslog daemons open their files
    const COUNT = 3000;
    for (let i = 0; i < COUNT; i++) {
      const text = line(i) + '\n';
      if (rnd() < 0.3) {
        const cut = 1 + Math.floor(rnd() * (text.length - 1));
        writeSync(fd, text.slice(0, cut));
        if (rnd() < 0.5) await src.pumpNow();
        // Some rotations fall in the middle of a line: its rest lands at offset 0 of the emptied file.
        if (i % 400 === 399) {
          copyFileSync(logPath, logPath + '.1');
          truncateSync(logPath, 0);
          if (rnd() < 0.5) await src.pumpNow();
        }
        writeSync(fd, text.slice(cut));
      } else writeSync(fd, text);
      if (rnd() < 0.05) await src.pumpNow();
      if (i % 400 === 200) {
        // The copy and the truncate happen between two writes (the known race is tested below);
        // the reader is usually behind, so what it had not read yet exists only in the copy.
        copyFileSync(logPath, logPath + '.1');
        truncateSync(logPath, 0);
        if (rnd() < 0.5) await src.pumpNow();
      }
    }
    closeSync(fd);
    await src.pumpNow();
    expect(src.truncations).toBeGreaterThanOrEqual(8);
    expect(src.recoveredLines).toBeGreaterThan(0);
    const nums = got.map((l) => Number(/n=(\d+)/.exec(l)?.[1]));
    expect(nums.length).toBe(COUNT);
    expect(new Set(nums).size).toBe(COUNT);
    expect(got.every((l, k) => l === line(nums[k]!))).toBe(true);
  });

  it('copytruncate race, measured: exactly the lines written between copy and truncate are lost', async () => {
    writeFileSync(logPath, '');
    const { src, got, start } = manual();
    await start();
    const fd = openSync(logPath, 'a');
    for (let i = 0; i < 10; i++) writeSync(fd, line(i) + '\n');
    await src.pumpNow();
    for (let i = 10; i < 20; i++) writeSync(fd, line(i) + '\n');
    copyFileSync(logPath, logPath + '.1');
    writeSync(fd, line(20) + '\n'); // in neither file: inherent to copytruncate
    truncateSync(logPath, 0);
    for (let i = 21; i < 30; i++) writeSync(fd, line(i) + '\n');
    closeSync(fd);
    await src.pumpNow();
    const nums = got.map((l) => Number(/n=(\d+)/.exec(l)?.[1]));
    expect(nums).toEqual([...Array(30).keys()].filter((i) => i !== 20));
  });

  it('a writer without O_APPEND leaves a hole of NULs after copytruncate: the NULs are not a line', async () => {
    writeFileSync(logPath, '');
    const { src, got, start } = manual();
    await start();
    const fd = openSync(logPath, 'r+');
    let pos = 0;
    const write = (s: string) => {
      pos += writeSync(fd, s, pos);
    };
    write('one\ntwo\n');
    await src.pumpNow();
    truncateSync(logPath, 0);
    await src.pumpNow();
    write('three\n'); // lands at its old offset: the file starts with 8 NUL bytes
    await src.pumpNow();
    closeSync(fd);
    expect(got).toEqual(['one', 'two', 'three']);
  });

  it('free-running: writer loop and rename rotations against fs.watch and the real clock, none lost', async () => {
    writeFileSync(logPath, '');
    const src = new FileTailSource({ path: logPath, pollIntervalMs: 50, rotateGraceMs: 100 });
    sources.push(src);
    const got: string[] = [];
    await src.start((l) => got.push(...l));
    let fd = openSync(logPath, 'a');
    let reopenAt = -1;
    const COUNT = 2000;
    for (let i = 0; i < COUNT; i++) {
      const text = line(i) + '\n';
      const cut = i % 3 === 0 ? Math.floor(text.length / 2) : text.length;
      writeSync(fd, text.slice(0, cut));
      if (cut < text.length) {
        await new Promise((r) => setImmediate(r));
        writeSync(fd, text.slice(cut));
      }
      if (i % 400 === 399) {
        // Rotated; the writer goes on writing its next lines to the old file, then reopens.
        renameSync(logPath, logPath + '.1');
        reopenAt = i + 3;
      }
      if (i === reopenAt) {
        closeSync(fd);
        fd = openSync(logPath, 'a');
        // Real rotations are hours apart; a file created and rotated away again before the source
        // looks at the path at all (faster than one wake-up) would not be read — not a case to test.
        const seenRotations = (i + 1) / 400 | 0;
        await vi.waitFor(() => expect(src.rotations).toBeGreaterThanOrEqual(seenRotations), { timeout: 5000 });
      }
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    closeSync(fd);
    await vi.waitFor(() => expect(got.length, JSON.stringify(src.health()) + ` rotations=${src.rotations}`).toBeGreaterThanOrEqual(COUNT), { timeout: 10_000 });
    expectExactlyOnce(got, COUNT);
  });
});

describe('resume', () => {
  it('continues at the saved offset, and across a rotation that happened while stopped', async () => {
    writeFileSync(logPath, '');
    let saved: FilePosition | null = null;
    const a = manual({ onPosition: (p) => (saved = p) });
    await a.start();
    const fd = openSync(logPath, 'a');
    for (let i = 0; i < 10; i++) writeSync(fd, line(i) + '\n');
    writeSync(fd, line(10).slice(0, 5)); // partial: not delivered, not covered by the position
    await a.src.pumpNow();
    await a.src.stop();
    expect(a.got).toHaveLength(10);
    // While stopped: the partial line completes, more lines, a rename rotation, lines in the new file.
    writeSync(fd, line(10).slice(5) + '\n');
    for (let i = 11; i < 15; i++) writeSync(fd, line(i) + '\n');
    closeSync(fd);
    renameSync(logPath, logPath + '.1');
    writeFileSync(logPath, [15, 16, 17].map((i) => line(i) + '\n').join(''));
    const b = manual({ resume: saved });
    await b.start();
    b.clock.advance(5000);
    await b.src.pumpNow();
    expectExactlyOnce([...a.got, ...b.got], 18);
  });

  it('same inode shorter than the saved offset (truncated while stopped): starts over at 0', async () => {
    writeFileSync(logPath, 'x\n'.repeat(100));
    const { src, got, start } = manual({ resume: null, fromStart: false });
    await start();
    const pos = src.position()!;
    await src.stop();
    truncateSync(logPath, 0);
    writeFileSync(logPath, 'fresh\n');
    const b = manual({ resume: pos });
    await b.start();
    expect(got).toEqual([]);
    expect(b.got).toEqual(['fresh']);
  });
});
