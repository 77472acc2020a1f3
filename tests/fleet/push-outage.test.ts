/**
 * The push queue through an outage behind a proxy: a 502/503/504 or a reply that is no LAPI answer
 * says the LAPI is away, not that the alert is bad — the bans wait (forever if need be) and all go
 * once it is back. Only what the LAPI shows it refuses (a validation error; or a failure of one item
 * while others of its batch went through) counts toward dropping the item.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { CrowdsecSettingsSchema } from '../../electron/shared/fleet.ts';
import { FleetLink, type FleetSink } from '../../electron/engine/fleet/link.ts';
import { FleetQueue } from '../../electron/engine/fleet/queue.ts';
import type { FetchLike } from '../../electron/engine/fleet/client.ts';
import { FakeLapi } from './fake-lapi.ts';

const nullSink: FleetSink = { upsert: () => undefined, upsertMany: () => undefined, removeMany: () => undefined, replaceAll: () => undefined };
const settings = CrowdsecSettingsSchema.parse({ url: 'http://lapi.test:8080', machineId: 'hostA', password: 'pw-A', bouncerKey: 'key-A' });
const ban = (ip: string, until: number) => ({ ip, until, ports: [22, 23, 25], hits: 5, kind: 'scan', scanType: 'SYN' });
const ips = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `198.51.100.${from + i}`);

/** What a proxy in front of a LAPI that is away answers a POST /v1/alerts. */
const PROXY_REPLIES: [string, number, string][] = [
  ['503 Service Unavailable', 503, '{"message":"Service Unavailable"}'],
  ['502 Bad Gateway (an HTML page)', 502, '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>'],
  ['504 Gateway Timeout', 504, '<html><body><h1>504 Gateway Time-out</h1></body></html>'],
  ['200 with a maintenance page (no LAPI answer)', 200, '<html><body>down for maintenance</body></html>'],
];

function setup(now: () => number, manual: boolean) {
  const lapi = new FakeLapi(now);
  lapi.machines.set('hostA', 'pw-A');
  lapi.bouncers.add('key-A');
  /** While true, POST /v1/alerts gets `proxy`'s answer instead of reaching the LAPI. */
  const state = { outage: false, proxy: PROXY_REPLIES[0]!, posts: 0 };
  const fetch: FetchLike = async (url, init) => {
    if (state.outage && init.method === 'POST' && url.endsWith('/v1/alerts')) {
      state.posts++;
      const [, status, text] = state.proxy;
      return { status, text: async () => text };
    }
    return lapi.fetch(url, init);
  };
  const logs: string[] = [];
  const queue = new FleetQueue(':memory:');
  const link = new FleetLink({ settings, queue, fetch, now, version: '0.1.0', sink: nullSink, manual, log: (l, m) => logs.push(`${l} ${m}`) });
  link.start();
  return { lapi, link, queue, logs, state };
}

describe('fleet push through an outage behind a proxy', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(PROXY_REPLIES)('%s for many tries: nothing is dropped, every ban is shared once the LAPI is back', async (...proxy) => {
    const clock = new ManualClock(1_700_000_000_000);
    const t = setup(() => clock.now(), true);
    t.state.proxy = proxy;
    t.state.outage = true;
    for (const ip of ips(1, 5)) t.link.enqueueBan(ban(ip, clock.now() + 86_400_000));
    for (let i = 0; i < 40; i++) {
      expect(await t.link.pumpOnce()).toBe('failed');
      clock.advance(10_000);
    }
    expect(t.queue.size()).toBe(5);
    t.state.outage = false;
    for (let i = 0; i < 20 && (await t.link.pumpOnce()) !== 'empty'; i++);
    expect(t.lapi.active().map((d) => d.value).sort()).toEqual(ips(1, 5));
    expect(t.logs.filter((l) => l.startsWith('error') || l.includes('one by one'))).toEqual([]);
  });

  it('a 5-minute 503 outage with the link\'s own timers (fake time): the bans wait and all go after it, in one batch', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const t = setup(() => Date.now(), false);
    t.state.outage = true;
    for (const ip of ips(1, 5)) t.link.enqueueBan(ban(ip, Date.now() + 86_400_000));
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(t.state.posts).toBeGreaterThan(30); // it kept trying, at most 10 s apart
    expect(t.queue.size()).toBe(5);
    t.state.outage = false;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(t.queue.size()).toBe(0);
    expect(t.lapi.active().map((d) => d.value).sort()).toEqual(ips(1, 5));
    expect(t.lapi.log.filter((l) => l === 'POST /v1/alerts')).toHaveLength(1);
    expect(t.logs.filter((l) => l.startsWith('error'))).toEqual([]);
    await t.link.stop();
  });

  it('an unrecognised 500 for one alert while the others of its batch go through: that one is dropped with its reason', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const t = setup(() => clock.now(), true);
    t.lapi.refuseValue = /^198\.51\.100\.11$/;
    t.lapi.refuseMessage = () => 'something went wrong';
    for (const ip of ips(10, 12)) t.link.enqueueBan(ban(ip, clock.now() + 3_600_000));
    for (let i = 0; i < 30 && (await t.link.pumpOnce()) !== 'empty'; i++);
    expect(t.queue.size()).toBe(0);
    expect(t.lapi.active().map((d) => d.value).sort()).toEqual(['198.51.100.10', '198.51.100.12']);
    expect(t.logs.some((l) => l.startsWith('error') && l.includes('dropped "push 198.51.100.11"') && l.includes('something went wrong'))).toBe(true);
  });

  it('an unrecognised 500 for the only alert there is: not counted as a refusal (nothing shows the LAPI works), it goes once the LAPI takes it', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const t = setup(() => clock.now(), true);
    t.lapi.refuseValue = /^198\.51\.100\.11$/;
    t.lapi.refuseMessage = () => 'something went wrong';
    t.link.enqueueBan(ban('198.51.100.11', clock.now() + 3_600_000));
    for (let i = 0; i < 30; i++) expect(await t.link.pumpOnce()).toBe('failed');
    expect(t.queue.size()).toBe(1);
    t.lapi.refuseValue = null;
    expect(await t.link.pumpOnce()).toBe('sent');
    expect(t.lapi.active().map((d) => d.value)).toEqual(['198.51.100.11']);
  });
});
