/**
 * FleetLink against the fake LAPI (tests/fleet/fake-lapi.ts): the durable push queue through 500s
 * and outages, deleting only this host's decision, token expiry, and the pull side's lost deltas,
 * merged decisions and repeated deletions. Timers are off: each test drives pumpOnce/pullOnce.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { CrowdsecSettingsSchema, type CrowdsecSettings } from '../../electron/shared/fleet.ts';
import { FleetLink, machineCredentials, MAX_FLEET_BAN_MS, readCredentialsFile, type FleetDecision, type FleetSink } from '../../electron/engine/fleet/link.ts';
import { FleetQueue } from '../../electron/engine/fleet/queue.ts';
import { parseGoDuration } from '../../electron/engine/fleet/lapi.ts';
import { FakeLapi } from './fake-lapi.ts';

class RecordingSink implements FleetSink {
  wanted = new Map<string, FleetDecision>();
  fulls = 0;
  upsert(d: FleetDecision): void {
    this.wanted.set(d.value, d);
  }
  upsertMany(ds: readonly FleetDecision[]): void {
    for (const d of ds) this.upsert(d);
  }
  /** Each removeMany, in order (a delta's deletions go together). */
  removals: string[][] = [];
  removeMany(values: readonly string[]): void {
    this.removals.push([...values]);
    for (const v of values) this.wanted.delete(v);
  }
  replaceAll(all: FleetDecision[]): void {
    this.fulls++;
    this.wanted = new Map(all.map((d) => [d.value, d]));
  }
}

function setup(over: Partial<CrowdsecSettings> = {}, queue = new FleetQueue(':memory:'), maxDecisions?: number) {
  const clock = new ManualClock(1_700_000_000_000);
  const lapi = new FakeLapi(() => clock.now());
  lapi.machines.set('hostA', 'pw-A');
  lapi.bouncers.add('key-A');
  const settings = CrowdsecSettingsSchema.parse({ url: 'http://lapi.test:8080', machineId: 'hostA', password: 'pw-A', bouncerKey: 'key-A', ...over });
  const sink = new RecordingSink();
  const link = new FleetLink({ settings, queue, fetch: lapi.fetch, now: () => clock.now(), version: '0.1.0', sink, manual: true, ...(maxDecisions ? { maxDecisions: () => maxDecisions } : {}) });
  link.start();
  return { clock, lapi, sink, link, queue };
}

const ban = (ip: string, until: number) => ({ ip, until, ports: [22, 23, 25], hits: 5, kind: 'scan', scanType: 'SYN' });

async function drain(link: FleetLink): Promise<void> {
  for (let i = 0; i < 100; i++) if ((await link.pumpOnce()) === 'empty') return;
  throw new Error('queue did not drain');
}

