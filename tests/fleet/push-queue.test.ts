/**
 * The push queue's bookkeeping of what this host pushed, against the fake LAPI: an address banned
 * twice (an extension by hand, a re-ban) has two alerts at the LAPI — an unban deletes every decision
 * of this host's for it, an extension does not leave the older one standing, and another host's
 * decision for the address is never touched.
 */
import { spawnSync } from 'node:child_process';
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { CrowdsecSettingsSchema } from '../../electron/shared/fleet.ts';
import { FleetLink, type FleetSink } from '../../electron/engine/fleet/link.ts';
import { FleetQueue } from '../../electron/engine/fleet/queue.ts';
import type { FetchLike } from '../../electron/engine/fleet/client.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';
import { FakeLapi } from './fake-lapi.ts';
import { fleetServiceBuilder, scan, withFleet } from './fleet-service.ts';

const build = fleetServiceBuilder();
const tempDir = tempDirsPerTest('pc-fleet-queue-');
const nullSink: FleetSink = { upsert: () => undefined, upsertMany: () => undefined, removeMany: () => undefined, replaceAll: () => undefined };

function setup(queue = new FleetQueue(':memory:'), wrap: (f: FetchLike) => FetchLike = (f) => f) {
  const clock = new ManualClock(1_700_000_000_000);
  const lapi = new FakeLapi(() => clock.now());
  lapi.machines.set('hostA', 'pw-A');
  lapi.bouncers.add('key-A');
  const settings = CrowdsecSettingsSchema.parse({ url: 'http://lapi.test:8080', machineId: 'hostA', password: 'pw-A', bouncerKey: 'key-A' });
  const link = new FleetLink({ settings, queue, fetch: wrap(lapi.fetch), now: () => clock.now(), version: '0.1.0', sink: nullSink, manual: true });
  link.start();
  return { clock, lapi, link, queue };
}

/** A fetch whose next POST /v1/alerts waits, once it has reached the LAPI, until `release()`: a push in flight. */
function holdingPost() {
  let release!: () => void;
  let reached!: () => void;
  const state = {
    hold: false,
    released: new Promise<void>((r) => (release = r)),
    reached: new Promise<void>((r) => (reached = r)),
    release: () => release(),
  };
  const wrap = (f: FetchLike): FetchLike => async (url, init) => {
    const r = await f(url, init);
    if (state.hold && init.method === 'POST' && url.endsWith('/v1/alerts')) {
      state.hold = false;
      reached();
      await state.released;
    }
    return r;
  };
  return { state, wrap };
}

const ban = (ip: string, until: number | null) => ({ ip, until, ports: [22, 23, 25], hits: 5, kind: 'scan', scanType: 'SYN' });
const mine = (lapi: FakeLapi, ip: string) => lapi.active().filter((d) => d.value === ip && d.origin === 'portcullis@hostA');

async function drain(link: FleetLink): Promise<void> {
  for (let i = 0; i < 100; i++) if ((await link.pumpOnce()) === 'empty') return;
  throw new Error('queue did not drain');
}

