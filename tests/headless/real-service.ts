/**
 * A PortcullisService on the REAL engine, parser and SQLite store (a temp file), fed
 * /dev/kmsg-format records through a PushSource; the firewall is the test's (a recording fake),
 * the helper a fake. What service-real and service-bulk tests share.
 */
import { dispatch, type ApiMethod, type ApiResult } from '../../electron/shared/api.ts';
import path from 'node:path';
import { ManualClock } from '../../electron/shared/domain.ts';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { parseRecord } from '../../electron/engine/parse/index.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { serviceStoreOf, StoreSettingsRepo } from '../../electron/app/adapters.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import type { ServiceOptions } from '../../electron/app/contracts.ts';
import { FakeFirewall, FakeHelper, Journal, PushSource } from './fakes.ts';

export { tempDirsPerTest } from '../support/temp-dirs.ts';

/** The kernel's boot time in these tests: kmsg stamps count from it. */
export const BOOT = 1_800_000_000_000;
/** This host's address. */
export const HOST = '192.0.2.10';

let seq = 100;
/** A kernel LOG record as /dev/kmsg gives it, `ms` after boot. */
export function kmsg(src: string, dpt: number, ms: number, dst = HOST, iface = 'eth0', dstMac = '52:54:00:12:34:56'): string {
  return `4,${seq++},${ms * 1000},-;[UFW BLOCK] IN=${iface} OUT= MAC=${dstMac}:52:54:00:65:43:21:08:00 SRC=${src} DST=${dst} LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=1 PROTO=TCP SPT=40000 DPT=${dpt} WINDOW=1024 RES=0x00 SYN URGP=0`;
}

export type HostInfoFn = () => Promise<{ addresses: string[]; interfaces: string[]; gateways: string[]; macs?: Record<string, string> }>;
export const HOME_NETWORK: HostInfoFn = async () => ({ addresses: [HOST], interfaces: ['eth0'], gateways: ['192.0.2.1'] });

export interface RealServiceOptions {
  dbFile: string;
  clock: ManualClock;
  firewall: FakeFirewall;
  /** The ban backend not in use (ServiceOptions.otherFirewall). */
  otherFirewall?: FakeFirewall;
  source?: PushSource;
  hostInfo?: HostInfoFn;
  /** Writes into the store before the service opens it (e.g. bans left by an earlier run). */
  seed?: (raw: SqliteStore, now: number) => void;
  log?: ServiceOptions['log'];
  /** The fleet link (tests/fleet/fleet-service.ts); absent = no fleet. */
  fleet?: ServiceOptions['fleet'];
}

export function buildRealService(o: RealServiceOptions) {
  const { dbFile, clock, firewall } = o;
  const raw = new SqliteStore({ path: dbFile, clock });
  o.seed?.(raw, clock.now());
  const store = serviceStoreOf(raw, clock);
  const parseOpts = { framing: 'kmsg' as const, bootTimeMs: BOOT };
  const source = o.source ?? new PushSource();
  const settingsRepo = new StoreSettingsRepo(store, dbFile);
  const service = new PortcullisService({
    clock,
    settingsRepo,
    createEngine: (opts, sink) => new ScanEngine({ ...opts, parse: parseOpts }, sink),
    parseLine: (l) => parseRecord(l, parseOpts),
    store,
    source,
    firewall,
    ...(o.otherFirewall ? { otherFirewall: o.otherFirewall } : {}),
    helper: new FakeHelper(),
    hostInfo: o.hostInfo ?? HOME_NETWORK,
    tickMs: 3_600_000,
    ...(o.log ? { log: o.log } : {}),
    ...(o.fleet ? { fleet: o.fleet } : {}),
  });
  const h = service.handlers();
  /** Calls the API as a transport does (params validated), throwing on an error reply. */
  const call = async <M extends ApiMethod>(m: M, p: unknown = {}): Promise<ApiResult<M>> => {
    const r = await dispatch(h, m, p);
    if (!r.ok) throw new Error(`${m}: ${r.error.code} ${r.error.message}`);
    return r.result as ApiResult<M>;
  };
  return { service, source, store, raw, clock, call, settingsRepo };
}

/**
 * A real service on a new database file in `dir` (a recording firewall, a pushed kmsg source, its
 * log lines into `log`), started, with `patch` applied to its settings: where the store tests start.
 */
export async function startedRealService(dir: string, log: string[], patch: Record<string, unknown>) {
  const clock = new ManualClock(BOOT + 10_000);
  const fw = new FakeFirewall(new Journal());
  const source = new PushSource();
  const dbFile = path.join(dir, 'db.sqlite');
  const a = buildRealService({ dbFile, clock, firewall: fw, source, log: (level, m) => log.push(`${level}: ${m}`) });
  await a.service.start();
  await a.call('updateSettings', { patch } as never);
  return { ...a, fw, dbFile };
}
