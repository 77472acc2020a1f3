/**
 * What PortcullisService needs from the outside, as small interfaces. The headless runner wires the
 * real pieces (ScanEngine, SQLite store, live log source, the helper dispatcher in-process); the
 * Electron main process wires the same service with the helper reached over its socket; unit tests
 * wire fakes. Keeping these here (and not importing the concrete classes) is what lets one service
 * serve both transports.
 */
import type { LoggingVia } from '../shared/settings.ts';
import type { Dashboard, DoctorCheck, FirewallState, PacketFilter, PacketRow, RuleOp, RulesView } from '../shared/api.ts';
import type { Clock } from '../shared/domain.ts';
import type { BanRecord, EngineEvent, IgnoreReason, Offender } from '../shared/model.ts';
import type { PacketEvent, ParseResult, RejectReason } from '../shared/packet.ts';
import type { Settings } from '../shared/settings.ts';
import type { ScanEngineOptions } from '../engine/engine.ts';
import type { AllowedPorts, FirewallPort, LogSourcePort, StorePort } from '../engine/ports.ts';
import type { BanCapState } from '../engine/detect/policy.ts';
import type { UnbanReason } from '../shared/model.ts';
import type { HostInfo } from './hostinfo.ts';
import type { ReadSysctl } from './userns-check.ts';
import type { FleetEnv } from './fleet.ts';

/** The ScanEngine facade (electron/engine/engine.ts), as far as the service uses it. */
export interface EngineLike {
  ingestPacket(p: PacketEvent): 'counted' | IgnoreReason;
  tick(now?: number): void;
  ban(ip: string, opts?: { durationSec?: number; note?: string; at?: number; origin?: string }): BanRecord;
  unban(ip: string, at?: number, why?: Exclude<UnbanReason, 'expired'>): boolean;
  /** Scan bans not to make now (engine.ts): the service's sources whose last ban the firewall refused. */
  setBanHoldOff?(holdOff: ((target: string, time: number) => boolean) | null): void;
  updateSettings(s: Settings): void;
  setAllowedPorts(fn: AllowedPorts): void;
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
  /** Blocked packets over logs.maxStoredPacketsPerSecond, by minute (ms of its start): counted, not stored. */
  countNotStored?(byMinute: Iterable<[number, number]>): void;
  /** Blocked packets counted but not stored, within the retention. */
  packetsNotStored?(): number;
  /** Of those, the ones of the minutes overlapping the last `minutes` before `now` ("test thresholds"). */
  packetsNotStoredSince?(now: number, minutes: number): number;
  /** Retention by age and row cap. */
  prune(now: number, retentionDays: number, maxRows: number): void;
  /** The database file (the Doctor's advice when it cannot be written); absent: not a file. */
  readonly path?: string;
  /** Blocked packets buffered, not yet written: what waits while the store cannot write. */
  pendingPackets?(): number;
  /** How long its writes wait for another process's lock from now on (the stop's last writes wait longer: service.ts). */
  setBusyTimeout?(ms: number): void;
  /** Why the store's last flush failed (its own too, which addPackets never throws), or null when it succeeded. */
  writeError?(): string | null;
  /** The flushes the store makes by itself (a read's, a full batch's) wait while `held()` (the ban records that wait go first: SqliteStore.holdOwnFlushes). */
  holdOwnFlushes?(held: () => boolean): void;
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
  /** `via`: LOG records (default) or NFLOG messages (the nflog source); only an install uses it. */
  setPerSourceLogging(installed: boolean, via?: LoggingVia): Promise<void>;
  setSetBlock(installed: boolean): Promise<void>;
  /** The forward block: routed and container traffic (issue 12.2); `via` as for the logging block (only an install uses it). */
  setForwardBlock(installed: boolean, via?: LoggingVia): Promise<void>;
  /**
   * While the forward block is installed, puts back Docker's DOCKER-USER jumps that went missing (the
   * service's periodic check); resolves with the families repaired. Absent: this helper may change
   * nothing (a dry run).
   */
  repairForwardJumps?(): Promise<('v4' | 'v6')[]>;
  /** IPV6=yes in /etc/default/ufw, then ufw reload (the Doctor's enable-ufw-ipv6 fix). */
  enableUfwIpv6(): Promise<void>;
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

/** Everything the service is built from: what main, the runner and the tests wire. */
export interface ServiceOptions {
  /** Doctor checks of the machine the service runs on (server-doctor.ts: IPv6 in ufw, forwarded traffic). */
  serverChecks?: () => Promise<DoctorCheck[]>;
  clock: Clock;
  /** Reads a sysctl (doctor's forged-records check); default /proc/sys. */
  readSysctl?: ReadSysctl;
  settingsRepo: SettingsRepo;
  /** Settings overrides from the command line (--backend, --source), applied over the saved ones. */
  overrides?: (s: Settings) => Settings;
  createEngine: EngineFactory;
  parseLine: LineParser;
  store: ServiceStore;
  source: LogSourcePort | null;
  /** The ban backend; null = read-only (no helper). */
  firewall: FirewallPort | null;
  /**
   * The other ban backend (ufw when `firewall` is the set backend, and the reverse), so that a switch
   * of `ban.backend` strands nothing: the start's reconcile moves the bans the store holds as active
   * out of it into `firewall`, and removes the rest of Portcullis's entries from it. Absent: not looked at.
   */
  otherFirewall?: FirewallPort | null;
  helper: HelperOpsPort | null;
  /** Why there is no helper (shown by the UI's read-only banner). */
  readOnlyReason?: string;
  hostInfo: () => Promise<HostInfo>;
  /** Detect and report, never touch the firewall. */
  dryRun?: boolean;
  /** Act only on records for this namespace (live kernel log). Default true. */
  hostFilter?: boolean;
  tickMs?: number;
  /** How often the firewall status (allowed ports, enabled) is re-read. */
  statusRefreshMs?: number;
  /** Established inbound TCP sessions (local port, remote address), for rule-change warnings. */
  inboundSessions?: () => { localPort: number; remote: string }[];
  /** Called for each applied ban / unban (the runner logs them to stdout). */
  onBan?: (ban: BanRecord, info: { latencyMs: number | null; dryRun: boolean; error?: string }) => void;
  onUnban?: (ip: string, why: UnbanReason) => void;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  maxEventsPerSec?: number;
  /**
   * After a restart the source may hand back records already handled before (to rebuild the
   * detection windows a crash lost): 'replay' ones feed the engine only (not stored again, not shown),
   * 'skip' ones are dropped. Default: every record is 'live'.
   */
  recordMode?: (p: PacketEvent) => 'live' | 'replay' | 'skip';
  /** The fleet link's network and queue (app/fleet.ts); absent = no fleet. */
  fleet?: FleetEnv;
}
