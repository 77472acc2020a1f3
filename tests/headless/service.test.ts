import { afterEach, describe, expect, it, vi } from 'vitest';
import { dispatch, type ApiEvent, type DoctorCheck } from '../../electron/shared/api.ts';
import type { SourceHealth } from '../../electron/engine/ports.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { BanRecord } from '../../electron/shared/model.ts';
import { PortcullisService, type ServiceOptions } from '../../electron/app/service.ts';
import { allowedPortsFrom } from '../../electron/app/rule-safety.ts';
import { savedFormOf } from '../../electron/app/settings-load.ts';
import type { Settings } from '../../electron/shared/settings.ts';
import { mergePatch } from '../../electron/shared/merge-patch.ts';
import { firewallPortOf } from '../../electron/app/helper-adapter.ts';
import { FakeEngine, FakeFirewall, FakeHelper, fakeParser, Journal, MemorySettings, MemoryStore, PushSource } from './fakes.ts';
import type { SkippedBan } from '../../electron/shared/helper-protocol.ts';

const HOST = '10.0.0.1';

function setup(opts: Partial<ServiceOptions> & { settings?: unknown } = {}) {
  const journal = new Journal();
  const clock = new ManualClock(1_700_000_000_000);
  const firewall = new FakeFirewall(journal);
  const store = new MemoryStore(journal);
  const source = new PushSource();
  const helper = new FakeHelper();
  const settings = new MemorySettings(opts.settings ?? { detection: { maxretry: 3 }, ban: { bantimeSec: 60, maxbantimeSec: 600 } });
  const service = new PortcullisService({
    clock,
    settingsRepo: settings,
    createEngine: (o, sink) => new FakeEngine(o, sink),
    parseLine: fakeParser(clock),
    store,
    source,
    firewall,
    helper,
    hostInfo: async () => ({ addresses: [HOST], interfaces: ['eth0'], gateways: [] }),
    tickMs: 3_600_000,
    ...opts,
  });
  const h = service.handlers();
  const call = (method: string, params: unknown = {}) => dispatch(h, method, params);
  return { journal, clock, firewall, store, source, helper, settings, service, call };
}

const scan = (src: string, ports: number[], dst = HOST) => ports.map((p) => `${src} ${dst} ${p}`);

afterEach(() => {
  vi.useRealTimers();
});

