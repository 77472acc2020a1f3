/** Active bans and their history (kept current by ban/unban events, see events.ts). */
import type { StateCreator } from 'zustand/vanilla';
import type { RendererApi } from '../api/index.ts';
import { load } from './actions.ts';
import type { AppState, BansSlice } from './appState.ts';

export const createBansSlice =
  (api: RendererApi): StateCreator<AppState, [], [], BansSlice> =>
  (set) => ({
    bans: { active: [], history: [] },
    loadBans: () => load(set, 'bans', () => api.call('getBans', {}), (bans) => ({ bans })),
  });
