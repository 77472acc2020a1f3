/**
 * The shape of the renderer's one store: what each slice holds and offers, and the whole
 * (`AppState`). Declared here, apart from the slices that implement them, so that a slice can see
 * the whole store (zustand's `StateCreator<AppState, [], [], Slice>`) without importing the module
 * that assembles it: store.ts imports the slices, the slices import this, and nothing imports back.
 */
import type { StoreApi } from 'zustand/vanilla';
import type { ApiEvent, Dashboard, DoctorCheck, PacketRow, RuleOp, RulePreview, RulesView, State, ThresholdTest } from '../../electron/shared/api.ts';
import type { FleetTestResult } from '../../electron/shared/fleet.ts';
import type { BanRecord, Offender } from '../../electron/shared/model.ts';
import type { Settings } from '../../electron/shared/settings.ts';
import type { ConnectionStatus, RendererApi } from '../api/index.ts';
import type { Notice } from './notices.ts';
import type { PacketFilterInput } from './packetFilter.ts';

export const SCREENS = ['dashboard', 'packets', 'offenders', 'rules', 'whitelist', 'thresholds', 'doctor', 'settings'] as const;
export type ScreenId = (typeof SCREENS)[number];

/**
 * What an action made of its input. A refusal the user may override (the service answered
 * needs-confirmation) carries `needsConfirmation`. `fields`: for a form's input refused by the
 * schema, each refused field's reason (by the form's own field names), so the form can show it at the field.
 */
export type Result = { ok: true } | { ok: false; error: string; needsConfirmation?: true; fields?: Record<string, string> };

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

export interface SettingsSlice {
  settings: Settings | null;
  /** The last "test against my recent log" with the proposed change (null: none, or stale). */
  thresholdTest: ThresholdTest | null;
  /** The same log with the settings in force, shown beside it (only while thresholdTest is set). */
  thresholdBaseline: ThresholdTest | null;
  /** The input changed: the result no longer answers it. */
  clearThresholdTest(): void;
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

/** The thresholds in force when a ban alert was raised (what "crossed the threshold" refers to). */
export interface BanThreshold {
  maxretry: number;
  minDistinctPorts: number;
  findtimeSec: number;
}

export interface BanAlert {
  id: number;
  ban: BanRecord;
  threshold: BanThreshold | null;
}

export interface BanAlertsSlice {
  /** Newest last, at most MAX_BAN_ALERTS. */
  banAlerts: BanAlert[];
  /** Bans of the current burst not shown one by one (the line "and N more"). */
  banAlertsHidden: number;
  /** Called with every ban event; raises alerts when the setting asks for them. */
  noteBans(bans: readonly BanRecord[]): void;
  dismissBanAlert(id: number): void;
  dismissAllBanAlerts(): void;
}

export type AppState = ServiceSlice & DashboardSlice & PacketsSlice & OffendersSlice & BansSlice & RulesSlice & SettingsSlice & DoctorSlice & UiSlice & BanAlertsSlice;
export type AppStore = StoreApi<AppState>;
export type SetState = StoreApi<AppState>['setState'];
export type GetState = StoreApi<AppState>['getState'];

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
