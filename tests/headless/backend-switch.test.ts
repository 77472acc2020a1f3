/**
 * A switch of the ban backend (`ban.backend`, or `--backend`) strands nothing: at the next start the
 * bans the store holds as active move out of the other backend into the one in use, and Portcullis's
 * other entries there (ended, expired or unknown to the store) are lifted — else an expired ban, or
 * `portcullis unban`, would leave that source blocked for good by a backend nobody looks at.
 */
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { BanRecord } from '../../electron/shared/model.ts';
import type { ApiEvent } from '../../electron/shared/api.ts';
import { BatchFirewall, Journal } from './fakes.ts';
import { BOOT, buildRealService, kmsg, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-switch-');
const ban = (ip: string, at: number, until: number | null): BanRecord => ({ ip, at, until, strikes: 1, reason: { kind: 'manual', ports: [], hits: 0, firstSeen: at, lastSeen: at } });

function build(current: BatchFirewall, other: BatchFirewall | undefined, seed: (raw: import('../../electron/engine/store/sqlite.ts').SqliteStore, now: number) => void) {
  const logs: string[] = [];
  const t = buildRealService({ dbFile: path.join(tempDir(), 'db.sqlite'), clock: new ManualClock(BOOT + 10_000), firewall: current, ...(other ? { otherFirewall: other } : {}), seed, log: (l, m) => void logs.push(`${l}: ${m}`) });
  return { ...t, logs };
}

describe('switching the ban backend', () => {
  it("moves the store's active bans (timed and permanent) into the backend in use and lifts every other entry of the old one: out of the old one first, then in", async () => {
    const log: string[] = [];
    const current = Object.assign(new BatchFirewall(new Journal()), { log });
    const old = new BatchFirewall(new Journal());
    old.unbanMany = async (ips, why) => {
      log.push(`old unbanMany (${why}) ${[...ips].sort().join(' ')}`);
      for (const ip of ips) old.bans.delete(ip);
      return [];
    };
    const t = build(current, old, (raw, now) => {
      raw.recordBans([ban('198.51.100.1', now - 1000, now + 3_600_000), ban('198.51.100.2', now - 1000, null), ban('198.51.100.3', now - 9000, now - 1000), ban('198.51.100.4', now - 1000, now + 3_600_000)]);
      raw.recordUnban('198.51.100.4', now - 500, 'manual'); // `portcullis unban` while the old backend ran
    });
    // What the old backend still holds: both active bans, the expired one, the unbanned one, and one
    // the store never had (a crash between its firewall call and its store write, long ago).
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5']) old.bans.set(ip, null);
    await t.service.start();
    await t.service.idle();
    expect([...old.bans.keys()]).toEqual([]);
    expect([...current.bans.keys()].sort()).toEqual(['198.51.100.1', '198.51.100.2']);
    expect(current.bans.get('198.51.100.1')).toBe(BOOT + 10_000 + 3_600_000);
    expect(current.bans.get('198.51.100.2')).toBeNull();
    expect(log).toEqual(['old unbanMany (moved) 198.51.100.1 198.51.100.2 198.51.100.3 198.51.100.4 198.51.100.5', 'banMany 2']);
    expect(t.logs.some((l) => l.includes('5 taken out of the other ban backend'))).toBe(true);
    // Lifting a moved ban now lifts it where it is.
    await t.call('unban', { ip: '198.51.100.1' });
    expect(current.bans.has('198.51.100.1')).toBe(false);
    await t.service.stop();
  });

  it('a source banned live during the move (its entry in the old backend an expired ban) is in the backend in use afterwards, though the old one shares its kernel sets', async () => {
    const current = new BatchFirewall(new Journal());
    const old = new BatchFirewall(new Journal());
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let calls = 0;
    // The ufw backend's unbanMany also takes its forward mirror's entries out of the sets the set backend bans in.
    old.unbanMany = async (ips) => {
      if (calls++ === 0) await gate;
      for (const ip of ips) {
        old.bans.delete(ip);
        current.bans.delete(ip);
      }
      return [];
    };
    const X = '203.0.113.77';
    for (let i = 0; i < 500; i++) old.bans.set(`100.64.${i >> 8}.${i & 255}`, null);
    old.bans.set(X, null); // its ban expired while nothing ran: the store holds it as ended
    const t = build(current, old, (raw, now) => raw.recordBans([ban(X, now - 9000, now - 1000)]));
    await t.service.start();
    await vi.waitFor(() => expect(calls).toBe(1)); // the first batch of the move, held
    t.source.push(...[21, 23, 25, 80, 110, 143].map((p, i) => kmsg(X, p, 10_000 + i)));
    await new Promise((r) => setTimeout(r, 10));
    open();
    await t.service.idle();
    expect(t.service.engine.isBanned(X)).toBe(true);
    expect(current.bans.has(X)).toBe(true);
    expect(old.bans.size).toBe(0);
    await t.service.stop();
  });

  it('the move runs in batches between live bans; an old backend that cannot list (its sets were never made) changes nothing', async () => {
    const log: string[] = [];
    const current = Object.assign(new BatchFirewall(new Journal()), { log });
    const old = Object.assign(new BatchFirewall(new Journal()), { log });
    let open!: () => void;
    old.gate = new Promise<void>((r) => (open = r));
    const n = 1200;
    for (let i = 0; i < n; i++) old.bans.set(`100.64.${i >> 8}.${i & 255}`, null);
    const t = build(current, old, () => undefined);
    await t.service.start();
    await vi.waitFor(() => expect(old.log).toEqual(['unbanMany 500'])); // the first batch, held by the gate
    t.source.push(...[21, 23, 25, 80, 110, 143].map((p, i) => kmsg('203.0.113.77', p, 10_000 + i)));
    await new Promise((r) => setTimeout(r, 10));
    open();
    await t.service.idle();
    // The live ban waited for the batch in progress only.
    expect(log).toEqual(['unbanMany 500', 'ban 203.0.113.77', 'unbanMany 500', 'unbanMany 200']);
    expect(old.bans.size).toBe(0);
    await t.service.stop();

    const none = new BatchFirewall(new Journal());
    none.listBans = async () => {
      throw new Error('ipset v7.19: The set with the given name does not exist');
    };
    const t2 = build(new BatchFirewall(new Journal()), none, (raw, now) => raw.recordBans([ban('198.51.100.9', now - 1000, now + 60_000)]));
    await t2.service.start();
    await t2.service.idle();
    expect(none.log).toEqual([]);
    expect(t2.logs).toContain('info: reconcile: the other ban backend lists nothing (ipset v7.19: The set with the given name does not exist)');
    await t2.service.stop();
  });

  it('the state names the backend in use until the next start, and the one the settings switched to beside it (every window is told at once)', async () => {
    const db = path.join(tempDir(), 'db.sqlite');
    const build2 = () => buildRealService({ dbFile: db, clock: new ManualClock(BOOT + 10_000), firewall: new BatchFirewall(new Journal()), otherFirewall: new BatchFirewall(new Journal()) });
    const t = build2();
    await t.service.start();
    const pushed: ApiEvent[] = [];
    t.service.onEvents((batch) => void pushed.push(...batch));
    expect(await t.call('getState')).toMatchObject({ backend: 'set' });
    expect(await t.call('getState')).not.toHaveProperty('backendAfterRestart');

    await t.call('updateSettings', { patch: { ban: { backend: 'ufw' } } });
    // Still banning through the sets: this run's firewall port is the set backend's.
    expect(await t.call('getState')).toMatchObject({ backend: 'set', backendAfterRestart: 'ufw' });
    await vi.waitFor(() => expect(pushed).toContainEqual(expect.objectContaining({ type: 'state', state: expect.objectContaining({ backend: 'set', backendAfterRestart: 'ufw' }) })));
    expect(pushed).toContainEqual({ type: 'notice', level: 'warn', message: 'The ban backend changes to "ufw" at the next start, which moves the active bans there; until then they stay in "set".' });

    // Switched back before a restart: nothing is pending, and nothing will move.
    pushed.length = 0;
    await t.call('updateSettings', { patch: { ban: { backend: 'set' } } });
    expect(await t.call('getState')).not.toHaveProperty('backendAfterRestart');
    await vi.waitFor(() => expect(pushed).toContainEqual({ type: 'notice', level: 'info', message: 'The ban backend stays "set", the one in use: nothing moves at the next start.' }));
    await t.call('updateSettings', { patch: { ban: { backend: 'ufw' } } });
    await t.service.stop();

    // The next start bans through the saved one.
    const t2 = build2();
    await t2.service.start();
    const st = await t2.call('getState');
    expect(st.backend).toBe('ufw');
    expect(st).not.toHaveProperty('backendAfterRestart');
    await t2.service.stop();
  });
});
