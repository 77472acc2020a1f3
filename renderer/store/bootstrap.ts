/**
 * Starting the window: load every area, follow the event stream, reload everything when a lost
 * link comes back (events sent meanwhile are gone), obey the desktop's navigation requests, and
 * refresh the aggregates on a timer. Also the info notices that fade on their own.
 */
import type { AppStore, GetState, SetState, StoreDeps } from './appState.ts';
import { timersOf } from './actions.ts';

/** What the UI slice's start() does; returns the function that stops it. */
export function startFollowing(set: SetState, get: GetState, deps: StoreDeps): () => void {
  const { api } = deps;
  const loadAll = () => {
    const g = get();
    void Promise.all([g.loadState(), g.loadDashboard(), g.loadPackets(), g.loadOffenders(), g.loadBans(), g.loadSettings(), g.loadRules(), g.loadDoctor()]);
  };
  const offEvents = api.onEvents((events) => get().applyEvents(events));
  let everOpen = !api.onConnection;
  const offConn = api.onConnection?.((status) => {
    set({ connection: status });
    // Events sent while the link was down are lost: reload everything on reconnect.
    if (status === 'open' && everOpen) loadAll();
    if (status === 'open') everOpen = true;
  });
  // Desktop: a notification or tray click asks for a screen (and an offender's detail).
  const offNav = api.onNavigate?.((target) => {
    if (target.screen === 'offender') {
      get().navigate('offenders');
      void get().openOffender(target.ip);
    } else {
      get().navigate(target.screen);
    }
  });
  loadAll();
  const setI = deps.setInterval ?? ((fn, ms) => globalThis.setInterval(fn, ms));
  const clearI = deps.clearInterval ?? ((h) => globalThis.clearInterval(h as ReturnType<typeof setInterval>));
  // The per-minute chart and the counts are aggregates: refreshed, not pushed.
  const timer = setI(() => {
    const g = get();
    if (g.connection !== 'open') return;
    void g.loadDashboard();
    void g.loadState();
  }, deps.refreshMs ?? 5000);
  return () => {
    offEvents();
    offConn?.();
    offNav?.();
    clearI(timer);
  };
}

/** Info notices fade on their own; warnings and errors stay until dismissed. */
const INFO_NOTICE_MS = 6000;

export function fadeInfoNotices(store: AppStore, deps: StoreDeps): void {
  const scheduled = new Set<number>();
  const { later } = timersOf(deps);
  store.subscribe((s, prev) => {
    if (s.notices === prev.notices) return;
    for (const n of s.notices) {
      if (n.level !== 'info' || scheduled.has(n.id)) continue;
      scheduled.add(n.id);
      later(() => {
        scheduled.delete(n.id);
        store.getState().dismissNotice(n.id);
      }, INFO_NOTICE_MS);
    }
  });
}
