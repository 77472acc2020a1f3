/** Settings, the whitelist and "test against my recent log": validated here with the one SettingsSchema before the service sees them. */
import type { StateCreator } from 'zustand/vanilla';
import { mergePatch } from '../../electron/shared/merge-patch.ts';
import { SettingsSchema, describeZodError } from '../../electron/shared/settings.ts';
import type { RendererApi } from '../api/index.ts';
import { act, load, parseCidrText, pushNotice } from './actions.ts';
import { coveringEntry } from './cidrCover.ts';
import { selectBuiltInWhitelist } from './selectors.ts';
import type { AppState, Result, SettingsSlice } from './appState.ts';

export const createSettingsSlice =
  (api: RendererApi): StateCreator<AppState, [], [], SettingsSlice> =>
  (set, get) => {
  const checkPatch = (patch: Record<string, unknown>): Result => {
    const current = get().settings;
    if (!current) return { ok: true };
    const r = SettingsSchema.safeParse(mergePatch(current, patch));
    return r.success ? { ok: true } : { ok: false, error: describeZodError(r.error) };
  };
  return {
    settings: null,
    thresholdTest: null,
    fleetTest: null,
    thresholdBaseline: null,
    clearThresholdTest: () => set({ thresholdTest: null, thresholdBaseline: null }),
    loadSettings: () => load(set, 'settings', () => api.call('getSettings', {}), (settings) => ({ settings })),
    async whitelistAdd(text) {
      const parsed = parseCidrText(text);
      if (!parsed.ok) return parsed;
      const entries = get().settings?.whitelist.entries ?? [];
      if (entries.includes(parsed.data)) return { ok: false, error: `${parsed.data} is already whitelisted` };
      // An entry inside another changes nothing, and removing the wider one later would leave a surprise behind.
      const cover = coveringEntry(parsed.data, [...entries.map((cidr) => ({ cidr, why: 'your entry' })), ...selectBuiltInWhitelist(get())]);
      if (cover) return { ok: false, error: `${parsed.data} is already covered by ${cover.cidr} (${cover.why})` };
      const r = await act(set, 'whitelist', () => api.call('whitelistAdd', { cidr: parsed.data }));
      if (!r.ok) return r;
      set({ settings: r.value });
      pushNotice(set, 'info', `${parsed.data} whitelisted`);
      return { ok: true };
    },
    async whitelistRemove(cidr) {
      const r = await act(set, `whitelist:${cidr}`, () => api.call('whitelistRemove', { cidr }));
      if (!r.ok) return r;
      set({ settings: r.value });
      pushNotice(set, 'info', `${cidr} removed from the whitelist`, { label: 'Undo', run: () => void get().whitelistAdd(cidr) });
      return { ok: true };
    },
    async updateSettings(patch) {
      const local = checkPatch(patch);
      if (!local.ok) return local;
      const r = await act(set, 'settings', () => api.call('updateSettings', { patch }));
      if (!r.ok) return r;
      set({ settings: r.value });
      void get().loadState();
      return { ok: true };
    },
    async testFleet(crowdsec) {
      set({ fleetTest: null });
      const r = await act(set, 'fleetTest', () => api.call('testFleet', { crowdsec }));
      if (!r.ok) return r;
      set({ fleetTest: r.value });
      return { ok: true };
    },
    async testThresholds(patch, minutes = 1440) {
      const local = checkPatch(patch);
      if (!local.ok) return local;
      set({ thresholdTest: null, thresholdBaseline: null });
      // Current settings and the change, over the same log, side by side.
      const r = await act(set, 'thresholdTest', async () => {
        const [proposed, current] = await Promise.all([api.call('testThresholds', { patch, minutes }), api.call('testThresholds', { patch: {}, minutes })]);
        set({ thresholdBaseline: current });
        return proposed;
      });
      if (!r.ok) return r;
      set({ thresholdTest: r.value });
      return { ok: true };
    },
    async testWhitelist(candidate) {
      const settings = get().settings;
      if (!settings) return { ok: false, error: 'the settings are not loaded yet' };
      const entries = [...settings.whitelist.entries];
      if (candidate.trim() !== '') {
        const parsed = parseCidrText(candidate);
        if (!parsed.ok) return parsed;
        if (!entries.includes(parsed.data)) entries.push(parsed.data);
      }
      return get().testThresholds({ whitelist: { entries } });
    },
    async setPerSourceLogging(installed) {
      const r = await act(set, 'perSourceLogging', () => api.call('setPerSourceLogging', { installed }));
      if (!r.ok) return r;
      set({ state: r.value });
      void get().loadDoctor();
      return { ok: true };
    },
  };
}
