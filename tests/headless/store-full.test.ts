/**
 * The service on a full disk (SQLite's page limit gives the same "database or disk is full"): the
 * log's read path never throws (a throw there ended the process, and systemd restarted it every 5 s),
 * the scanner is still banned in the firewall, and the failure is said once, not at every tick.
 */
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { FakeFirewall, Journal, PushSource } from './fakes.ts';
import { BOOT, buildRealService, kmsg, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-full-');

function setMaxPages(raw: SqliteStore, pages: number | null): void {
  const db = (raw as unknown as { db: DatabaseSync }).db;
  const { page_count } = db.prepare('PRAGMA page_count').get() as { page_count: number };
  db.exec(`PRAGMA max_page_count = ${pages === null ? 1073741823 : page_count + pages}`);
}

async function started(log: string[]) {
  const clock = new ManualClock(BOOT + 10_000);
  const fw = new FakeFirewall(new Journal());
  const source = new PushSource();
  const a = buildRealService({ dbFile: path.join(tempDir(), 'db.sqlite'), clock, firewall: fw, source, log: (level, m) => log.push(`${level}: ${m}`) });
  await a.service.start();
  await a.call('updateSettings', { patch: { logs: { maxStoredPacketsPerSecond: 100_000 }, detection: { maxretry: 5, minDistinctPorts: 3 } } });
  return { ...a, fw };
}

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
    expect(log.filter((l) => l.includes('without a record'))).toEqual([
      'error: Banning 203.0.113.9 in the firewall without a record of the ban: the store cannot write (database or disk is full). The next start takes it for a stale firewall entry and lifts it (a scanner probing again is banned again)',
    ]);
    await a.service.stop();
  });
});