describe('fleet push queue: every decision of this host for an address', () => {
  it('a scan ban extended by hand, then lifted: no decision of this host for the address is left at the LAPI', async () => {
    const t = await build({ settings: withFleet() });
    t.lapi.add('198.51.100.7', 'portcullis@hostB', 600_000);
    scan(t, '198.51.100.7');
    await t.service.idle();
    await drain(t.link());
    await t.call('ban', { ip: '198.51.100.7', durationSec: 7200 } as never);
    await t.service.idle();
    await drain(t.link());
    expect(mine(t.lapi, '198.51.100.7')).toHaveLength(1);
    await t.call('unban', { ip: '198.51.100.7' });
    await t.service.idle();
    await drain(t.link());
    expect(mine(t.lapi, '198.51.100.7')).toEqual([]);
    // Another host's decision for it is its own business.
    expect(t.lapi.active().map((d) => d.origin)).toEqual(['portcullis@hostB']);
  });

  it('an extension replaces the older decision: only the new one stands, with the new end', async () => {
    const t = setup();
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 3_600_000));
    await drain(t.link);
    t.link.enqueueBan(ban('198.51.100.7', null)); // made permanent by hand
    await drain(t.link);
    const left = mine(t.lapi, '198.51.100.7');
    expect(left).toHaveLength(1);
    expect(left[0]!.until - t.clock.now()).toBeGreaterThan(365 * 86_400_000);
    expect(t.queue.alertsOf('198.51.100.7')).toEqual([String(left[0]!.alertId)]);
  });

  it('two bans of one address in one batch, then an unban: none of this host\'s decisions stays', async () => {
    const t = setup();
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 3_600_000));
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 7_200_000));
    await drain(t.link);
    expect(mine(t.lapi, '198.51.100.7')).toHaveLength(1);
    t.link.enqueueUnban('198.51.100.7');
    await drain(t.link);
    expect(mine(t.lapi, '198.51.100.7')).toEqual([]);
    expect(t.queue.alertsOf('198.51.100.7')).toEqual([]);
  });

  it('lifted while its extension still waits to be pushed: the extension is dropped and the decision already pushed is deleted', async () => {
    const t = setup();
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 3_600_000));
    await drain(t.link);
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 7_200_000));
    t.link.enqueueUnban('198.51.100.7');
    await drain(t.link);
    expect(mine(t.lapi, '198.51.100.7')).toEqual([]);
    expect(t.lapi.log.filter((l) => l === 'POST /v1/alerts')).toHaveLength(1);
  });

  it('a decision of this host the queue has no alert id for (its push answer was lost) is deleted all the same', async () => {
    const t = setup();
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 3_600_000));
    await drain(t.link);
    t.lapi.add('198.51.100.7', 'portcullis@hostA', 7_200_000); // pushed by an earlier database
    t.lapi.add('198.51.100.7', 'portcullis@hostB', 7_200_000);
    t.link.enqueueUnban('198.51.100.7');
    await drain(t.link);
    expect(mine(t.lapi, '198.51.100.7')).toEqual([]);
    expect(t.lapi.active().map((d) => d.origin)).toEqual(['portcullis@hostB']);
  });

  it('commits as the store does (WAL, synchronous NORMAL: no disk sync at every ban shared), and a kill -9 right after a push is queued loses nothing', () => {
    const file = path.join(tempDir(), 'p.db');
    const q = new FleetQueue(file);
    // Per connection, so read on the queue's own (SQLite's default FULL is 2). NORMAL is safe in WAL
    // mode only (in rollback-journal mode a power loss may corrupt), so the mode is asserted too.
    const db = (q as unknown as { db: DatabaseSync }).db;
    expect(db.prepare('PRAGMA synchronous').get()).toEqual({ synchronous: 1 });
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    q.close();
    const node = Number(process.versions.node.split('.')[0]) >= 24 ? process.execPath : path.resolve(import.meta.dirname, '../../node_modules/.bin/node');
    const queueModule = path.resolve(import.meta.dirname, '../../electron/engine/fleet/queue.ts');
    const child = spawnSync(node, ['--input-type=module', '-e', `import { FleetQueue } from ${JSON.stringify(queueModule)}; const q = new FleetQueue(${JSON.stringify(file)}); q.add('push', '198.51.100.30', { n: 1 }); process.kill(process.pid, 'SIGKILL');`], { encoding: 'utf8' });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    const after = new FleetQueue(file);
    expect(after.head(10).map((i) => [i.kind, i.ip])).toEqual([['push', '198.51.100.30']]);
    after.close();
  });

  it('a queue database of the earlier version (one alert id per address) is carried over', () => {
    const file = path.join(tempDir(), 'q.db');
    const old = new DatabaseSync(file);
    old.exec("CREATE TABLE fleet_alerts (ip TEXT PRIMARY KEY, alert_id TEXT NOT NULL) WITHOUT ROWID; INSERT INTO fleet_alerts VALUES ('198.51.100.7', '12')");
    old.close();
    const q = new FleetQueue(file);
    expect(q.alertsOf('198.51.100.7')).toEqual(['12']);
    q.close();
    const again = new FleetQueue(file);
    expect(again.alertsOf('198.51.100.7')).toEqual(['12']);
    again.close();
  });

  it('one alert the LAPI refuses inside a batch: the others are shared, the bad one dropped with its reason, and what follows goes in batches again', async () => {
    const logs: string[] = [];
    const clock = new ManualClock(1_700_000_000_000);
    const lapi = new FakeLapi(() => clock.now());
    lapi.machines.set('hostA', 'pw-A');
    lapi.bouncers.add('key-A');
    const settings = CrowdsecSettingsSchema.parse({ url: 'http://lapi.test:8080', machineId: 'hostA', password: 'pw-A', bouncerKey: 'key-A' });
    const queue = new FleetQueue(':memory:');
    const link = new FleetLink({ settings, queue, fetch: lapi.fetch, now: () => clock.now(), version: '0.1.0', sink: nullSink, manual: true, log: (l, m) => logs.push(`${l} ${m}`) });
    link.start();
    lapi.refuseValue = /^198\.51\.100\.13$/;
    const until = clock.now() + 3_600_000;
    for (let i = 10; i < 20; i++) link.enqueueBan(ban(`198.51.100.${i}`, until));
    await drain(link);
    expect(lapi.active().map((d) => d.value).sort()).toEqual(['10', '11', '12', '14', '15', '16', '17', '18', '19'].map((n) => `198.51.100.${n}`));
    expect(queue.size()).toBe(0);
    expect(logs.some((l) => l.startsWith('error') && l.includes('dropped "push 198.51.100.13"') && l.includes('invalid addr/range'))).toBe(true);
    // Back to batches: the next bans go in one POST.
    const posts = lapi.log.filter((l) => l === 'POST /v1/alerts').length;
    for (let i = 20; i < 25; i++) link.enqueueBan(ban(`198.51.100.${i}`, until));
    await drain(link);
    expect(lapi.log.filter((l) => l === 'POST /v1/alerts').length).toBe(posts + 1);
  });
});