describe('PortcullisService: bans', () => {
  it('writes the ban to the store before it touches the firewall, then cuts connections', async () => {
    const t = setup();
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [21, 23, 25]));
    await t.service.idle();
    const j = t.journal.entries;
    expect(j.indexOf('store.ban 203.0.113.9')).toBeGreaterThanOrEqual(0);
    expect(j.indexOf('store.ban 203.0.113.9')).toBeLessThan(j.indexOf('fw.ban 203.0.113.9'));
    expect(j.indexOf('fw.ban 203.0.113.9')).toBeLessThan(j.indexOf('fw.cut 203.0.113.9'));
    expect(t.firewall.bans.has('203.0.113.9')).toBe(true);
  });

  it("a source that decodes its own records (nflog) hands packets, not lines: the same ban and the same stored packets as the parsed lines", async () => {
    const lines = setup();
    await lines.service.start();
    lines.source.push(...scan('203.0.113.9', [21, 23, 25]));
    await lines.service.idle();
    // The same packets, handed over as packets (the parser's own records, so nothing differs but the path).
    const parse = fakeParser(lines.clock);
    const packets = scan('203.0.113.9', [21, 23, 25]).map((l) => {
      const r = parse(l);
      if (!r.ok) throw new Error('fake parser');
      return { ...r.packet, framing: 'nflog' as const };
    });
    let give: ((p: typeof packets) => void) | undefined;
    const source = Object.assign(new PushSource(), {
      start: async (_l: (lines: string[]) => void, onPackets?: (p: typeof packets) => void) => void (give = onPackets),
    });
    const direct = setup({ source, parseLine: () => expect.fail('packets are not parsed again') });
    await direct.service.start();
    give!(packets);
    await direct.service.idle();
    expect(direct.firewall.bans.has('203.0.113.9')).toBe(true);
    const stored = (t: ReturnType<typeof setup>) => [...t.store.packets, ...t.store.pending].map(({ framing: _f, ...p }) => p);
    expect(stored(direct)).toHaveLength(3);
    expect(stored(direct)).toEqual(stored(lines));
    expect(direct.journal.entries.filter((e) => e.startsWith('store.ban') || e.startsWith('fw.ban'))).toEqual(lines.journal.entries.filter((e) => e.startsWith('store.ban') || e.startsWith('fw.ban')));
  });

  it('no conntrack cut where the block already drops established sessions (set backend): a cut spawns two processes per ban (issue 14)', async () => {
    for (const blocksEstablished of [true, false]) {
      const journal = new Journal();
      const firewall = Object.assign(new FakeFirewall(journal), { blocksEstablished });
      const t = setup({ firewall });
      await t.service.start();
      expect((await t.call('ban', { ip: '203.0.113.7' })).ok).toBe(true);
      expect((await t.call('banMany', { ips: ['203.0.113.8', '203.0.113.9'] })).ok).toBe(true);
      t.source.push(...scan('203.0.113.10', [21, 23, 25]));
      await t.service.idle();
      const cuts = firewall.calls.filter((c) => c.startsWith('cut '));
      expect(firewall.calls.filter((c) => c.startsWith('ban ')).length + firewall.calls.filter((c) => c.startsWith('banMany')).length).toBeGreaterThan(0);
      expect(cuts, `blocksEstablished ${blocksEstablished}`).toEqual(blocksEstablished ? [] : ['cut 203.0.113.7', 'cut 203.0.113.8', 'cut 203.0.113.9', 'cut 203.0.113.10']);
      await t.service.stop();
    }
    // What the helper's ports say: the set backend's match comes before ufw's ESTABLISHED accept.
    const call = (async () => ({})) as never;
    expect(firewallPortOf(call, 'set').blocksEstablished).toBe(true);
    expect(firewallPortOf(call, 'ufw').blocksEstablished).toBe(false);
  });

  it("a ban does not wait behind another address's slow firewall change; one address's ban and unban keep their order (issue 14)", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    class SlowFirewall extends FakeFirewall {
      override async ban(ip: string, until: number | null): Promise<SkippedBan | void> {
        if (ip === '203.0.113.1') await held; // a ufw rule change behind a slow `ufw prepend`
        return super.ban(ip, until);
      }
    }
    const firewall = new SlowFirewall(new Journal());
    const t = setup({ firewall });
    await t.service.start();
    const first = t.call('ban', { ip: '203.0.113.1' });
    // Answered while the first address's change still runs (it waited for it before: hung here).
    expect((await t.call('ban', { ip: '203.0.113.2' })).ok).toBe(true);
    expect(firewall.calls).toContain('ban 203.0.113.2');
    expect(firewall.calls.some((c) => c === 'ban 203.0.113.1')).toBe(false);
    const unban = t.call('unban', { ip: '203.0.113.1' });
    release();
    expect((await first).ok).toBe(true);
    expect((await unban).ok).toBe(true);
    expect(firewall.calls.filter((c) => c.endsWith(' 203.0.113.1') && !c.startsWith('cut'))).toEqual(['ban 203.0.113.1', 'unban 203.0.113.1']);
    await t.service.stop();
  });

  it('lifting an orphan (a ban only the firewall holds) by hand says so to the firewall: manual', async () => {
    const t = setup();
    await t.service.start();
    t.firewall.bans.set('203.0.113.6', null); // tagged, unknown to the engine: an orphan
    expect((await t.call('unban', { ip: '203.0.113.6' })).ok).toBe(true);
    expect(t.firewall.bans.has('203.0.113.6')).toBe(false);
    expect(t.firewall.unbanWhy).toEqual(['203.0.113.6 manual']);
    await t.service.stop();
  });

  it("lifting an orphan never lifts a ban of the same address decided while the firewall was listed", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let hold = false;
    class SlowListFirewall extends FakeFirewall {
      override async listBans(): Promise<{ ip: string; until: number | null }[]> {
        const list = await super.listBans();
        if (hold) await held; // a `ufw show added` under load
        return list;
      }
    }
    const firewall = new SlowListFirewall(new Journal());
    const t = setup({ firewall });
    await t.service.start();
    firewall.bans.set('203.0.113.5', null); // tagged, unknown to the engine: an orphan
    hold = true;
    const unban = t.call('unban', { ip: '203.0.113.5' });
    await new Promise((r) => setTimeout(r, 0));
    expect((await t.call('ban', { ip: '203.0.113.5' })).ok).toBe(true); // decided meanwhile
    release();
    expect((await unban).ok).toBe(true);
    await t.service.idle();
    expect(firewall.bans.has('203.0.113.5')).toBe(true);
    await t.service.stop();
  });

  it('acts only on records addressed to this host (the kernel log is shared by all namespaces)', async () => {
    const t = setup();
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [21, 23, 25], '10.9.9.9').map((l) => l + ' vethOther'));
    await t.service.idle();
    expect(t.firewall.calls).toEqual([]);
    t.service.tick();
    expect(t.store.packetCount()).toBe(0);
  });

  it('reports refused firewall lines to the source (rejects per minute), not other kernel messages', async () => {
    const noted: number[] = [];
    const source = Object.assign(new PushSource(), { noteRejects: (n: number) => void noted.push(n) });
    const clock = new ManualClock(1_700_000_000_000);
    const inner = fakeParser(clock);
    const t = setup({
      source,
      clock,
      parseLine: (line) => {
        if (line.startsWith('BAD')) return { ok: false, reason: 'bad-address' };
        if (line.startsWith('THROW')) throw new Error('parser bug');
        return inner(line);
      },
    });
    await t.service.start();
    source.push('usb-device-1-1-added', ...scan('203.0.113.9', [21]), 'BAD SRC=999.1.1.1', 'THROW');
    source.push('eth0-link-up');
    expect(noted).toEqual([2]);
    expect(t.store.packetCount()).toBe(1);
  });

  it('lifts an expired ban in the firewall on tick', async () => {
    const t = setup();
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [21, 23, 25]));
    await t.service.idle();
    t.clock.advance(61_000);
    await t.service.tick();
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.9')).toBe(false);
    expect(t.store.activeBans(t.clock.now())).toEqual([]);
  });

  it('dry-run detects and reports but never touches the firewall', async () => {
    const seen: string[] = [];
    const t = setup({ dryRun: true, onBan: (b, i) => seen.push(`${b.ip} dry=${i.dryRun}`) });
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [21, 23, 25]));
    await t.service.idle();
    expect(seen).toEqual(['203.0.113.9 dry=true']);
    expect(t.firewall.calls).toEqual([]);
  });

  it('manual ban and unban through the API; whitelisted and own addresses are refused', async () => {
    const t = setup();
    await t.service.start();
    const r = await t.call('ban', { ip: '198.51.100.7', durationSec: 30 });
    expect(r.ok).toBe(true);
    expect(t.firewall.bans.get('198.51.100.7')).toBe(t.clock.now() + 30_000);
    expect(t.journal.entries.filter((e) => e === 'fw.ban 198.51.100.7')).toHaveLength(1);
    expect((await t.call('unban', { ip: '198.51.100.7' })).ok).toBe(true);
    expect(t.firewall.bans.has('198.51.100.7')).toBe(false);
    const own = await t.call('ban', { ip: HOST });
    expect(own).toMatchObject({ ok: false, error: { code: 'invalid' } });
    const bad = await t.call('ban', { ip: '1.2.3.4; rm -rf /' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(await t.call('unban', { ip: '198.51.100.99' })).toMatchObject({ ok: false, error: { code: 'invalid' } });
  });
});

