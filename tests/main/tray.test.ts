import type { MenuItemConstructorOptions } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import { applyBanEvents, TrayController, trayIconState, trayMenuTemplate, trayStatusText, type TrayActions, type TrayView } from '../../electron/main/tray.ts';
import { makeBan, makeState } from './fixtures.ts';

const NOW = 1_700_000_000_000;
/** The source after the helper's kernel-log stream failed (kmsg.ts: until records come again). */
const stoppedSource = { ...makeState().source!, error: 'kmsg: EIO: i/o error, read', stopped: true };
const { stopped: _stopped, ...readingSource } = stoppedSource;
/** The store's health on a full disk since 5 minutes ago. */
const FULL_DISK = { ok: false as const, since: NOW - 5 * 60_000, error: 'database or disk is full', path: '/var/lib/portcullis/portcullis.db', pendingPackets: 10_000 };

function recordingActions(): TrayActions & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    setProtection: (on) => log.push(`protection:${on}`),
    pauseOneHour: () => log.push('pause'),
    openWindow: () => log.push('open'),
    openOffender: (ip) => log.push(`offender:${ip}`),
    unban: (ip) => log.push(`unban:${ip}`),
    retryHelper: () => log.push('retry-helper'),
    quit: () => log.push('quit'),
  };
}

const byLabel = (items: MenuItemConstructorOptions[], re: RegExp) => {
  const found = items.find((i) => typeof i.label === 'string' && re.test(i.label));
  if (!found) throw new Error(`no item matching ${re}: ${items.map((i) => i.label).join(' | ')}`);
  return found;
};
const click = (item: MenuItemConstructorOptions) => (item.click as () => void)();

describe('tray icon state', () => {
  it.each<[string, TrayView, string]>([
    ['protected', { state: makeState(), recentBans: [], now: NOW }, 'protected'],
    ['recent ban', { state: makeState({ lastBanAt: NOW - 60_000 }), recentBans: [], now: NOW }, 'recent-ban'],
    ['old ban', { state: makeState({ lastBanAt: NOW - 10 * 60_000 }), recentBans: [], now: NOW }, 'protected'],
    ['paused', { state: makeState({ protection: 'paused', pausedUntil: NOW + 3_600_000, lastBanAt: NOW }), recentBans: [], now: NOW }, 'paused'],
    ['protection off', { state: makeState({ protection: 'off' }), recentBans: [], now: NOW }, 'paused'],
    ['ufw disabled', { state: makeState({ firewall: { ...makeState().firewall, enabled: false }, lastBanAt: NOW }), recentBans: [], now: NOW }, 'firewall-off'],
    ['ufw missing', { state: makeState({ firewall: { ...makeState().firewall, installed: false } }), recentBans: [], now: NOW }, 'firewall-off'],
    ['no state yet', { state: null, recentBans: [], now: NOW }, 'firewall-off'],
    ['kernel log stream failed', { state: makeState({ source: stoppedSource, lastBanAt: NOW }), recentBans: [], now: NOW }, 'firewall-off'],
    ['records lost, still reading', { state: makeState({ source: { ...readingSource, error: '3 kernel records were overwritten before they could be read' } }), recentBans: [], now: NOW }, 'protected'],
    ['database cannot be written', { state: makeState({ store: FULL_DISK }), recentBans: [], now: NOW }, 'not-saving'],
    ['database cannot be written, a recent ban', { state: makeState({ store: FULL_DISK, lastBanAt: NOW - 60_000 }), recentBans: [], now: NOW }, 'not-saving'],
    ['database cannot be written, paused', { state: makeState({ store: FULL_DISK, protection: 'paused', pausedUntil: NOW + 60_000 }), recentBans: [], now: NOW }, 'paused'],
    ['database cannot be written, ufw off', { state: makeState({ store: FULL_DISK, firewall: { ...makeState().firewall, enabled: false } }), recentBans: [], now: NOW }, 'firewall-off'],
    ['database written', { state: makeState({ store: { ok: true } }), recentBans: [], now: NOW }, 'protected'],
  ])('%s', (_n, view, icon) => {
    expect(trayIconState(view)).toBe(icon);
  });

  it('a database that cannot be written: says protection works but the history is not saved, and for how long', () => {
    const view = { state: makeState({ store: FULL_DISK }), recentBans: [], now: NOW };
    expect(trayStatusText(view)).toBe('Portcullis — protected, 1 active ban; history is not being saved: database or disk is full');
    expect(trayStatusText({ ...view, state: makeState({ store: FULL_DISK, protection: 'paused', pausedUntil: NOW + 42 * 60_000 }) })).toBe(
      'Portcullis — paused, resumes in 42 min; history is not being saved: database or disk is full',
    );
    const items = trayMenuTemplate(view, recordingActions());
    expect(items[0]!.label).toBe('Portcullis — protected, 1 active ban; history is not being saved: database or disk is full');
    expect(byLabel(items, /^Database cannot be written/)).toEqual({ label: 'Database cannot be written for 5 min — the Doctor says what to do', enabled: false });
    // Written again: the tooltip and the menu are as before.
    const fine = { ...view, state: makeState({ store: { ok: true } }) };
    expect(trayStatusText(fine)).toBe('Portcullis — protected, 1 active ban');
    expect(trayMenuTemplate(fine, recordingActions()).some((i) => /Database/.test(String(i.label)))).toBe(false);
  });

  it('says why nothing is watched when the kernel log stream failed', () => {
    expect(trayStatusText({ state: makeState({ source: stoppedSource }), recentBans: [], now: NOW })).toBe('Portcullis — not watching: kmsg: EIO: i/o error, read');
  });
});

