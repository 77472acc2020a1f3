/** The sources seen probing: the list, one source's detail, and ban / unban / whitelist from it. */
import type { StateCreator } from 'zustand/vanilla';
import type { RendererApi } from '../api/index.ts';
import { act, load, pushNotice } from './actions.ts';
import type { AppState, OffendersSlice } from './appState.ts';

export const createOffendersSlice =
  (api: RendererApi): StateCreator<AppState, [], [], OffendersSlice> =>
  (set, get) => ({
    offenders: new Map(),
    selectedOffender: null,
    offenderDetail: null,
    loadOffenders: () =>
      load(set, 'offenders', () => api.call('getOffenders', { limit: 5000 }), (list) => ({ offenders: new Map(list.map((o) => [o.ip, o])) })),
    async openOffender(ip) {
      set({ selectedOffender: ip, offenderDetail: null });
      await load(set, 'offender', () => api.call('getOffender', { ip }), (d) =>
        get().selectedOffender === ip ? { offenderDetail: { ip, ports: d.ports, timeline: d.timeline, bans: d.bans }, offenders: new Map(get().offenders).set(ip, d.offender) } : {},
      );
    },
    closeOffender: () => set({ selectedOffender: null, offenderDetail: null }),
    async banNow(ip) {
      const r = await act(set, `ban:${ip}`, () => api.call('ban', { ip, note: 'banned from the Offenders screen' }));
      if (!r.ok) return r;
      get().applyEvents([{ type: 'ban', ban: r.value }]);
      pushNotice(set, 'info', `${ip} banned`);
      return { ok: true };
    },
    async unban(ip) {
      const r = await act(set, `unban:${ip}`, () => api.call('unban', { ip }));
      if (!r.ok) return r;
      get().applyEvents([{ type: 'unban', ip, why: 'manual' }]);
      pushNotice(set, 'info', `${ip} unbanned`);
      void get().loadRules();
      return { ok: true };
    },
    async whitelistIp(ip) {
      const r = await get().whitelistAdd(ip);
      if (r.ok) void get().loadOffenders();
      return r;
    },
  });
