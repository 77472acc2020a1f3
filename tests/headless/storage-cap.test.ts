/**
 * The cap on stored packet rows per second (logs.maxStoredPacketsPerSecond): under a flood at most
 * that many rows per second are stored, the rest are counted (per minute, in the store) and reported
 * by the state, the status and the dashboard; detection still sees every record; a one-probe source
 * whose record was not stored costs no offender row.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { DEFAULT_SETTINGS, validateSettings } from '../../electron/shared/settings.ts';
import { PacketStorageCap } from '../../electron/app/packet-cap.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { FakeFirewall, Journal, PushSource } from './fakes.ts';
import { BOOT, buildRealService, kmsg, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-cap-');

/** One spoofed SYN from a source never seen again (198.18.x.y), `ms` after boot. */
const spoofed = (i: number, ms: number) => kmsg(`198.18.${(i >> 8) & 255}.${i & 255}`, 1000 + (i % 5000), ms);

describe('logs.maxStoredPacketsPerSecond', () => {
  it('is 500 by default, a whole number from 10 to 100,000, refused with the field and the reason otherwise', () => {
    expect(DEFAULT_SETTINGS.logs.maxStoredPacketsPerSecond).toBe(500);
    for (const bad of [0, 9, 100_001, 12.5, '500']) {
      const r = validateSettings({ logs: { maxStoredPacketsPerSecond: bad } });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toBe('logs.maxStoredPacketsPerSecond: maxStoredPacketsPerSecond is a whole number from 10 to 100,000');
    }
    const ok = validateSettings({ logs: { maxStoredPacketsPerSecond: 10 } });
    expect(ok.ok && ok.settings.logs.maxStoredPacketsPerSecond).toBe(10);
  });
});

describe('PacketStorageCap', () => {
  it('admits at most N per second of the records\' time, also for records a little out of order, and starts again after a clock step back', () => {
    const cap = new PacketStorageCap();
    const admitted = new Map<number, number>();
    const times: number[] = [];
    for (let i = 0; i < 50; i++) times.push(10_000 + i * 10); // second 10: 50 records
    for (let i = 0; i < 50; i++) times.push(11_000 + i * 10, 10_500); // second 11, each followed by a late one of second 10
    for (let i = 0; i < 30; i++) times.push(2_000 + i); // the clock stepped back 9 s, then 8 s
    for (const t of times) if (cap.admit(t, 20)) admitted.set(Math.floor(t / 1000), (admitted.get(Math.floor(t / 1000)) ?? 0) + 1);
    expect(Object.fromEntries(admitted)).toEqual({ 10: 20, 11: 20, 2: 20 });
  });
});

