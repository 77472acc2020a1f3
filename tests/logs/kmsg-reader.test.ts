/**
 * How the kmsg reader starts its thread at a flood's start (electron/engine/logs/kmsg-reader.ts), on
 * an injected device with /dev/kmsg's semantics (one record per read, a read position per fd, a
 * non-blocking fd says EAGAIN when the ring is empty) and a thread that never finishes booting: the
 * window in which the main thread alone must keep the kernel's ring from overflowing.
 */
import { describe, expect, it } from 'vitest';
import { startKmsgReader, type KmsgReaderIo, type KmsgReaderOptions } from '../../electron/engine/logs/kmsg-reader.ts';
import type { KmsgThread } from '../../electron/engine/logs/kmsg-thread.ts';

const MAIN_FD = 101;
const SECOND_FD = 102;
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
const tick = () => new Promise<void>((r) => setImmediate(r));

/** A kernel ring that never overwrites; events in the order they happened. */
function fakeDevice() {
  const records: string[] = [];
  const pos = new Map<number, number>([
    [MAIN_FD, 0],
    [SECOND_FD, 0],
  ]);
  let parked: (() => void) | null = null;
  const events: string[] = [];
  const take = (fd: number, buf: Buffer): number | null => {
    const at = pos.get(fd)!;
    if (at >= records.length) return null;
    pos.set(fd, at + 1);
    return buf.write(`${records[at]}\n`);
  };
  let threads = 0;
  let epipeNext = false;
  const io: KmsgReaderIo = {
    read: ((fd: number, buf: Buffer, _o: number, _l: number, _p: null, cb: (err: Error | null, n: number) => void) => {
      if (epipeNext && fd === MAIN_FD) {
        epipeNext = false;
        setImmediate(() => cb(Object.assign(new Error('EPIPE: broken pipe, read'), { code: 'EPIPE' }), 0));
        return;
      }
      const attempt = () => {
        const n = take(fd, buf);
        if (n === null) parked = attempt;
        else setImmediate(() => cb(null, n));
      };
      attempt();
    }) as unknown as KmsgReaderIo['read'],
    readSync: ((fd: number, buf: Buffer) => {
      const n = take(fd, buf);
      events.push(n === null ? 'read-empty' : 'read');
      if (n === null) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable'), { code: 'EAGAIN' });
      return n;
    }) as unknown as KmsgReaderIo['readSync'],
    closeSync: () => undefined,
    startThread: () => {
      threads++;
      events.push(`thread made, second fd at ${pos.get(SECOND_FD)}`);
      let ended!: () => void;
      const exited = new Promise<void>((r) => (ended = r));
      const thread: KmsgThread = { ready: new Promise(() => undefined), exited, go: () => undefined, retire: () => ended(), stop: () => ended() };
      return thread;
    },
  };
  return {
    io,
    events,
    threads: () => threads,
    /** `n` records written `ageMs` ago (monotonic stamps, as the kernel's), or at `atMs`. */
    write(n: number, ageMs = 0, atMs?: number) {
      for (let i = 0; i < n; i++) {
        const us = atMs === undefined ? monotonicUs() - ageMs * 1000 : Math.round(atMs * 1000);
        records.push(`4,${records.length + 1},${us},-;UFW BLOCK IN=eth0 SRC=198.18.0.${i & 255} DPT=${i}`);
      }
      const p = parked;
      parked = null;
      p?.();
    },
    written: () => records.length,
    /** The next pool read says EPIPE (the kernel overwrote records before it), as /dev/kmsg does. */
    epipe() {
      epipeNext = true;
    },
  };
}

function reader(dev: ReturnType<typeof fakeDevice>, now?: () => number, monotonicNow?: () => number, backlogUpToSeq?: number, extra: Partial<KmsgReaderOptions> = {}) {
  const batches: number[][] = [];
  const warnings: (string | null)[] = [];
  const r = startKmsgReader(
    MAIN_FD,
    {
      records: (raw) => {
        dev.events.push(`handed ${raw.length}`);
        batches.push(raw.map((l) => Number(l.split(',')[1])));
      },
      error: (m) => {
        throw new Error(m);
      },
      warning: (m) => warnings.push(m),
    },
    { wake: () => undefined, openNonBlocking: () => SECOND_FD, io: dev.io, ...(now ? { now } : {}), ...(monotonicNow ? { monotonicNow } : {}), ...(backlogUpToSeq !== undefined ? { backlogUpToSeq } : {}), ...extra },
  );
  return { r, batches, warnings, seqs: () => batches.flat() };
}

