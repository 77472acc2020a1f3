/**
 * The renderer's one zustand store, assembled from its slices (one file each; their shapes are in
 * appState.ts). Components read it through selectors and change it only through actions; every
 * call to the service happens inside an action, through the API facade handed to createAppStore
 * (the real one in the app, a fake in tests). Live events are applied one delivered batch at a time
 * (one state update per batch, events.ts), and the in-memory packet list is bounded so a
 * long-running window never grows without limit.
 */
import { createStore } from 'zustand/vanilla';
import type { AppState, AppStore, StoreDeps } from './appState.ts';
import { createBanAlertsSlice } from './banAlertsSlice.ts';
import { createBansSlice } from './bansSlice.ts';
import { fadeInfoNotices } from './bootstrap.ts';
import { createDashboardSlice } from './dashboardSlice.ts';
import { createDoctorSlice } from './doctorSlice.ts';
import { createOffendersSlice } from './offendersSlice.ts';
import { createPacketsSlice } from './packetsSlice.ts';
import { createRulesSlice } from './rulesSlice.ts';
import { createServiceSlice } from './serviceSlice.ts';
import { createSettingsSlice } from './settingsSlice.ts';
import { createUiSlice } from './uiSlice.ts';

// What the screens and tests use, from the one place they already import.
export * from './appState.ts';
export { countMissing } from './backfill.ts';
export { MAX_PACKET_ROWS } from './livePackets.ts';
export type { Notice } from './notices.ts';
export { INITIAL_PACKET_PAGE } from './packetsSlice.ts';

export function createAppStore(deps: StoreDeps): AppStore {
  const { api } = deps;
  const store = createStore<AppState>()((...a) => ({
    ...createServiceSlice(api)(...a),
    ...createDashboardSlice(api)(...a),
    ...createPacketsSlice(deps)(...a),
    ...createOffendersSlice(api)(...a),
    ...createBansSlice(api)(...a),
    ...createRulesSlice(api)(...a),
    ...createSettingsSlice(api)(...a),
    ...createDoctorSlice(api)(...a),
    ...createUiSlice(deps)(...a),
    ...createBanAlertsSlice(...a),
  }));
  fadeInfoNotices(store, deps);
  return store;
}
