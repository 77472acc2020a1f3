/**
 * The renderer's one zustand store, built from slices. Components read it through selectors and
 * change it only through actions; every call to the service happens inside an action, through the
 * API facade handed to createAppStore (the real one in the app, a fake in tests).
 * Live events are applied one delivered batch at a time (one state update per batch), and the
 * in-memory packet list is bounded so a long-running window never grows without limit.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import {
  type ApiEvent,
  type Dashboard,
  type DoctorCheck,
  type PacketRow,
  type RuleOp,
  RuleOpSchema,
  type RulePreview,
  type RulesView,
  type State,
} from '../../electron/shared/api.ts';
import type { BanRecord, Offender } from '../../electron/shared/model.ts';
import type { ConnectionStatus, RendererApi } from '../api/index.ts';
import { EMPTY_FILTER, type PacketFilterInput, packetsToCsv } from './packetFilter.ts';
import { MAX_PACKET_ROWS, appendBounded, reduceEvents } from './events.ts';
import type { Notice } from './notices.ts';
import { type BanAlertsSlice, createBanAlertsSlice } from './banAlertsSlice.ts';
import { act, deepMerge, load, pushNotice } from './actions.ts';
import { type SettingsSlice, createSettingsSlice } from './settingsSlice.ts';

export { deepMerge };
export type { SettingsSlice };

export const SCREENS = ['dashboard', 'packets', 'offenders', 'rules', 'whitelist', 'thresholds', 'doctor', 'settings'] as const;
export type ScreenId = (typeof SCREENS)[number];

export { MAX_PACKET_ROWS };
/** Rows the service is asked for when the window opens (its maximum page). */
export const INITIAL_PACKET_PAGE = 5000;

/** A refusal the user may override (the service answered needs-confirmation) carries `needsConfirmation`. */
/**
 * What an action made of its input. `fields`: for a form's input refused by the schema, each
 * refused field's reason (by the form's own field names), so the form can show it at the field.
 */
export type Result = { ok: true } | { ok: false; error: string; needsConfirmation?: true; fields?: Record<string, string> };

export type { Notice } from './notices.ts';

export interface ServiceSlice {
  state: State | null;
  loadState(): Promise<void>;
  setProtection(enabled: boolean): Promise<void>;
  pauseProtection(minutes: number): Promise<void>;
}

export interface DashboardSlice {
  dashboard: Dashboard | null;
  loadDashboard(): Promise<void>;
}

export interface PacketsSlice {
  /** Newest last, at most MAX_PACKET_ROWS. */
  packets: PacketRow[];
  /** Rows that arrived while the table was paused; shown when it resumes. */
  heldPackets: PacketRow[];
  packetsPaused: boolean;
  packetFilter: PacketFilterInput;
  /** Live rows received since the window opened (also counts the ones dropped by the bound). */
  packetsReceived: number;
  /** Rows known to be missing from the live stream (the service sheds live rows under bursts). */
  packetsMissing: number;
  /** The highest row id the service said it skipped for us (`packetsSkipped`); rows up to it are fetched back. */
  packetsSkippedUpTo: number;
  loadPackets(): Promise<void>;
  /** Fetches from the service the rows the live stream skipped (holes in the id sequence). */
  backfillPackets(): Promise<void>;
  setPacketFilter(patch: Partial<PacketFilterInput>): void;
  clearPacketFilter(): void;
  setPacketsPaused(paused: boolean): void;
}

export interface OffendersSlice {
  offenders: Map<string, Offender>;
  selectedOffender: string | null;
  offenderDetail: {
    ip: string;
    ports: { port: number; proto: string; hits: number }[];
    timeline: PacketRow[];
    bans: BanRecord[];
  } | null;
  loadOffenders(): Promise<void>;
  openOffender(ip: string): Promise<void>;
  closeOffender(): void;
  banNow(ip: string): Promise<Result>;
  unban(ip: string): Promise<Result>;
  whitelistIp(ip: string): Promise<Result>;
}

export interface BansSlice {
  bans: { active: BanRecord[]; history: BanRecord[] };
  loadBans(): Promise<void>;
}

export type RuleOrigin = 'editor' | 'table';