describe('fleet push queue: a ban pushed again supersedes only the alerts pushed before it', () => {
  const ip = '198.51.100.7';
  const HOUR = 3_600_000;

  it('a re-ban and its extension pushed in one batch (after an outage): the newest decision stands, the older ones go', async () => {
    const t = setup();
    t.link.enqueueBan(ban(ip, t.clock.now() + HOUR));
    await drain(t.link);
    t.link.enqueueBan(ban(ip, t.clock.now() + 2 * HOUR));
    t.link.enqueueBan(ban(ip, t.clock.now() + 4 * HOUR));
    await drain(t.link);
    const left = mine(t.lapi, ip);
    expect(left).toHaveLength(1);
    expect(left[0]!.until).toBe(t.clock.now() + 4 * HOUR);
    expect(t.queue.alertsOf(ip)).toEqual([String(left[0]!.alertId)]);
  });

  it('an extension queued while the previous push is in flight: the extension\'s decision stands', async () => {
    const h = holdingPost();
    const t = setup(new FleetQueue(':memory:'), h.wrap);
    t.link.enqueueBan(ban(ip, t.clock.now() + HOUR));
    await drain(t.link);
    t.link.enqueueBan(ban(ip, t.clock.now() + 2 * HOUR));
    h.state.hold = true;
    const sending = t.link.pumpOnce();
    await h.state.reached;
    t.link.enqueueBan(ban(ip, t.clock.now() + 4 * HOUR)); // extended while the LAPI answers
    h.state.release();
    expect(await sending).toBe('sent');
    await drain(t.link);
    const left = mine(t.lapi, ip);
    expect(left).toHaveLength(1);
    expect(left[0]!.until).toBe(t.clock.now() + 4 * HOUR);
    expect(t.queue.alertsOf(ip)).toEqual([String(left[0]!.alertId)]);
  });

  it('lifted and banned again while an extension was in flight: the new ban\'s decision stands, the earlier ones are gone', async () => {
    const h = holdingPost();
    const t = setup(new FleetQueue(':memory:'), h.wrap);
    t.link.enqueueBan(ban(ip, t.clock.now() + HOUR));
    await drain(t.link);
    t.link.enqueueBan(ban(ip, t.clock.now() + 2 * HOUR));
    h.state.hold = true;
    const sending = t.link.pumpOnce();
    await h.state.reached;
    t.link.enqueueUnban(ip);
    t.link.enqueueBan(ban(ip, t.clock.now() + 3 * HOUR));
    h.state.release();
    expect(await sending).toBe('sent');
    await drain(t.link);
    const left = mine(t.lapi, ip);
    expect(left).toHaveLength(1);
    expect(left[0]!.until).toBe(t.clock.now() + 3 * HOUR);
    expect(t.queue.alertsOf(ip)).toEqual([String(left[0]!.alertId)]);
  });

  it('a decision of this host pushed before the extension with no alert id known (its answer was lost) goes with the older ones; a newer one stays', async () => {
    const t = setup();
    t.link.enqueueBan(ban(ip, t.clock.now() + HOUR));
    await drain(t.link);
    const orphan = t.lapi.add(ip, 'portcullis@hostA', 8 * HOUR); // pushed by an earlier database
    t.link.enqueueBan(ban(ip, t.clock.now() + 2 * HOUR));
    await drain(t.link);
    expect(mine(t.lapi, ip).map((d) => d.until)).toEqual([t.clock.now() + 2 * HOUR]);
    expect(orphan.deletedAt).not.toBeNull();
  });

  it('deletes queued by the earlier version ({keep}: all but that alert) delete only the alerts older than the one they keep', async () => {
    const file = path.join(tempDir(), 'q.db');
    const old = new FleetQueue(file);
    const t = setup(old);
    const a1 = t.lapi.add(ip, 'portcullis@hostA', HOUR);
    const a2 = t.lapi.add(ip, 'portcullis@hostA', 2 * HOUR);
    const a3 = t.lapi.add(ip, 'portcullis@hostA', 4 * HOUR);
    for (const a of [a1, a2, a3]) old.addAlert(ip, String(a.alertId));
    // What the earlier version queued after pushing a2 and a3 in one batch.
    old.add('delete', ip, { keep: String(a2.alertId) });
    old.add('delete', ip, { keep: String(a3.alertId) });
    old.close();
    const q = new FleetQueue(file);
    const link = new FleetLink({ settings: CrowdsecSettingsSchema.parse({ url: 'http://lapi.test:8080', machineId: 'hostA', password: 'pw-A', bouncerKey: 'key-A' }), queue: q, fetch: t.lapi.fetch, now: () => t.clock.now(), version: '0.1.0', sink: nullSink, manual: true });
    link.start();
    await drain(link);
    expect(mine(t.lapi, ip).map((d) => d.id)).toEqual([a3.id]);
    expect(q.alertsOf(ip)).toEqual([String(a3.alertId)]);
    q.close();
  });
});

