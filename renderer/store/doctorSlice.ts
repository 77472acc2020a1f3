/** The Doctor's checks and their fixes. */
import type { StateCreator } from 'zustand/vanilla';
import type { RendererApi } from '../api/index.ts';
import { act, load } from './actions.ts';
import type { AppState, DoctorSlice } from './appState.ts';

export const createDoctorSlice =
  (api: RendererApi): StateCreator<AppState, [], [], DoctorSlice> =>
  (set, get) => ({
    doctor: null,
    loadDoctor: () => load(set, 'doctor', () => api.call('getDoctor', {}), (doctor) => ({ doctor })),
    async runDoctorFix(fixId, confirm = false) {
      const r = await act(set, `fix:${fixId}`, () => api.call('runDoctorFix', { fixId, confirm }));
      if (!r.ok) return r;
      set({ doctor: r.value });
      void get().loadState();
      return { ok: true };
    },
  });