export interface RulesSlice {
  rules: RulesView | null;
  /** The operation being previewed, the exact ufw commands it would run, and who asked (the editor form, or a row's buttons). */
  rulePreview: { op: RuleOp; preview: RulePreview; origin: RuleOrigin } | null;
  /** Bumped by each rule change applied, with who asked for it: the editor resets after its own. */
  ruleApplied: { count: number; origin: RuleOrigin };
  loadRules(): Promise<void>;
  previewRule(op: unknown, origin?: RuleOrigin): Promise<Result>;
  cancelRulePreview(): void;
  applyRule(confirm: boolean): Promise<Result>;
  setDefaultPolicy(direction: 'incoming' | 'outgoing' | 'routed', policy: 'allow' | 'deny' | 'reject', confirm?: boolean): Promise<Result>;
  setLogging(level: 'off' | 'low' | 'medium' | 'high' | 'full', confirm?: boolean): Promise<Result>;
  setUfwEnabled(enabled: boolean, confirm: boolean): Promise<Result>;
}

export interface DoctorSlice {
  doctor: DoctorCheck[] | null;
  loadDoctor(): Promise<void>;
  runDoctorFix(fixId: string, confirm?: boolean): Promise<Result>;
}

export interface UiSlice {
  screen: ScreenId;
  connection: ConnectionStatus;
  /** Where the UI runs: the Electron window (the preload offers onNavigate) or a browser on `portcullis serve`. */
  shell: 'desktop' | 'browser';
  notices: Notice[];
  /** Names of actions in flight, for disabled buttons and spinners. */
  busy: Record<string, true>;
  /** Last load error per area ("state", "rules", …), shown in place of the data. */
  loadErrors: Record<string, string>;
  navigate(screen: ScreenId): void;
  dismissNotice(id: number): void;
  applyEvents(events: ApiEvent[]): void;
  /** Loads everything and follows the event stream; returns the function that stops it. */
  start(): () => void;
  exportPacketsCsv(rows: readonly PacketRow[]): void;
}

export type AppState = ServiceSlice & DashboardSlice & PacketsSlice & OffendersSlice & BansSlice & RulesSlice & SettingsSlice & DoctorSlice & UiSlice & BanAlertsSlice;
export type AppStore = StoreApi<AppState>;

export interface StoreDeps {
  api: RendererApi;
  /** Hands a file to the user (a download in the browser). */
  download?: (filename: string, text: string, mime: string) => void;
  /** Dashboard/state refresh period while started. */
  refreshMs?: number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (h: unknown) => void;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (h: unknown) => void;
  /** Wall clock (when an unban event arrives, for the history row). */
  now?: () => number;
}

type Set = StoreApi<AppState>['setState'];
type Get = StoreApi<AppState>['getState'];

// ---------------------------------------------------------------- slices

function serviceSlice(set: Set, _get: Get, api: RendererApi): ServiceSlice {
  return {
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
  };
}

function dashboardSlice(set: Set, _get: Get, api: RendererApi): DashboardSlice {
  return {
    dashboard: null,
    loadDashboard: () => load(set, 'dashboard', () => api.call('getDashboard', { minutes: 60 }), (dashboard) => ({ dashboard })),
  };
}

/** Ids missing between the smallest and the largest id held (rows are kept sorted by id). */
export function countMissing(rows: readonly PacketRow[]): { missing: number; lowest: number | null } {
  let missing = 0;
  let lowest: number | null = null;
  for (let i = 1; i < rows.length; i++) {
    const gap = rows[i]!.id - rows[i - 1]!.id - 1;
    if (gap > 0) {
      missing += gap;
      lowest ??= rows[i - 1]!.id + 1;
    }
  }
  return { missing, lowest };
}

const BACKFILL_PAGE = 5000;
/** Pages overlap so rows arriving while we page (which shift offsets) are not skipped. */
const BACKFILL_STEP = 4000;
const BACKFILL_MAX_PAGES = 40;
const BACKFILL_ATTEMPTS = 4;
const BACKFILL_RETRY_MS = 2000;