describe('tray menu template', () => {
  it('protected: the switch is checked, one click turns protection off; pause is offered', () => {
    const a = recordingActions();
    const items = trayMenuTemplate({ state: makeState(), recentBans: [], now: NOW }, a);
    expect(items[0]!.label).toBe('Portcullis — protected, 1 active ban');
    const sw = byLabel(items, /^Protection$/);
    expect(sw.type).toBe('checkbox');
    expect(sw.checked).toBe(true);
    click(sw);
    const pause = byLabel(items, /Pause for 1 hour/);
    expect(pause.enabled).toBe(true);
    click(pause);
    click(byLabel(items, /Open Portcullis/));
    click(byLabel(items, /Quit/));
    expect(a.log).toEqual(['protection:false', 'pause', 'open', 'quit']);
    expect(byLabel(items, /Recent bans/).submenu).toEqual([{ label: 'No recent bans', enabled: false }]);
    expect(items.some((i) => /Read-only/.test(String(i.label)))).toBe(false);
  });

  it('paused: says when it resumes, one click resumes, pause is not offered again', () => {
    const a = recordingActions();
    const items = trayMenuTemplate({ state: makeState({ protection: 'paused', pausedUntil: NOW + 42 * 60_000 }), recentBans: [], now: NOW }, a);
    expect(items[0]!.label).toBe('Portcullis — paused, resumes in 42 min');
    const sw = byLabel(items, /^Protection/);
    expect(sw.checked).toBe(false);
    click(sw);
    expect(a.log).toEqual(['protection:true']);
    expect(byLabel(items, /Pause for 1 hour/).enabled).toBe(false);
  });

  it('protection off: one click turns it on', () => {
    const a = recordingActions();
    const items = trayMenuTemplate({ state: makeState({ protection: 'off' }), recentBans: [], now: NOW }, a);
    expect(items[0]!.label).toBe('Portcullis — protection is off');
    click(byLabel(items, /^Protection$/));
    expect(a.log).toEqual(['protection:true']);
  });

  it('firewall off: says so first', () => {
    const items = trayMenuTemplate({ state: makeState({ firewall: { ...makeState().firewall, enabled: false } }), recentBans: [], now: NOW }, recordingActions());
    expect(items[0]!.label).toBe('Portcullis — the firewall (ufw) is off');
  });

  it('recent bans: each has Show details and Unban for its own address', () => {
    const a = recordingActions();
    const bans = [makeBan('203.0.113.9', NOW - 3 * 60_000), makeBan('2001:db8::5', NOW - 2 * 3_600_000)];
    const items = trayMenuTemplate({ state: makeState({ lastBanAt: NOW - 3 * 60_000 }), recentBans: bans, now: NOW }, a);
    const sub = byLabel(items, /Recent bans/).submenu as MenuItemConstructorOptions[];
    expect(sub.map((i) => i.label)).toEqual(['203.0.113.9 — 3 min ago, SYN scan', '2001:db8::5 — 2 h ago, SYN scan']);
    const second = sub[1]!.submenu as MenuItemConstructorOptions[];
    click(byLabel(second, /Unban 2001:db8::5/));
    click(byLabel(sub[0]!.submenu as MenuItemConstructorOptions[], /Show details/));
    expect(a.log).toEqual(['unban:2001:db8::5', 'offender:203.0.113.9']);
  });

  it('read-only: the reason is shown and the helper can be retried', () => {
    const a = recordingActions();
    const items = trayMenuTemplate({ state: makeState({ helper: { connected: false, readOnlyReason: 'you declined the password prompt' } }), recentBans: [], now: NOW }, a);
    expect(byLabel(items, /Read-only/).label).toBe('Read-only: you declined the password prompt');
    click(byLabel(items, /Connect helper/));
    expect(a.log).toEqual(['retry-helper']);
  });

  it('read-only before the helper ever answered: not protecting, and why (not "ufw is not installed")', () => {
    const items = trayMenuTemplate({ state: makeState({ helper: { connected: false, readOnlyReason: 'waiting for the administrator password' }, firewall: { ...makeState().firewall, installed: false, enabled: false } }), recentBans: [], now: NOW }, recordingActions());
    expect(items[0]!.label).toBe('Portcullis — not protecting: waiting for the administrator password');
  });

  it('the helper lost after it was connected: the icon and the tooltip stop saying "protected"', () => {
    // The last known firewall state is still "ufw on, protection on"; without the helper nothing is watched or banned.
    const view = { state: makeState({ helper: { connected: false, readOnlyReason: 'the root helper stopped' } }), recentBans: [], now: NOW };
    expect(view.state.firewall.enabled).toBe(true);
    expect(view.state.protection).toBe('on');
    expect(trayIconState(view)).toBe('firewall-off');
    expect(trayStatusText(view)).toBe('Portcullis — not protecting: the root helper stopped');
    expect(trayIconState({ ...view, state: makeState() })).toBe('protected');
  });

  it('before the first state: the switch is disabled, Open and Quit still work', () => {
    const items = trayMenuTemplate({ state: null, recentBans: [], now: NOW }, recordingActions());
    expect(items[0]!.label).toMatch(/starting/);
    expect(byLabel(items, /^Protection$/).enabled).toBe(false);
    expect(byLabel(items, /Quit/).click).toBeTypeOf('function');
  });
});

