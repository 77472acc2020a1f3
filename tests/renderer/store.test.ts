import { describe, expect, it, vi } from 'vitest';
import { ApiError, type ApiEvent, type PacketRow } from '../../electron/shared/api.ts';
import type { ConnectionStatus } from '../../renderer/api/index.ts';
import { selectBuiltInWhitelist, selectFilteredPackets, selectOffenderList, selectReadOnlyReason } from '../../renderer/store/selectors.ts';
import { patchFrom, draftFrom, type FieldSpec } from '../../renderer/store/settingsForm.ts';
import { packetsToCsv } from '../../renderer/store/packetFilter.ts';
import { MAX_PACKET_ROWS, createAppStore } from '../../renderer/store/store.ts';
import { createFakeApi } from './fakeApi.ts';
import type { NavigateTarget } from '../../electron/shared/ipc.ts';

const flush = () => new Promise((r) => setTimeout(r, 0));

function row(id: number, over: Partial<PacketRow> = {}): PacketRow {
  return { id, time: 1_700_000_000_000 + id, src: '203.0.113.5', dst: '10.0.0.2', proto: 'TCP', spt: 40000, dpt: 22, prefix: 'UFW BLOCK', in: 'eth0', flags: 'SYN', ...over };
}

function setup(opts: { packets?: number } = {}) {
  const api = createFakeApi({ now: () => 1_700_000_000_000, ...opts });
  const intervals: (() => void)[] = [];
  const downloads: { name: string; text: string }[] = [];
  const store = createAppStore({
    api,
    setInterval: (fn) => intervals.push(fn),
    clearInterval: () => undefined,
    download: (name, text) => downloads.push({ name, text }),
  });
  return { api, store, intervals, downloads, s: () => store.getState() };
}