describe('the service under a flood, with the real engine and store', () => {
  it('stores at most the cap per second, counts the rest (state, dashboard, after a restart), still bans the scanner inside the flood, and writes no offender row for an unstored one-probe source', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'db.sqlite');
    const clock = new ManualClock(BOOT + 10_000);
    const fw = new FakeFirewall(new Journal());
    const source = new PushSource();
    const a = buildRealService({ dbFile: db, clock, firewall: fw, source });
    await a.service.start();
    await a.call('updateSettings', { patch: { logs: { maxStoredPacketsPerSecond: 100 }, detection: { maxretry: 5, minDistinctPorts: 3 } } });

    // Three seconds of 1,000 spoofed SYNs each; the scanner's probes come late in each second,
    // always after the cap is used up: only detection can see them.
    let n = 0;
    for (let s = 0; s < 3; s++) {
      const lines: string[] = [];
      for (let i = 0; i < 1000; i++) lines.push(spoofed(n++, 5000 + s * 1000 + i * 0.9));
      for (const p of [21, 23]) lines.push(kmsg('203.0.113.5', p + s * 100, 5000 + s * 1000 + 950));
      source.push(...lines);
    }
    await a.service.idle();
    await a.service.tick();
    const total = 3 * 1002;
    expect([...fw.bans.keys()]).toEqual(['203.0.113.5']);

    const raw = new DatabaseSync(db, { readOnly: true });
    const perSecond = raw.prepare('SELECT CAST(time / 1000 AS INTEGER) AS s, COUNT(*) AS c FROM packets GROUP BY s ORDER BY s').all() as { s: number; c: number }[];
    expect(perSecond.map((r) => r.c)).toEqual([100, 100, 100]);
    // Offender rows: the 300 stored sources and the scanner, none of the 2,700 spoofed sources whose only record was not stored.
    const offenders = (raw.prepare('SELECT COUNT(*) AS c FROM offenders').get() as { c: number }).c;
    expect(offenders).toBe(301);
    raw.close();

    const state = await a.call('getState');
    expect(state.counts.blockedPackets).toBe(300);
    expect(state.counts.packetsNotStored).toBe(total - 300);
    expect((await a.call('getPackets', {})).total).toBe(300);
    const dash = await a.call('getDashboard', { minutes: 60 });
    expect(dash.perMinute.reduce((sum, m) => sum + m.count, 0)).toBe(total);
    // The scanner's own page still shows it banned with its ports (from the engine's window).
    expect((await a.call('getOffender', { ip: '203.0.113.5' })).offender.state).toBe('banned');
    await a.service.stop();

    // A restart reads the count back from the store.
    const b = buildRealService({ dbFile: db, clock, firewall: fw, source: new PushSource() });
    await b.service.start();
    expect((await b.call('getState')).counts.packetsNotStored).toBe(total - 300);
    await b.service.stop();
  });

  it('stores every packet below the cap (nothing counted as not stored)', async () => {
    const dir = tempDir();
    const clock = new ManualClock(BOOT + 10_000);
    const source = new PushSource();
    const a = buildRealService({ dbFile: path.join(dir, 'db.sqlite'), clock, firewall: new FakeFirewall(new Journal()), source });
    await a.service.start();
    source.push(...Array.from({ length: 400 }, (_, i) => spoofed(i, 5000 + i * 2.5)));
    await a.service.idle();
    await a.service.tick();
    const state = await a.call('getState');
    expect(state.counts.blockedPackets).toBe(400);
    expect(state.counts.packetsNotStored).toBe(0);
    await a.service.stop();
  });
});

describe('SqliteStore: counts of packets not stored', () => {
  it('are committed with the flush, summed per minute, and pruned by age with the packets', () => {
    const s = new SqliteStore({ path: ':memory:', retentionDays: 1 });
    s.countNotStored([[60_000, 5], [120_000, 7]]);
    s.countNotStored([[120_000, 3]]);
    expect(s.packetsNotStored()).toBe(15);
    s.flush();
    expect(s.packetsNotStored()).toBe(15);
    expect(s.dashboard(200_000, 10).perMinute.filter((m) => m.count > 0)).toEqual([{ t: 60_000, count: 5 }, { t: 120_000, count: 10 }]);
    const now = 86_400_000 + 150_000;
    s.prune(now); // the minute at 60,000 ended more than a day ago; the one at 120,000 did not
    expect(s.packetsNotStored()).toBe(10);
    s.close();
  });
});

describe('"test against my recent log" after a flood', () => {
  it('says how many packets of its window were not stored, so a missing scanner is explained rather than hidden', async () => {
    const dir = tempDir();
    const clock = new ManualClock(BOOT + 10_000);
    const source = new PushSource();
    const a = buildRealService({ dbFile: path.join(dir, 'db.sqlite'), clock, firewall: new FakeFirewall(new Journal()), source });
    await a.service.start();
    await a.call('updateSettings', { patch: { logs: { maxStoredPacketsPerSecond: 100 } } });
    source.push(...Array.from({ length: 250 }, (_, i) => spoofed(i, 5000 + i * 2)));
    await a.service.idle();
    await a.service.tick();
    const test = await a.call('testThresholds', { patch: {}, minutes: 60 });
    expect(test.packets).toBe(100);
    expect(test.packetsNotStored).toBe(150);
    // Below the cap nothing is said.
    const quiet = buildRealService({ dbFile: path.join(dir, 'quiet.sqlite'), clock, firewall: new FakeFirewall(new Journal()), source: new PushSource() });
    await quiet.service.start();
    expect((await quiet.call('testThresholds', { patch: {}, minutes: 60 })).packetsNotStored).toBeUndefined();
    await quiet.service.stop();
    await a.service.stop();
  });
});