describe('PortcullisService: reconcile on start', () => {
  const ban = (ip: string, at: number, until: number | null): BanRecord => ({
    ip,
    at,
    until,
    strikes: 1,
    reason: { kind: 'scan', scanType: 'SYN', ports: [1, 2, 3], hits: 3, firstSeen: at, lastSeen: at },
  });

  it('restores missing bans, removes expired and orphan ones, collapses duplicates', async () => {
    const t = setup();
    const now = t.clock.now();
    t.store.recordBan(ban('192.0.2.10', now - 1000, now + 50_000)); // active, missing in the firewall
    t.store.recordBan(ban('192.0.2.11', now - 100_000, now - 1000)); // expired, still in the firewall
    t.store.recordBan(ban('192.0.2.12', now - 1000, now + 50_000)); // active, present twice
    t.firewall.bans.set('192.0.2.11', null);
    t.firewall.bans.set('192.0.2.12', now + 50_000);
    t.firewall.duplicates.push('192.0.2.12');
    t.firewall.bans.set('192.0.2.13', null); // Portcullis-tagged, but unknown to the store: orphan
    t.journal.entries = [];
    await t.service.start();
    await t.service.idle(); // the restore runs behind log reading: wait for it
    const listed = (await t.firewall.listBans()).map((b) => b.ip).sort();
    expect(listed).toEqual(['192.0.2.10', '192.0.2.12']);
    // Every lift says why, for the helper's audit log: the duplicates' too.
    expect(t.firewall.unbanWhy.filter((r) => r.startsWith('192.0.2.12 '))).toEqual(['192.0.2.12 stale', '192.0.2.12 stale']);
    expect(t.firewall.unbanWhy.filter((r) => r.endsWith(' -'))).toEqual([]);
    expect(t.firewall.bans.get('192.0.2.10')).toBe(now + 50_000);
    // The restored bans are active in the engine too.
    expect((await t.call('getBans')).ok && ((await t.call('getBans')) as { result: { active: BanRecord[] } }).result.active.map((b) => b.ip).sort()).toEqual([
      '192.0.2.10',
      '192.0.2.12',
    ]);
  });

  it('collapsing duplicates puts back the ban the engine holds when it runs: one lifted during the listing stays lifted', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    class SlowListFirewall extends FakeFirewall {
      override async listBans(): Promise<{ ip: string; until: number | null }[]> {
        const list = await super.listBans();
        await held; // `ufw show added` under load, at start
        return list;
      }
    }
    const firewall = new SlowListFirewall(new Journal());
    const t = setup({ firewall });
    const now = t.clock.now();
    t.store.recordBan(ban('192.0.2.12', now - 1000, now + 50_000)); // active, present twice
    firewall.bans.set('192.0.2.12', now + 50_000);
    firewall.duplicates.push('192.0.2.12');
    await t.service.start();
    const unban = t.call('unban', { ip: '192.0.2.12' }); // while reconcile lists the firewall
    await new Promise((r) => setTimeout(r, 0));
    release();
    expect((await unban).ok).toBe(true);
    await t.service.idle();
    expect(firewall.calls).toEqual(['unban 192.0.2.12', 'unban 192.0.2.12', 'unban 192.0.2.12']);
    expect((await firewall.listBans()).map((b) => b.ip)).toEqual([]);
    await t.service.stop();
  });

  it('a restore batch the firewall refuses is retried one by one: one bad entry never drops the others (audit F2)', async () => {
    const t = setup();
    const now = t.clock.now();
    // A firewall that refuses a whole batch when one entry is bad, as the helper's ban guard does.
    const batches: string[][] = [];
    Object.assign(t.firewall, {
      banMany: async (bans: { ip: string; until: number | null }[]) => {
        batches.push(bans.map((b) => b.ip));
        if (bans.some((b) => b.ip === '192.0.2.66')) throw new Error('refusing to ban: 192.0.2.66 is an address of this host');
        for (const b of bans) t.firewall.bans.set(b.ip, b.until);
        return [];
      },
    });
    const realBan = t.firewall.ban.bind(t.firewall);
    t.firewall.ban = async (ip, until) => {
      if (ip === '192.0.2.66') throw new Error('refusing to ban: 192.0.2.66 is an address of this host');
      return realBan(ip, until);
    };
    for (const ip of ['192.0.2.10', '192.0.2.66', '192.0.2.11']) t.store.recordBan(ban(ip, now - 1000, now + 50_000));
    await t.service.start();
    await t.service.idle();
    expect(batches.length).toBeGreaterThan(0);
    expect([...t.firewall.bans.keys()].sort()).toEqual(['192.0.2.10', '192.0.2.11']);
  });

  it('a second start with nothing to do changes nothing (idempotent)', async () => {
    const t = setup();
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [21, 23, 25]));
    await t.service.idle();
    const t2 = new PortcullisService({
      clock: t.clock,
      settingsRepo: t.settings,
      createEngine: (o, sink) => new FakeEngine(o, sink),
      parseLine: fakeParser(t.clock),
      store: t.store,
      source: new PushSource(),
      firewall: t.firewall,
      helper: t.helper,
      hostInfo: async () => ({ addresses: [HOST], interfaces: ['eth0'], gateways: [] }),
      tickMs: 3_600_000,
    });
    t.firewall.calls = [];
    await t2.start();
    expect(t.firewall.calls).toEqual([]);
  });

  it('dry-run never reconciles', async () => {
    const t = setup({ dryRun: true });
    t.firewall.bans.set('192.0.2.13', null);
    await t.service.start();
    expect(t.firewall.calls).toEqual([]);
  });
});

