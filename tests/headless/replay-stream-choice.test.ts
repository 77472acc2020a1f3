import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamChoice } from '../../electron/headless/replay-stream-choice.ts';

/** Two sinks that record what reached them, in order; the worker's is started by worker(). */
function sinks(workerPush?: (chunk: Uint8Array) => Promise<void>) {
  const here: string[] = [];
  const there: string[] = [];
  let started = 0;
  const text = (c: Uint8Array) => Buffer.from(c).toString();
  return {
    here,
    there,
    started: () => started,
    pushHere: async (c: Uint8Array) => void here.push(text(c)),
    worker: () => {
      started++;
      return workerPush ?? (async (c: Uint8Array) => void there.push(text(c)));
    },
  };
}
const bytes = (s: string) => Buffer.from(s);

describe('StreamChoice: a plain stream is replayed here when it ends small, else through the worker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a stream that ends before minBytes goes to this thread whole and in order; no worker is started', async () => {
    const s = sinks();
    const c = new StreamChoice(s.pushHere, s.worker, 10);
    await c.push(bytes('abc'));
    await c.push(bytes('def'));
    expect(s.here).toEqual([]); // held: nothing parsed before the choice
    await c.end();
    expect(s.here).toEqual(['abc', 'def']);
    expect(s.started()).toBe(0);
  });

  it('reaching minBytes starts the worker and hands it the held chunks, then the rest, in order', async () => {
    const s = sinks();
    const c = new StreamChoice(s.pushHere, s.worker, 6);
    await c.push(bytes('abc'));
    expect(s.started()).toBe(0);
    await c.push(bytes('def')); // 6 bytes: the worker
    expect(s.started()).toBe(1);
    await c.push(bytes('ghi'));
    await c.end();
    expect(s.there).toEqual(['abc', 'def', 'ghi']);
    expect(s.here).toEqual([]);
    expect(s.started()).toBe(1);
  });

  it('a slow stream is not held until it ends: after waitMs from its first chunk the worker takes it', async () => {
    const s = sinks();
    const c = new StreamChoice(s.pushHere, s.worker, 1 << 20, 100);
    await c.push(bytes('first'));
    await vi.advanceTimersByTimeAsync(99);
    expect(s.started()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.started()).toBe(1);
    expect(s.there).toEqual(['first']);
    await c.push(bytes('later'));
    await c.end();
    expect(s.there).toEqual(['first', 'later']);
    expect(s.here).toEqual([]);
  });

  it('a stream that ends before waitMs cancels the timer: the worker is never started', async () => {
    const s = sinks();
    const c = new StreamChoice(s.pushHere, s.worker, 1 << 20, 100);
    await c.push(bytes('x'));
    await c.end();
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.started()).toBe(0);
    expect(s.here).toEqual(['x']);
  });

  it('an empty stream hands nothing anywhere', async () => {
    const s = sinks();
    await new StreamChoice(s.pushHere, s.worker, 10).end();
    expect(s.here).toEqual([]);
    expect(s.started()).toBe(0);
  });

  it('minBytes 0 (PORTCULLIS_REPLAY_WORKER_BYTES=0) chooses the worker at the first chunk, as before the choice existed', async () => {
    const s = sinks();
    const c = new StreamChoice(s.pushHere, s.worker, 0);
    await c.push(bytes('a'));
    expect(s.started()).toBe(1);
    expect(s.there).toEqual(['a']);
  });

  it("each push waits for the worker's own push (its back-pressure), and a chunk is handed on only after the one before it", async () => {
    const order: string[] = [];
    const releases: (() => void)[] = [];
    const workerPush = (c: Uint8Array) =>
      new Promise<void>((resolve) => {
        order.push(`start ${Buffer.from(c).toString()}`);
        releases.push(() => {
          order.push(`done ${Buffer.from(c).toString()}`);
          resolve();
        });
      });
    const s = sinks(workerPush);
    const c = new StreamChoice(s.pushHere, s.worker, 2);
    await c.push(bytes('a'));
    let second = false;
    const p = c.push(bytes('b')).then(() => (second = true)); // reaches minBytes: a, then b, to the worker
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['start a']); // b waits for a
    releases.shift()!();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['start a', 'done a', 'start b']);
    expect(second).toBe(false); // the stream is not read on while the worker has no room
    releases.shift()!();
    await p;
    expect(second).toBe(true);
  });

  it('a worker that cannot start fails the next push (or the end), not the process', async () => {
    const s = sinks();
    const c = new StreamChoice(s.pushHere, () => {
      throw new Error('no worker');
    }, 1 << 20, 100);
    await c.push(bytes('a'));
    await vi.advanceTimersByTimeAsync(100); // the timer's choice: its failure must not be unhandled
    await expect(c.push(bytes('b'))).rejects.toThrow('no worker');
    await expect(c.end()).rejects.toThrow('no worker');
    expect(s.here).toEqual([]);
  });

  it("a worker push that fails fails the stream's next push and its end", async () => {
    const s = sinks(() => Promise.reject(new Error('worker died')));
    const c = new StreamChoice(s.pushHere, s.worker, 1);
    await expect(c.push(bytes('a'))).rejects.toThrow('worker died');
    await expect(c.end()).rejects.toThrow('worker died');
  });
});
