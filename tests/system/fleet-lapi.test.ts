/**
 * FleetLink against the real LAPI (Debian's crowdsec 1.4.6, a private instance on this namespace's
 * loopback — no firewall is touched): what the fake LAPI cannot prove because it depends on the
 * real one's behaviour — the stream shows one decision per value (the longest), GET /v1/decisions
 * lists them all, a batch with one invalid alert is refused whole with a 500.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CrowdsecSettingsSchema } from '../../electron/shared/fleet.ts';
import { FleetLink, type FleetSink } from '../../electron/engine/fleet/link.ts';
import { FleetQueue } from '../../electron/engine/fleet/queue.ts';
import type { FetchLike } from '../../electron/engine/fleet/client.ts';
import { parseGoDuration } from '../../electron/engine/fleet/lapi.ts';
import { requireSystem } from '../support/system.ts';
import { crowdsecInstalled, startLapi, type Lapi } from '../support/lapi.ts';

const enabled = requireSystem('root') && crowdsecInstalled();
const nullSink: FleetSink = { upsert: () => undefined, upsertMany: () => undefined, removeMany: () => undefined, replaceAll: () => undefined };
const ban = (ip: string, hours: number | null) => ({ ip, until: hours === null ? null : Date.now() + hours * 3_600_000, ports: [22, 23, 25], hits: 5, kind: 'scan', scanType: 'SYN' });

async function drain(link: FleetLink): Promise<void> {
  for (let i = 0; i < 200; i++) if ((await link.pumpOnce()) === 'empty') return;
  throw new Error('queue did not drain');
}

describe.runIf(enabled)('fleet link against a real CrowdSec LAPI', () => {
  let lapi: Lapi | null = null;
  const links: FleetLink[] = [];
  afterEach(async () => {
    for (const l of links.splice(0)) await l.stop();
    await lapi?.cleanup();
    lapi = null;
  });

  async function host(name: string, log: string[] = []): Promise<FleetLink> {
    const password = `pw-${name}-0123456789`;
    const bouncerKey = `key-${name}-0123456789`;
    await lapi!.addMachine(name, password);
    await lapi!.addBouncer(`portcullis-${name}`, bouncerKey);
    const settings = CrowdsecSettingsSchema.parse({ url: lapi!.url, machineId: name, password, bouncerKey });
    const link = new FleetLink({ settings, queue: new FleetQueue(':memory:'), fetch: fetch as unknown as FetchLike, now: () => Date.now(), version: '0.1.0', sink: nullSink, manual: true, log: (l, m) => log.push(`${l} ${m}`) });
    link.start();
    links.push(link);
    return link;
  }

  /** Every active decision for the address, by origin (the bouncer view: not merged per value). */
  const decisionsOf = async (ip: string) => {
    const res = await fetch(`${lapi!.url}/v1/decisions?ip=${ip}`, { headers: { 'User-Agent': 'portcullis-test/1', 'X-Api-Key': 'key-hostA-0123456789' } });
    return ((await res.json()) as { origin: string }[] | null ?? []).map((d) => d.origin).sort();
  };

  it("extended then lifted on A: none of A's decisions for the address is left, B's stays", async () => {
    lapi = await startLapi();
    const a = await host('hostA');
    const b = await host('hostB');
    b.enqueueBan(ban('198.51.100.7', 6));
    await drain(b);
    a.enqueueBan(ban('198.51.100.7', 1));
    await drain(a);
    a.enqueueBan(ban('198.51.100.7', null)); // extended: made permanent
    await drain(a);
    expect(await decisionsOf('198.51.100.7')).toEqual(['portcullis@hostA', 'portcullis@hostB']);
    a.enqueueUnban('198.51.100.7');
    await drain(a);
    expect(await decisionsOf('198.51.100.7')).toEqual(['portcullis@hostB']);
  });

  it("a re-ban and its extension pushed in one batch: A's newest decision stands, its older ones are gone, B's stays", async () => {
    lapi = await startLapi();
    const a = await host('hostA');
    const b = await host('hostB');
    b.enqueueBan(ban('198.51.100.9', 6));
    await drain(b);
    a.enqueueBan(ban('198.51.100.9', 1));
    await drain(a);
    a.enqueueBan(ban('198.51.100.9', 2)); // re-banned while the LAPI was away…
    a.enqueueBan(ban('198.51.100.9', 12)); // …and extended: one batch
    await drain(a);
    const res = await fetch(`${lapi.url}/v1/decisions?ip=198.51.100.9`, { headers: { 'User-Agent': 'portcullis-test/1', 'X-Api-Key': 'key-hostA-0123456789' } });
    const left = ((await res.json()) as { origin: string; duration: string }[]).filter((d) => d.origin === 'portcullis@hostA');
    expect(left).toHaveLength(1);
    expect(parseGoDuration(left[0]!.duration)).toBeGreaterThan(11 * 3_600_000); // the extension's 12 h
    expect(await decisionsOf('198.51.100.9')).toEqual(['portcullis@hostA', 'portcullis@hostB']);
  });

  it("the stream shows A's own longer decision only; B's shorter one behind it is found by lookupRemote", async () => {
    lapi = await startLapi();
    const a = await host('hostA');
    const b = await host('hostB');
    b.enqueueBan(ban('198.51.100.8', 6));
    await drain(b);
    a.enqueueBan(ban('198.51.100.8', 10));
    await drain(a);
    expect(await a.pullOnce()).toBe('full');
    expect(a.remoteFor('198.51.100.8')).toBeNull();
    expect(a.showsOwn('198.51.100.8')).toBe(true);
    expect(await a.lookupRemote('198.51.100.8')).toMatchObject({ value: '198.51.100.8', origin: 'portcullis@hostB' });
    expect(a.remoteFor('198.51.100.8')?.origin).toBe('portcullis@hostB');
  });

  it('a batch with one alert the LAPI refuses: the others are shared, the refused one dropped with its reason', async () => {
    lapi = await startLapi();
    const log: string[] = [];
    const a = await host('hostA', log);
    a.enqueueBan(ban('198.51.100.20', 1));
    a.enqueueBan(ban('not-an-address', 1));
    a.enqueueBan(ban('198.51.100.21', 1));
    await drain(a);
    const all = (await lapi.decisions()).map((d) => d.value).sort();
    expect(all).toEqual(['198.51.100.20', '198.51.100.21']);
    expect(log.some((l) => l.includes('dropped "push not-an-address"'))).toBe(true);
  });
});