describe('store: loading and the event stream', () => {
  it('start() loads every area and follows events until stopped', async () => {
    const { api, s } = setup({ packets: 50 });
    const stop = s().start();
    await flush();
    await flush();
    expect(s().state?.protection).toBe('on');
    expect(s().packets).toHaveLength(50);
    // Rows are kept oldest first, whatever order the page came in.
    expect(s().packets[0]!.id).toBeLessThan(s().packets[49]!.id);
    expect(s().settings?.detection.maxretry).toBe(5);
    expect(s().rules?.rules.length).toBe(2);
    expect(s().doctor?.length).toBeGreaterThan(0);
    expect(api.listenerCount()).toBe(1);
    api.simulateScan('198.51.100.77', [21, 22, 23, 25, 80]);
    expect(s().packets).toHaveLength(55);
    expect(s().offenders.get('198.51.100.77')?.state).toBe('banned');
    expect(s().bans.active.map((b) => b.ip)).toContain('198.51.100.77');
    stop();
    expect(api.listenerCount()).toBe(0);
  });

  it('applies a batch as one state update', () => {
    const { store, s } = setup();
    let updates = 0;
    store.subscribe(() => updates++);
    s().applyEvents([
      { type: 'packets', rows: [row(1), row(2)] },
      { type: 'packets', rows: [row(3)] },
      { type: 'notice', level: 'warn', message: 'log source silent' },
    ]);
    expect(updates).toBe(1);
    expect(s().packets.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(s().notices.map((n) => n.message)).toEqual(['log source silent']);
  });

  it('keeps at most MAX_PACKET_ROWS rows, dropping the oldest', () => {
    const { s } = setup();
    const batch = Array.from({ length: 60_000 }, (_, i) => row(i + 1));
    s().applyEvents([{ type: 'packets', rows: batch }]);
    s().applyEvents([{ type: 'packets', rows: batch.map((r) => ({ ...r, id: r.id + 60_000 })) }]);
    expect(s().packets).toHaveLength(MAX_PACKET_ROWS);
    expect(s().packets[0]!.id).toBe(120_000 - MAX_PACKET_ROWS + 1);
    expect(s().packets[MAX_PACKET_ROWS - 1]!.id).toBe(120_000);
    expect(s().packetsReceived).toBe(120_000);
  });

  it('fills holes the live stream skipped (the service sheds rows under bursts) from the service, once the burst is over', async () => {
    const api = createFakeApi({ packets: 12_000 });
    const timeouts: (() => void)[] = [];
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn) => timeouts.push(fn), clearTimeout: () => undefined });
    const s = () => store.getState();
    const rows = api.data.packets;
    s().applyEvents([{ type: 'packets', rows: rows.slice(0, 100) }]);
    expect(s().packetsMissing).toBe(0);
    s().applyEvents([{ type: 'packets', rows: rows.slice(6000, 6100) }]);
    s().applyEvents([{ type: 'packets', rows: rows.slice(9000, 9050) }]);
    expect(s().packetsMissing).toBe(5900 + 2900);
    expect(s().packets).toHaveLength(250);
    // Debounced: the last gap re-arms the timer; the backfill runs when it fires.
    timeouts[timeouts.length - 1]!();
    await vi.waitFor(() => expect(s().packetsMissing).toBe(0), { timeout: 10_000 });
    expect(s().packets.map((r) => r.id)).toEqual(rows.slice(0, 9050).map((r) => r.id));
    const pages = api.calls.filter((c) => c.method === 'getPackets');
    expect(pages.length).toBeGreaterThan(1);
    // Repeated rows (e.g. after a reconnect) are not duplicated.
    s().applyEvents([{ type: 'packets', rows: rows.slice(9000, 9060) }]);
    expect(s().packets).toHaveLength(9060);
    expect(new Set(s().packets.map((r) => r.id)).size).toBe(9060);
  });

  it('fetches back the rows the service skipped at the END of a burst, which no later row reveals (packetsSkipped)', async () => {
    const api = createFakeApi({ packets: 12_000 });
    const timeouts: (() => void)[] = [];
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn) => timeouts.push(fn), clearTimeout: () => undefined });
    const s = () => store.getState();
    const rows = api.data.packets;
    s().applyEvents([{ type: 'packets', rows: rows.slice(0, 100) }]);
    // The reader fell behind: the last 11,900 rows were not sent, only the notice of them.
    s().applyEvents([{ type: 'packetsSkipped', upToId: rows[11_999]!.id, count: 11_900 }]);
    expect(s().packetsMissing).toBe(11_900);
    timeouts[timeouts.length - 1]!();
    await vi.waitFor(() => expect(s().packetsMissing).toBe(0), { timeout: 10_000 });
    expect(s().packets.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    // A live row right after the skipped range is not counted as a second hole.
    s().applyEvents([{ type: 'packets', rows: [row(rows[11_999]!.id + 1)] }]);
    expect(s().packetsMissing).toBe(0);
  });

  it('a skipped range followed by live rows is counted once', () => {
    const api = createFakeApi({ packets: 1000 });
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: () => 0, clearTimeout: () => undefined });
    const s = () => store.getState();
    const rows = api.data.packets;
    s().applyEvents([{ type: 'packets', rows: rows.slice(0, 10) }, { type: 'packetsSkipped', upToId: rows[499]!.id, count: 490 }]);
    s().applyEvents([{ type: 'packets', rows: rows.slice(600, 610) }]);
    expect(s().packetsMissing).toBe(490 + 100);
  });

  it('keeps asking while each try brings back some of the skipped rows (a slow store under load)', async () => {
    const api = createFakeApi({ packets: 1000 });
    const timeouts: { fn: () => void; ms: number }[] = [];
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn, ms) => timeouts.push({ fn, ms }), clearTimeout: () => undefined });
    const s = () => store.getState();
    const all = api.data.packets.slice();
    s().applyEvents([{ type: 'packets', rows: all.slice(0, 10) }, { type: 'packetsSkipped', upToId: all[999]!.id, count: 990 }]);
    // The store writes the skipped rows a hundred at a time, slower than the backfill asks.
    let written = 10;
    for (let i = 0; i < 12 && s().packetsMissing > 0; i++) {
      written = Math.min(1000, written + 100);
      api.data.packets = all.slice(0, written);
      await s().backfillPackets();
    }
    expect(s().packetsMissing).toBe(0);
    expect(s().packets).toHaveLength(1000);
  });

  it('does not give up while the store has not yet written up to the newest row streamed (a writer lagging under load)', async () => {
    const api = createFakeApi({ packets: 300 });
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: () => 0, clearTimeout: () => undefined });
    const s = () => store.getState();
    const all = api.data.packets.slice();
    api.data.packets = all.slice(0, 100); // the writer is behind: nothing after row 100 is stored yet
    s().applyEvents([{ type: 'packets', rows: all.slice(0, 100) }, { type: 'packets', rows: all.slice(200, 300) }]);
    for (let i = 0; i < 8; i++) await s().backfillPackets();
    expect(s().packetsMissing).toBe(100);
    api.data.packets = all; // written at last
    await s().backfillPackets();
    expect(s().packetsMissing).toBe(0);
    expect(s().packets).toHaveLength(300);
  });

  it('asks again for rows the service streamed before writing them, and gives up after a few tries', async () => {
    const api = createFakeApi({ packets: 300 });
    const timeouts: { fn: () => void; ms: number }[] = [];
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn, ms) => timeouts.push({ fn, ms }), clearTimeout: () => undefined });
    const s = () => store.getState();
    const all = api.data.packets.slice();
    // The service has not written rows 101..200 yet.
    api.data.packets = all.filter((r) => r.id <= 100 || r.id > 200);
    s().applyEvents([{ type: 'packets', rows: all.slice(0, 100) }]);
    s().applyEvents([{ type: 'packets', rows: all.slice(200, 300) }]);
    expect(s().packetsMissing).toBe(100);
    await s().backfillPackets();
    expect(s().packetsMissing).toBe(100);
    const retry = timeouts.filter((t) => t.ms === 2000);
    expect(retry).toHaveLength(1);
    api.data.packets = all; // now written
    retry[0]!.fn();
    await vi.waitFor(() => expect(s().packetsMissing).toBe(0), { timeout: 10_000 });
    expect(s().packets).toHaveLength(300);
    // Rows that never come (e.g. already removed by retention) stop being asked for.
    api.data.packets = all.filter((r) => r.id !== 250);
    const holeStore = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: () => 0, clearTimeout: () => undefined });
    holeStore.getState().applyEvents([{ type: 'packets', rows: all.slice(0, 249) }, { type: 'packets', rows: all.slice(250) }]);
    for (let i = 0; i < 4; i++) await holeStore.getState().backfillPackets();
    expect(holeStore.getState().packetsMissing).toBe(0);
    const before = api.calls.length;
    await holeStore.getState().backfillPackets();
    expect(api.calls.length).toBe(before);
  });

  it('a batch of many packets events shows what the same events delivered one by one show: rows, order, bound, held rows', () => {
    const start = MAX_PACKET_ROWS - 10;
    const events: ApiEvent[] = [
      ...Array.from({ length: 15 }, (_, i): ApiEvent => ({ type: 'packets', rows: [row(start + 1 + i)] })),
      { type: 'packets', rows: [row(start + 14), row(start + 15), row(start + 17)] }, // repeats, then a hole
      { type: 'packets', rows: [row(start + 16)] }, // late: sorted in
      { type: 'packetsSkipped', upToId: start + 20, count: 3 },
      { type: 'packets', rows: [row(start + 21), row(start + 22)] },
    ];
    const batched = setup();
    const oneByOne = setup();
    for (const { s } of [batched, oneByOne]) s().applyEvents([{ type: 'packets', rows: Array.from({ length: start }, (_, i) => row(i + 1)) }]);
    batched.s().applyEvents(events);
    for (const e of events) oneByOne.s().applyEvents([e]);
    const ids = batched.s().packets.map((r) => r.id);
    expect(ids).toEqual(oneByOne.s().packets.map((r) => r.id));
    expect(ids).toHaveLength(MAX_PACKET_ROWS);
    expect(ids[0]).toBe(10); // 9 oldest dropped past the bound
    expect(ids.slice(-8)).toEqual([12, 13, 14, 15, 16, 17, 21, 22].map((d) => start + d));
    expect([batched.s().packetsReceived, batched.s().packetsMissing]).toEqual([oneByOne.s().packetsReceived, oneByOne.s().packetsMissing]);
    // Paused: the same rows are held back, and resuming shows them in both.
    for (const { s } of [batched, oneByOne]) s().setPacketsPaused(true);
    const more: ApiEvent[] = Array.from({ length: 5 }, (_, i) => ({ type: 'packets', rows: [row(start + 23 + i)] }));
    batched.s().applyEvents(more);
    for (const e of more) oneByOne.s().applyEvents([e]);
    expect(batched.s().heldPackets.map((r) => r.id)).toEqual([23, 24, 25, 26, 27].map((d) => start + d));
    expect(batched.s().heldPackets).toEqual(oneByOne.s().heldPackets);
    for (const { s } of [batched, oneByOne]) s().setPacketsPaused(false);
    expect(batched.s().packets.map((r) => r.id)).toEqual(oneByOne.s().packets.map((r) => r.id));
    expect(batched.s().packets.at(-1)!.id).toBe(start + 27);
  });

  it('pausing holds new rows back and resuming shows them', () => {
    const { s } = setup();
    s().applyEvents([{ type: 'packets', rows: [row(1)] }]);
    s().setPacketsPaused(true);
    s().applyEvents([{ type: 'packets', rows: [row(2), row(3)] }]);
    expect(s().packets.map((r) => r.id)).toEqual([1]);
    expect(s().heldPackets).toHaveLength(2);
    s().setPacketsPaused(false);
    expect(s().packets.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(s().heldPackets).toHaveLength(0);
  });

  it('ban and unban events move the offender between states and between active and history', async () => {
    const { api, s } = setup();
    s().start();
    await flush();
    api.simulateScan('198.51.100.9', [1, 2, 3, 4, 5], false);
    expect(s().offenders.get('198.51.100.9')?.state).toBe('watching');
    const ban = { ip: '198.51.100.9', at: 1, until: 3_600_001, strikes: 2, reason: { kind: 'scan' as const, ports: [1, 2, 3], hits: 5, firstSeen: 0, lastSeen: 1 } };
    s().applyEvents([{ type: 'ban', ban }]);
    expect(s().offenders.get('198.51.100.9')).toMatchObject({ state: 'banned', strikes: 2, bannedUntil: 3_600_001 });
    s().applyEvents([{ type: 'unban', ip: '198.51.100.9', why: 'expired' }]);
    expect(s().offenders.get('198.51.100.9')?.state).toBe('expired');
    expect(s().bans.active).toHaveLength(0);
    expect(s().bans.history[0]?.ip).toBe('198.51.100.9');
  });

  it('reloads everything when the connection comes back (events sent while down are lost)', async () => {
    const api = createFakeApi();
    const listeners = new Set<(st: ConnectionStatus) => void>();
    const connectionAware = Object.assign(api, {
      onConnection: (l: (st: ConnectionStatus) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    });
    const store = createAppStore({ api: connectionAware, setInterval: () => 0, clearInterval: () => undefined });
    store.getState().start();
    for (const l of listeners) l('open');
    await flush();
    const before = api.calls.filter((c) => c.method === 'getState').length;
    for (const l of listeners) l('closed');
    expect(store.getState().connection).toBe('closed');
    for (const l of listeners) l('open');
    await flush();
    expect(api.calls.filter((c) => c.method === 'getState').length).toBe(before + 1);
    expect(api.calls.filter((c) => c.method === 'getPackets').length).toBe(2);
  });

  it('follows navigation requests from the desktop shell (notification click opens the offender) until stopped', async () => {
    const api = createFakeApi();
    const navListeners = new Set<(t: NavigateTarget) => void>();
    const desktop = Object.assign(api, {
      onNavigate: (l: (t: NavigateTarget) => void) => {
        navListeners.add(l);
        return () => navListeners.delete(l);
      },
    });
    const store = createAppStore({ api: desktop, setInterval: () => 0, clearInterval: () => undefined });
    const stop = store.getState().start();
    await flush();
    for (const l of navListeners) l({ screen: 'doctor' });
    expect(store.getState().screen).toBe('doctor');
    for (const l of navListeners) l({ screen: 'offender', ip: '203.0.113.9' });
    expect(store.getState().screen).toBe('offenders');
    expect(store.getState().selectedOffender).toBe('203.0.113.9');
    expect(api.calls.some((c) => c.method === 'getOffender' && (c.params as { ip: string }).ip === '203.0.113.9')).toBe(true);
    stop();
    expect(navListeners.size).toBe(0);
  });

  it('refreshes aggregates on a timer only while connected', async () => {
    const { api, s, intervals } = setup();
    s().start();
    await flush();
    const n = api.calls.filter((c) => c.method === 'getDashboard').length;
    intervals[0]!();
    expect(api.calls.filter((c) => c.method === 'getDashboard').length).toBe(n + 1);
  });

  it('a failed load shows the reason for that area and clears it on success', async () => {
    const { api, s } = setup();
    api.failNext('getRules', new ApiError('unavailable', 'ufw is not installed'));
    await s().loadRules();
    expect(s().loadErrors.rules).toBe('ufw is not installed');
    await s().loadRules();
    expect(s().loadErrors.rules).toBeUndefined();
    expect(s().rules).not.toBeNull();
  });
});