function packetsSlice(set: Set, get: Get, deps: StoreDeps): PacketsSlice {
  const { api } = deps;
  const later = deps.setTimeout ?? ((fn: () => void, ms: number) => globalThis.setTimeout(fn, ms));
  let backfilling = false;
  let again = false;
  let attempts = 0;
  let checkedUpTo = 0;
  return {
    packets: [],
    heldPackets: [],
    packetsPaused: false,
    packetFilter: EMPTY_FILTER,
    packetsReceived: 0,
    packetsMissing: 0,
    packetsSkippedUpTo: 0,
    async backfillPackets() {
      if (get().packetsPaused) return;
      if (backfilling) {
        again = true;
        return;
      }
      // Holes between rows held, plus the tail the service told us it skipped (no later row reveals that one).
      const above = (rows: readonly PacketRow[]) => {
        const i = rows.findIndex((r) => r.id > checkedUpTo);
        const inside = countMissing(i < 0 ? [] : rows.slice(Math.max(0, i - 1)));
        const last = rows[rows.length - 1]?.id ?? 0;
        const skippedTo = get().packetsSkippedUpTo;
        if (skippedTo <= last || skippedTo <= checkedUpTo) return inside;
        const from = Math.max(last, checkedUpTo);
        return { missing: inside.missing + (skippedTo - from), lowest: inside.lowest ?? from + 1 };
      };
      const rows = get().packets;
      const start = above(rows);
      if (start.lowest === null) {
        attempts = 0;
        set({ packetsMissing: 0 });
        return;
      }
      const upTo = Math.max(rows[rows.length - 1]?.id ?? 0, get().packetsSkippedUpTo);
      const lowest = start.lowest;
      backfilling = true;
      try {
        const fetched: PacketRow[] = [];
        let newestStored = 0;
        // Newest first: page back until the oldest hole is covered.
        for (let page = 0, offset = 0; page < BACKFILL_MAX_PAGES; page++, offset += BACKFILL_STEP) {
          const r = await api.call('getPackets', { offset, limit: BACKFILL_PAGE });
          if (page === 0) newestStored = r.rows[0]?.id ?? 0;
          fetched.push(...r.rows);
          const oldest = r.rows[r.rows.length - 1];
          if (r.rows.length < BACKFILL_PAGE || !oldest || oldest.id <= lowest) break;
        }
        set((s) => {
          const floor = s.packets[0]?.id ?? 0;
          const byId = new Map<number, PacketRow>();
          for (const r of s.packets) byId.set(r.id, r);
          for (const r of fetched) if (r.id >= floor && r.id <= upTo && !byId.has(r.id)) byId.set(r.id, r);
          const packets = [...byId.values()].sort((a, b) => a.id - b.id).slice(-MAX_PACKET_ROWS);
          return { packets };
        });
        const left = above(get().packets);
        // Give up only after several tries that brought nothing: under load the store may write a
        // burst's rows well after they were streamed, and a try that fetched some is progress.
        // The store has not written up to the newest row we know of: the rows will come (under load the
        // writer lags the stream); only rows it should already hold and still lacks count as a try.
        const notWrittenYet = newestStored < upTo;
        if (left.missing === 0) attempts = 0;
        else if (left.missing < start.missing || notWrittenYet) {
          attempts = 0;
          later(() => void get().backfillPackets(), BACKFILL_RETRY_MS);
        } else if (++attempts >= BACKFILL_ATTEMPTS) {
          // Still absent after several tries: the service no longer has them (retention); stop asking.
          checkedUpTo = upTo;
          attempts = 0;
        } else {
          // Rows the service streamed but had not written yet: ask again a little later.
          later(() => void get().backfillPackets(), BACKFILL_RETRY_MS);
        }
        set({ packetsMissing: above(get().packets).missing });
      } catch {
        /* the service is unreachable: the holes stay counted and are retried on the next gap */
      } finally {
        backfilling = false;
        if (again) {
          again = false;
          later(() => void get().backfillPackets(), 0);
        }
      }
    },
    loadPackets: () =>
      load(
        set,
        'packets',
        () => api.call('getPackets', { offset: 0, limit: INITIAL_PACKET_PAGE }),
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
  };
}

function offendersSlice(set: Set, get: Get, api: RendererApi): OffendersSlice {
  return {
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
  };
}

function bansSlice(set: Set, _get: Get, api: RendererApi): BansSlice {
  return {
    bans: { active: [], history: [] },
    loadBans: () => load(set, 'bans', () => api.call('getBans', {}), (bans) => ({ bans })),
  };
}

function rulesSlice(set: Set, get: Get, api: RendererApi): RulesSlice {
  return {
    rules: null,
    rulePreview: null,
    ruleApplied: { count: 0, origin: 'table' },
    loadRules: () => load(set, 'rules', () => api.call('getRules', {}), (rules) => ({ rules })),
    async previewRule(rawOp, origin = 'table') {
      // Refused here with the schema's reason before anything reaches the service.
      const parsed = RuleOpSchema.safeParse(rawOp);
      if (!parsed.success) {
        const fields: Record<string, string> = {};
        const parts: string[] = [];
        for (const i of parsed.error.issues) {
          const field = i.path.filter((p) => p !== 'rule').join('.') || 'rule';
          parts.push(`${field}: ${i.message}`);
          // The first reason of each field is shown at it.
          fields[field] ??= i.message;
        }
        return { ok: false, error: parts.join('; '), fields };
      }
      const op = parsed.data;
      const r = await act(set, 'rule', () => api.call('previewRule', { op: rawOp as RuleOp }));
      if (!r.ok) {
        // Refused because the rule changed meanwhile: show the list as it is now.
        if (op.kind !== 'add') void get().loadRules();
        return r;
      }
      set({ rulePreview: { op, preview: r.value, origin } });
      return { ok: true };
    },
    cancelRulePreview: () => set({ rulePreview: null }),
    async applyRule(confirm) {
      const pending = get().rulePreview;
      if (!pending) return { ok: false, error: 'preview the change first' };
      if (pending.preview.needsConfirmation && !confirm) return { ok: false, error: 'this change needs your explicit confirmation' };
      const r = await act(set, 'rule', () => api.call('applyRule', { op: pending.op, confirm }));
      if (!r.ok) {
        // Something changed since the preview (a session opened): preview again, so its warnings and the confirmation box show.
        if (r.needsConfirmation) await get().previewRule(pending.op, pending.origin);
        else if (pending.op.kind !== 'add') void get().loadRules();
        return r;
      }
      set((s) => ({ rules: r.value, rulePreview: null, ruleApplied: { count: s.ruleApplied.count + 1, origin: pending.origin } }));
      pushNotice(set, 'info', 'ufw rules updated');
      return { ok: true };
    },
    async setDefaultPolicy(direction, policy, confirm = false) {
      const r = await act(set, 'policy', () => api.call('setDefaultPolicy', { direction, policy, confirm }));
      if (!r.ok) return r;
      set({ rules: r.value });
      void get().loadState();
      return { ok: true };
    },
    async setLogging(level, confirm = false) {
      const r = await act(set, 'logging', () => api.call('setLogging', { level, confirm }));
      if (!r.ok) return r;
      set({ rules: r.value });
      void get().loadState();
      return { ok: true };
    },
    async setUfwEnabled(enabled, confirm) {
      const r = await act(set, 'ufw', () => api.call('setUfwEnabled', { enabled, confirm }));
      if (!r.ok) return r;
      set({ state: r.value });
      void get().loadRules();
      return { ok: true };
    },
  };
}

function doctorSlice(set: Set, get: Get, api: RendererApi): DoctorSlice {
  return {
    doctor: null,
    loadDoctor: () => load(set, 'doctor', () => api.call('getDoctor', {}), (doctor) => ({ doctor })),
    async runDoctorFix(fixId, confirm = false) {
      const r = await act(set, `fix:${fixId}`, () => api.call('runDoctorFix', { fixId, confirm }));
      if (!r.ok) return r;
      set({ doctor: r.value });
      void get().loadState();
      return { ok: true };
    },
  };
}

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

const BACKFILL_QUIET_MS = 1000;

function uiSlice(set: Set, get: Get, deps: StoreDeps): UiSlice {
  const { api } = deps;
  const later = deps.setTimeout ?? ((fn: () => void, ms: number) => globalThis.setTimeout(fn, ms));
  const clearT = deps.clearTimeout ?? ((h: unknown) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>));
  let backfillTimer: unknown = null;
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
      set((s) => reduceEvents(s, events, now()));
      get().noteBans(events.flatMap((e) => (e.type === 'ban' ? [e.ban] : [])));
      if (get().packetsMissing > missingBefore) {
        // Fetch the skipped rows once the burst is over, not while it is still shedding.
        if (backfillTimer !== null) clearT(backfillTimer);
        backfillTimer = later(() => {
          backfillTimer = null;
          void get().backfillPackets();
        }, BACKFILL_QUIET_MS);
      }
    },
    start() {
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
    },
    exportPacketsCsv(rows) {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      (deps.download ?? browserDownload)(`portcullis-blocked-packets-${stamp}.csv`, packetsToCsv(rows), 'text/csv');
    },
  };
}

/** Info notices fade on their own; warnings and errors stay until dismissed. */
const INFO_NOTICE_MS = 6000;

export function createAppStore(deps: StoreDeps): AppStore {
  const { api } = deps;
  const store = createStore<AppState>()((set, get, storeApi) => ({
    ...serviceSlice(set, get, api),
    ...dashboardSlice(set, get, api),
    ...packetsSlice(set, get, deps),
    ...offendersSlice(set, get, api),
    ...bansSlice(set, get, api),
    ...rulesSlice(set, get, api),
    ...createSettingsSlice(api)(set, get, storeApi),
    ...doctorSlice(set, get, api),
    ...uiSlice(set, get, deps),
    ...createBanAlertsSlice(set, get, storeApi),
  }));
  const scheduled = new Set<number>();
  const later = deps.setTimeout ?? ((fn: () => void, ms: number) => globalThis.setTimeout(fn, ms));
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
  return store;
}
