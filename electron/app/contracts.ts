/**
 * What PortcullisService needs from the outside, as small interfaces. The headless runner wires the
 * real pieces (ScanEngine, SQLite store, live log source, the helper dispatcher in-process); the
 * Electron main process wires the same service with the helper reached over its socket; unit tests
 * wire fakes. Keeping these here (and not importing the concrete classes) is what lets one service
 * serve both transports.
 */
import type { Dashboard, DoctorCheck, FirewallState, PacketFilter, PacketRow, RuleOp, RulesView } from '../shared/api.ts';
import type { BanRecord, EngineEvent, IgnoreReason, Offender } from '../shared/model.ts';
import type { PacketEvent, ParseResult, RejectReason } from '../shared/packet.ts';
import type { Settings } from '../shared/settings.ts';
import type { ScanEngineOptions } from '../engine/engine.ts';
import type { FirewallPort, LogSourcePort, StorePort } from '../engine/ports.ts';
import type { BanCapState } from '../engine/detect/policy.ts';

/** The ScanEngine facade (electron/engine/engine.ts), as far as the service uses it. */
export interface EngineLike {
  ingestPacket(p: PacketEvent): 'counted' | IgnoreReason;
  tick(now?: number): void;
  ban(ip: string, opts?: { durationSec?: number; note?: string; at?: number; origin?: string }): BanRecord;
  unban(ip: string, at?: number, why?: 'manual' | 'whitelisted'): boolean;
  updateSettings(s: Settings): void;
  setAllowedPorts(fn: (proto: 'tcp' | 'udp', port: number) => boolean): void;
  setHostAddresses(addrs: string[], gateways?: string[], interfaces?: string[], macs?: Record<string, string>, nameservers?: string[], lanSubnets?: string[]): void;
  restore(bans: BanRecord[], strikes: { ip: string; strikes: number; lastBanAt: number }[]): void;
  activeBans(): BanRecord[];
  offenders(limit?: number): Offender[];
  offender(ip: string): Offender | null;
  isBanned(ip: string): boolean;
  isWhitelisted(ip: string): boolean;
  stats(): { trackedSources: number; activeBans: number; deferredBans: number; packets: number; lines: number; deferredDropped?: { aged: number; full: number } };
  /** The per-minute cap's window and held-back bans (engine.ts), saved in the store across restarts. */
  banCapState?(): BanCapState;
  restoreBanCap?(state: BanCapState, now?: number): void;
}

/** What the service gives an engine factory: the ScanEngine's options, less those only a replay sets (line parsing, probe events). */
export type EngineFactoryOptions = Omit<ScanEngineOptions, 'parse' | 'probeEvents'>;
export type EngineFactory = (opts: EngineFactoryOptions, sink: (e: EngineEvent) => void) => EngineLike;

/** The store: the engine's StorePort plus the queries the UI needs. */
export interface ServiceStore extends StorePort {
  packetsPage(offset: number, limit: number, filter: PacketFilter): { total: number; rows: PacketRow[] };
  dashboard(minutes: number, now: number, offenders: Offender[]): Dashboard;
  /** Stored packets of the last `minutes` before `now`, oldest first, for "test against my recent log". */
  packetsSince(now: number, minutes: number, limit: number): PacketEvent[];
  /** Bans never lifted, including those whose time ran out while Portcullis was not running. */
  openBans?(): BanRecord[];
  /** Many bans in ONE transaction (bulk ban); without it, recordBan each. */
  recordBans?(bans: readonly BanRecord[]): void;
  offenderPackets(ip: string, limit: number): PacketRow[];
  /** Offenders as last stored, most recently seen first — also those the engine has forgotten (restart, unban, eviction). */
  storedOffenders?(limit: number): Offender[];
  banHistory(limit: number, ip?: string): BanRecord[];
  packetCount(): number;
  /** Retention by age and row cap. */
  prune(now: number, retentionDays: number, maxRows: number): void;
}

/** The root helper's non-ban operations, typed (adapted from the helper protocol). */
export interface HelperOpsPort {
  status(): Promise<{ firewall: FirewallState; rules: RulesView }>;
  /** The exact ufw commands an op will run, without running them. */
  previewRule(op: RuleOp): Promise<string[]>;
  applyRule(op: RuleOp): Promise<void>;
  setEnabled(enabled: boolean): Promise<void>;
  setDefault(direction: 'incoming' | 'outgoing' | 'routed', policy: 'allow' | 'deny' | 'reject'): Promise<void>;
  setLogging(level: 'off' | 'low' | 'medium' | 'high' | 'full'): Promise<void>;
  setPerSourceLogging(installed: boolean): Promise<void>;
  setSetBlock(installed: boolean): Promise<void>;
  /** The forward block: routed and container traffic (issue 12.2). */
  setForwardBlock(installed: boolean): Promise<void>;
  /** The helper's own checks (ufw installed/enabled, blocks, set backend). */
  doctor(): Promise<DoctorCheck[]>;
}

/** Where settings live: a JSON file given with --config, or the store. */
export interface SettingsRepo {
  /** The raw saved settings, or undefined when none were saved yet. Throws only on unreadable files. */
  load(): unknown;
  save(settings: Settings): void;
  describe(): string;
}

export type LineParser = (line: string) => ParseResult;

export type { RejectReason };