describe('store: actions', () => {
  it('protection switch and pause go through the API and show the returned state', async () => {
    const { api, s } = setup();
    await s().setProtection(false);
    expect(s().state?.protection).toBe('off');
    await s().pauseProtection(60);
    expect(s().state?.protection).toBe('paused');
    expect(s().state?.pausedUntil).toBe(1_700_000_000_000 + 3_600_000);
    expect(api.calls.map((c) => c.method)).toEqual(['setProtection', 'pauseProtection']);
  });

  it('an invalid CIDR is refused with the reason and never reaches the service', async () => {
    const { api, s } = setup();
    await s().loadSettings();
    const r = await s().whitelistAdd('10.0.0.300/8');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/not an address or CIDR/);
    expect(api.calls.some((c) => c.method === 'whitelistAdd')).toBe(false);
    expect(s().settings?.whitelist.entries).toEqual([]);
    const ok = await s().whitelistAdd(' 192.168.1.77/24 ');
    expect(ok.ok).toBe(true);
    // Canonical form: the network address.
    expect(s().settings?.whitelist.entries).toEqual(['192.168.1.0/24']);
    const dup = await s().whitelistAdd('192.168.1.0/24');
    expect(dup.ok).toBe(false);
    // Wide enough to switch protection off for a whole family: refused with the reason, before the service.
    for (const [wide, text] of [['0.0.0.0/0', '0.0.0.0/0 covers 4,294,967,296 addresses'], ['::/0', '::/0 covers 2^128 addresses'], ['10.0.0.0/7', 'at most /8']] as const) {
      const r2 = await s().whitelistAdd(wide);
      expect(!r2.ok && r2.error, wide).toContain(text);
    }
    expect((await s().whitelistAdd('10.0.0.0/8')).ok).toBe(true);
    expect((await s().whitelistAdd('2001:db8::/16')).ok).toBe(true);
    expect(api.calls.filter((c) => c.method === 'whitelistAdd')).toHaveLength(3);
    await s().whitelistRemove('10.0.0.0/8');
    await s().whitelistRemove('2001::/16');
    await s().whitelistRemove('192.168.1.0/24');
    expect(s().settings?.whitelist.entries).toEqual([]);
  });

  it('settings are validated by the shared schema before the service sees them', async () => {
    const { api, s } = setup();
    await s().loadSettings();
    const bad = await s().updateSettings({ ban: { bantimeSec: 7200, maxbantimeSec: 60 } });
    expect(bad).toEqual({ ok: false, error: 'ban.maxbantimeSec: maxbantime cannot be shorter than bantime' });
    expect(api.calls.some((c) => c.method === 'updateSettings')).toBe(false);
    const good = await s().updateSettings({ detection: { maxretry: 9 } });
    expect(good.ok).toBe(true);
    expect(s().settings?.detection.maxretry).toBe(9);
    expect(s().settings?.detection.findtimeSec).toBe(600);
  });

  it('testThresholds stores which hosts would have been banned', async () => {
    const { api, s } = setup();
    await s().loadSettings();
    api.simulateScan('198.51.100.1', [1, 2, 3, 4, 5, 6], false);
    api.simulateScan('198.51.100.2', [1, 2], false);
    await s().testThresholds({ detection: { maxretry: 3, minDistinctPorts: 3 } });
    expect(s().thresholdTest?.wouldBan.map((b) => b.ip)).toEqual(['198.51.100.1']);
  });

  it('a rule is previewed before it is applied, and a dangerous one needs explicit confirmation', async () => {
    const { api, s } = setup();
    await s().loadRules();
    const bad = await s().previewRule({ kind: 'add', rule: { action: 'allow', port: '99999', proto: 'tcp' } });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/ports run from 1 to 65535/);
    // Reasons a user can act on (they read "from: Invalid input" and "expected number, received NaN").
    const badFrom = await s().previewRule({ kind: 'add', rule: { action: 'allow', from: '300.1.1.1' } });
    expect(!badFrom.ok && badFrom.error).toBe('from: "300.1.1.1" is not an address or CIDR (e.g. 192.168.1.0/24 or 2001:db8::/32), or "any"');
    // The same reason by field, for the form to show at its input.
    expect(!badFrom.ok && badFrom.fields).toEqual({ from: '"300.1.1.1" is not an address or CIDR (e.g. 192.168.1.0/24 or 2001:db8::/32), or "any"' });
    const badPosition = await s().previewRule({ kind: 'add', rule: { action: 'allow', port: '80' }, position: Number('x') });
    expect(!badPosition.ok && badPosition.error).toBe('position: position is a rule number: 1, 2, …');
    expect(api.calls.some((c) => c.method === 'previewRule')).toBe(false);

    expect((await s().applyRule(false)).ok).toBe(false); // nothing previewed
    await s().previewRule({ kind: 'add', rule: { action: 'allow', port: '8080', proto: 'tcp', comment: 'web' } });
    expect(s().rulePreview?.preview.commands).toEqual(["ufw allow in from any to any port 8080 proto tcp comment 'web'"]);
    expect((await s().applyRule(false)).ok).toBe(true);
    expect(s().rules?.rules.map((r) => r.port)).toEqual(['22', '443', '8080']);
    expect(s().rulePreview).toBeNull();

    // Deleting the SSH rule would cut the user's own connection.
    await s().previewRule({ kind: 'delete', number: 1 });
    expect(s().rulePreview?.preview.needsConfirmation).toBe(true);
    const refused = await s().applyRule(false);
    expect(refused.ok).toBe(false);
    expect(api.calls.filter((c) => c.method === 'applyRule')).toHaveLength(1);
    expect((await s().applyRule(true)).ok).toBe(true);
    expect(api.calls[api.calls.length - 1]).toMatchObject({ method: 'applyRule', params: { op: { kind: 'delete', number: 1 }, confirm: true } });
    expect(s().rules?.rules.map((r) => r.port)).toEqual(['443', '8080']);
  });

  it('a change the service wants confirmed comes back as a question (no error notice); a rule is previewed again to show why', async () => {
    const { api, s } = setup();
    await s().loadRules();
    await s().previewRule({ kind: 'add', rule: { action: 'deny', port: '8080', proto: 'tcp' } });
    expect(s().rulePreview?.preview.needsConfirmation).toBe(false);
    // A session opened since the preview: the service refuses the unconfirmed apply.
    api.failNext('applyRule', new ApiError('needs-confirmation', 'an open connection from 192.0.2.50 to port 8080 may be cut'));
    const r = await s().applyRule(false);
    expect(r).toEqual({ ok: false, error: 'an open connection from 192.0.2.50 to port 8080 may be cut', needsConfirmation: true });
    expect(api.calls.filter((c) => c.method === 'previewRule')).toHaveLength(2);
    expect(s().notices).toEqual([]);
    api.failNext('setDefaultPolicy', new ApiError('failed', 'ufw said no'));
    expect(await s().setDefaultPolicy('incoming', 'deny')).toEqual({ ok: false, error: 'ufw said no' });
    expect(s().notices.map((n) => n.level)).toEqual(['error']);
  });

  it('ban now / unban update the offender at once and report failures as notices', async () => {
    const { api, s } = setup();
    s().start();
    await flush();
    api.simulateScan('198.51.100.3', [1, 2], false);
    expect((await s().banNow('198.51.100.3')).ok).toBe(true);
    expect(s().offenders.get('198.51.100.3')?.state).toBe('banned');
    expect((await s().unban('198.51.100.3')).ok).toBe(true);
    expect(s().offenders.get('198.51.100.3')?.state).toBe('expired');
    api.failNext('ban', new ApiError('read-only', 'the helper is not connected'));
    const r = await s().banNow('198.51.100.3');
    expect(r).toEqual({ ok: false, error: 'the helper is not connected' });
    expect(s().notices[s().notices.length - 1]).toMatchObject({ level: 'error', message: 'the helper is not connected' });
    expect(s().busy).toEqual({});
  });

  it('info notices fade by themselves, errors stay', async () => {
    const api = createFakeApi();
    const timeouts: (() => void)[] = [];
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn) => timeouts.push(fn) });
    store.getState().applyEvents([
      { type: 'notice', level: 'info', message: 'ufw rules updated' },
      { type: 'notice', level: 'error', message: 'ufw failed' },
    ]);
    expect(store.getState().notices).toHaveLength(2);
    expect(timeouts).toHaveLength(1);
    timeouts[0]!();
    expect(store.getState().notices.map((n) => n.message)).toEqual(['ufw failed']);
  });

  it('the same notice again replaces the earlier one instead of stacking copies', async () => {
    const api = createFakeApi();
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: () => 0 });
    for (let i = 0; i < 3; i++) store.getState().applyEvents([{ type: 'notice', level: 'info', message: 'ufw rules updated' }]);
    store.getState().applyEvents([{ type: 'notice', level: 'warn', message: 'ufw rules updated' }]);
    expect(store.getState().notices.map((n) => `${n.level}:${n.message}`)).toEqual(['info:ufw rules updated', 'warn:ufw rules updated']);
  });

  it('exports the rows it is given as CSV through the download dependency', () => {
    const { s, downloads } = setup();
    s().exportPacketsCsv([row(1), row(2, { prefix: '=cmd|calc', src: '2001:db8::1' })]);
    expect(downloads).toHaveLength(1);
    expect(downloads[0]!.name).toMatch(/^portcullis-blocked-packets-.*\.csv$/);
    const lines = downloads[0]!.text.trim().split('\n');
    expect(lines[0]).toBe('id,time,src,dst,proto,spt,dpt,flags,in,prefix');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain('2001:db8::1');
  });
});