async function settle(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

describe('the kmsg reader at a flood start', () => {
  // The kernel's stamps (local_clock) and CLOCK_MONOTONIC (NTP-disciplined) drift apart with uptime:
  // 10 ppm is 1 s after ~28 hours; a day or a week up, any offset.
  it.each([
    ['agree', 0],
    ['are 5 s apart (stamps behind: days up)', 5000],
    ['are 5 s apart (stamps ahead)', -5000],
  ])('starts its thread once the pool reads fall behind a flood, long before 64 records, when the stamps and CLOCK_MONOTONIC %s', async (_, offsetMs) => {
    const dev = fakeDevice();
    // The kernel writes a record every 0.05 ms (20k/s); the pool reads one every 0.5 ms, so the
    // records it has not read yet pile up in the ring (written here before each read).
    let mono = 1_000_000 + offsetMs;
    const { r, seqs } = reader(dev, undefined, () => mono);
    const writeUpTo = (ms: number) => {
      while (1_000_000 + dev.written() * 0.05 <= ms) dev.write(1, 0, 1_000_000 + dev.written() * 0.05);
    };
    try {
      for (let i = 0; i < 15; i++) {
        mono = 1_000_001 + offsetMs + i * 0.5;
        writeUpTo(1_000_001 + i * 0.5);
        await settle(1);
      }
      expect(seqs()).toHaveLength(15);
      expect(dev.threads()).toBe(0);
      mono = 1_000_001 + offsetMs + 15 * 0.5;
      writeUpTo(1_000_001 + 15 * 0.5);
      await settle(1);
      expect(seqs().length).toBeLessThan(64);
      expect(dev.threads()).toBe(1);
    } finally {
      r.stop();
    }
  });

  it('does not start a thread for records read ever later that were written slowly (a busy main thread, not a flood)', async () => {
    const dev = fakeDevice();
    // Written every 2 ms (500/s), read every 2.5 ms: later and later, but no flood.
    let mono = 1_000_000;
    const { r } = reader(dev, undefined, () => mono);
    try {
      for (let i = 0; i < 40; i++) {
        mono = 1_000_001 + i * 2.5;
        dev.write(1, 0, 1_000_000 + i * 2);
        await settle(3);
      }
      expect(dev.threads()).toBe(0);
    } finally {
      r.stop();
    }
  });

  it('does not start a thread for a burst the pool reads keep up with, however old its records when read', async () => {
    const dev = fakeDevice();
    const { r } = reader(dev);
    try {
      // Each record read 30 ms after it was written (the kernel's stamps and CLOCK_MONOTONIC differ
      // by an amount of their own on every host), none later than the first.
      for (let i = 0; i < 40; i++) {
        dev.write(1, 30);
        await settle(3);
      }
      expect(dev.threads()).toBe(0);
    } finally {
      r.stop();
    }
  });

  it('does not start a thread for late records that come one at a time', async () => {
    const dev = fakeDevice();
    let clock = 0;
    const { r } = reader(dev, () => clock);
    try {
      // Ever older when read, but 40 ms apart: one per window.
      for (let i = 0; i < 20; i++) {
        dev.write(1, 10 + 5 * i);
        await settle(3);
        clock += 40;
      }
      expect(dev.threads()).toBe(0);
    } finally {
      r.stop();
    }
  });

  it('does not start a thread for a backlog written as fast as a flood (a restart after one), then does for the flood that follows', async () => {
    const dev = fakeDevice();
    // 200 records the ring held at start, written at 20k/s just before it, stamps as fresh as can be.
    for (let i = 0; i < 200; i++) dev.write(1, 0, 1_000_000 + i * 0.05);
    const mono = 1_000_010;
    const { r, seqs } = reader(dev, () => 0, () => mono, 200);
    try {
      await settle(600);
      expect(seqs()).toHaveLength(200);
      expect(dev.threads()).toBe(0);
      for (let i = 0; i < 70; i++) dev.write(1, 0, 1_000_010 + i * 0.05);
      await settle(300);
      expect(dev.threads()).toBe(1);
    } finally {
      r.stop();
    }
  });

  // Finding K2: the early trigger is a look ahead at "64 records within 32 ms", not a rule of its own.
  it('does not start a thread for a short burst written fast and read ever later by a busy main thread, and hands every record over once', async () => {
    const dev = fakeDevice();
    // 40 records written within 2 ms (a boot burst, a fast scan), all in the ring before the first
    // read; the main thread busy, so each read comes 0.5 ms after the one before: the 16th is read
    // 7.5 ms later after it was written than the first was (behind by the early trigger's measure).
    for (let i = 0; i < 40; i++) dev.write(1, 0, 1_000_000 + i * 0.05);
    let reads = 0;
    const { r, seqs } = reader(dev, () => 0, () => 1_000_001 + 0.5 * reads++);
    try {
      await settle(300);
      // 40 records in all: under the 64 that make a flood, however late they were read.
      expect(dev.threads()).toBe(0);
      expect(seqs()).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(r.mode()).toBe('pool');
      // The pool reads go on: a record written later is read and handed over once.
      dev.write(1);
      await settle(20);
      expect(seqs()).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    } finally {
      r.stop();
    }
  });

  it('reads the ring before it makes the thread, and reads it again after every 32 records it hands over while the thread boots', async () => {
    const dev = fakeDevice();
    const { r, batches, seqs } = reader(dev);
    try {
      // A flood arrives faster than the pool reads: 600 records wait when the 64th is read.
      dev.write(600);
      await settle(200);
      expect(dev.threads()).toBe(1);
      // When the thread was made, the second fd had been read to the ring's end.
      expect(dev.events).toContain(`thread made, second fd at 600`);
      dev.write(1000);
      await settle(400);
      // Every record handed over once, in order.
      expect(seqs()).toEqual(Array.from({ length: dev.written() }, (_, i) => i + 1));
      // While the thread boots: between two hand-overs the ring is read, and a hand-over is at most
      // 32 records (the time between two reads of the ring is one batch's handling).
      const madeAt = dev.events.findIndex((e) => e.startsWith('thread made'));
      const after = dev.events.slice(madeAt + 1);
      let handedSinceRead = 0;
      for (const e of after) {
        if (e.startsWith('read')) handedSinceRead = 0;
        else if (e.startsWith('handed')) {
          expect(Number(e.split(' ')[1])).toBeLessThanOrEqual(32);
          expect(++handedSinceRead).toBe(1);
        }
      }
      expect(batches.length).toBeGreaterThan(1000 / 32);
    } finally {
      r.stop();
    }
  });
});

describe('the kmsg reader when its faster ways fail', () => {
  it('reads on with pool reads, every record once and in order, when neither a second fd nor a thread can be had — a warning, not an error', async () => {
    const dev = fakeDevice();
    const io: KmsgReaderIo = {
      ...dev.io,
      startThread: () => {
        throw new Error('ERR_WORKER_INIT_FAILED');
      },
    };
    const { r, seqs, warnings } = reader(dev, undefined, undefined, undefined, {
      io,
      openNonBlocking: () => {
        throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      },
    });
    try {
      dev.write(600);
      await settle(1500);
      dev.write(100);
      await settle(300);
      expect(seqs()).toEqual(Array.from({ length: 700 }, (_, i) => i + 1));
      expect(r.mode()).toBe('pool');
      expect(warnings).toEqual([
        expect.stringContaining('cannot open a second fd to read while the thread boots: EMFILE'),
        expect.stringMatching(/cannot start the kmsg reading thread: ERR_WORKER_INIT_FAILED \(read on without it; tried again in 60 s\)/),
      ]);
    } finally {
      r.stop();
    }
  });

  it('goes on with pool reads when the thread fails after it was made (its error event): a warning, cleared once a thread takes over', async () => {
    const dev = fakeDevice();
    let made = 0;
    const io: KmsgReaderIo = {
      ...dev.io,
      startThread: (_fd, threadSink) => {
        made++;
        if (made === 1) {
          // As a Worker whose boot fails: 'error' (the sink's error), ready rejects, it exits.
          setImmediate(() => threadSink.error('ERR_WORKER_OUT_OF_MEMORY'));
          return { ready: Promise.reject(new Error('ERR_WORKER_OUT_OF_MEMORY')), exited: Promise.resolve(), go: () => undefined, retire: () => undefined, stop: () => undefined };
        }
        return { ready: Promise.resolve(), exited: new Promise<void>(() => undefined), go: () => undefined, retire: () => undefined, stop: () => undefined };
      },
    };
    const { r, seqs, warnings } = reader(dev, undefined, undefined, undefined, { io, tuning: { retryAfterMs: 0 } });
    try {
      dev.write(300);
      await settle(800);
      expect(made).toBe(1);
      expect(seqs()).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      expect(r.mode()).toBe('pool');
      expect(warnings).toEqual(['the kmsg reading thread: ERR_WORKER_OUT_OF_MEMORY (read on without it)']);
      dev.write(300);
      await settle(800);
      expect(made).toBe(2);
      expect(r.mode()).toBe('thread');
      expect(warnings.at(-1)).toBeNull();
    } finally {
      r.stop();
    }
  });
});

describe('the kmsg reader started in the middle of a flood', () => {
  it('starts its thread at the first EPIPE (records overwritten before the pool reads got to them), though the backlog never counts', async () => {
    const dev = fakeDevice();
    for (let i = 0; i < 200; i++) dev.write(1, 0, 1_000_000 + i * 0.05);
    const { r } = reader(dev, () => 0, () => 1_000_010, 200);
    try {
      await settle(20);
      expect(dev.threads()).toBe(0);
      dev.epipe();
      await settle(20);
      expect(dev.threads()).toBe(1);
    } finally {
      r.stop();
    }
  });
});
