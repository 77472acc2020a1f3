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
  ApiError,
  type Dashboard,
  type DoctorCheck,
  type PacketRow,
  type RuleOp,
  RuleOpSchema,
  type RulePreview,
  type RulesView,
  type State,
  type ThresholdTest,
} from '../../electron/shared/api.ts';
import type { Cidr } from '../../electron/shared/domain.ts';
import type { BanRecord, Offender } from '../../electron/shared/model.ts';
import type { FleetTestResult } from '../../electron/shared/fleet.ts';
import { type Settings, SettingsSchema, WhitelistEntrySchema, describeZodError } from '../../electron/shared/settings.ts';
import type { ConnectionStatus, RendererApi } from '../api/index.ts';
import { EMPTY_FILTER, type PacketFilterInput, packetsToCsv } from './packetFilter.ts';

export const SCREENS = ['dashboard', 'packets', 'offenders', 'rules', 'whitelist', 'thresholds', 'doctor', 'settings'] as const;
export type ScreenId = (typeof SCREENS)[number];

/** Rows kept in memory for the live table (older ones remain in the service's store). */
export const MAX_PACKET_ROWS = 100_000;
/** Rows the service is asked for when the window opens (its maximum page). */
export const INITIAL_PACKET_PAGE = 5000;
const MAX_NOTICES = 5;
const MAX_BAN_HISTORY = 1000;

/** A refusal the user may override (the service answered needs-confirmation) carries `needsConfirmation`. */
/**
 * What an action made of its input. `fields`: for a form's input refused by the schema, each
 * refused field's reason (by the form's own field names), so the form can show it at the field.
 */
export type Result = { ok: true } | { ok: false; error: string; needsConfirmation?: true; fields?: Record<string, string> };

export interface Notice {
  id: number;
  level: 'info' | 'warn' | 'error';
  message: string;
}

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

export interface SettingsSlice {
  settings: Settings | null;
  thresholdTest: ThresholdTest | null;
  loadSettings(): Promise<void>;
  whitelistAdd(text: string): Promise<Result>;
  whitelistRemove(cidr: string): Promise<Result>;
  /** Validated locally (the one SettingsSchema) before the service sees it. */
  updateSettings(patch: Record<string, unknown>): Promise<Result>;
  testThresholds(patch: Record<string, unknown>, minutes?: number): Promise<Result>;
  /** "Test against my recent log" with the whitelist plus `candidate` (typed, not yet added; '' for none). */
  testWhitelist(candidate: string): Promise<Result>;
  setPerSourceLogging(installed: boolean): Promise<Result>;
  /** Settings → Fleet → "Test connection": the result for the candidate fleet.crowdsec. */
  fleetTest: FleetTestResult | null;
  testFleet(crowdsec: Record<string, unknown>): Promise<Result>;
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

export type AppState = ServiceSlice & DashboardSlice & PacketsSlice & OffendersSlice & BansSlice & RulesSlice & SettingsSlice & DoctorSlice & UiSlice;
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
}

type Set = StoreApi<AppState>['setState'];
type Get = StoreApi<AppState>['getState'];

function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

let noticeSeq = 0;

/** The notices with one more; the same message again replaces the earlier one (no stack of copies). */
function withNotice(notices: Notice[], level: Notice['level'], message: string): Notice[] {
  return [...notices.filter((n) => n.level !== level || n.message !== message), { id: ++noticeSeq, level, message }].slice(-MAX_NOTICES);
}

function pushNotice(set: Set, level: Notice['level'], message: string): void {
  set((s) => ({ notices: withNotice(s.notices, level, message) }));
}

/** A whitelist entry as typed: its canonical CIDR, or the schema's reason. */
/** A whitelist entry typed by the user, checked by the settings schema's own rule for entries. */
function parseCidrText(text: string): { ok: true; data: Cidr } | { ok: false; error: string } {
  const parsed = WhitelistEntrySchema.safeParse(text.trim());
  return parsed.success ? { ok: true, data: parsed.data } : { ok: false, error: parsed.error.issues[0]?.message ?? 'not a CIDR' };
}

/** Runs one action's service call with its busy flag; failures become a notice and a Result. */
async function act<T>(set: Set, key: string, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string; needsConfirmation?: true }> {
  set((s) => ({ busy: { ...s.busy, [key]: true } }));
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    const error = messageOf(e);
    // A question for the user, asked by the screen that made the call — not an error notice.
    if (e instanceof ApiError && e.code === 'needs-confirmation') return { ok: false, error, needsConfirmation: true };
    pushNotice(set, 'error', error);
    return { ok: false, error };
  } finally {
    set((s) => {
      const busy = { ...s.busy };
      delete busy[key];
      return { busy };
    });
  }
}