/** A fetch whose next POST /v1/alerts is cut before it reaches the LAPI (nothing committed) once `cut` is set. */
function cuttingPost() {
  const state = { cut: false };
  const wrap = (f: FetchLike): FetchLike => async (url, init) => {
    if (state.cut && init.method === 'POST' && url.endsWith('/v1/alerts')) {
      state.cut = false;
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET', message: 'other side closed' } });
    }
    return f(url, init);
  };
  return { state, wrap };
}

describe('a push whose connection was cut (its answer lost) is retried', () => {
  const ip = '198.51.100.7';
  const HOUR = 3_600_000;

  it('an extension cut before it reached the LAPI is pushed at the retry: the earlier ban\'s decision does not count as it', async () => {
    const c = cuttingPost();
    const t = setup(new FleetQueue(':memory:'), c.wrap);
    t.link.enqueueBan(ban(ip, t.clock.now() + HOUR));
    await drain(t.link);
    c.state.cut = true;
    t.link.enqueueBan(ban(ip, t.clock.now() + 4 * HOUR));
    expect(await t.link.pumpOnce()).toBe('failed');
    await drain(t.link);
    expect(mine(t.lapi, ip).map((d) => d.until)).toEqual([t.clock.now() + 4 * HOUR]);
  });

  it('an extension the LAPI took though its answer was lost is not pushed twice, and the earlier decision goes', async () => {
    const t = setup();
    t.link.enqueueBan(ban(ip, t.clock.now() + HOUR));
    await drain(t.link);
    t.lapi.loseNextPushReply = true;
    t.link.enqueueBan(ban(ip, t.clock.now() + 4 * HOUR));
    expect(await t.link.pumpOnce()).toBe('failed');
    t.clock.advance(2000); // the retry, a little later
    await drain(t.link);
    expect(t.lapi.decisions.filter((d) => d.value === ip)).toHaveLength(2);
    expect(mine(t.lapi, ip).map((d) => d.until)).toEqual([t.clock.now() - 2000 + 4 * HOUR]);
  });

  it('after a ban the LAPI took unanswered, an extension cut before it reached the LAPI is still pushed (that unknown decision ends earlier)', async () => {
    const c = cuttingPost();
    const t = setup(new FleetQueue(':memory:'), c.wrap);
    t.lapi.loseNextPushReply = true;
    t.link.enqueueBan(ban(ip, t.clock.now() + HOUR));
    expect(await t.link.pumpOnce()).toBe('failed');
    await drain(t.link);
    expect(mine(t.lapi, ip)).toHaveLength(1); // not pushed twice
    c.state.cut = true;
    t.link.enqueueBan(ban(ip, t.clock.now() + 4 * HOUR));
    expect(await t.link.pumpOnce()).toBe('failed');
    await drain(t.link);
    expect(mine(t.lapi, ip).map((d) => d.until)).toContain(t.clock.now() + 4 * HOUR);
  });

  it('a permanent ban the LAPI took unanswered is not pushed twice', async () => {
    const t = setup();
    t.lapi.loseNextPushReply = true;
    t.link.enqueueBan(ban(ip, null));
    expect(await t.link.pumpOnce()).toBe('failed');
    await drain(t.link);
    expect(t.lapi.decisions.filter((d) => d.value === ip)).toHaveLength(1);
  });
});