describe('PortcullisService: records replayed after a restart', () => {
  it('replayed records rebuild detection (a scan cut by a crash is still banned) but are not stored twice', async () => {
    const t = setup({ recordMode: (p) => (p.dpt! < 100 ? 'replay' : p.dpt! < 200 ? 'live' : 'skip') });
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [21, 23])); // handled before the crash: replayed
    t.source.push(...scan('203.0.113.9', [300, 301])); // too old: skipped
    t.source.push(...scan('203.0.113.9', [150])); // new
    await t.service.idle();
    await t.service.tick();
    expect(t.store.packets.map((p) => p.dpt)).toEqual([150]);
    expect(t.firewall.bans.has('203.0.113.9')).toBe(true); // 21, 23, 150: three distinct ports
  });
});

describe('PortcullisService: protection', () => {
  it('paused: still logs and tracks, does not ban; bans again after the pause ends', async () => {
    const t = setup();
    await t.service.start();
    const events: ApiEvent[] = [];
    t.service.onEvents((b) => events.push(...b));
    const paused = await t.call('pauseProtection', { minutes: 5 });
    expect(paused).toMatchObject({ ok: true, result: { protection: 'paused' } });
    t.source.push(...scan('203.0.113.9', [21, 23, 25]));
    await Promise.resolve();
    await t.service.idle();
    expect(t.firewall.calls).toEqual([]);
    expect(t.store.activeBans(t.clock.now())).toEqual([]);
    expect(t.store.packetCount()).toBe(3); // still logged
    t.clock.advance(5 * 60_000 + 1);
    await t.service.tick();
    expect(t.service.protection()).toBe('on');
    t.source.push(...scan('203.0.113.9', [80, 81, 82]));
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.9')).toBe(true);
  });

  it('off: no bans; the choice is saved in the settings', async () => {
    const t = setup();
    await t.service.start();
    expect(await t.call('setProtection', { enabled: false })).toMatchObject({ ok: true, result: { protection: 'off' } });
    expect((t.settings.saved as { protectionEnabled: boolean }).protectionEnabled).toBe(false);
    t.source.push(...scan('203.0.113.9', [21, 23, 25]));
    await Promise.resolve();
    await t.service.idle();
    expect(t.firewall.calls).toEqual([]);
  });
});

