/** The live blocked-packets table: the bounded row list, pause/hold, the filter, and backfill of skipped rows. */
import type { StateCreator } from 'zustand/vanilla';
import type { PacketRow } from '../../electron/shared/api.ts';
import { load, timersOf } from './actions.ts';
import type { AppState, PacketsSlice, StoreDeps } from './appState.ts';
import { createBackfill } from './backfill.ts';
import { MAX_PACKET_ROWS, appendBounded } from './livePackets.ts';
import { EMPTY_FILTER } from './packetFilter.ts';

/** Rows the service is asked for when the window opens (its maximum page). */
export const INITIAL_PACKET_PAGE = 5000;

export const createPacketsSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], PacketsSlice> =>
  (set, get) => ({
    packets: [],
    heldPackets: [],
    packetsPaused: false,
    packetFilter: EMPTY_FILTER,
    packetsReceived: 0,
    packetsMissing: 0,
    packetsSkippedUpTo: 0,
    backfillPackets: createBackfill(set, get, deps.api, timersOf(deps).later),
    loadPackets: () =>
      load(
        set,
        'packets',
        () => deps.api.call('getPackets', { offset: 0, limit: INITIAL_PACKET_PAGE }),
        (page) => {
          // Merge with live rows that arrived during the request; ids are unique and increasing.
          const byId = new Map<number, PacketRow>();
          for (const r of page.rows) byId.set(r.id, r);
          for (const r of get().packets) byId.set(r.id, r);
          const packets = [...byId.values()].sort((a, b) => a.id - b.id).slice(-MAX_PACKET_ROWS);
          return { packets };
        },
      ),
    setPacketFilter: (patch) => set((s) => ({ packetFilter: { ...s.packetFilter, ...patch } })),
    clearPacketFilter: () => set({ packetFilter: EMPTY_FILTER }),
    setPacketsPaused: (paused) => {
      set((s) =>
        paused
          ? { packetsPaused: true }
          : { packetsPaused: false, packets: appendBounded(s.packets, s.heldPackets, MAX_PACKET_ROWS), heldPackets: [] },
      );
      if (!paused && get().packetsMissing > 0) void get().backfillPackets();
    },
  });