describe('FleetLink: push', () => {
  it('pushes a local ban as an alert with one ban decision named after this host, with a name/version User-Agent', async () => {
    const t = setup();
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 3_600_000));
    expect(await t.link.pumpOnce()).toBe('sent');
    const [d] = t.lapi.active();
    expect(d).toMatchObject({ value: '198.51.100.7', origin: 'portcullis@hostA', type: 'ban', scope: 'Ip', scenario: 'portcullis/portscan' });
    expect(d!.until - t.clock.now()).toBe(3_600_000);
    expect([...t.lapi.userAgents]).toEqual(['portcullis/0.1.0']);
    expect(t.queue.size()).toBe(0);
  });

  it('keeps every ban through 500 "database is locked" and an outage, in order, and loses none', async () => {
    const t = setup();
    const until = t.clock.now() + 3_600_000;
    t.lapi.failNext = 3;
    t.lapi.failOnly = /POST \/v1\/alerts/;
    for (let i = 1; i <= 120; i++) t.link.enqueueBan(ban(`198.51.100.${i}`, until));
    expect(await t.link.pumpOnce()).toBe('failed');
    expect(t.queue.size()).toBe(120);
    t.lapi.down = true;
    expect(await t.link.pumpOnce()).toBe('failed');
    expect(t.link.health().push.error).toMatch(/unreachable/);
    expect(t.queue.size()).toBe(120);
    t.lapi.down = false;
    await drain(t.link);
    expect(t.queue.size()).toBe(0);
    const values = t.lapi.active().map((d) => d.value);
    expect(values).toEqual(Array.from({ length: 120 }, (_, i) => `198.51.100.${i + 1}`));
    expect(t.link.health().push).toMatchObject({ ok: true, error: null, queued: 0 });
  });

  it('the queue survives a restart (a new link on the same database sends what the old one could not)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/pc-fleetq-');
    try {
      const first = setup({}, new FleetQueue(`${dir}/q.db`));
      first.lapi.down = true;
      first.link.enqueueBan(ban('198.51.100.9', first.clock.now() + 60_000));
      expect(await first.link.pumpOnce()).toBe('failed');
      await first.link.stop();
      first.queue.close();
      const second = setup({}, new FleetQueue(`${dir}/q.db`));
      expect(second.queue.size()).toBe(1);
      await drain(second.link);
      expect(second.lapi.active().map((d) => d.value)).toEqual(['198.51.100.9']);
      second.queue.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a local unban deletes only this host\'s decision, by id, never another host\'s for the same address', async () => {
    const t = setup();
    const other = t.lapi.add('198.51.100.7', 'portcullis@hostB');
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 3_600_000));
    await drain(t.link);
    expect(t.lapi.active()).toHaveLength(2);
    t.link.enqueueUnban('198.51.100.7');
    await drain(t.link);
    expect(t.lapi.active().map((d) => d.id)).toEqual([other.id]);
    expect(t.lapi.log).not.toContain('DELETE /v1/decisions');
  });

  it('a push whose answer was lost is not sent twice (the LAPI already holds the decision)', async () => {
    const t = setup();
    t.lapi.loseNextPushReply = true;
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 3_600_000));
    t.link.enqueueBan(ban('198.51.100.8', t.clock.now() + 3_600_000));
    expect(await t.link.pumpOnce()).toBe('failed');
    expect(t.queue.size()).toBe(2);
    await drain(t.link);
    expect(t.lapi.active().map((d) => d.value).sort()).toEqual(['198.51.100.7', '198.51.100.8']);
  });

  it('a ban lifted before its push went out is never sent at all', async () => {
    const t = setup();
    t.lapi.down = true;
    t.link.enqueueBan(ban('198.51.100.7', t.clock.now() + 3_600_000));
    await t.link.pumpOnce();
    t.link.enqueueUnban('198.51.100.7');
    expect(t.queue.size()).toBe(0);
    t.lapi.down = false;
    expect(await t.link.pumpOnce()).toBe('empty');
    expect(t.lapi.decisions).toHaveLength(0);
  });

  it('logs in again when the token expires early, and renews it before an hour passes', async () => {
    const t = setup();
    t.lapi.tokenTtlMs = 1000;
    t.link.enqueueBan(ban('198.51.100.1', t.clock.now() + 3_600_000));
    await drain(t.link);
    t.clock.advance(2000); // the token expired at the LAPI
    t.link.enqueueBan(ban('198.51.100.2', t.clock.now() + 3_600_000));
    await drain(t.link);
    expect(t.lapi.logins).toBe(2);
    t.lapi.tokenTtlMs = 3_600_000;
    t.clock.advance(51 * 60_000); // proactive renewal, whatever the server says about expiry
    t.link.enqueueBan(ban('198.51.100.3', t.clock.now() + 3_600_000));
    await drain(t.link);
    expect(t.lapi.logins).toBe(3);
    expect(t.lapi.active()).toHaveLength(3);
  });

  it('wrong machine password: the queue is kept and health says why', async () => {
    const t = setup({ password: 'wrong' });
    t.link.enqueueBan(ban('198.51.100.1', t.clock.now() + 3_600_000));
    expect(await t.link.pumpOnce()).toBe('failed');
    expect(t.queue.size()).toBe(1);
    expect(t.link.health()).toMatchObject({ status: 'error', login: { ok: false } });
    expect(t.link.health().login.error).toMatch(/machine "hostA" refused/);
  });

  it('reads the machine credentials from the file cscli writes', () => {
    const s = CrowdsecSettingsSchema.parse({ url: 'http://x:1', credentialsFile: '/etc/portcullis/x.yaml', bouncerKey: 'k' });
    const c = machineCredentials(s, () => 'url: http://127.0.0.1:8080\nlogin: hostA\npassword: s3cr3t\n');
    expect(c).toEqual({ machineId: 'hostA', password: 's3cr3t', error: null });
    expect(machineCredentials(s, () => 'url: x\n').error).toMatch(/no login and password/);
  });
});

