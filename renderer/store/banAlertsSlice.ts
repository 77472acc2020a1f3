/**
 * Bans the open window tells the user about as they happen ("notify me when a scanner is banned"):
 * which source, why (scan type, ports, probes, against which threshold), with Unban and Whitelist.
 * Only bans the detector made: a ban the user just made by hand needs no alert.
 */
import type { StateCreator } from 'zustand/vanilla';
import type { AppState, BanAlertsSlice, BanThreshold } from './appState.ts';

export type { BanAlert, BanAlertsSlice, BanThreshold } from './appState.ts';

/** Alerts shown at once; more bans in a burst are summed up in one line, never a flood. */
export const MAX_BAN_ALERTS = 3;

let alertSeq = 0;

export const createBanAlertsSlice: StateCreator<AppState, [], [], BanAlertsSlice> = (set, get) => ({
  banAlerts: [],
  banAlertsHidden: 0,
  noteBans(bans) {
    const settings = get().settings;
    // Unknown settings: say nothing rather than notify someone who switched it off.
    if (!settings?.notifications.onBan) return;
    const scans = bans.filter((b) => b.reason.kind === 'scan');
    if (scans.length === 0) return;
    const d = settings.detection;
    const threshold: BanThreshold = { maxretry: d.maxretry, minDistinctPorts: d.minDistinctPorts, findtimeSec: d.findtimeSec };
    set((s) => {
      const fresh = scans.map((ban) => ({ id: ++alertSeq, ban, threshold }));
      // A source banned again replaces its earlier alert.
      const ips = new Set(scans.map((b) => b.ip));
      const all = [...s.banAlerts.filter((a) => !ips.has(a.ban.ip)), ...fresh];
      const overflow = Math.max(0, all.length - MAX_BAN_ALERTS);
      return { banAlerts: all.slice(overflow), banAlertsHidden: s.banAlertsHidden + overflow };
    });
  },
  dismissBanAlert: (id) => set((s) => ({ banAlerts: s.banAlerts.filter((a) => a.id !== id), banAlertsHidden: s.banAlerts.length <= 1 ? 0 : s.banAlertsHidden })),
  dismissAllBanAlerts: () => set({ banAlerts: [], banAlertsHidden: 0 }),
});
