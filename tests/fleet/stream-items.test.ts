/**
 * One malformed item in the decision stream is skipped and counted; the rest of the pull applies.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { CrowdsecSettingsSchema } from '../../electron/shared/fleet.ts';
import type { FetchLike } from '../../electron/engine/fleet/client.ts';
import { FleetLink, type FleetDecision } from '../../electron/engine/fleet/link.ts';
import { FleetQueue } from '../../electron/engine/fleet/queue.ts';
import { FakeLapi } from './fake-lapi.ts';

describe('decision stream items', () => {
  it('a decision with scenario null among good ones: skipped with a warning, the others applied', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const lapi = new FakeLapi(() => clock.now());
    lapi.bouncers.add('key-A');
    lapi.add('203.0.113.1', 'cscli');
    lapi.add('203.0.113.2', 'cscli');
    const bad = { duration: '59m', id: 99, origin: 'cscli', scenario: null, scope: 'Ip', type: 'ban', value: '203.0.113.3' };
    const fetch: FetchLike = async (url, init) => {
      const r = await lapi.fetch(url, init);
      if (!url.includes('/v1/decisions/stream')) return r;
      const body = JSON.parse(await r.text()) as { new: unknown[] | null };
      body.new = [...(body.new ?? []), bad];
      return { status: r.status, text: async () => JSON.stringify(body) };
    };
    const applied: FleetDecision[] = [];
    const logs: string[] = [];
    const settings = CrowdsecSettingsSchema.parse({ url: 'http://lapi.test:8080', machineId: 'hostA', password: 'pw-A', bouncerKey: 'key-A', share: false });
    const link = new FleetLink({
      settings,
      queue: new FleetQueue(':memory:'),
      fetch,
      now: () => clock.now(),
      version: '0.1.0',
      manual: true,
      log: (l, m) => logs.push(`${l} ${m}`),
      sink: { upsert: (d) => applied.push(d), upsertMany: (ds) => applied.push(...ds), removeMany: () => undefined, replaceAll: (all) => applied.push(...all) },
    });
    link.start();
    expect(await link.pullOnce()).toBe('full');
    expect(applied.map((d) => d.value).sort()).toEqual(['203.0.113.1', '203.0.113.2']);
    expect(link.health().pull.ok).toBe(true);
    expect(logs.some((l) => l.startsWith('warn') && l.includes('1 malformed decision skipped'))).toBe(true);
  });
});