describe('selectors', () => {
  it('filters packets by CIDR, address prefix, port, protocol and log prefix, memoised per input', () => {
    const { s } = setup();
    s().applyEvents([
      {
        type: 'packets',
        rows: [
          row(1, { src: '203.0.113.5', dpt: 22 }),
          row(2, { src: '203.0.114.5', dpt: 22 }),
          row(3, { src: '2001:db8::5', dpt: 443, proto: 'UDP' }),
          row(4, { src: '203.0.113.200', dpt: 80, prefix: 'PORTCULLIS BLOCK' }),
        ],
      },
    ]);
    const ids = () => selectFilteredPackets(s()).rows.map((r) => r.id);
    expect(ids()).toEqual([1, 2, 3, 4]);
    expect(selectFilteredPackets(s())).toBe(selectFilteredPackets(s()));
    s().setPacketFilter({ src: '203.0.113.0/24' });
    expect(ids()).toEqual([1, 4]);
    s().setPacketFilter({ src: '2001:db8::/32' });
    expect(ids()).toEqual([3]);
    s().setPacketFilter({ src: '203.0.11' });
    expect(ids()).toEqual([1, 2, 4]);
    // A whole address in another spelling finds its rows (IPv6 is shown in RFC 5952 form).
    s().setPacketFilter({ src: '2001:0db8:0:0:0:0:0:0005' });
    expect(ids()).toEqual([3]);
    s().setPacketFilter({ src: '203.0.113.5' });
    expect(ids()).toEqual([1]);
    s().setPacketFilter({ src: '203.0.11' });
    s().setPacketFilter({ port: '22' });
    expect(ids()).toEqual([1, 2]);
    s().setPacketFilter({ src: '', port: '', proto: 'udp' });
    expect(ids()).toEqual([3]);
    s().setPacketFilter({ proto: '', prefix: 'portcullis' });
    expect(ids()).toEqual([4]);
    expect(selectFilteredPackets(s()).newestFirst.map((r) => r.id)).toEqual([4]);
    s().setPacketFilter({ prefix: '', port: '70000' });
    expect(selectFilteredPackets(s()).error).toEqual({ field: 'port', message: 'a port is a number from 1 to 65535' });
    s().setPacketFilter({ port: '', src: '10.0.0.0/40' });
    expect(selectFilteredPackets(s()).error?.field).toBe('src');
  });

  it('lists offenders by state and sort key, stable while nothing changes', async () => {
    const { api, s } = setup();
    s().start();
    await flush();
    api.simulateScan('198.51.100.1', [1, 2, 3, 4, 5, 6, 7], true);
    api.simulateScan('198.51.100.2', [1, 2], false);
    const byHits = selectOffenderList('all', 'hits');
    expect(byHits(s()).map((o) => o.ip)).toEqual(['198.51.100.1', '198.51.100.2']);
    expect(byHits(s())).toBe(byHits(s()));
    expect(selectOffenderList('watching', 'hits')(s()).map((o) => o.ip)).toEqual(['198.51.100.2']);
  });

  it('read-only reason comes from the helper state', async () => {
    const { api, s } = setup();
    await s().loadState();
    expect(selectReadOnlyReason(s())).toBeNull();
    api.data.state.helper = { connected: false, readOnlyReason: 'you declined the password prompt' };
    await s().loadState();
    expect(selectReadOnlyReason(s())).toBe('you declined the password prompt');
  });

  it('always-whitelisted entries: what the service reports, loopback otherwise', async () => {
    const { s } = setup();
    expect(selectBuiltInWhitelist(s()).map((e) => e.cidr)).toEqual(['127.0.0.0/8', '::1/128']);
    await s().loadState();
    expect(selectBuiltInWhitelist(s()).map((e) => e.why)).toContain('default gateway');
  });
});

