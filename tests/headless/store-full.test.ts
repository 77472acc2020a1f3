/**
 * The service on a full disk (SQLite's page limit gives the same "database or disk is full"): the
 * log's read path never throws (a throw there ended the process, and systemd restarted it every 5 s),
 * the scanner is still banned in the firewall, and the failure is said once, not at every tick.
 */
import type { DatabaseSync } from 'node:sqlite';
import { describe, expect, it, vi } from 'vitest';
import type { ApiEvent } from '../../electron/shared/api.ts';
import type { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { kmsg, startedRealService, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-full-');

function setMaxPages(raw: SqliteStore, pages: number | null): void {
  const db = (raw as unknown as { db: DatabaseSync }).db;
  const { page_count } = db.prepare('PRAGMA page_count').get() as { page_count: number };
  db.exec(`PRAGMA max_page_count = ${pages === null ? 1073741823 : page_count + pages}`);
}

const started = (log: string[]) => startedRealService(tempDir(), log, { logs: { maxStoredPacketsPerSecond: 100_000 }, detection: { maxretry: 5, minDistinctPorts: 3 } });

/** 11,000 one-probe sources (more than the store buffers: 10 batches of 1,000) and a scanner on 6 ports. */
function flood(): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 11_000; i++) lines.push(kmsg(`198.18.${i >> 8}.${i & 255}`, 1000 + (i % 60_000), 5000 + i * 0.03));
  for (let p = 0; p < 6; p++) lines.push(kmsg('203.0.113.5', 20 + p, 5400 + p));
  return lines;
}

describe('the service on a full disk', () => {
  it('keeps reading and bans the scanner in the firewall; says the store cannot write once, and once that it writes again', async () => {
    const log: string[] = [];
    const a = await started(log);
    setMaxPages(a.raw, 0);
    expect(() => a.source.push(...flood())).not.toThrow();
    await a.service.idle();
    expect([...a.fw.bans.keys()]).toEqual(['203.0.113.5']);
    for (let t = 0; t < 5; t++) await a.service.tick();
    expect(log.filter((l) => l.includes('store:'))).toEqual([expect.stringMatching(/^error: store: cannot write to the database: database or disk is full\. Scanners are still detected and banned/)]);
    // The store holds 10,000 packets for when it can write again; the others are counted as not stored.
    expect(a.raw.pendingPackets()).toBe(10_000);
    expect((await a.call('getState')).counts.packetsNotStored).toBe(1006);

    setMaxPages(a.raw, null);
    await a.service.tick();
    await a.service.tick();
    expect(log.filter((l) => l.includes('store:'))).toHaveLength(2);
    expect(log.at(-1)).toBe('info: store: writing to the database again');
    expect(a.raw.packetCountTotal()).toBe(10_000);
    await a.service.stop();
  });

  it('a ban whose record the store refuses still goes to the firewall, with a notice, and nothing escapes the ingest', async () => {
    const log: string[] = [];
    const a = await started(log);
    a.raw.recordBan = () => {
      throw new Error('database or disk is full');
    };
    expect(() => a.source.push(...Array.from({ length: 6 }, (_, p) => kmsg('203.0.113.9', 20 + p, 5000 + p)))).not.toThrow();
    await a.service.idle();
    expect([...a.fw.bans.keys()]).toEqual(['203.0.113.9']);
    expect(log.filter((l) => l.includes('the record of the ban waits'))).toEqual([
      'error: Banning 203.0.113.9 in the firewall; the record of the ban waits until the store can write (database or disk is full). A restart before then takes it for a stale firewall entry and lifts it (a scanner probing again is banned again)',
    ]);
    await a.service.stop();
  });
});