describe('FleetLink: pull', () => {
  it('applies other hosts\' and cscli decisions, never its own nor an origin not listed (CAPI)', async () => {
    const t = setup();
    t.lapi.add('203.0.113.1', 'portcullis@hostB');
    t.lapi.add('203.0.113.2', 'cscli');
    t.lapi.add('203.0.113.3', 'portcullis@hostA');
    t.lapi.add('203.0.113.4', 'CAPI');
    expect(await t.link.pullOnce()).toBe('full');
    expect([...t.sink.wanted.keys()].sort()).toEqual(['203.0.113.1', '203.0.113.2']);
    expect(t.sink.wanted.get('203.0.113.1')!.until).toBe(t.clock.now() + 3_600_000);
  });

  it('deltas add and delete by value; repeated deletions are harmless', async () => {
    const t = setup();
    await t.link.pullOnce();
    t.clock.advance(1000);
    const d = t.lapi.add('203.0.113.1', 'portcullis@hostB');
    expect(await t.link.pullOnce()).toBe('delta');
    expect(t.sink.wanted.has('203.0.113.1')).toBe(true);
    t.clock.advance(1000);
    t.lapi.remove(d.id);
    await t.link.pullOnce();
    await t.link.pullOnce(); // the deletion repeats for ~2 s
    expect(t.sink.wanted.has('203.0.113.1')).toBe(false);
  });

  it("a delta's deletions go to the sink together, once each is looked up; a value another host's decision still holds is applied, not removed", async () => {
    const t = setup();
    await t.link.pullOnce();
    t.clock.advance(1000);
    const ds = Array.from({ length: 6 }, (_, i) => t.lapi.add(`203.0.113.${i + 1}`, 'portcullis@hostB', 7_200_000));
    t.lapi.add('203.0.113.1', 'portcullis@hostC', 3_600_000); // shorter: the stream shows hostB's only
    expect(await t.link.pullOnce()).toBe('delta');
    t.clock.advance(1000);
    for (const d of ds.slice(0, 5)) t.lapi.remove(d.id);
    expect(await t.link.pullOnce()).toBe('delta');
    expect(t.sink.removals).toEqual([['203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5']]);
    expect([...t.sink.wanted.keys()].sort()).toEqual(['203.0.113.1', '203.0.113.6']);
    expect(t.sink.wanted.get('203.0.113.1')!.origin).toBe('portcullis@hostC');
  });

  it('a decision lost by the delta stream comes back with the next startup=true resync', async () => {
    const t = setup();
    await t.link.pullOnce();
    t.clock.advance(1000);
    t.lapi.add('203.0.113.9', 'portcullis@hostB');
    t.lapi.loseDeltas = 1;
    await t.link.pullOnce();
    expect(t.sink.wanted.has('203.0.113.9')).toBe(false);
    t.clock.advance(5 * 60_000);
    expect(await t.link.pullOnce()).toBe('full');
    expect(t.sink.wanted.has('203.0.113.9')).toBe(true);
  });

  it('a busy delta brings a resync a few seconds later (the stream loses decisions under load)', async () => {
    const t = setup();
    await t.link.pullOnce();
    t.clock.advance(1000);
    for (let i = 1; i <= 20; i++) t.lapi.add(`203.0.113.${i}`, 'portcullis@hostB');
    expect(await t.link.pullOnce()).toBe('delta');
    t.clock.advance(1000);
    expect(await t.link.pullOnce()).toBe('delta');
    t.clock.advance(3000);
    expect(await t.link.pullOnce()).toBe('full');
  });

  it('merged decisions: when the longest host\'s decision is deleted, another host\'s for the address still applies', async () => {
    const t = setup();
    await t.link.pullOnce();
    t.clock.advance(1000);
    t.lapi.add('203.0.113.5', 'portcullis@hostB', 3_600_000);
    const c = t.lapi.add('203.0.113.5', 'portcullis@hostC', 7_200_000);
    await t.link.pullOnce();
    expect(t.sink.wanted.get('203.0.113.5')!.origin).toBe('portcullis@hostC'); // the stream shows the longest only
    t.clock.advance(1000);
    t.lapi.remove(c.id);
    await t.link.pullOnce();
    expect(t.sink.wanted.get('203.0.113.5')?.origin).toBe('portcullis@hostB');
  });

  it('LAPI down: pull fails without throwing, health says so, and the next success is a full resync', async () => {
    const t = setup();
    await t.link.pullOnce();
    t.lapi.down = true;
    t.clock.advance(1000);
    t.lapi.add('203.0.113.7', 'cscli');
    expect(await t.link.pullOnce()).toBe('failed');
    expect(t.link.health()).toMatchObject({ status: 'error', pull: { ok: false } });
    t.lapi.down = false;
    t.clock.advance(1000);
    expect(await t.link.pullOnce()).toBe('full');
    expect(t.sink.wanted.has('203.0.113.7')).toBe(true);
    expect(t.link.health().status).toBe('ok');
  });

  it('a wrong bouncer key is a clear error', async () => {
    const t = setup({ bouncerKey: 'nope' });
    expect(await t.link.pullOnce()).toBe('failed');
    expect(t.link.health().pull.error).toMatch(/bouncer key refused/);
  });
});