describe('settings forms and CSV', () => {
  const FIELDS: FieldSpec[] = [
    { path: 'ban.bantimeSec', label: 'Ban time', kind: 'int' },
    { path: 'ban.maxbantimeSec', label: 'Max ban time', kind: 'int' },
    { path: 'detection.maxretry', label: 'Max retry', kind: 'int' },
  ];

  it('gives each invalid field its own reason from the one schema', async () => {
    const { s } = setup();
    await s().loadSettings();
    const settings = s().settings!;
    const draft = draftFrom(settings, FIELDS);
    expect(draft['ban.bantimeSec']).toBe('3600');
    expect(patchFrom(settings, FIELDS, draft)).toMatchObject({ errors: {}, changed: false });
    const check = patchFrom(settings, FIELDS, { ...draft, 'ban.bantimeSec': '0', 'detection.maxretry': 'lots' });
    expect(check.errors['ban.bantimeSec']).toBe('bantime must be more than 0 seconds');
    expect(check.errors['detection.maxretry']).toBe('Max retry must be a whole number');
    const cross = patchFrom(settings, FIELDS, { ...draft, 'ban.maxbantimeSec': '10' });
    expect(cross.errors['ban.maxbantimeSec']).toBe('maxbantime cannot be shorter than bantime');
    const ok = patchFrom(settings, FIELDS, { ...draft, 'detection.maxretry': '8' });
    expect(ok).toMatchObject({ errors: {}, changed: true, patch: { detection: { maxretry: 8 } } });
  });

  it('CSV quotes fields and neutralises spreadsheet formulas', () => {
    const csv = packetsToCsv([row(7, { prefix: '=HYPERLINK("x")', flags: 'FIN PSH URG' })]);
    const line = csv.trim().split('\n')[1]!;
    expect(line).toContain(`"'=HYPERLINK(""x"")"`);
    expect(line.startsWith('7,2023-11-14T22:13:20.007Z,203.0.113.5,10.0.0.2,TCP,40000,22,FIN PSH URG,eth0,')).toBe(true);
  });
});
