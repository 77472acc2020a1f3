/**
 * RecordRetry (electron/app/record-retry.ts): a record that fails waits, every later one waits
 * behind it (a ban's record must never land after its unban's), the tick's flush writes them in
 * order until one fails, and the list is bounded (oldest dropped, counted).
 */
import { describe, expect, it } from 'vitest';
import { MAX_WAITING_RECORDS, RecordRetry } from '../../electron/app/record-retry.ts';

describe('RecordRetry', () => {
  it('keeps order behind a failed record and writes them in order once the store writes', () => {
    const written: string[] = [];
    let full = true;
    const rec = (name: string) => () => {
      if (full) throw new Error('database or disk is full');
      written.push(name);
    };
    const r = new RecordRetry();
    expect(String(r.write(rec('ban a')))).toMatch(/disk is full/);
    full = false;
    expect(r.write(rec('unban a')), 'queued behind: no new failure').toBeNull();
    expect(written, 'nothing jumps the queue').toEqual([]);
    expect(r.size).toBe(2);
    expect(r.flush()).toBeNull();
    expect(written).toEqual(['ban a', 'unban a']);
    expect(r.size).toBe(0);
    expect(r.write(rec('ban b'))).toBeNull();
    expect(written.at(-1)).toBe('ban b');
  });

  it('a flush stops at the first record that still fails and keeps it and those after it', () => {
    const written: number[] = [];
    const failing = new Set([1]);
    const r = new RecordRetry();
    for (let i = 1; i <= 4; i++)
      r.write(() => {
        if (failing.has(i)) throw new Error(`record ${i} fails`);
        written.push(i);
      });
    expect(r.size, 'all wait behind the first').toBe(4);
    failing.clear();
    failing.add(2);
    expect(String(r.flush())).toBe('Error: record 2 fails');
    expect(written).toEqual([1]);
    expect(r.size).toBe(3);
    failing.clear();
    expect(r.flush()).toBeNull();
    expect(written).toEqual([1, 2, 3, 4]);
  });

  it('is bounded: past the bound the oldest records are dropped and counted', () => {
    const r = new RecordRetry();
    const fail = () => {
      throw new Error('full');
    };
    for (let i = 0; i < MAX_WAITING_RECORDS + 5; i++) r.write(fail);
    expect(r.size).toBe(MAX_WAITING_RECORDS);
    expect(r.dropped).toBe(5);
  });
});