/** Loads one area; on failure the area shows the reason instead of stale or empty data. */
async function load<T>(set: Set, area: string, fn: () => Promise<T>, apply: (v: T) => Partial<AppState>): Promise<void> {
  try {
    const v = await fn();
    set((s) => {
      const loadErrors = { ...s.loadErrors };
      delete loadErrors[area];
      return { ...apply(v), loadErrors };
    });
  } catch (e) {
    set((s) => ({ loadErrors: { ...s.loadErrors, [area]: messageOf(e) } }));
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The same deep merge the service applies to updateSettings, so the local check sees what it will see. */
export function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

function appendBounded<T>(list: T[], add: T[], max: number): T[] {
  if (add.length === 0) return list;
  const joined = list.length + add.length <= max ? list.concat(add) : list.concat(add).slice(-max);
  return joined;
}

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
    async backfillPackets() {
      if (get().packetsPaused) return;
      if (backfilling) {
        again = true;
        return;
      }
      const above = (rows: readonly PacketRow[]) => {
        const i = rows.findIndex((r) => r.id > checkedUpTo);
        return countMissing(i < 0 ? [] : rows.slice(Math.max(0, i - 1)));
      };
      const rows = get().packets;
      const start = above(rows);
      if (start.lowest === null) {
        attempts = 0;
        set({ packetsMissing: 0 });
        return;
      }
      const upTo = rows[rows.length - 1]!.id;
      const lowest = start.lowest;
      backfilling = true;
      try {
        const fetched: PacketRow[] = [];
        // Newest first: page back until the oldest hole is covered.
        for (let page = 0, offset = 0; page < BACKFILL_MAX_PAGES; page++, offset += BACKFILL_STEP) {
          const r = await api.call('getPackets', { offset, limit: BACKFILL_PAGE });
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
        if (left.missing === 0) attempts = 0;
        else if (++attempts >= BACKFILL_ATTEMPTS) {
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

function settingsSlice(set: Set, get: Get, api: RendererApi): SettingsSlice {
  const checkPatch = (patch: Record<string, unknown>): Result => {
    const current = get().settings;
    if (!current) return { ok: true };
    const r = SettingsSchema.safeParse(deepMerge(current, patch));
    return r.success ? { ok: true } : { ok: false, error: describeZodError(r.error) };
  };
  return {
    settings: null,
    thresholdTest: null,
    fleetTest: null,
    loadSettings: () => load(set, 'settings', () => api.call('getSettings', {}), (settings) => ({ settings })),
    async whitelistAdd(text) {
      const parsed = parseCidrText(text);
      if (!parsed.ok) return parsed;
      if (get().settings?.whitelist.entries.includes(parsed.data)) return { ok: false, error: `${parsed.data} is already whitelisted` };
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
      set({ thresholdTest: null });
      const r = await act(set, 'thresholdTest', () => api.call('testThresholds', { patch, minutes }));
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
      set((s) => {
        const patch: Partial<AppState> = {};
        let packets = s.packets;
        let held = s.heldPackets;
        let received = s.packetsReceived;
        let missing = s.packetsMissing;
        let offenders: Map<string, Offender> | null = null;
        let active = s.bans.active;
        let history = s.bans.history;
        let notices = s.notices;
        const touchOffenders = () => (offenders ??= new Map(s.offenders));
        for (const ev of events) {
          switch (ev.type) {
            case 'packets': {
              if (ev.rows.length === 0) break;
              received += ev.rows.length;
              const tail = held.length ? held[held.length - 1] : packets[packets.length - 1];
              const first = ev.rows[0]!.id;
              // The service sheds live rows when a burst outruns the stream: a jump in ids is a hole.
              if (tail && first > tail.id + 1) missing += first - tail.id - 1;
              if (tail && first <= tail.id) {
                // Out of order or repeated (e.g. after a reconnect): keep ids unique and sorted.
                const known = new Set((held.length ? held : packets).slice(-ev.rows.length * 2).map((r) => r.id));
                const fresh = ev.rows.filter((r) => !known.has(r.id));
                if (s.packetsPaused) held = appendBounded(held, fresh, MAX_PACKET_ROWS).sort((a, b) => a.id - b.id);
                else packets = appendBounded(packets, fresh, MAX_PACKET_ROWS).sort((a, b) => a.id - b.id);
                break;
              }
              if (s.packetsPaused) held = appendBounded(held, ev.rows, MAX_PACKET_ROWS);
              else packets = appendBounded(packets, ev.rows, MAX_PACKET_ROWS);
              break;
            }
            case 'offenders':
              for (const o of ev.offenders) touchOffenders().set(o.ip, o);
              break;
            case 'ban': {
              active = [...active.filter((b) => b.ip !== ev.ban.ip), ev.ban];
              const m = touchOffenders();
              const o = m.get(ev.ban.ip);
              if (o) m.set(ev.ban.ip, { ...o, state: 'banned', strikes: ev.ban.strikes, bannedUntil: ev.ban.until });
              break;
            }
            case 'unban': {
              const ended = active.find((b) => b.ip === ev.ip);
              active = active.filter((b) => b.ip !== ev.ip);
              if (ended) history = [ended, ...history].slice(0, MAX_BAN_HISTORY);
              const m = touchOffenders();
              const o = m.get(ev.ip);
              if (o && o.state === 'banned') m.set(ev.ip, { ...o, state: 'expired', bannedUntil: null });
              break;
            }
            case 'state':
              patch.state = ev.state;
              break;
            case 'notice':
              notices = withNotice(notices, ev.level, ev.message);
              break;
          }
        }
        if (packets !== s.packets) patch.packets = packets;
        if (held !== s.heldPackets) patch.heldPackets = held;
        if (received !== s.packetsReceived) patch.packetsReceived = received;
        if (missing !== s.packetsMissing) patch.packetsMissing = missing;
        if (offenders) patch.offenders = offenders;
        if (active !== s.bans.active || history !== s.bans.history) patch.bans = { active, history };
        if (notices !== s.notices) patch.notices = notices;
        return patch;
      });
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
  const store = createStore<AppState>()((set, get) => ({
    ...serviceSlice(set, get, api),
    ...dashboardSlice(set, get, api),
    ...packetsSlice(set, get, deps),
    ...offendersSlice(set, get, api),
    ...bansSlice(set, get, api),
    ...rulesSlice(set, get, api),
    ...settingsSlice(set, get, api),
    ...doctorSlice(set, get, api),
    ...uiSlice(set, get, deps),
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