describe("the store's health in the state and the Doctor", () => {
  it('goes not ok at the first failed write, with when, why, the file and what waits; ok again once the tick writes', async () => {
    const log: string[] = [];
    const a = await started(log);
    expect((await a.call('getState')).store).toEqual({ ok: true });
    expect((await a.call('getDoctor')).find((c) => c.id === 'store-writes')).toMatchObject({ level: 'ok' });

    setMaxPages(a.raw, 0);
    const failedAt = a.clock.now();
    a.source.push(...flood());
    await a.service.idle();
    a.clock.advance(5_000);
    await a.service.tick();
    const state = await a.call('getState');
    expect(state.store).toEqual({ ok: false, since: failedAt, error: 'database or disk is full', path: a.dbFile, pendingPackets: 10_000 });
    // Protection is what it was: the scanner is banned, the state says so.
    expect(state.counts.activeBans).toBe(1);
    expect([...a.fw.bans.keys()]).toEqual(['203.0.113.5']);
    // Later failing rounds keep the first failure's time.
    a.clock.advance(5_000);
    await a.service.tick();
    expect((await a.call('getState')).store).toMatchObject({ ok: false, since: failedAt });

    const check = (await a.call('getDoctor')).find((c) => c.id === 'store-writes')!;
    expect(check.level, 'a warning: protection works').toBe('warn');
    expect(check.detail).toBe(
      `Database cannot be written: database or disk is full since ${new Date(failedAt).toISOString().replace('.000Z', 'Z')}. Scanners are still detected and banned, but blocked packets, offenders and ban records are not saved; 10000 blocked packets wait in memory. Free disk space or inodes on the file system of ${a.dbFile} (df -h ${a.dbFile}; df -i ${a.dbFile}): it writes again by itself once there is room`,
    );

    setMaxPages(a.raw, null);
    await a.service.tick();
    expect((await a.call('getState')).store).toEqual({ ok: true });
    expect((await a.call('getDoctor')).find((c) => c.id === 'store-writes')).toMatchObject({ level: 'ok' });
    expect(log.at(-1)).toBe('info: store: writing to the database again');
    await a.service.stop();
  });

  it("a ban's failed record turns it not ok at once, pushed to the windows and the tray before any tick", async () => {
    const log: string[] = [];
    const a = await started(log);
    const pushed: ApiEvent[] = [];
    a.service.onEvents((batch) => void pushed.push(...batch));
    const recordBan = a.raw.recordBan.bind(a.raw);
    a.raw.recordBan = () => {
      throw new Error('database or disk is full');
    };
    a.source.push(...Array.from({ length: 6 }, (_, p) => kmsg('203.0.113.9', 20 + p, 5000 + p)));
    await a.service.idle();
    expect([...a.fw.bans.keys()]).toEqual(['203.0.113.9']);
    expect((await a.call('getState')).store).toMatchObject({ ok: false, since: a.clock.now(), error: 'database or disk is full' });
    await vi.waitFor(() => expect(pushed).toContainEqual(expect.objectContaining({ type: 'state', state: expect.objectContaining({ store: expect.objectContaining({ ok: false }) }) })));

    // Only the ban records failed: the tick's own writes succeed, and say so.
    a.raw.recordBan = recordBan;
    await a.service.tick();
    expect((await a.call('getState')).store).toEqual({ ok: true });
    expect(log.filter((l) => l.includes('store:'))).toEqual([expect.stringMatching(/^error: store: cannot write to the database: database or disk is full/), 'info: store: writing to the database again']);
    await a.service.stop();
  });

  it('a quiet tick with nothing buffered does not say a read-only store writes again: it tries a write of its own', async () => {
    const log: string[] = [];
    const a = await started(log);
    await a.service.tick(); // the settings' write and anything buffered are written
    const readOnly = () => {
      throw new Error('attempt to write a readonly database');
    };
    const { recordBan, setSetting } = a.raw;
    a.raw.recordBan = readOnly;
    a.raw.setSetting = readOnly;
    await a.call('ban', { ip: '198.51.100.20' }).catch(() => undefined);
    expect((await a.call('getState')).store).toMatchObject({ ok: false, error: 'attempt to write a readonly database' });
    for (let t = 0; t < 3; t++) await a.service.tick();
    expect((await a.call('getState')).store).toMatchObject({ ok: false, error: 'attempt to write a readonly database' });
    expect((await a.call('getDoctor')).find((c) => c.id === 'store-writes')!.detail).toMatch(/The file system of .*db\.sqlite is read-only/);

    a.raw.recordBan = recordBan;
    a.raw.setSetting = setSetting;
    await a.service.tick();
    expect((await a.call('getState')).store).toEqual({ ok: true });
    await a.service.stop();
  });
});