describe('PortcullisService: settings', () => {
  it('refuses invalid settings with the reason and changes nothing', async () => {
    const t = setup();
    await t.service.start();
    const before = JSON.stringify(t.settings.saved);
    const r = await t.call('updateSettings', { patch: { ban: { bantimeSec: -5 } } });
    expect(r).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(!r.ok && r.error.message).toContain('ban.bantimeSec');
    expect(JSON.stringify(t.settings.saved)).toBe(before);
    const w = await t.call('whitelistAdd', { cidr: '300.1.1.1/8' });
    expect(w).toMatchObject({ ok: false, error: { code: 'invalid' } });
  });

  it('refuses to start on an invalid settings file, saying what is wrong', async () => {
    const t = setup({ settings: { detection: { maxretry: 0 } } });
    await expect(t.service.start()).rejects.toThrow(/detection\.maxretry/);
  });

  it('whitelisting a banned host lifts its ban', async () => {
    const t = setup();
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [21, 23, 25]));
    await t.service.idle();
    const r = await t.call('whitelistAdd', { cidr: '203.0.113.9' });
    expect(r.ok).toBe(true);
    await t.service.idle();
    expect(t.firewall.bans.has('203.0.113.9')).toBe(false);
  });

  it('testThresholds runs a fresh engine over the stored packets with the patched settings', async () => {
    const t = setup({ settings: { detection: { maxretry: 10 } } });
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [21, 23, 25, 26]));
    await t.service.tick();
    const strict = await t.call('testThresholds', { patch: {} });
    expect(strict).toMatchObject({ ok: true, result: { packets: 4, sources: 1, wouldBan: [] } });
    const loose = await t.call('testThresholds', { patch: { detection: { maxretry: 3 } } });
    expect(loose).toMatchObject({ ok: true, result: { wouldBan: [{ ip: '203.0.113.9' }] } });
    expect(t.firewall.calls).toEqual([]); // a test, not a ban
  });

  it("saves changes without the command line's overrides, which keep applying while they are given", async () => {
    // What `portcullis serve --config F --backend ufw --source kmsg` passes (runner.ts).
    const overrides = (s: Settings): Settings => ({ ...s, ban: { ...s.ban, backend: 'ufw' }, logs: { ...s.logs, source: 'kmsg' } });
    const t = setup({ settings: { ban: { backend: 'set' }, logs: { source: 'auto' }, detection: { maxretry: 3 } }, overrides });
    await t.service.start();
    expect(t.service.settings.ban.backend).toBe('ufw');
    expect((await t.call('whitelistAdd', { cidr: '203.0.113.0/24' })).ok).toBe(true);
    const saved = () => t.settings.saved as Settings;
    // Once the flags are left off, the file's own values apply again: they were not overwritten.
    expect(saved().ban.backend).toBe('set');
    expect(saved().logs.source).toBe('auto');
    expect(saved().whitelist.entries).toContain('203.0.113.0/24');
    // A value the user changes is saved, an overridden one included; the override still runs.
    expect((await t.call('updateSettings', { patch: { ban: { backend: 'set', bantimeSec: 120 }, logs: { source: 'nflog' } } })).ok).toBe(true);
    expect(saved().ban.bantimeSec).toBe(120);
    expect(saved().logs.source).toBe('nflog');
    expect(t.service.settings.logs.source).toBe('kmsg');
    expect(t.service.settings.ban.bantimeSec).toBe(120);
  });

  it('savedFormOf keeps the saved value where the running one did not change, objects field by field', () => {
    const saved = { a: { b: 'file', c: [1] }, d: 1 };
    const running = { a: { b: 'flag', c: [1] }, d: 1 };
    expect(savedFormOf(saved, running, { a: { b: 'flag', c: [1, 2] }, d: 2 })).toEqual({ a: { b: 'file', c: [1, 2] }, d: 2 });
    expect(savedFormOf(saved, running, { a: { b: 'user', c: [1] }, d: 1 })).toEqual({ a: { b: 'user', c: [1] }, d: 1 });
  });

  it('mergePatch merges objects, replaces arrays, ignores prototype keys', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1] }, { a: { b: 3 }, l: [2] })).toEqual({ a: { b: 3, c: 2 }, l: [2] });
    const polluted = mergePatch({}, JSON.parse('{"__proto__": {"x": 1}}')) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.keys(polluted)).toEqual([]);
  });
});

