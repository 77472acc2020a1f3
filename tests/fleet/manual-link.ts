/**
 * A fleet link on its own (no service): a push queue in a new file, a fake LAPI that knows host A,
 * and a link pumped and pulled by hand (`manual`), its requests through `through` (the LAPI's own
 * fetch unless a test wraps it, e.g. to take the database's lock mid-request).
 */
import path from 'node:path';
import { ManualClock } from '../../electron/shared/domain.ts';
import { CrowdsecSettingsSchema } from '../../electron/shared/fleet.ts';
import type { FetchLike } from '../../electron/engine/fleet/client.ts';
import { FleetLink, type FleetSink } from '../../electron/engine/fleet/link.ts';
import { FleetQueue } from '../../electron/engine/fleet/queue.ts';
import { FakeLapi } from './fake-lapi.ts';

/** A sink that applies nothing (these tests look at what is pushed). */
export const nullSink: FleetSink = { upsert: () => undefined, upsertMany: () => undefined, removeMany: () => undefined, replaceAll: () => undefined };
export const hostASettings = CrowdsecSettingsSchema.parse({ url: 'http://lapi.test:8080', machineId: 'hostA', password: 'pw-A', bouncerKey: 'key-A' });

export function manualLink(dir: string, through: (file: string, lapi: FakeLapi) => FetchLike = (_file, lapi) => lapi.fetch) {
  const file = path.join(dir, 'q.db');
  const queue = new FleetQueue(file);
  const clock = new ManualClock(1_700_000_000_000);
  const lapi = new FakeLapi(() => clock.now());
  lapi.machines.set('hostA', 'pw-A');
  lapi.bouncers.add('key-A');
  const link = new FleetLink({ settings: hostASettings, queue, fetch: through(file, lapi), now: () => clock.now(), version: '0.1.0', sink: nullSink, manual: true });
  link.start();
  return { file, queue, clock, lapi, link };
}
