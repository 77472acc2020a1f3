/**
 * The window itself: which screen, the link, notices, busy flags and load errors; live events
 * applied one delivered batch at a time (the reducer is events.ts), and start() (bootstrap.ts).
 */
import type { StateCreator } from 'zustand/vanilla';
import { timersOf } from './actions.ts';
import type { AppState, StoreDeps, UiSlice } from './appState.ts';
import { startFollowing } from './bootstrap.ts';
import { reduceEvents } from './events.ts';
import { packetsToCsv } from './packetFilter.ts';

/** After the last hole in the live rows, wait this long (the burst is over) before fetching them back. */
const BACKFILL_QUIET_MS = 1000;
/**
 * After the last unban of a ban the window never listed, wait this long before fetching the bans. The
 * service sends no 'ban' event for a ban lifted while its firewall call was pending (it would list as
 * active a ban that is not), so its unban finds nothing here to move into the history: the service's
 * store has the row.
 */
const BANS_RELOAD_QUIET_MS = 1000;
/**
 * At most one such fetch per this long: each ships every active ban (a fleet's tens of thousands), and
 * under a steady stream of unbans an event held in the service's batch past a fetch's snapshot would
 * otherwise schedule the next fetch, and so on.
 */
const BANS_RELOAD_MIN_INTERVAL_MS = 10_000;

function browserDownload(filename: string, text: string, mime: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const createUiSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], UiSlice> =>
  (set, get) => {
    const { api } = deps;
    const { later, cancel } = timersOf(deps);
    let backfillTimer: unknown = null;
    let bansTimer: unknown = null;
    let bansReloadedAt = -Infinity;
    const now = deps.now ?? (() => Date.now());
    return {
      screen: 'dashboard',
      connection: api.onConnection ? 'connecting' : 'open',
      shell: api.onNavigate ? 'desktop' : 'browser',
      notices: [],
      busy: {},
      loadErrors: {},
      navigate: (screen) => {
        // A test result belongs to the screen that asked for it.
        set({ screen, thresholdTest: null });
        const s = get();
        // Screens whose data is not pushed by events are refreshed when shown.
        if (screen === 'rules') void s.loadRules();
        else if (screen === 'doctor') void s.loadDoctor();
        else if (screen === 'dashboard') void s.loadDashboard();
        else if (screen === 'offenders') void s.loadBans();
      },
      dismissNotice: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),
      applyEvents(events) {
        if (events.length === 0) return;
        const missingBefore = get().packetsMissing;
        // Known: listed as active, or already in the history (an unban this window made itself, whose
        // service event comes after; one a fetch's snapshot already had): only a ban the window never
        // saw at all needs the fetch.
        const { active, history } = get().bans;
        const known = new Set([...active.map((b) => b.ip), ...history.map((b) => b.ip)]);
        let unlisted = false;
        for (const e of events) {
          if (e.type === 'ban') known.add(e.ban.ip);
          else if (e.type === 'unban' && !known.has(e.ip)) unlisted = true;
        }
        set((s) => reduceEvents(s, events, now()));
        if (unlisted) {
          if (bansTimer !== null) cancel(bansTimer);
          const wait = Math.max(BANS_RELOAD_QUIET_MS, bansReloadedAt + BANS_RELOAD_MIN_INTERVAL_MS - now());
          bansTimer = later(() => {
            bansTimer = null;
            bansReloadedAt = now();
            void get().loadBans();
          }, wait);
        }
        // A ban the firewall failed to make gets no "Banned" alert: the service's error notice says it.
        get().noteBans(events.flatMap((e) => (e.type === 'ban' && e.firewallError === undefined ? [e.ban] : [])));
        if (get().packetsMissing > missingBefore) {
          // Fetch the skipped rows once the burst is over, not while it is still shedding.
          if (backfillTimer !== null) cancel(backfillTimer);
          backfillTimer = later(() => {
            backfillTimer = null;
            void get().backfillPackets();
          }, BACKFILL_QUIET_MS);
        }
      },
      start: () => startFollowing(set, get, deps),
      exportPacketsCsv(rows) {
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        (deps.download ?? browserDownload)(`portcullis-blocked-packets-${stamp}.csv`, packetsToCsv(rows), 'text/csv');
      },
    };
  };
