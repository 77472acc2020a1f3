/**
 * The service while another process holds the database's write lock (an `sqlite3` shell in a
 * transaction, a backup, a checkpoint): node:sqlite is synchronous, and with a 5 s busy timeout each
 * ban record and each tick stalled the event loop for 5 s — no log record read, no ban applied, a
 * scanner given 5 s per write for free. Now a write that finds the database locked fails at once:
 * the ban goes to the firewall, its record waits in the retry list (record-retry.ts), the state says
 * the store cannot write, and once the lock goes the tick writes everything in order (a ban's record
 * before its offender row that says "banned").
 *
 * The pause and the resume (the API's) take the same road: in effect at once, their stored copy
 * written in order with the ban records once the store can write — they answered "failed" while the
 * pause was already in effect in memory. A settings change (protection off) fails whole instead.
 *
 * The lock holder is a second connection in this thread (SQLite's file locks between two connections
 * of one process are those another process meets). Bounds are generous for a loaded 2-core machine:
 * 1 s where the stall was ≥ 5 s.
 */
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { holdWriteLock, lockInChild } from '../support/db-locks.ts';
import { kmsg, startedRealService, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-busy-');
const BOUND_MS = 1000;

async function started(log: string[]) {
  const a = await startedRealService(tempDir(), log, { detection: { maxretry: 5, minDistinctPorts: 3 } });
  await a.service.tick();
  return a;
}

async function elapsed(fn: () => unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

describe('the service while another process holds the database write lock', () => {
  it('bans a scanner without stalling; its record waits, the state says so, and the tick writes all in order once the lock goes', async () => {
    const log: string[] = [];
    const a = await started(log);
    const lock = holdWriteLock(a.dbFile);
    try {
      const scan = Array.from({ length: 6 }, (_, p) => kmsg('203.0.113.5', 20 + p, 15_000 + p));
      const ingestMs = await elapsed(() => a.source.push(...scan));
      expect(ingestMs, `the log records that made the ban blocked the event loop ${ingestMs.toFixed(0)} ms`).toBeLessThan(BOUND_MS);
      await a.service.idle();
      expect(a.fw.bans.has('203.0.113.5'), 'banned in the firewall all the same').toBe(true);

      const banMs = await elapsed(() => a.call('ban', { ip: '198.51.100.9', durationSec: 3600 }));
      expect(banMs, `an API ban took ${banMs.toFixed(0)} ms`).toBeLessThan(BOUND_MS);
      expect(a.fw.bans.has('198.51.100.9')).toBe(true);

      // A locked tick gives up at its first write (the store's write check): each other write would
      // wait the busy timeout again, to fail the same way.
      const tried: string[] = [];
      const flush = a.raw.flush.bind(a.raw);
      const recordBan = a.raw.recordBan.bind(a.raw);
      a.raw.flush = () => {
        tried.push('flush');
        flush();
      };
      a.raw.recordBan = (b) => {
        tried.push('recordBan');
        recordBan(b);
      };
      for (let k = 0; k < 3; k++) {
        a.clock.advance(1000);
        const tickMs = await elapsed(() => a.service.tick());
        expect(tickMs, `a tick took ${tickMs.toFixed(0)} ms`).toBeLessThan(BOUND_MS);
      }
      expect(tried).toEqual([]);
      a.raw.flush = flush;
      a.raw.recordBan = recordBan;
      expect((await a.call('getState')).store).toMatchObject({ ok: false, error: 'database is locked' });
      expect(a.service.pipeline.recordsWaiting).toBe(2);
      const check = (await a.call('getDoctor')).find((c) => c.id === 'store-writes');
      expect(check?.detail, 'the Doctor says what holds it up').toContain(`Another process holds the write lock of ${a.dbFile}`);
    } finally {
      lock.release();
    }
    // The lock gone: the waiting records first, then the buffers (packets, the offender rows).
    const order: string[] = [];
    const flush = a.raw.flush.bind(a.raw);
    const recordBan = a.raw.recordBan.bind(a.raw);
    a.raw.flush = () => {
      order.push('flush');
      flush();
    };
    a.raw.recordBan = (b) => {
      order.push(`recordBan ${b.ip}`);
      recordBan(b);
    };
    a.clock.advance(1000);
    await a.service.tick();
    expect(order.slice(0, 3)).toEqual(['recordBan 203.0.113.5', 'recordBan 198.51.100.9', 'flush']);
    expect((await a.call('getState')).store).toEqual({ ok: true });
    const check = new DatabaseSync(a.dbFile, { readOnly: true });
    expect(check.prepare('SELECT ip FROM bans ORDER BY id').all().map((r) => r.ip)).toEqual(['203.0.113.5', '198.51.100.9']);
    expect(check.prepare('SELECT state FROM offenders WHERE ip = ?').get('203.0.113.5')).toEqual({ state: 'banned' });
    check.close();
    expect(a.raw.packetCountTotal(), 'the scan\'s packets are stored').toBe(6);
    expect(log.filter((l) => l.includes('store: writing to the database again'))).toHaveLength(1);
    await a.service.stop();
  }, 60_000);

  it('pauses and resumes at once, the stored pause following in order once the lock goes; a settings change fails whole', async () => {
    const log: string[] = [];
    const a = await started(log);
    const lock = holdWriteLock(a.dbFile);
    let until = 0;
    try {
      const pauseMs = await elapsed(() => a.call('pauseProtection', { minutes: 60 }));
      expect(pauseMs, `the pause took ${pauseMs.toFixed(0)} ms`).toBeLessThan(BOUND_MS);
      expect((await a.call('getState')).protection).toBe('paused');
      // Turning protection off is a settings change: saved before it runs, so it fails whole (the pause stays).
      await expect(a.call('setProtection', { enabled: false })).rejects.toThrow(/unavailable the settings cannot be saved in the database .* now \(database is locked\): nothing changed/);
      expect((await a.call('getState')).protection).toBe('paused');
      await a.call('setProtection', { enabled: true });
      expect((await a.call('getState')).protection).toBe('on');
      const again = await a.call('pauseProtection', { minutes: 30 });
      until = again.pausedUntil!;
      expect(again).toMatchObject({ protection: 'paused', store: { ok: false, error: 'database is locked' } });
      a.clock.advance(1000);
      await a.service.tick();
      expect((await a.call('getState')).store?.ok).toBe(false);
    } finally {
      lock.release();
    }
    a.clock.advance(1000);
    await a.service.tick();
    expect((await a.call('getState')).store).toEqual({ ok: true });
    // The last of the three, written after the two before it: a restart now stays paused until then.
    expect(a.raw.getSetting('protection.pausedUntil')).toBe(String(until));
    await a.service.stop();
  }, 60_000);

  it('an API read between the lock going and the next tick does not write an offender row "banned" before its ban record', async () => {
    const a = await started([]);
    const lock = holdWriteLock(a.dbFile);
    try {
      a.source.push(...Array.from({ length: 6 }, (_, p) => kmsg('203.0.113.5', 20 + p, 15_000 + p)));
      await a.service.idle();
      expect(a.fw.bans.has('203.0.113.5')).toBe(true);
      expect(a.service.pipeline.recordsWaiting).toBe(1);
    } finally {
      lock.release();
    }
    // The window's poll, before the next tick: every store read flushes what the store buffers.
    await a.call('getDashboard', { minutes: 60 });
    await a.call('getOffenders');
    const check = new DatabaseSync(a.dbFile, { readOnly: true });
    const offender = check.prepare('SELECT state FROM offenders WHERE ip = ?').get('203.0.113.5');
    const bans = check.prepare('SELECT ip FROM bans').all();
    check.close();
    expect(offender?.state === 'banned' && bans.length === 0, 'an offender row says banned with no ban record').toBe(false);
    // The tick writes both, the record first.
    await a.service.tick();
    expect(a.raw.offenders('banned').map((o) => o.ip)).toEqual(['203.0.113.5']);
    expect(a.raw.bans(a.clock.now()).active.map((b) => b.ip)).toEqual(['203.0.113.5']);
    await a.service.stop();
  }, 60_000);

  it('the stop waits out a lock held for a moment, so a waiting ban record is not lost', async () => {
    const log: string[] = [];
    const a = await started(log);
    // The record waits (a lock held here), then another process takes the lock over for 500 ms.
    const lock = holdWriteLock(a.dbFile);
    let holder: ReturnType<typeof lockInChild>;
    try {
      await a.call('ban', { ip: '198.51.100.20', durationSec: 3600 });
      expect(a.service.pipeline.recordsWaiting).toBe(1);
      holder = lockInChild(a.dbFile, 500);
    } finally {
      lock.release();
    }
    await holder.locked;
    await a.service.stop();
    await holder.exited;
    const check = new DatabaseSync(a.dbFile, { readOnly: true });
    expect(check.prepare('SELECT ip FROM bans').all().map((r) => r.ip)).toEqual(['198.51.100.20']);
    check.close();
    expect(log.filter((l) => l.includes('before the stop') || l.includes('closed without'))).toEqual([]);
  }, 60_000);

  it('a lock held through the stop: the stop gives up within seconds, says what is lost, and closes without throwing', async () => {
    const log: string[] = [];
    const a = await started(log);
    const lock = holdWriteLock(a.dbFile);
    try {
      await a.call('ban', { ip: '198.51.100.21', durationSec: 3600 });
      const stopMs = await elapsed(() => a.service.stop());
      expect(stopMs, `the stop took ${stopMs.toFixed(0)} ms`).toBeLessThan(15_000);
    } finally {
      lock.release();
    }
    expect(log.filter((l) => l.includes('before the stop'))).toEqual([
      "error: store: 1 ban, unban or pause records could not be written before the stop (database is locked); the next start restores or lifts those bans from the firewall's view, and keeps the pause it last saved",
    ]);
    expect(() => a.raw.flush(), 'the store is closed').not.toThrow();
    expect(() => a.raw.recordBan({ ip: '198.51.100.22', at: 1, until: null, strikes: 1, reason: { kind: 'manual' } } as never)).toThrow('the store is closed');
  }, 60_000);
});
