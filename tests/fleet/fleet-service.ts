/**
 * A PortcullisService with the fleet on (the real engine, parser and SQLite store of
 * tests/headless/real-service.ts, a recording firewall, the fake LAPI, pulls and pushes only when
 * the test asks). What service-fleet and fleet-ranges tests share.
 */
import path from 'node:path';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { FleetLink } from '../../electron/engine/fleet/link.ts';
import { FakeFirewall, Journal, type PushSource } from '../headless/fakes.ts';
import { BOOT, buildRealService, HOST, kmsg } from '../headless/real-service.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';
import { FakeLapi } from './fake-lapi.ts';

export { BOOT, HOST };
export const HOST6 = '2001:db8::10';
export const GATEWAY = '192.0.2.1';

export const FLEET = { url: 'http://lapi.test:8080', machineId: 'hostA', password: 'pw-A', bouncerKey: 'key-A', pullIntervalMs: 1000 };

/** Settings with the fleet on (FLEET's credentials), `fleetExtra` over them and `extra` beside them. */
export const withFleet = (extra: Record<string, unknown> = {}, fleetExtra: Record<string, unknown> = {}) => ({ fleet: { crowdsec: { ...FLEET, ...fleetExtra }, ...extra } });

/** A blocked probe from `src` to this host (its IPv6 address for an IPv6 source), `ms` after boot. */
export function probe(src: string, dpt: number, ms: number): string {
  return kmsg(src, dpt, ms, src.includes(':') ? HOST6 : HOST);
}

/** A 5-port scan from `src`, in event time just before the clock. */
export function scan(t: { source: PushSource; clock: ManualClock }, src: string): void {
  const ms = t.clock.now() - BOOT - 500;
  t.source.push(...[21, 23, 25, 80, 110].map((p, i) => probe(src, p, ms + i)));
}

export interface FleetServiceOptions {
  /** Saved before the start (none: the store's settings, fleet off unless an earlier run saved it). */
  settings?: Record<string, unknown>;
  /** Reuse a directory (its database) of an earlier build: a restart. */
  dir?: string;
  lapi?: FakeLapi;
  clock?: ManualClock;
  /** The firewall (default: a FakeFirewall, which has no bulk ban). */
  firewall?: FakeFirewall;
}

/** Call at a test file's top level: the builder, whose temp directories go after each test. */
export function fleetServiceBuilder() {
  const tempDir = tempDirsPerTest('pc-fleet-');
  return async (opts: FleetServiceOptions = {}) => {
    const dir = opts.dir ?? tempDir();
    const dbFile = path.join(dir, 'p.db');
    const clock = opts.clock ?? new ManualClock(BOOT + 10_000);
    const lapi = opts.lapi ?? new FakeLapi(() => clock.now());
    lapi.machines.set('hostA', 'pw-A');
    lapi.bouncers.add('key-A');
    const firewall = opts.firewall ?? new FakeFirewall(new Journal());
    const notices: string[] = [];
    let link: FleetLink | null = null;
    const t = buildRealService({
      dbFile,
      clock,
      firewall,
      log: (level, m) => notices.push(`${level} ${m}`),
      fleet: { fetch: lapi.fetch, queuePath: dbFile, version: '0.1.0', manual: true, onLink: (l) => (link = l) },
    });
    if (opts.settings) t.settingsRepo.save(opts.settings as never);
    t.service.onEvents((events) => {
      for (const e of events) if (e.type === 'notice') notices.push(`notice ${e.message}`);
    });
    await t.service.start();
    const theLink = () => {
      if (!link) throw new Error('no fleet link');
      return link;
    };
    return { service: t.service, source: t.source, firewall, clock, lapi, call: t.call, link: theLink, notices, repo: t.settingsRepo, dir };
  };
}
