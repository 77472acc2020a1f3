/**
 * A live packet row carries the id its stored row has: the window merges the rows it pages from the
 * store (a reload, the backfill of rows shed under a burst) with the streamed ones by id and sorts
 * them by it. The live ids once came from a counter that started at 1 each run and stood still while
 * no window listened: after a restart, new packets showed under old packets' ids, sorted below them,
 * and the merged list held each id twice. Real SQLite store, real engine and parser.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispatch, type ApiResult } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { parseRecord } from '../../electron/engine/parse/index.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { serviceStoreOf, StoreSettingsRepo } from '../../electron/app/adapters.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import { FakeFirewall, FakeHelper, Journal, PushSource } from './fakes.ts';

const BOOT = 1_800_000_000_000;
const HOST = '192.0.2.10';
let seq = 100;
const line = (dpt: number, ms: number) =>
  `4,${seq++},${ms * 1000},-;[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.7 DST=${HOST} LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=1 PROTO=TCP SPT=40000 DPT=${dpt} WINDOW=1024 RES=0x00 SYN URGP=0`;

let dir: string;
let db: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pc-ids-'));
  db = path.join(dir, 'portcullis.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** One run of the service on the database: `quiet` ports arrive while no window listens, then `shown` ones. */
async function run(quiet: number[], shown: number[]): Promise<{ live: Map<number, number>; stored: Map<number, number> }> {
  const clock = new ManualClock(BOOT + 10_000);
  const raw = new SqliteStore({ path: db, clock });
  const store = serviceStoreOf(raw, clock);
  const source = new PushSource();
  const service = new PortcullisService({
    clock,
    settingsRepo: new StoreSettingsRepo(store, db),
    createEngine: (opts, sink) => new ScanEngine({ ...opts, parse: { framing: 'kmsg', bootTimeMs: BOOT } }, sink),
    parseLine: (l) => parseRecord(l, { framing: 'kmsg', bootTimeMs: BOOT }),
    store,
    source,
    firewall: new FakeFirewall(new Journal()),
    helper: new FakeHelper(),
    hostInfo: async () => ({ addresses: [HOST], interfaces: ['eth0'], gateways: ['192.0.2.1'] }),
    tickMs: 3_600_000,
  });
  await service.start();
  let t = 20_000;
  source.push(...quiet.map((p) => line(p, t++)));
  await service.idle();
  const live = new Map<number, number>(); // dpt → id
  const off = service.onEvents((events) => {
    for (const e of events) if (e.type === 'packets') for (const r of e.rows) live.set(r.dpt!, r.id);
  });
  source.push(...shown.map((p) => line(p, t++)));
  await service.idle();
  await new Promise((r) => setTimeout(r, 300)); // the event batcher's next delivery
  const page = await dispatch(service.handlers(), 'getPackets', { limit: 100 });
  if (!page.ok) throw new Error(page.error.message);
  const stored = new Map((page.result as ApiResult<'getPackets'>).rows.map((r): [number, number] => [r.dpt!, r.id]));
  off();
  await service.stop();
  raw.close();
  return { live, stored };
}

describe('live packet rows and stored rows', () => {
  it('carry the same id, in a second run on the database and after packets no window saw', async () => {
    await run([1001, 1002], [1003]);
    const second = await run([2001], [2002, 2003]);
    expect([...second.live.keys()]).toEqual([2002, 2003]);
    for (const [dpt, id] of second.live) expect(id, `port ${dpt}`).toBe(second.stored.get(dpt));
    // Newer packets have larger ids than every packet of the first run.
    expect(Math.min(...second.live.values())).toBeGreaterThan(second.stored.get(1003)!);
    expect(new Set(second.stored.values()).size).toBe(second.stored.size);
  });
});