describe('PortcullisService: rules and helper', () => {
  it('allowed ports come from the firewall rules: probes to them are not evidence', async () => {
    const allowed = allowedPortsFrom((await new FakeHelper().status()).rules.rules);
    expect(allowed(4, 'tcp', 22)).toBe(true);
    expect(allowed(4, 'udp', 22)).toBe(false);
    // The fake's ufw lists no "(v6)" twin of the rule: IPv6 probes to 22 are evidence.
    expect(allowed(6, 'tcp', 22)).toBe(false);
    const t = setup();
    await t.service.start();
    t.source.push(...scan('203.0.113.9', [22, 22, 22, 22, 21, 23]));
    await t.service.idle();
    expect(t.firewall.calls).toEqual([]);
  });

  it('doctor lists the forged-records check (nf_log_all_netns with unprivileged user namespaces)', async () => {
    const t = setup({ readSysctl: (n: string) => ({ 'net.netfilter.nf_log_all_netns': '1', 'user.max_user_namespaces': '1000' })[n] ?? null });
    await t.service.start();
    const r = await t.call('getDoctor');
    if (!r.ok) throw new Error(r.error.message);
    expect((r.result as DoctorCheck[]).find((c) => c.id === 'nf-log-all-netns')).toMatchObject({ level: 'warn', detail: expect.stringContaining('get any address banned') });
    await t.service.stop();
  });

  it('doctor: a silent log, a failing source and no source each come with what to do', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    let health: SourceHealth = { kind: 'kmsg', description: '/dev/kmsg', kernelTrusted: true, lastRecordAt: clock.now() - 3_600_000, linesPerMinute: 0, rejectsPerMinute: 0 };
    const source = Object.assign(new PushSource(), { health: () => health });
    const t = setup({ source, clock });
    await t.service.start();
    const doctor = async () => {
      const r = await t.call('getDoctor');
      if (!r.ok) throw new Error(r.error.message);
      return r.result as DoctorCheck[];
    };
    const silent = (await doctor()).find((c) => c.id === 'last-record')!;
    expect(silent.level).toBe('warn');
    expect(silent.detail).toMatch(/^3600 s ago: .*ufw logging low.*per-source logging/);

    health = { ...health, lastRecordAt: clock.now() - 1000 };
    expect((await doctor()).find((c) => c.id === 'last-record')).toEqual({ id: 'last-record', title: 'The firewall log is being written', level: 'ok', detail: '1 s ago' });

    // A problem the source read on past is a warning, not the error a stopped source is.
    health = { ...health, warning: 'reading /dev/kmsg: cannot start the kmsg reading thread: x' };
    expect((await doctor()).find((c) => c.id === 'log-source')).toMatchObject({ level: 'warn', detail: '/dev/kmsg reads on, after: reading /dev/kmsg: cannot start the kmsg reading thread: x' });
    health = { ...health, error: 'reading /dev/kmsg: EIO' };
    expect((await doctor()).find((c) => c.id === 'log-source')).toMatchObject({ level: 'error', detail: expect.stringMatching(/EIO .*--source journal/) });

    const none = setup({ source: null });
    await none.service.start();
    const r = await none.call('getDoctor');
    expect(r.ok && (r.result as DoctorCheck[]).find((c) => c.id === 'log-source')!.detail).toMatch(/nothing is watched .*--source journal/);
  });

  it('a rule change that would cut an open inbound session needs confirmation', async () => {
    const t = setup({ inboundSessions: () => [{ localPort: 22, remote: '192.0.2.50' }] });
    await t.service.start();
    const preview = await t.call('previewRule', { op: { kind: 'delete', number: 1 } });
    expect(preview).toMatchObject({ ok: true, result: { needsConfirmation: true, commands: ['ufw delete 1'] } });
    expect(await t.call('applyRule', { op: { kind: 'delete', number: 1 } })).toMatchObject({ ok: false, error: { code: 'needs-confirmation' } });
    expect(t.helper.calls).toEqual([]);
    expect((await t.call('applyRule', { op: { kind: 'delete', number: 1 }, confirm: true })).ok).toBe(true);
    expect(t.helper.calls).toEqual(['applyRule']);
    expect(await t.call('setUfwEnabled', { enabled: false })).toMatchObject({ ok: false, error: { code: 'needs-confirmation' } });
  });

  it('a change carries the rule the user saw: aimed at its number now, refused when it is gone, and passed on to the helper', async () => {
    const t = setup({ inboundSessions: () => [{ localPort: 22, remote: '192.0.2.50' }] });
    const https = { number: 1, v6: false, action: 'allow' as const, direction: 'in' as const, from: 'Anywhere', to: 'Anywhere', port: '443', proto: 'tcp' as const, comment: 'HTTPS', portcullis: false };
    const ssh = { ...t.helper.rules[0]!, number: 2 };
    t.helper.rules = [https, ssh]; // the user saw SSH as rule 1; HTTPS was inserted above it since
    await t.service.start();
    const { number: _n, ...sawSsh } = t.helper.rules[1]!;
    const preview = await t.call('previewRule', { op: { kind: 'delete', number: 1, expect: sawSsh } });
    // Aimed at SSH (rule 2 now), so the warning about the SSH session is the right one.
    expect(preview).toMatchObject({ ok: true, result: { commands: ['ufw delete 2'], needsConfirmation: true } });
    expect(t.helper.previewed.at(-1)).toMatchObject({ kind: 'delete', number: 2 });
    expect((await t.call('applyRule', { op: { kind: 'delete', number: 1, expect: sawSsh }, confirm: true })).ok).toBe(true);
    expect(t.helper.applied).toEqual([{ kind: 'delete', number: 2, expect: sawSsh }]);
    // A rule that no longer exists as seen: refused, nothing reaches ufw.
    const gone = await t.call('applyRule', { op: { kind: 'edit', number: 1, expect: { ...sawSsh, port: '2222' }, rule: { action: 'allow', port: '2222', proto: 'tcp' } } as never });
    expect(gone).toMatchObject({ ok: false, error: { code: 'conflict', message: expect.stringContaining('rule 1 is not the rule you saw any more') } });
    expect(await t.call('previewRule', { op: { kind: 'move', number: 1, to: 2, expect: { ...sawSsh, comment: 'x' } } })).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(t.helper.applied).toHaveLength(1);
  });

  it('an edit of a rule the editor cannot re-create (per-rule logging) is refused by the service, whatever client sent it: the helper never sees it', async () => {
    const t = setup();
    t.helper.rules = [{ ...t.helper.rules[0]!, log: 'log' }];
    await t.service.start();
    const { number: _n, ...saw } = t.helper.rules[0]!;
    const op = { kind: 'edit', number: 1, rule: { action: 'allow', port: '22', proto: 'tcp', comment: 'ssh' }, expect: saw };
    for (const [method, params] of [['previewRule', { op }], ['applyRule', { op, confirm: true }]] as const) {
      expect(await t.call(method, params)).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringContaining('rule 1 has per-rule logging (log)') } });
    }
    expect([t.helper.previewed, t.helper.applied]).toEqual([[], []]);
    // A move of it is refused the same way; a delete is not (nothing is re-created).
    expect(await t.call('previewRule', { op: { kind: 'move', number: 1, to: 2, expect: saw } })).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(await t.call('previewRule', { op: { kind: 'delete', number: 1, expect: saw } })).toMatchObject({ ok: true });
  });

  it('asks only about sessions the change can cut: not loopback ones (ufw never filters lo), not other sources, not a port the edited rule still allows', async () => {
    // The browser's own socket to `serve` (loopback) and an SSH session from 192.0.2.50.
    const t = setup({ inboundSessions: () => [{ localPort: 8787, remote: '127.0.0.1' }, { localPort: 22, remote: '192.0.2.50' }] });
    await t.service.start();
    const preview = async (op: unknown) => {
      const r = await t.call('previewRule', { op });
      if (!r.ok) throw new Error(JSON.stringify(r));
      return r.result as { needsConfirmation: boolean; warnings: { detail: string }[] };
    };
    const deny = (extra: object) => ({ kind: 'add', rule: { action: 'deny', ...extra } });
    // Another network's deny cuts no session; the loopback socket is never cut.
    expect(await preview(deny({ from: '203.0.113.0/24' }))).toMatchObject({ needsConfirmation: false, warnings: [] });
    expect(await preview(deny({ port: '8787', proto: 'tcp' }))).toMatchObject({ needsConfirmation: false, warnings: [] });
    // A deny of everything cuts the SSH session, and says which one (not the loopback one).
    const all = await preview(deny({}));
    expect(all.needsConfirmation).toBe(true);
    expect(all.warnings.map((w) => w.detail)).toEqual(['an open connection from 192.0.2.50 to port 22 may be cut']);
    expect((await preview(deny({ from: '192.0.2.0/24', port: '22', proto: 'tcp' }))).needsConfirmation).toBe(true);
    // Editing the SSH rule's comment keeps port 22 open; moving it to 2222 does not.
    const allow22 = { action: 'allow', port: '22', proto: 'tcp' };
    expect(await preview({ kind: 'edit', number: 1, rule: { ...allow22, comment: 'ssh' } })).toMatchObject({ needsConfirmation: false });
    expect((await preview({ kind: 'edit', number: 1, rule: { ...allow22, port: '2222' } })).needsConfirmation).toBe(true);
    expect((await preview({ kind: 'edit', number: 1, rule: { ...allow22, from: '198.51.100.0/24' } })).needsConfirmation).toBe(true);
    // Deleting it still needs the confirmation, and applying without it is refused.
    expect((await preview({ kind: 'delete', number: 1 })).needsConfirmation).toBe(true);
    expect(await t.call('applyRule', { op: deny({}) })).toMatchObject({ ok: false, error: { code: 'needs-confirmation' } });
    expect((await t.call('applyRule', { op: deny({ from: '203.0.113.0/24' }) })).ok).toBe(true);
  });

  it('turning ufw on while someone is connected from outside needs confirmation (Rules and the Doctor fix alike); loopback sessions do not count', async () => {
    let sessions = [{ localPort: 22, remote: '192.0.2.50' }, { localPort: 8787, remote: '127.0.0.1' }];
    const t = setup({ inboundSessions: () => sessions });
    t.helper.enabled = false;
    await t.service.start();
    const enable = await t.call('setUfwEnabled', { enabled: true });
    expect(enable).toMatchObject({ ok: false, error: { code: 'needs-confirmation' } });
    expect((enable as { error: { message: string } }).error.message).toBe(
      'turning ufw on refuses new connections to port 22, which 192.0.2.50 is connected through now, unless a rule allows it',
    );
    expect(await t.call('runDoctorFix', { fixId: 'enable-ufw' })).toMatchObject({ ok: false, error: { code: 'needs-confirmation' } });
    expect(t.helper.calls).toEqual([]);
    expect((await t.call('runDoctorFix', { fixId: 'enable-ufw', confirm: true })).ok).toBe(true);
    expect(t.helper.calls).toEqual(['setEnabled true']);
    // Only the browser's own loopback socket: nothing to ask.
    t.helper.enabled = false;
    sessions = [{ localPort: 8787, remote: '127.0.0.1' }];
    expect((await t.call('setUfwEnabled', { enabled: true })).ok).toBe(true);
  });

  it('a default incoming policy of deny/reject needs confirmation when no rule allows a port someone is connected through', async () => {
    let sessions = [{ localPort: 22, remote: '192.0.2.50' }];
    const t = setup({ inboundSessions: () => sessions });
    await t.service.start();
    // The SSH session's port is allowed by rule 1: no question.
    expect((await t.call('setDefaultPolicy', { direction: 'incoming', policy: 'deny' })).ok).toBe(true);
    sessions = [{ localPort: 3000, remote: '2001:db8::7' }];
    expect(await t.call('setDefaultPolicy', { direction: 'incoming', policy: 'reject' })).toMatchObject({ ok: false, error: { code: 'needs-confirmation' } });
    expect((await t.call('setDefaultPolicy', { direction: 'incoming', policy: 'reject', confirm: true })).ok).toBe(true);
    expect((await t.call('setDefaultPolicy', { direction: 'outgoing', policy: 'deny' })).ok).toBe(true);
    // Opening every port asks too: it undoes the firewall and blinds Portcullis.
    expect(await t.call('setDefaultPolicy', { direction: 'incoming', policy: 'allow' })).toMatchObject({ ok: false, error: { code: 'needs-confirmation', message: expect.stringContaining('every closed port opens') } });
    expect((await t.call('setDefaultPolicy', { direction: 'incoming', policy: 'allow', confirm: true })).ok).toBe(true);
  });

  it('logging off asks first while Portcullis has no logging rule of its own: it would see no scanner', async () => {
    const t = setup();
    await t.service.start();
    expect((await t.call('setLogging', { level: 'medium' })).ok).toBe(true);
    expect(await t.call('setLogging', { level: 'off' })).toMatchObject({ ok: false, error: { code: 'needs-confirmation', message: expect.stringContaining('Portcullis sees no scanners') } });
    expect((await t.call('setLogging', { level: 'off', confirm: true })).ok).toBe(true);
  });

  it('without a helper the service is read-only and says why', async () => {
    const t = setup({ helper: null, firewall: null, readOnlyReason: 'you declined the password prompt' });
    await t.service.start();
    expect(await t.call('getState')).toMatchObject({ ok: true, result: { helper: { connected: false, readOnlyReason: 'you declined the password prompt' } } });
    expect(await t.call('setLogging', { level: 'low' })).toMatchObject({ ok: false, error: { code: 'read-only' } });
  });

  it('state lists what is always whitelisted: loopback, this host, and the gateway only while includeGateway', async () => {
    const t = setup({ hostInfo: async () => ({ addresses: ['127.0.0.1', HOST, '::1', '2001:db8::1'], interfaces: ['lo', 'eth0'], gateways: ['10.0.0.254'] }) });
    await t.service.start();
    const always = async () => ((await t.call('getState')) as { result: { alwaysWhitelisted: { cidr: string; why: string }[] } }).result.alwaysWhitelisted;
    expect(await always()).toEqual([
      { cidr: '127.0.0.0/8', why: 'loopback' },
      { cidr: '::1/128', why: 'loopback' },
      { cidr: '0.0.0.0/8', why: 'unspecified' },
      { cidr: '::/128', why: 'unspecified' },
      { cidr: '224.0.0.0/4', why: 'multicast' },
      { cidr: 'ff00::/8', why: 'multicast' },
      { cidr: '255.255.255.255/32', why: 'broadcast' },
      { cidr: '10.0.0.1/32', why: 'this host' },
      { cidr: '2001:db8::1/128', why: 'this host' },
      { cidr: '10.0.0.254/32', why: 'default gateway' },
    ]);
    expect((await t.call('updateSettings', { patch: { whitelist: { includeGateway: false } } })).ok).toBe(true);
    expect((await always()).map((e) => e.why)).not.toContain('default gateway');
  });

  it('every API method answers in wire form (none missing)', async () => {
    const t = setup();
    await t.service.start();
    for (const m of ['getState', 'getDashboard', 'getPackets', 'getOffenders', 'getBans', 'getRules', 'getSettings', 'getDoctor']) {
      const r = await t.call(m, {});
      expect(r.ok, `${m}: ${JSON.stringify(r)}`).toBe(true);
    }
  });
});

