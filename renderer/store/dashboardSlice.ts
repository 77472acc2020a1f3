/** The dashboard's aggregates (per-minute chart, top ports and offenders): refreshed, not pushed. */
import type { StateCreator } from 'zustand/vanilla';
import type { RendererApi } from '../api/index.ts';
import { load } from './actions.ts';
import type { AppState, DashboardSlice } from './appState.ts';

export const createDashboardSlice =
  (api: RendererApi): StateCreator<AppState, [], [], DashboardSlice> =>
  (set) => ({
    dashboard: null,
    loadDashboard: () => load(set, 'dashboard', () => api.call('getDashboard', { minutes: 60 }), (dashboard) => ({ dashboard })),
  });
