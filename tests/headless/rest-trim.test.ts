import { afterEach, describe, expect, it, vi } from 'vitest';
import { lastResortGc, startRestTrim } from '../../electron/headless/rest-trim.ts';

describe('rest trim', () => {
  afterEach(() => vi.useRealTimers());

  it('trims once after the start, once after each busy spell, never while records come fast', () => {
    vi.useFakeTimers();
    let records = 0;
    const collect = vi.fn();
    const release = vi.fn();
    const trim = startRestTrim({ activity: () => records, collect, release, checkMs: 1000, quietRecords: 50 });
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1); // the start-up was the busy spell
    expect(release).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(5000);
    expect(collect).toHaveBeenCalledTimes(1); // rest stays rest: nothing more to give back
    for (let s = 0; s < 5; s++) {
      records += 1000;
      vi.advanceTimersByTime(1000);
    }
    expect(collect).toHaveBeenCalledTimes(1); // a flood: no collection in its middle
    records += 10; // a trickle is rest
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(trim.trims()).toBe(2);
    vi.advanceTimersByTime(10_000);
    expect(collect).toHaveBeenCalledTimes(2);
    trim.stop();
  });

  it('waits for what holds memory until its end (the kmsg reading thread, retired after a flood): one trim after it ended', () => {
    vi.useFakeTimers();
    let records = 0;
    let threadAlive = true;
    const collect = vi.fn();
    const trim = startRestTrim({ activity: () => records, busy: () => threadAlive, collect, checkMs: 1000, quietRecords: 50 });
    records += 5000; // a flood
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(5000); // quiet, but the thread lives on until its retirement
    expect(collect).not.toHaveBeenCalled();
    threadAlive = false;
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(5000);
    expect(collect).toHaveBeenCalledTimes(1);
    trim.stop();
  });

  it("V8's last-resort collection runs without --expose-gc and frees what nothing holds", () => {
    const before = process.memoryUsage().heapUsed;
    let garbage: unknown[] | null = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `x${i}` }));
    expect(garbage.length).toBe(200_000);
    garbage = null;
    lastResortGc();
    lastResortGc();
    expect(process.memoryUsage().heapUsed).toBeLessThan(before + 4 * 1048576);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
});