describe('recent bans list', () => {
  it('keeps the newest first, one per address, drops unbanned ones, bounded to 10', () => {
    let list = applyBanEvents([], [{ type: 'ban', ban: makeBan('192.0.2.1', 1) }, { type: 'ban', ban: makeBan('192.0.2.2', 2) }]);
    list = applyBanEvents(list, [{ type: 'ban', ban: makeBan('192.0.2.1', 3) }]);
    expect(list.map((b) => [b.ip, b.at])).toEqual([['192.0.2.1', 3], ['192.0.2.2', 2]]);
    list = applyBanEvents(list, [{ type: 'unban', ip: '192.0.2.2' }]);
    expect(list.map((b) => b.ip)).toEqual(['192.0.2.1']);
    list = applyBanEvents(list, Array.from({ length: 20 }, (_, i) => ({ type: 'ban' as const, ban: makeBan(`198.51.100.${i}`, 10 + i) })));
    expect(list).toHaveLength(10);
    expect(list[0]!.ip).toBe('198.51.100.19');
  });
});

describe('TrayController', () => {
  it('creates one tray and swaps the image only when the icon state changes', () => {
    const tray = { on: vi.fn(), setImage: vi.fn(), setToolTip: vi.fn(), setContextMenu: vi.fn(), destroy: vi.fn() };
    const Tray = vi.fn(function () {
      return tray;
    });
    const icon = vi.fn((s: string) => ({ s }) as never);
    const c = new TrayController({ Tray: Tray as never, Menu: { buildFromTemplate: (t) => t as never }, icon }, recordingActions());
    c.update({ state: makeState(), recentBans: [], now: NOW });
    c.update({ state: makeState(), recentBans: [], now: NOW });
    c.update({ state: makeState({ protection: 'off' }), recentBans: [], now: NOW });
    expect(Tray).toHaveBeenCalledTimes(1);
    expect(icon.mock.calls.map((x) => x[0])).toEqual(['protected', 'paused']);
    expect(tray.setImage).toHaveBeenCalledTimes(1);
    expect(tray.setToolTip).toHaveBeenLastCalledWith('Portcullis — protection is off');
  });

  it('replaces the menu and tooltip only when what they show changes (update() runs every second; a new menu closes the open one)', () => {
    const tray = { on: vi.fn(), setImage: vi.fn(), setToolTip: vi.fn(), setContextMenu: vi.fn(), destroy: vi.fn() };
    const Tray = vi.fn(function () {
      return tray;
    });
    const c = new TrayController({ Tray: Tray as never, Menu: { buildFromTemplate: (t) => t as never }, icon: () => ({}) as never }, recordingActions());
    const ban = makeBan('203.0.113.9', NOW - 3 * 60_000);
    const view = (now: number, over: Partial<TrayView> = {}): TrayView => ({ state: makeState({ lastBanAt: NOW - 3 * 60_000 }), recentBans: [ban], now, ...over });
    c.update(view(NOW));
    c.update(view(NOW + 1000));
    c.update(view(NOW + 2000));
    expect(tray.setContextMenu).toHaveBeenCalledTimes(1);
    expect(tray.setToolTip).toHaveBeenCalledTimes(1);
    // A minute later the ban's age in the menu reads differently: a new menu.
    c.update(view(NOW + 60_000));
    expect(tray.setContextMenu).toHaveBeenCalledTimes(2);
    // Protection turned off: new menu and tooltip.
    c.update(view(NOW + 61_000, { state: makeState({ protection: 'off', lastBanAt: NOW - 3 * 60_000 }) }));
    expect(tray.setContextMenu).toHaveBeenCalledTimes(3);
    expect(tray.setToolTip).toHaveBeenCalledTimes(2);
    const last = tray.setContextMenu.mock.calls.at(-1)![0] as MenuItemConstructorOptions[];
    expect(byLabel(last, /^Protection$/).checked).toBe(false);
    // destroy() is for quitting: a late update (the helper reporting it stopped) brings no icon back.
    c.destroy();
    expect(tray.destroy).toHaveBeenCalledTimes(1);
    c.update(view(NOW + 62_000));
    expect(Tray).toHaveBeenCalledTimes(1);
    expect(tray.setContextMenu).toHaveBeenCalledTimes(3);
  });

  it('sets the menu again after a click, though it looks the same (Electron has flipped the check mark itself)', () => {
    const tray = { on: vi.fn(), setImage: vi.fn(), setToolTip: vi.fn(), setContextMenu: vi.fn(), destroy: vi.fn() };
    const Tray = vi.fn(function () {
      return tray;
    });
    const actions = recordingActions();
    const c = new TrayController({ Tray: Tray as never, Menu: { buildFromTemplate: (t) => t as never }, icon: () => ({}) as never }, actions);
    c.update({ state: makeState(), recentBans: [], now: NOW });
    expect(tray.setContextMenu).toHaveBeenCalledTimes(1);
    // The user unticks Protection; turning it off fails, so the state stays 'on'.
    click(byLabel(tray.setContextMenu.mock.calls[0]![0] as MenuItemConstructorOptions[], /^Protection$/));
    expect(actions.log).toEqual(['protection:false']);
    c.update({ state: makeState(), recentBans: [], now: NOW + 1000 });
    expect(tray.setContextMenu).toHaveBeenCalledTimes(2);
    expect(byLabel(tray.setContextMenu.mock.calls[1]![0] as MenuItemConstructorOptions[], /^Protection$/).checked).toBe(true);
    // Without a click in between, an unchanged menu is not set again.
    c.update({ state: makeState(), recentBans: [], now: NOW + 2000 });
    expect(tray.setContextMenu).toHaveBeenCalledTimes(2);
  });
});