describe('LAPI wire helpers', () => {
  it('parses Go durations', () => {
    expect(parseGoDuration('59m51.5s')).toBe(3_591_500);
    expect(parseGoDuration('1h0m0s')).toBe(3_600_000);
    expect(parseGoDuration('-191.034257ms')).toBeCloseTo(-191.034257);
    expect(parseGoDuration('168h')).toBe(168 * 3_600_000);
    expect(parseGoDuration('soon')).toBeNull();
  });
});

describe('FleetLink: bounds (F6)', () => {
  it('a credentialsFile is a file in /etc/portcullis/; read without following a symlink, blocking on a FIFO or reading past 64 KiB', () => {
    expect(CrowdsecSettingsSchema.safeParse({ url: 'http://x:1', credentialsFile: '/dev/zero', bouncerKey: 'k' }).error?.issues[0]?.message).toMatch(/credentialsFile is a file in \/etc\/portcullis\//);
    expect(CrowdsecSettingsSchema.safeParse({ url: 'http://x:1', credentialsFile: '/etc/portcullis/../shadow', bouncerKey: 'k' }).success).toBe(false);
    const d = mkdtempSync(path.join(tmpdir(), 'pc-cred-'));
    const dir = `${d}/`;
    try {
      writeFileSync(`${d}/ok.yaml`, 'login: hostA\npassword: s3cr3t\n');
      expect(readCredentialsFile(`${d}/ok.yaml`, dir)).toMatch(/password: s3cr3t/);
      symlinkSync('/dev/zero', `${d}/zero.yaml`);
      expect(() => readCredentialsFile(`${d}/zero.yaml`, dir)).toThrow(/ELOOP|symbolic link/);
      execFileSync('mkfifo', [`${d}/fifo.yaml`]);
      expect(() => readCredentialsFile(`${d}/fifo.yaml`, dir)).toThrow(/not a regular file/);
      writeFileSync(`${d}/big.yaml`, 'x'.repeat(64 * 1024 + 1));
      expect(() => readCredentialsFile(`${d}/big.yaml`, dir)).toThrow(/larger than 64 KiB/);
      expect(() => readCredentialsFile('/etc/passwd', dir)).toThrow(/not in/);
      // The default reader keeps to /etc/portcullis/ even for settings that skipped the schema.
      expect(machineCredentials({ url: 'http://x:1', credentialsFile: '/dev/zero', bouncerKey: 'k' } as CrowdsecSettings).error).toMatch(/cannot read credentialsFile \/dev\/zero: not in \/etc\/portcullis\//);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a fleet decision lasting "99999999999h" is clamped to 3,650 days', async () => {
    const t = setup();
    t.lapi.add('203.0.113.9', 'portcullis@hostB', 99_999_999_999 * 3_600_000);
    await t.link.pullOnce();
    const d = t.sink.wanted.get('203.0.113.9')!;
    expect(d.until - t.clock.now()).toBe(MAX_FLEET_BAN_MS);
    expect(() => new Date(d.until).toISOString()).not.toThrow();
  });

  it('remembers at most maxBans fleet decisions, and a deletion it did not remember still lifts the ban', async () => {
    const t = setup({}, undefined, 2);
    const ds = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'].map((ip) => t.lapi.add(ip, 'portcullis@hostB'));
    await t.link.pullOnce();
    expect(t.sink.wanted.size).toBe(4); // the sink applies what fleet.maxBans allows
    expect((t.link as unknown as { remote: Map<string, unknown> }).remote.size).toBe(2);
    t.clock.advance(1000);
    t.lapi.remove(ds[3]!.id);
    await t.link.pullOnce();
    expect(t.sink.wanted.has('203.0.113.4')).toBe(false);
  });
});
