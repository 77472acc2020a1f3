/**
 * RecordRetry (electron/app/record-retry.ts): a record that fails waits, every later one waits
 * behind it (a ban's record must never land after its unban's), the tick's flush writes them in
 * order until one fails, and the list is bounded (oldest dropped, counted).
 */
import { describe, expect, it } from 'vitest';
import { MAX_WAITING_RECORDS, RecordRetry } from '../../electron/app/record-retry.ts';
import { storeUnavailable } from '../../electron/engine/store/unavailable.ts';
import { BanPipeline } from '../../electron/app/ban-pipeline.ts';

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
        if (failing.has(i)) throw new Error(`database or disk is full: record ${i}`);
        written.push(i);
      });
    expect(r.size, 'all wait behind the first').toBe(4);
    failing.clear();
    failing.add(2);
    expect(String(r.flush())).toBe('Error: database or disk is full: record 2');
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

  it('a record the store refuses for its content (not for room or access) is reported and not kept: it would hold every later one for ever', () => {
    const r = new RecordRetry();
    const constraint = Object.assign(new Error('UNIQUE constraint failed: bans.id'), { errcode: 2067 }); // SQLITE_CONSTRAINT_UNIQUE
    expect(r.write(() => {
      throw constraint;
    })).toBe(constraint);
    expect(r.size).toBe(0);
    const written: string[] = [];
    expect(r.write(() => void written.push('next'))).toBeNull();
    expect(written).toEqual(['next']);
    // A full disk (SQLITE_FULL) and an I/O error (SQLITE_IOERR_WRITE) wait; so does a bare error that says so.
    expect(storeUnavailable(Object.assign(new Error('database or disk is full'), { errcode: 13 }))).toBe(true);
    expect(storeUnavailable(Object.assign(new Error('disk I/O error'), { errcode: 778 }))).toBe(true);
    expect(storeUnavailable(new Error('attempt to write a readonly database'))).toBe(true);
    expect(storeUnavailable(new TypeError("Cannot read properties of undefined (reading 'ip')"))).toBe(false);
  });

  it('a waiting record that fails at a retry for its content is dropped, counted and given to the caller, and the others are written', () => {
    const r = new RecordRetry();
    let err: unknown = Object.assign(new Error('database or disk is full'), { errcode: 13 });
    r.write(() => {
      throw err;
    });
    const written: string[] = [];
    r.write(() => void written.push('later'));
    err = Object.assign(new Error('CHECK constraint failed: end_why'), { errcode: 275 });
    const refused: unknown[] = [];
    expect(r.flush((e) => refused.push(e))).toBeNull();
    expect(refused).toEqual([err]);
    expect(written).toEqual(['later']);
    expect(r.size).toBe(0);
    expect(r.dropped).toBe(1);
  });

  it("pause writes dropped past the bound are said as such, not as ban records (a restart keeps the pause it last saved)", () => {
    const notices: string[] = [];
    const p = new BanPipeline({
      store: {} as never,
      firewall: {} as never,
      dryRun: false,
      now: () => 0,
      engine: () => null as never,
      settings: () => ({}) as never,
      fleet: () => null,
      events: { push: () => undefined } as never,
      endBan: () => undefined,
      notice: (level, m) => void notices.push(`${level}: ${m}`),
      log: () => undefined,
    });
    const busy = () => {
      throw Object.assign(new Error('database is locked'), { errcode: 5 });
    };
    for (let i = 0; i < MAX_WAITING_RECORDS + 2; i++) p.writeInOrder(busy);
    expect(p.flushRecords()).not.toBeNull();
    expect(notices).toEqual([
      `error: 2 stored pause or resume changes were dropped while the store could not write (more than ${MAX_WAITING_RECORDS} waited): a restart keeps the pause it last saved`,
    ]);
  });
});
