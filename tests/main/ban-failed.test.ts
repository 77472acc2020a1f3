/**
 * A ban whose firewall call failed blocks nothing: the desktop must not announce it as banned, nor
 * list it among the tray's recent bans or turn the icon to "recent ban" — it tells the user the ban
 * failed. The service (real engine and SQLite store, a firewall that throws) feeds the planner and the
 * tray exactly as electron/main/index.ts does; the window's ban alerts (desktop and `serve`'s browser)
 * read the same events.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { BanRecord } from '../../electron/shared/model.ts';
import { DEFAULT_SETTINGS } from '../../electron/shared/settings.ts';
import { NotificationPlanner } from '../../electron/main/notify.ts';
import { applyBanEvents, trayIconState, type TrayBanEvent } from '../../electron/main/tray.ts';
import { createAppStore } from '../../renderer/store/store.ts';
import { createFakeApi } from '../renderer/fakeApi.ts';
import { FailingFirewall, Journal } from '../headless/fakes.ts';
import { BOOT, buildRealService, kmsg, tempDirsPerTest } from '../headless/real-service.ts';

const tempDir = tempDirsPerTest('pc-banfail-');
const SCANNER = '198.51.100.7';

async function desktop() {
  const clock = new ManualClock(BOOT + 10_000);
  const fw = new FailingFirewall(new Journal());
  fw.failBan = true;
  const t = buildRealService({ dbFile: path.join(tempDir(), 'p.db'), clock, firewall: fw });
  const planner = new NotificationPlanner(DEFAULT_SETTINGS.notifications, clock);
  let recentBans: BanRecord[] = [];
  const events: ApiEvent[] = [];
  // As index.ts's onServiceEvents.
  t.service.onEvents((batch) => {
    events.push(...batch);
    const banEvents: TrayBanEvent[] = [];
    for (const e of batch) {
      if (e.type === 'ban') {
        planner.ban(e.ban, e.firewallError);
        banEvents.push(e);
      } else if (e.type === 'unban') {
        planner.unban(e.ip, e.why);
        banEvents.push(e);
      } else if (e.type === 'state') planner.state(e.state);
    }
    if (banEvents.length) recentBans = applyBanEvents(recentBans, banEvents);
  });
  await t.service.start();
  /** Waits for the firewall's answers and the event batcher's delivery. */
  const settle = async () => {
    await t.service.idle();
    await new Promise((r) => setTimeout(r, 250));
  };
  return { ...t, fw, planner, events, recent: () => recentBans, settle };
}

describe('a ban the firewall failed to make is not announced as a ban', () => {
  it('a detected scan: no "banned" notification, a "could not ban" one instead; not in the recent bans; the icon not "recent ban"', async () => {
    const t = await desktop();
    const ms = t.clock.now() - BOOT - 500;
    t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg(SCANNER, p, ms + i)));
    await t.settle();
    const shown = t.planner.take();
    expect(shown.map((n) => n.title)).toEqual([`Could not ban ${SCANNER}`]);
    expect(shown[0]!.kind).toBe('ban-failed');
    expect(shown[0]!.body).toMatch(/Could not update running firewall.*nothing blocks 198\.51\.100\.7/);
    expect(t.recent()).toEqual([]);
    // Recorded as active all the same (the next start retries it), and the window's event says it failed.
    expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual([SCANNER]);
    expect(t.events.filter((e) => e.type === 'ban')).toEqual([expect.objectContaining({ firewallError: expect.stringContaining('Could not update running firewall') })]);
    const state = await t.call('getState');
    expect(state.lastBanAt).toBeNull();
    expect(trayIconState({ state: { ...state, firewall: { ...state.firewall, installed: true, enabled: true } }, recentBans: t.recent(), now: t.clock.now() })).not.toBe('recent-ban');
    await t.service.stop();
  });

  it('a bulk ban (banMany): one "could not ban N addresses" warning, none announced', async () => {
    const t = await desktop();
    const ips = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'];
    await expect(t.call('banMany', { ips })).rejects.toThrow(/Could not update running firewall/);
    await t.settle();
    const shown = t.planner.take();
    expect(shown.map((n) => [n.kind, n.title])).toEqual([['ban-failed', 'Could not ban 4 addresses']]);
    expect(shown[0]!.body).toContain('nothing blocks 203.0.113.4, 203.0.113.3, 203.0.113.2 and 1 more');
    expect(t.recent()).toEqual([]);
    expect((await t.call('getState')).lastBanAt).toBeNull();
    await t.service.stop();
  });

  it('once the firewall takes bans again they are announced as before', async () => {
    const t = await desktop();
    t.fw.failBan = false;
    await t.call('ban', { ip: SCANNER, durationSec: 3600 });
    await t.settle();
    expect(t.planner.take().map((n) => n.title)).toEqual([`Scanner ${SCANNER} banned`]);
    expect(t.recent().map((b) => b.ip)).toEqual([SCANNER]);
    await t.service.stop();
  });

  it('failures in a burst are summed up once per window, within the notification budget', () => {
    const clock = new ManualClock(BOOT);
    const p = new NotificationPlanner({ ...DEFAULT_SETTINGS.notifications, aggregateWindowSec: 60 }, clock);
    const ban = (ip: string): BanRecord => ({ ip, at: clock.now(), until: clock.now() + 3_600_000, strikes: 1, reason: { kind: 'scan', scanType: 'SYN', ports: [1, 2, 3, 4], hits: 5, firstSeen: clock.now(), lastSeen: clock.now() } });
    p.ban(ban('192.0.2.1'), 'helper gone');
    expect(p.take().map((n) => n.title)).toEqual(['Could not ban 192.0.2.1']);
    for (let i = 2; i <= 50; i++) {
      clock.advance(500);
      p.ban(ban(`192.0.2.${i}`), 'helper gone');
      expect(p.take()).toEqual([]);
    }
    clock.set(BOOT + 60_000);
    expect(p.take().map((n) => n.title)).toEqual(['Could not ban 49 addresses']);
  });
});

describe("the window's ban alerts (desktop window and serve's browser UI)", () => {
  it('a ban whose firewall call failed raises no "Banned" alert; it is still listed as recorded', async () => {
    const api = createFakeApi({ now: () => 1_700_000_000_000 });
    const store = createAppStore({ api, setInterval: () => undefined, clearInterval: () => undefined, download: () => undefined });
    const stop = store.getState().start();
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    const at = 1_700_000_000_000;
    const ban: BanRecord = { ip: SCANNER, at, until: at + 3_600_000, strikes: 1, reason: { kind: 'scan', scanType: 'SYN', ports: [21, 23, 25, 80, 110], hits: 5, firstSeen: at, lastSeen: at } };
    store.getState().applyEvents([{ type: 'ban', ban, firewallError: 'ERROR: Could not update running firewall' }]);
    expect(store.getState().banAlerts).toEqual([]);
    expect(store.getState().bans.active.map((b) => b.ip)).toContain(SCANNER);
    store.getState().applyEvents([{ type: 'ban', ban: { ...ban, ip: '198.51.100.8' } }]);
    expect(store.getState().banAlerts.map((a) => a.ban.ip)).toEqual(['198.51.100.8']);
    stop();
  });
});