describe('PortcullisService: event stream', () => {
  it('delivers at most 10 batches a second however many lines arrive, and loses no ban', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    // The fake parser dates every packet alike: the storage cap at its most, so every packet is a stored (and shown) row.
    const t = setup({ settings: { detection: { maxretry: 1000 }, logs: { maxStoredPacketsPerSecond: 100_000 } } });
    await t.service.start();
    const deliveries: { at: number; events: ApiEvent[] }[] = [];
    t.service.onEvents((events) => deliveries.push({ at: Date.now(), events }));
    for (let i = 0; i < 3000; i++) {
      t.source.push(`203.0.113.${i % 200} ${HOST} ${1000 + i}`);
      if (i === 1500) await t.call('ban', { ip: '198.51.100.1' });
      vi.advanceTimersByTime(1); // 3000 lines over 3 seconds
    }
    vi.advanceTimersByTime(1000);
    const total = deliveries.length;
    expect(total).toBeGreaterThan(10);
    for (let s = 0; s < 4; s++) {
      const start = 1_700_000_000_000 + s * 1000;
      expect(deliveries.filter((d) => d.at >= start && d.at < start + 1000).length).toBeLessThanOrEqual(10);
    }
    for (let i = 1; i < deliveries.length; i++) expect(deliveries[i]!.at - deliveries[i - 1]!.at).toBeGreaterThanOrEqual(100);
    const rows = deliveries.flatMap((d) => d.events.flatMap((e) => (e.type === 'packets' ? e.rows : [])));
    expect(rows).toHaveLength(3000);
    expect(deliveries.flatMap((d) => d.events).filter((e) => e.type === 'ban')).toHaveLength(1);
  });
});
