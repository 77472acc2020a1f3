/**
 * Ban and unban records the store cannot write wait in memory and are written again by the tick
 * (electron/app/record-retry.ts): the state's `store` stays not ok while one still fails — a quiet
 * host's tick whose own small writes fitted called a full disk fixed at every tick, and failing again
 * at every ban — and once the store writes again the history has them. The start-up reconcile
 * restores the bans that stand even when closing an expired one cannot be written.
 */
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { FakeFirewall, Journal, PushSource } from './fakes.ts';
import { BOOT, buildRealService, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-records-');
const dbOf = (raw: SqliteStore) => (raw as unknown as { db: DatabaseSync }).db;
/** A full disk, as SQLite sees one: the file may not grow past the pages it has (store-full.test.ts does the same). */
function limitPages(raw: SqliteStore, extra = 0): void {
  const db = dbOf(raw);
  const { page_count } = db.prepare('PRAGMA page_count').get() as { page_count: number };
  db.exec(`PRAGMA max_page_count = ${page_count + extra}`);
}

async function started(log: string[], seed?: Parameters<typeof buildRealService>[0]['seed']) {
  const clock = new ManualClock(BOOT + 10_000);
  const fw = new FakeFirewall(new Journal());
  const source = new PushSource();
  const a = buildRealService({ dbFile: path.join(tempDir(), 'db.sqlite'), clock, firewall: fw, source, log: (level, m) => log.push(`${level}: ${m}`), ...(seed ? { seed } : {}) });
  return { ...a, fw };
}

describe('ban records the store cannot write', () => {
  it('wait and are written once the store can: the state stays not ok until then, without flapping at each tick', async () => {
    const log: string[] = [];
    const a = await started(log);
    await a.service.start();
    await a.service.tick();
    limitPages(a.raw);
    let i = 0;
    for (; i < 5000 && (await a.call('getState')).store?.ok !== false; i++) await a.call('ban', { ip: `198.51.${i >> 8}.${i & 255}` }).catch(() => undefined);
    expect(i, 'a ban record failed before 5000 bans').toBeLessThan(5000);
    const states: boolean[] = [];
    for (let k = 1; k <= 4; k++) {
      a.clock.advance(1000);
      await a.service.tick();
      states.push((await a.call('getState')).store!.ok);
      await a.call('ban', { ip: `203.0.113.${k}` });
      states.push((await a.call('getState')).store!.ok);
    }
    expect(states).toEqual(Array(8).fill(false));
    expect(log.filter((l) => l.includes('store: writing to the database again'))).toEqual([]);
    for (let k = 1; k <= 4; k++) expect(a.fw.bans.has(`203.0.113.${k}`), 'banned all the same').toBe(true);
    // Room again: the next tick writes what waited, in order, and says so once.
    limitPages(a.raw, 10_000);
    a.clock.advance(1000);
    await a.service.tick();
    expect((await a.call('getState')).store).toEqual({ ok: true });
    const rows = dbOf(a.raw).prepare("SELECT count(*) AS c FROM bans WHERE ip LIKE '203.0.113.%'").get() as { c: number };
    expect(rows.c).toBe(4);
    expect(log.filter((l) => l.includes('store: writing to the database again'))).toHaveLength(1);
    await a.service.stop();
  });

  it('an expired ban whose close cannot be written at start does not stop the restore of the bans that stand', async () => {
    const log: string[] = [];
    const reason = { kind: 'scan' as const, scanType: 'SYN' as const, ports: [21, 23, 25], hits: 5, firstSeen: 0, lastSeen: 0 };
    const a = await started(log, (raw, now) => {
      raw.recordBan({ ip: '198.51.100.1', at: now - 7_200_000, until: now - 3_600_000, strikes: 1, reason } as never);
      raw.recordBan({ ip: '198.51.100.2', at: now - 60_000, until: now + 3_600_000, strikes: 1, reason } as never);
    });
    a.raw.recordUnban = () => {
      throw new Error('database or disk is full');
    };
    await a.service.start();
    await a.service.idle();
    expect([...a.fw.bans.keys()]).toEqual(['198.51.100.2']);
    expect((await a.call('getState')).store).toMatchObject({ ok: false, error: expect.stringContaining('database or disk is full') });
    await a.service.stop();
  });

  it('a requested unban whose record must wait went through: the caller and the window are told so (and the fleet, on the same path), and the history has it once the store writes', async () => {
    const log: string[] = [];
    const a = await started(log);
    await a.service.start();
    await a.service.idle();
    const events: string[] = [];
    a.service.onEvents((e) => void events.push(JSON.stringify(e)));
    await a.call('ban', { ip: '198.51.100.7', durationSec: 3600 });
    await a.service.idle();
    const real = a.raw.recordUnban.bind(a.raw);
    a.raw.recordUnban = () => {
      throw Object.assign(new Error('database or disk is full'), { errcode: 13 });
    };
    await a.call('unban', { ip: '198.51.100.7' }); // resolves: the unban went through
    expect(a.fw.bans.has('198.51.100.7')).toBe(false);
    expect((await a.call('getBans')).active).toEqual([]);
    expect((await a.call('getState')).store?.ok).toBe(false);
    a.raw.recordUnban = real;
    a.clock.advance(1000);
    await a.service.tick();
    // The event batcher delivers on a timer of its own: wait for the delivery, not for a time.
    await vi.waitFor(() => expect(events.some((e) => e.includes('"type":"unban"') && e.includes('198.51.100.7')), 'the window hears of it').toBe(true), { timeout: 20_000 });
    const row = dbOf(a.raw).prepare("SELECT end_why FROM bans WHERE ip = '198.51.100.7'").get() as { end_why: string | null };
    expect(row.end_why).toBe('manual');
    expect((await a.call('getState')).store).toEqual({ ok: true });
    await a.service.stop();
  });

  it("a ban record the store refuses for its content is not said to wait: it is not kept", async () => {
    const log: string[] = [];
    const a = await started(log);
    await a.service.start();
    a.raw.recordBan = () => {
      throw Object.assign(new Error('CHECK constraint failed: reason'), { errcode: 275 });
    };
    await a.call('ban', { ip: '198.51.100.8', durationSec: 3600 });
    await a.service.idle();
    expect(a.fw.bans.has('198.51.100.8')).toBe(true);
    expect(log.filter((l) => l.includes('Banning 198.51.100.8'))).toEqual([
      'error: Banning 198.51.100.8 in the firewall; the record of the ban could not be written (CHECK constraint failed: reason). A restart before then takes it for a stale firewall entry and lifts it (a scanner probing again is banned again)',
    ]);
    await a.service.stop();
  });
});
