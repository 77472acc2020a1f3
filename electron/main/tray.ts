/**
 * The tray: its icon tells the truth about protection at a glance, its menu offers the one-click
 * actions. The menu template and the icon choice are PURE functions of the state (tested without
 * Electron); `TrayController` only hands them to Electron.
 */
import type { MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import type { State } from '../shared/api.ts';
import type { BanRecord } from '../shared/model.ts';

export const TRAY_ICON_STATES = ['protected', 'paused', 'firewall-off', 'recent-ban', 'not-saving'] as const;
export type TrayIconState = (typeof TRAY_ICON_STATES)[number];

/** A ban this recent turns the icon to "recent ban". */
export const RECENT_BAN_MS = 5 * 60_000;
/** The "Recent bans" submenu shows at most this many. */
export const MAX_RECENT_BANS_IN_MENU = 10;

export interface TrayView {
  /** null until the service answered once. */
  state: State | null;
  /** Newest first. */
  recentBans: BanRecord[];
  now: number;
}

export interface TrayActions {
  setProtection(enabled: boolean): void;
  pauseOneHour(): void;
  openWindow(): void;
  openOffender(ip: string): void;
  unban(ip: string): void;
  retryHelper(): void;
  quit(): void;
}

/**
 * Worst news first: no protection at all (no helper, the firewall off, or no kernel log being read)
 * outranks everything, a pause outranks a database that cannot be written, which outranks a recent
 * ban (a lasting fault over passing news). Without the root helper nothing is watched (the kernel
 * log comes through it) and nothing can be banned, whatever the last known firewall state says: the
 * icon stayed green "protected" after the helper was lost. Likewise when the helper's kernel-log
 * stream failed: no scanner is seen until it runs again. A store that cannot write (a full disk)
 * stops only the history: scanners are still banned, so it is not "firewall-off" either.
 */
export function trayIconState(view: TrayView): TrayIconState {
  const s = view.state;
  if (!s || !s.helper.connected || !s.firewall.installed || !s.firewall.enabled || s.source?.stopped === true) return 'firewall-off';
  if (s.protection !== 'on') return 'paused';
  if (s.store?.ok === false) return 'not-saving';
  if (s.lastBanAt !== null && view.now - s.lastBanAt < RECENT_BAN_MS) return 'recent-ban';
  return 'protected';
}

function minutesText(ms: number): string {
  const min = Math.max(1, Math.round(ms / 60_000));
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  const m = min % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

export function agoText(ms: number): string {
  if (ms < 60_000) return 'just now';
  return `${minutesText(ms)} ago`;
}

/** One line saying what Portcullis is doing now: the tooltip and the menu's first line. */
export function trayStatusText(view: TrayView): string {
  const s = view.state;
  if (!s) return 'Portcullis — starting…';
  // Without the helper nothing is watched or banned: say that first (and not "ufw is not installed").
  if (!s.helper.connected) return `Portcullis — not protecting: ${s.helper.readOnlyReason ?? 'the root helper is not connected'}`;
  if (!s.firewall.installed) return 'Portcullis — ufw is not installed';
  if (!s.firewall.enabled) return 'Portcullis — the firewall (ufw) is off';
  if (s.source?.stopped === true) return `Portcullis — not watching: ${s.source.error ?? 'the kernel log is not being read'}`;
  // A store that cannot write changes nothing of what protection does: said after it, not instead.
  const history = s.store?.ok === false ? `; history is not being saved: ${s.store.error}` : '';
  if (s.protection === 'off') return `Portcullis — protection is off${history}`;
  if (s.protection === 'paused') {
    return `${s.pausedUntil !== null ? `Portcullis — paused, resumes in ${minutesText(s.pausedUntil - view.now)}` : 'Portcullis — paused'}${history}`;
  }
  const bans = s.counts.activeBans;
  return `Portcullis — protected, ${bans} active ban${bans === 1 ? '' : 's'}${history}`;
}

export function trayMenuTemplate(view: TrayView, actions: TrayActions): MenuItemConstructorOptions[] {
  const s = view.state;
  const items: MenuItemConstructorOptions[] = [{ label: trayStatusText(view), enabled: false }];
  if (s && !s.helper.connected) {
    items.push({ label: `Read-only: ${s.helper.readOnlyReason ?? 'the helper is not connected'}`, enabled: false });
    items.push({ label: 'Connect helper (asks for your password)…', click: () => actions.retryHelper() });
  }
  if (s?.store?.ok === false) {
    // How long, and where to read what to do (the Doctor's store check names the file and the fix).
    items.push({ label: `Database cannot be written for ${minutesText(view.now - s.store.since)} — the Doctor says what to do`, enabled: false });
  }
  items.push({ type: 'separator' });

  const on = s?.protection === 'on';
  items.push({
    label: s?.protection === 'paused' ? 'Protection (paused — click to resume)' : 'Protection',
    type: 'checkbox',
    checked: on,
    enabled: s !== null,
    // One click: on → off, off or paused → on.
    click: () => actions.setProtection(!on),
  });
  items.push({ label: 'Pause for 1 hour', enabled: on, click: () => actions.pauseOneHour() });
  items.push({ type: 'separator' });
  items.push({ label: 'Open Portcullis', click: () => actions.openWindow() });

  const bans = view.recentBans.slice(0, MAX_RECENT_BANS_IN_MENU);
  items.push({
    label: 'Recent bans',
    submenu: bans.length
      ? bans.map(
          (b): MenuItemConstructorOptions => ({
            label: `${b.ip} — ${agoText(view.now - b.at)}${b.reason.scanType ? `, ${b.reason.scanType} scan` : ''}`,
            submenu: [
              { label: 'Show details', click: () => actions.openOffender(b.ip) },
              { label: `Unban ${b.ip}`, click: () => actions.unban(b.ip) },
            ],
          }),
        )
      : [{ label: 'No recent bans', enabled: false }],
  });
  items.push({ type: 'separator' });
  items.push({ label: 'Quit Portcullis', click: () => actions.quit() });
  return items;
}

/** A ban or an unban event as the tray reads it (`firewallError`: the firewall did not take that ban). */
export type TrayBanEvent = { type: 'ban'; ban: BanRecord; firewallError?: string } | { type: 'unban'; ip: string };

/**
 * Keeps the recent-bans list from the event stream: newest first, one entry per address, bounded. A
 * ban the firewall failed to make is not listed (it blocks nothing); an earlier one of the address
 * stays. Linear in the events and stops once the list is full: walked newest first, the latest event
 * of each address decides it (a fleet sync delivers up to 100,000 bans in one batch; filtering the
 * list again on each one took seconds of the main process).
 */
export function applyBanEvents(recent: BanRecord[], events: readonly TrayBanEvent[]): BanRecord[] {
  const out: BanRecord[] = [];
  /** Addresses whose latest event has been read (listed, or unbanned). */
  const decided = new Set<string>();
  for (let i = events.length - 1; i >= 0 && out.length < MAX_RECENT_BANS_IN_MENU; i--) {
    const e = events[i]!;
    if (e.type === 'unban') decided.add(e.ip);
    else if (e.firewallError === undefined && !decided.has(e.ban.ip)) {
      decided.add(e.ban.ip);
      out.push(e.ban);
    }
  }
  for (const b of recent) {
    if (out.length >= MAX_RECENT_BANS_IN_MENU) break;
    if (!decided.has(b.ip)) {
      decided.add(b.ip);
      out.push(b);
    }
  }
  return out;
}

/** What the user can see of a menu (labels, kinds, checked and enabled states, submenus); click handlers are left out. */
export function menuSignature(items: MenuItemConstructorOptions[]): string {
  const visible = (i: MenuItemConstructorOptions): unknown => [
    i.type ?? 'normal',
    i.label ?? '',
    i.checked ?? null,
    i.enabled ?? true,
    Array.isArray(i.submenu) ? i.submenu.map(visible) : null,
  ];
  return JSON.stringify(items.map(visible));
}

type ElectronTrayApi = {
  Tray: new (image: NativeImage) => Tray;
  Menu: { buildFromTemplate(t: MenuItemConstructorOptions[]): Electron.Menu };
  icon(state: TrayIconState): NativeImage;
};

/** The thin Electron side: one Tray, its image, tooltip and menu refreshed from a view. */
export class TrayController {
  private readonly electron: ElectronTrayApi;
  private readonly actions: TrayActions;
  private tray: Tray | null = null;
  private lastIcon: TrayIconState | null = null;
  private lastTooltip: string | null = null;
  private lastMenu: string | null = null;
  private disposed = false;

  constructor(electron: ElectronTrayApi, actions: TrayActions) {
    this.electron = electron;
    // Electron flips a checkbox item's check mark by itself when it is clicked. When the action then
    // fails (or changes nothing), the menu the next update() builds looks the same as the last one
    // and was not set again: the mark showed a state that was not. After any action the next
    // update() sets the menu again, whatever its signature.
    const then = <A extends unknown[]>(act: (...a: A) => void) => (...a: A): void => {
      this.lastMenu = null;
      act(...a);
    };
    this.actions = {
      setProtection: then((on: boolean) => actions.setProtection(on)),
      pauseOneHour: then(() => actions.pauseOneHour()),
      openWindow: then(() => actions.openWindow()),
      openOffender: then((ip: string) => actions.openOffender(ip)),
      unban: then((ip: string) => actions.unban(ip)),
      retryHelper: then(() => actions.retryHelper()),
      quit: then(() => actions.quit()),
    };
  }

  update(view: TrayView): void {
    // After destroy() (quitting), late state updates — the helper reporting it stopped — must not
    // bring a new icon back.
    if (this.disposed) return;
    const icon = trayIconState(view);
    if (!this.tray) {
      this.tray = new this.electron.Tray(this.electron.icon(icon));
      // A left click opens the window (on desktops that deliver clicks to tray icons at all).
      this.tray.on('click', () => this.actions.openWindow());
    } else if (icon !== this.lastIcon) {
      this.tray.setImage(this.electron.icon(icon));
    }
    this.lastIcon = icon;
    const tooltip = trayStatusText(view);
    if (tooltip !== this.lastTooltip) this.tray.setToolTip(tooltip);
    this.lastTooltip = tooltip;
    // update() runs every second; a new context menu each time would close or flicker the menu the
    // user has open (StatusNotifier hosts re-read the whole menu). Only a visible change replaces it.
    const template = trayMenuTemplate(view, this.actions);
    const signature = menuSignature(template);
    if (signature !== this.lastMenu) this.tray.setContextMenu(this.electron.Menu.buildFromTemplate(template));
    this.lastMenu = signature;
  }

  destroy(): void {
    this.disposed = true;
    this.tray?.destroy();
    this.tray = null;
    this.lastIcon = this.lastTooltip = this.lastMenu = null;
  }
}
