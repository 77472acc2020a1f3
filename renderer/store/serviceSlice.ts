/** The service's state (protection, firewall, counts): loaded, refreshed, and the protection switch. */
import type { StateCreator } from 'zustand/vanilla';
import type { RendererApi } from '../api/index.ts';
import { act, load } from './actions.ts';
import type { AppState, ServiceSlice } from './appState.ts';

export const createServiceSlice =
  (api: RendererApi): StateCreator<AppState, [], [], ServiceSlice> =>
  (set) => ({
    state: null,
    loadState: () => load(set, 'state', () => api.call('getState', {}), (state) => ({ state })),
    async setProtection(enabled) {
      const r = await act(set, 'protection', () => api.call('setProtection', { enabled }));
      if (r.ok) set({ state: r.value });
    },
    async pauseProtection(minutes) {
      const r = await act(set, 'protection', () => api.call('pauseProtection', { minutes }));
      if (r.ok) set({ state: r.value });
    },
  });
