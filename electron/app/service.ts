/**
 * PortcullisService: the one object both transports serve (Electron IPC on the desktop, HTTP +
 * WebSocket in `portcullis serve`, the control socket of `portcullis run`). It owns the settings,
 * the ScanEngine, the store, the log source, the firewall and the helper's other operations, and
 * wires them:
 *
 *   source lines → parse → engine.ingestPacket → engine events
 *     probe packets → store (batched) + UI rows
 *     ban  → store FIRST (a kill -9 after this loses nothing) → firewall.ban → cut connections
 *     unban/expiry → store → firewall.unban
 *   tick timer → engine.tick (expiry, deferred bans), store flush + retention, end of a pause
 *
 * Every dependency is injected (contracts.ts), so the desktop app reaches the firewall through the
 * helper socket while the headless runner calls the helper dispatcher in-process.
 */
import {
  API,
  ApiError,
  type ApiEvent,
  retargetRuleOp,
  policyChangeQuestion,
  loggingChangeQuestion,
  type ApiHandlers,
  type DoctorCheck,
  type FirewallState,
  type PacketRow,
  type RuleOp,
  type RulePreview,
  type RulesView,
  type SourceHealthDto,
  type State,
  type ThresholdTest,
  type UfwRule,
} from '../shared/api.ts';
import { canonicalCidr, canonicalIp, type Clock } from '../shared/domain.ts';
import type { BanRecord, EngineEvent, Offender, OffenderState, UnbanReason } from '../shared/model.ts';
import { TcpFlag, type PacketEvent, type RejectReason } from '../shared/packet.ts';
import { describeZodError, SettingsSchema, type Settings } from '../shared/settings.ts';
import { NEVER_BAN_RANGES, neverBanReason } from '../shared/never-ban.ts';
import type { FirewallPort, LogSourcePort } from '../engine/ports.ts';
import { MinuteRate } from '../engine/logs/stats.ts';
import { Whitelist } from '../engine/detect/whitelist.ts';
import { BAN_CAP_KEY, banCapText, loadBanCap } from '../engine/store/bancap.ts';
import type { EngineFactory, EngineLike, HelperOpsPort, LineParser, ServiceStore, SettingsRepo } from './contracts.ts';
import { EventBatcher, type EventListener } from './events.ts';
import type { HostInfo } from './hostinfo.ts';
import { forgedRecordsCheck, type ReadSysctl } from './userns-check.ts';
import { FleetBridge, testFleetConnection, type FleetEnv } from './fleet.ts';
import { CrowdsecSettingsSchema, fleetTestCandidate, guardFleetPatch, redactFleet, unredactFleet } from '../shared/fleet.ts';
import { PrefixTally, uncountedPrefixesCheck } from './server-doctor.ts';
import { errorText } from '../shared/errors.ts';

export const VERSION = '0.1.0';

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

type Protection = 'on' | 'off' | 'paused';

const PAUSED_KEY = 'protection.pausedUntil';
const NO_FIREWALL: FirewallState = {
  installed: false,
  enabled: false,
  defaultIncoming: null,
  defaultOutgoing: null,
  defaultRouted: null,
  loggingLevel: null,
  perSourceLogging: false,
};

/** Packets whose engine verdict is one of these are not blocked traffic of this host: not stored. */
const NOT_STORED = new Set(['not-for-this-host', 'prefix-not-counted', 'untrusted', 'not-inbound', 'duplicate-record']);
/** What to do about a silent log (the Doctor's last-record check): how it can be normal, and how it is fixed when not. */
const SILENT_HINT =
  ': normal on a quiet host (only blocked packets are logged); otherwise check that ufw logs (ufw logging low) ' +
  'and install the per-source logging block, which logs every scanner';
/** Parser refusals that are not rejects: the kernel log carries every other kernel message too. */
const IGNORED_REJECTS: ReadonlySet<RejectReason> = new Set<RejectReason>(['not-firewall', 'empty']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge for settings patches: objects merge, everything else (arrays too) replaces. */
export function mergePatch(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    out[k] = mergePatch(base[k], v);
  }
  return out;
}

/**
 * Why a firewall-wide change would lock out someone connected now (null when it would not): the
 * sessions from outside (loopback excluded) whose port `admitted` says is no longer let in. Used by
 * the service and by `portcullis doctor --fix` without a running instance.
 */
export function lockoutRefusal(
  what: string,
  sessions: readonly { localPort: number; remote: string }[],
  admitted: (s: { localPort: number; remote: string }) => boolean,
): string | null {
  const cut = sessions.filter((s) => !LOOPBACK.matches(s.remote) && !admitted(s));
  if (cut.length === 0) return null;
  const ports = [...new Set(cut.map((s) => s.localPort))].sort((a, b) => a - b);
  const from = [...new Set(cut.map((s) => s.remote))].slice(0, 3).join(', ');
  return `${what} refuses new connections to port ${ports.join(', ')}, which ${from} ${cut.length === 1 ? 'is' : 'are'} connected through now, unless a rule allows it`;
}

/**
 * Turning ufw on. While it is off `ufw status` lists no rules, so which ports its rules would let in
 * is unknown: like `ufw enable` itself ("may disrupt existing ssh connections"), refuse whenever
 * someone is connected from outside and the incoming policy is not allow. Null when it may go ahead.
 */
export function enableUfwRefusal(fw: { enabled: boolean; defaultIncoming: string | null }, sessions: readonly { localPort: number; remote: string }[]): string | null {
  if (fw.enabled) return null;
  return lockoutRefusal('turning ufw on', sessions, () => fw.defaultIncoming === 'allow');
}

export function flagsText(bits: number | undefined): string {
  if (bits === undefined) return '';
  return (Object.keys(TcpFlag) as (keyof typeof TcpFlag)[])
    .filter((k) => (bits & TcpFlag[k]) !== 0)
    .reverse()
    .join(' ');
}

export function packetRow(p: PacketEvent, id: number): PacketRow {
  return {
    id,
    time: p.time,
    src: p.src,
    dst: p.dst,
    proto: p.proto,
    spt: p.spt ?? null,
    dpt: p.dpt ?? null,
    prefix: p.prefix,
    in: p.in,
    flags: flagsText(p.tcpFlags),
  };
}

/** "22", "8000:8100", "80,443" → does it contain `port`? */
export function portSpecHas(spec: string, port: number): boolean {
  for (const part of spec.split(',')) {
    const [a, b] = part.split(':').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    if (b === undefined ? port === a : port >= a && port <= b) return true;
  }
  return false;
}

const LOOPBACK = new Whitelist();

/**
 * Does an inbound rule (a ufw status line or a rule being added) admit — or deny — an established
 * TCP session? Conservative where the rule cannot be read: a source it cannot parse, an application
 * profile (no port given) count as matching, so the user is asked rather than cut off.
 */
export function ruleTouches(
  rule: { action: string; direction: string; from: string; port?: string; proto: string; family?: 4 | 6 },
  session: { localPort: number; remote: string },
  how: 'admits' | 'denies',
): boolean {
  const admitting = rule.action === 'allow' || rule.action === 'limit';
  if ((how === 'admits') !== admitting || rule.direction !== 'in') return false;
  if (rule.proto !== 'any' && rule.proto !== 'tcp') return false;
  if (rule.port && !portSpecHas(rule.port, session.localPort)) return false;
  const remote = canonicalIp(session.remote);
  if (!remote) return true;
  if (rule.family && (remote.includes(':') ? 6 : 4) !== rule.family) return false;
  const from = rule.from.replace(/\s*\(v6\)$/, '').trim();
  if (from === '' || /^(any|anywhere)$/i.test(from)) return true;
  const cidr = canonicalCidr(from);
  return cidr === null || new Whitelist([cidr]).has(remote);
}

/** Bans per restore batch: an ipset batch of 500 takes ~20–40 ms; one ufw rule change 0.3–1.4 s. */
const RESTORE_BATCH_SET = 500;
const RESTORE_BATCH_UFW = 1;

/** Ports the firewall lets in: probes to them are not scan evidence (seed comment). */
export function allowedPortsFrom(rules: UfwRule[]): (proto: 'tcp' | 'udp', port: number) => boolean {
  const allow = rules.filter((r) => (r.action === 'allow' || r.action === 'limit') && r.direction === 'in' && r.port !== '');
  return (proto, port) => allow.some((r) => (r.proto === 'any' || r.proto === proto) && portSpecHas(r.port, port));
}

/** A short comment for the firewall rule/element, within the helper's safe character set. */
function banComment(ban: BanRecord): string {
  const what = ban.reason.kind === 'manual' ? 'manual' : `scan ${ban.reason.scanType ?? ''}`.trim();
  return what.replace(/[^A-Za-z0-9 _.,:@()/+=-]/g, '').slice(0, 60);
}

export class PortcullisService {
  private readonly o: ServiceOptions;
  private settings!: Settings;
  private engine!: EngineLike;
  private readonly events: EventBatcher;
  private pausedUntil: number | null = null;
  private firewallState: FirewallState = NO_FIREWALL;
  private rulesView: RulesView | null = null;
  private host: HostInfo = { addresses: [], interfaces: [], gateways: [] };
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private lastStatusAt = 0;
  private nextRowId = 1;
  private lastBanAt: number | null = null;
  private started = false;
  /** Firewall changes, one at a time and in decision order (ban then unban of one host never swap). */
  private fwTail: Promise<void> = Promise.resolve();
  /** Connection cuts, after their bans, beside fwTail (conntrack is slow and touches no rule). */
  private cutTail: Promise<void> = Promise.resolve();
  /** The start-up reconcile (restore after a reboot), running behind log reading, not in front of it. */
  private reconciling: Promise<unknown> = Promise.resolve();
  /** While banMany runs: the engine's ban decisions, applied as one batch instead of one by one. */
  private bulkBans: BanRecord[] | null = null;
  /** The firewall promise of the latest applyBan (an API call waits for its own ban, not for every queued one). */
  private lastBanDone: Promise<void> = Promise.resolve();
  /** Engine events produced while a handler calls the engine directly (so they are applied once). */
  private captured: EngineEvent[] | null = null;
  /** Unban events the service itself provoked (protection paused): not real unbans. */
  private readonly suppressUnban = new Set<string>();
  /** Prefixes of live records not counted as blocked, for the Doctor. */
  private readonly uncountedPrefixes = new PrefixTally();
  private restoring = false;
  private stopping = false;
  private blockedPackets = 0;
  private fleet: FleetBridge | null = null;

  constructor(opts: ServiceOptions) {
    this.o = opts;
    this.events = new EventBatcher({ maxPerSec: opts.maxEventsPerSec, now: () => Date.now() });
  }

  // ------------------------------------------------------------------ lifecycle

  /** Loads settings (refusing invalid ones with the reason), builds the engine, reconciles, starts reading. */
  async start(): Promise<void> {
    const loaded = this.loadSettings();
    if (!loaded.ok) throw new Error(`invalid settings in ${this.o.settingsRepo.describe()}:\n${loaded.error}`);
    this.settings = loaded.settings;
    const paused = Number(this.o.store.getSetting(PAUSED_KEY));
    this.pausedUntil = Number.isFinite(paused) && paused > this.o.clock.now() ? paused : null;

    this.host = await this.o.hostInfo();
    await this.refreshStatus(true);
    const filter = this.o.hostFilter ?? true;
    this.engine = this.o.createEngine(
      {
        settings: this.settings,
        clock: this.o.clock,
        hostAddresses: this.host.addresses,
        gatewayAddresses: this.host.gateways,
        nameserverAddresses: this.host.nameservers ?? [],
        lanSubnets: this.host.lanSubnets ?? [],
        isAllowedPort: this.allowedPorts,
        hostFilter: filter ? { addresses: this.host.addresses, interfaces: this.host.interfaces, macs: this.host.macs ?? {} } : null,
      },
      (e) => this.onEngineEvent(e),
    );

    const now = this.o.clock.now();
    const active = this.o.store.activeBans(now);
    this.restoring = true;
    try {
      this.engine.restore(active, this.o.store.strikes());
    } finally {
      this.restoring = false;
    }
    for (const b of active) this.lastBanAt = Math.max(this.lastBanAt ?? 0, b.at);
    // Restored bans the whitelist forbids now (an entry added while stopped, the gateway of the
    // network a laptop woke up in, an admin who whitelisted their /24 to undo a lockout) are lifted
    // before reconcile, so it never puts them back into the firewall.
    const lifted = this.liftWhitelistedBans();
    if (lifted.length) this.log('info', `lifted ${lifted.length} restored ban(s) of whitelisted addresses: ${lifted.slice(0, 10).join(', ')}${lifted.length > 10 ? ', …' : ''}`);
    // Bans the per-minute cap held back before a stop or a crash, and the cap's window.
    const cap = loadBanCap(this.o.store);
    if (cap && this.engine.restoreBanCap) this.engine.restoreBanCap(cap, now);
    // Not awaited: putting 10,000 bans back after a reboot must not hold up log reading, the control
    // socket or the ready line; a scan seen meanwhile is banned between two restore batches.
    this.reconciling = this.reconcile(now).catch((e) => this.log('error', `reconcile: ${errorText(e)}`));
    if (this.o.fleet) {
      this.fleet = new FleetBridge(this.o.fleet, this.fleetPort(), this.settings);
      this.fleet.start();
    }

    this.started = true;
    if (this.o.source) await this.o.source.start((lines) => this.ingestLines(lines));
    this.tickTimer = setInterval(() => void this.tick(), this.o.tickMs ?? 1000);
    this.tickTimer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopping = true; // a restore in progress stops after its batch: the next start resumes it
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    if (this.o.source) await this.o.source.stop().catch(() => undefined);
    await this.fleet?.stop();
    await this.idle();
    this.events.close();
    try {
      this.saveBanCap();
      this.o.store.flush();
    } finally {
      this.o.store.close();
    }
  }

  /** Waits for pending firewall changes (tests, shutdown). */
  async idle(): Promise<void> {
    let tail: Promise<void>;
    let cuts: Promise<void>;
    let rec: Promise<unknown>;
    do {
      tail = this.fwTail;
      cuts = this.cutTail;
      rec = this.reconciling;
      await rec;
      await tail;
      await cuts;
    } while (tail !== this.fwTail || cuts !== this.cutTail || rec !== this.reconciling);
  }

  onEvents(listener: EventListener): () => void {
    return this.events.subscribe(listener);
  }

  // ------------------------------------------------------------------ settings

  private loadSettings(): { ok: true; settings: Settings } | { ok: false; error: string } {
    let raw: unknown;
    try {
      raw = this.o.settingsRepo.load();
    } catch (e) {
      return { ok: false, error: errorText(e) };
    }
    const r = SettingsSchema.safeParse(raw ?? {});
    if (!r.success) return { ok: false, error: describeZodError(r.error) };
    const s = this.o.overrides ? this.o.overrides(r.data) : r.data;
    const again = SettingsSchema.safeParse(s);
    return again.success ? { ok: true, settings: again.data } : { ok: false, error: describeZodError(again.error) };
  }

  getSettingsNow(): Settings {
    return this.settings;
  }

  /** Validates a whole new settings object; refuses (ApiError invalid) with the reason, changes nothing then. */
  private applySettings(candidate: unknown, save = true): Settings {
    const r = SettingsSchema.safeParse(isPlainObject(candidate) ? { ...candidate, fleet: unredactFleet(candidate.fleet, this.settings.fleet) } : candidate);
    if (!r.success) throw new ApiError('invalid', describeZodError(r.error));
    const before = this.settings;
    // Saved first: a refused save (the config file was edited by hand meanwhile) changes nothing.
    if (save) this.o.settingsRepo.save(r.data);
    this.settings = r.data;
    this.engine.updateSettings(r.data);
    void this.fleet?.updateSettings(r.data);
    if (before.ban.backend !== r.data.ban.backend) {
      this.notice('warn', `The ban backend changes to "${r.data.ban.backend}" at the next start; running bans stay where they are.`);
    }
    // A host that is whitelisted now must not stay banned.
    this.liftWhitelistedBans();
    if (before.protectionEnabled !== r.data.protectionEnabled) this.pushState();
    // What goes back to a caller never carries the fleet's secrets.
    return { ...r.data, fleet: redactFleet(r.data.fleet) };
  }

  /**
   * Loads the settings again from where they are kept (`systemctl reload`, SIGHUP): a hand-edited
   * config file takes effect without a restart. Invalid settings are refused with the field and the
   * reason, and the running ones stay. `refuse` says why valid settings are still refused (the
   * start-time check of a config file holding secrets that others can read).
   */
  reloadSettings(refuse?: (s: Settings) => string | null): { ok: true } | { ok: false; error: string } {
    const loaded = this.loadSettings();
    if (!loaded.ok) return { ok: false, error: `invalid settings in ${this.o.settingsRepo.describe()}, kept the running ones:\n${loaded.error}` };
    const refusal = refuse?.(loaded.settings);
    if (refusal) return { ok: false, error: `${refusal}; kept the running settings` };
    this.applySettings(loaded.settings, false);
    return { ok: true };
  }

  // ------------------------------------------------------------------ protection

  protection(): Protection {
    if (!this.settings.protectionEnabled) return 'off';
    if (this.pausedUntil !== null && this.pausedUntil > this.o.clock.now()) return 'paused';
    return 'on';
  }

  private protecting(): boolean {
    return this.protection() === 'on';
  }

  // ------------------------------------------------------------------ the pipeline

  /** One chunk of raw log lines from the source. Never throws: a bad line is a counted reject. */
  ingestLines(lines: string[]): void {
    const stored: PacketEvent[] = [];
    const rows: PacketRow[] = [];
    const touched = new Set<string>();
    const wantRows = this.events.listenerCount > 0;
    let rejects = 0;
    let foreign = 0;
    for (const line of lines) {
      let res;
      try {
        res = this.o.parseLine(line);
      } catch {
        rejects++;
        continue;
      }
      if (!res.ok) {
        // Other kernel messages (a USB device, a driver) are not firewall lines: not rejects.
        if (!IGNORED_REJECTS.has(res.reason)) rejects++;
        continue;
      }
      const p = res.packet;
      const mode = this.o.recordMode ? this.o.recordMode(p) : 'live';
      if (mode === 'skip') continue;
      const verdict = this.engine.ingestPacket(p);
      if (verdict === 'not-for-this-host') foreign++;
      if (verdict === 'prefix-not-counted') this.uncountedPrefixes.note(p.prefix);
      if (mode === 'replay' || NOT_STORED.has(verdict)) continue;
      stored.push(p);
      this.blockedPackets++;
      if (wantRows) rows.push(packetRow(p, this.nextRowId++));
      if (verdict === 'counted') touched.add(p.src);
    }
    // The source's health shows rejects per minute: lines that looked like firewall records but were refused.
    if (rejects) this.o.source?.noteRejects?.(rejects);
    // Lines / min counts every record of the shared kernel log; the UI says how many were this host's.
    if (foreign) this.foreignRate.add(foreign);
    if (stored.length) this.o.store.addPackets(stored);
    if (rows.length) this.events.push({ type: 'packets', rows });
    if (touched.size) {
      const offenders = [...touched].map((ip) => this.engine.offender(ip)).filter((x): x is Offender => x !== null);
      this.o.store.upsertOffenders(offenders);
      if (wantRows && offenders.length) this.events.push({ type: 'offenders', offenders });
    }
  }

  private onEngineEvent(e: EngineEvent): void {
    if (this.restoring) return;
    if (this.captured) this.captured.push(e);
    switch (e.type) {
      case 'ban':
        this.onBanDecision(e.ban);
        break;
      case 'unban':
        if (this.suppressUnban.delete(e.ip)) return;
        this.applyUnban(e.ip, e.time, e.why);
        break;
      case 'ban-deferred':
        // A flood defers thousands: one warning a minute with the counts, not one per ban.
        this.deferredSinceWarning++;
        this.warnDeferred();
        break;
      default:
        break;
    }
  }

  private onBanDecision(ban: BanRecord): void {
    if (!this.protecting() && ban.reason.kind !== 'manual') {
      // Paused or off: keep watching, do not ban. Drop the engine's ban so it is not shown as active.
      this.notice('info', `Would ban ${ban.ip} (${ban.reason.ports.length} ports) but protection is ${this.protection()}`);
      this.suppressUnban.add(ban.ip);
      queueMicrotask(() => {
        if (!this.engine.unban(ban.ip, ban.at)) this.suppressUnban.delete(ban.ip);
      });
      return;
    }
    this.applyBan(ban);
  }

  /**
   * Store first, then the firewall: a crash in between leaves a ban that reconcile restores, never an
   * orphan rule. The store's record is the write-ahead (one small WAL commit, tens of µs); the firewall
   * call is queued right after it, and everything else (offender row, UI event) comes behind — nothing
   * slow stands between the decision and the block. Connections are cut after the block, on their own
   * queue: the next ban never waits for conntrack. Resolves when the ban is in the firewall.
   */
  private applyBan(ban: BanRecord): Promise<void> {
    if (this.bulkBans) {
      this.bulkBans.push(ban); // banMany applies them together
      return Promise.resolve();
    }
    const decidedAt = performance.now();
    this.o.store.recordBan(ban);
    const done = this.banInFirewall(ban, decidedAt);
    this.lastBanDone = done;
    this.fleet?.onBan(ban);
    this.lastBanAt = ban.at;
    const off = this.engine.offender(ban.ip);
    if (off) this.o.store.upsertOffenders([off]);
    this.events.push({ type: 'ban', ban });
    return done;
  }

  private banInFirewall(ban: BanRecord, decidedAt: number): Promise<void> {
    const fw = this.o.firewall;
    if (this.o.dryRun || !fw) {
      this.o.onBan?.(ban, { latencyMs: null, dryRun: true });
      return Promise.resolve();
    }
    return this.enqueue(async () => {
      try {
        await fw.ban(ban.ip, ban.until, banComment(ban));
        const latencyMs = performance.now() - decidedAt;
        if (this.settings.ban.cutConnections) this.cutLater(ban.ip);
        this.o.onBan?.(ban, { latencyMs, dryRun: false });
      } catch (e) {
        this.o.onBan?.(ban, { latencyMs: null, dryRun: false, error: errorText(e) });
        this.notice('error', `Could not ban ${ban.ip} in the firewall: ${errorText(e)}`);
      }
    });
  }

  /** Cuts a banned host's open connections after its block is in place, one cut at a time, beside the ban queue. */
  private cutLater(ip: string): void {
    const fw = this.o.firewall;
    if (!fw) return;
    this.cutTail = this.cutTail.then(() => fw.cutConnections(ip).catch((e) => this.log('warn', `cutting connections of ${ip}: ${errorText(e)}`)));
  }

  private applyUnban(ip: string, at: number, why: UnbanReason): void {
    this.o.store.recordUnban(ip, at, why);
    this.fleet?.onUnban(ip, why);
    const off = this.engine.offender(ip);
    if (off) this.o.store.upsertOffenders([off]);
    this.events.push({ type: 'unban', ip, why });
    this.o.onUnban?.(ip, why);
    const fw = this.o.firewall;
    if (this.o.dryRun || !fw) return;
    this.enqueue(async () => {
      try {
        await fw.unban(ip, why);
      } catch (e) {
        this.notice('error', `Could not lift the ban of ${ip} in the firewall: ${errorText(e)}`);
      }
    });
  }

  /** Queues a firewall change behind the others; resolves when it has run (it never rejects). */
  private enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.fwTail.then(op, op);
    this.fwTail = run.catch(() => undefined);
    return this.fwTail;
  }

  /**
   * Bulk ban (`portcullis ban --from FILE`): the engine decides each ban as for `ban`, then the store
   * records them in ONE transaction and the firewall gets them as one batch (the set backend: one
   * ipset batch per 500). Established sessions: the set backend drops them already (its match comes
   * before ufw's ESTABLISHED accept); with the ufw backend each host's connections are cut, as for a ban.
   */
  private async banMany(ips: string[], durationSec: number | undefined, note: string | undefined): Promise<{ banned: number; refused: { ip: string; reason: string }[] }> {
    const now = this.o.clock.now();
    const refused: { ip: string; reason: string }[] = [];
    const decided: BanRecord[] = [];
    this.bulkBans = decided;
    try {
      for (const ip of ips) {
        if (!neverBanReason(ip) && this.engine.isWhitelisted(ip)) {
          refused.push({ ip, reason: 'whitelisted (this host, its gateway, loopback or a whitelist entry)' });
          continue;
        }
        try {
          this.engine.ban(ip, { ...(durationSec ? { durationSec } : {}), ...(note !== undefined ? { note } : {}), at: now });
        } catch (e) {
          refused.push({ ip, reason: errorText(e) });
        }
      }
    } finally {
      this.bulkBans = null;
    }
    // An address listed twice was extended by the engine: its latest record stands.
    const byIp = new Map(decided.map((b) => [b.ip, b]));
    const bans = [...byIp.values()];
    if (bans.length === 0) return { banned: 0, refused };
    const decidedAt = performance.now();
    if (this.o.store.recordBans) this.o.store.recordBans(bans);
    else for (const b of bans) this.o.store.recordBan(b);
    this.lastBanAt = now;
    // Shared with the fleet like any local ban (each is one alert in the push queue).
    for (const b of bans) this.fleet?.onBan(b);
    const fw = this.o.firewall;
    let firewallDone: Promise<void> = Promise.resolve();
    if (this.o.dryRun || !fw) {
      for (const b of bans) this.o.onBan?.(b, { latencyMs: null, dryRun: true });
    } else {
      firewallDone = this.enqueue(async () => {
        try {
          if (fw.banMany) await fw.banMany(bans.map((b) => ({ ip: b.ip, until: b.until, comment: banComment(b) })));
          else for (const b of bans) await fw.ban(b.ip, b.until, banComment(b));
          const latencyMs = performance.now() - decidedAt;
          if (this.settings.ban.cutConnections && this.settings.ban.backend === 'ufw') for (const b of bans) this.cutLater(b.ip);
          for (const b of bans) this.o.onBan?.(b, { latencyMs, dryRun: false });
        } catch (e) {
          for (const b of bans) this.o.onBan?.(b, { latencyMs: null, dryRun: false, error: errorText(e) });
          this.notice('error', `Could not ban ${bans.length} addresses in the firewall: ${errorText(e)}`);
        }
      });
    }
    const offenders = bans.map((b) => this.engine.offender(b.ip)).filter((x): x is Offender => x !== null);
    if (offenders.length) this.o.store.upsertOffenders(offenders);
    for (const ban of bans) this.events.push({ type: 'ban', ban });
    await firewallDone;
    return { banned: bans.length, refused };
  }

  /** Runs an engine call and reports the events it produced synchronously. */
  private withCapture<T>(fn: () => T): { value: T; events: EngineEvent[] } {
    const prev = this.captured;
    const events: EngineEvent[] = [];
    this.captured = events;
    try {
      return { value: fn(), events };
    } finally {
      this.captured = prev;
    }
  }

  private unbanNow(ip: string, why: 'manual' | 'whitelisted' = 'manual'): boolean {
    const { value, events } = this.withCapture(() => this.engine.unban(ip, this.o.clock.now(), why));
    if (value && !events.some((e) => e.type === 'unban' && e.ip === ip)) this.applyUnban(ip, this.o.clock.now(), why);
    return value;
  }

  /**
   * Lifts every active ban the whitelist covers (user entries, loopback, this host, its gateway),
   * with the reason 'whitelisted' in the ban history and the helper's audit log.
   */
  private liftWhitelistedBans(): string[] {
    const lifted: string[] = [];
    for (const b of this.engine.activeBans()) {
      if (this.engine.isWhitelisted(b.ip) && this.unbanNow(b.ip, 'whitelisted')) lifted.push(b.ip);
    }
    return lifted;
  }

  /** Expiry, deferred bans, store flush and retention, end of a pause, periodic firewall status. */
  async tick(): Promise<void> {
    const now = this.o.clock.now();
    if (this.pausedUntil !== null && this.pausedUntil <= now) {
      this.pausedUntil = null;
      this.o.store.setSetting(PAUSED_KEY, '');
      this.notice('info', 'Pause over: protection is on again');
    }
    try {
      this.engine.tick(now);
    } catch (e) {
      this.log('error', `engine tick: ${errorText(e)}`);
    }
    this.warnDeferred();
    try {
      this.saveBanCap();
    } catch (e) {
      this.log('error', `store: ${errorText(e)}`);
    }
    try {
      this.o.store.flush();
      this.o.store.prune(now, this.settings.logs.retentionDays, this.settings.logs.maxStoredPackets);
    } catch (e) {
      this.log('error', `store: ${errorText(e)}`);
    }
    // A live dashboard: the state (counts, source health) at most once a tick, coalesced by the batcher.
    if (this.events.listenerCount > 0) this.pushState();
    if (now - this.lastStatusAt >= (this.o.statusRefreshMs ?? 30_000)) {
      await this.refreshStatus(false);
      await this.refreshHost();
    }
  }

  /**
   * This host's addresses and gateway change while it runs (DHCP renewals, IPv6 temporary addresses,
   * a laptop joining another network): whitelist the current ones, or the new router probing the
   * laptop gets banned and cuts it off. A ban of an address that is now ours or our gateway is lifted.
   * The engine's filter of records addressed to this host follows the new addresses too.
   */
  private async refreshHost(): Promise<void> {
    let next: HostInfo;
    try {
      next = await this.o.hostInfo();
    } catch (e) {
      this.log('warn', `host addresses: ${errorText(e)}`);
      return;
    }
    const key = (h: HostInfo) => `${[...h.addresses].sort().join(',')}|${[...h.gateways].sort().join(',')}|${[...(h.nameservers ?? [])].sort().join(',')}|${[...(h.lanSubnets ?? [])].sort().join(',')}`;
    if (next.addresses.length === 0 || key(next) === key(this.host)) return;
    this.host = { ...next, interfaces: [...new Set([...this.host.interfaces, ...next.interfaces])], macs: { ...this.host.macs, ...next.macs } };
    this.engine.setHostAddresses(next.addresses, next.gateways, this.host.interfaces, this.host.macs, next.nameservers ?? [], next.lanSubnets ?? []);
    this.liftWhitelistedBans();
    this.log('info', `this host's addresses changed: ${next.addresses.join(', ')}; gateway ${next.gateways.join(', ') || 'none'}`);
  }

  // ------------------------------------------------------------------ firewall status and reconcile

  private allowedFn: (proto: 'tcp' | 'udp', port: number) => boolean = () => false;
  /** Stable function handed to the engine; the rule set behind it is refreshed. */
  private readonly allowedPorts = (proto: 'tcp' | 'udp', port: number): boolean => this.allowedFn(proto, port);

  private async refreshStatus(initial: boolean): Promise<void> {
    this.lastStatusAt = this.o.clock.now();
    if (!this.o.helper) return;
    try {
      const { firewall, rules } = await this.o.helper.status();
      const wasEnabled = this.firewallState.enabled;
      this.firewallState = firewall;
      this.rulesView = rules;
      this.allowedFn = allowedPortsFrom(rules.rules);
      if (!initial && wasEnabled && !firewall.enabled) this.notice('warn', 'The firewall (ufw) was turned off: bans have no effect');
      if (!initial && wasEnabled !== firewall.enabled) this.pushState();
    } catch (e) {
      this.log('warn', `firewall status: ${errorText(e)}`);
    }
  }

  /**
   * Makes the firewall agree with the store: bans that expired are removed, bans missing from the
   * firewall (crash between store and firewall, reboot emptied the set) are restored, duplicates are
   * collapsed. Only what FirewallPort.listBans reports is touched, and that lists Portcullis's own
   * tagged rules / set elements, never the user's rules.
   */
  async reconcile(now = this.o.clock.now()): Promise<{ restored: string[]; removed: string[]; deduplicated: string[] }> {
    const result = { restored: [] as string[], removed: [] as string[], deduplicated: [] as string[] };
    const fw = this.o.firewall;
    if (!fw || this.o.dryRun) return result;
    // Bans whose time ran out while nobody was running: close them in the store (history stays right).
    for (const b of this.o.store.openBans?.() ?? []) {
      if (b.until !== null && b.until <= now) this.o.store.recordUnban(b.ip, b.until, 'expired');
    }
    const wanted = new Map<string, BanRecord>();
    for (const b of this.o.store.activeBans(now)) {
      if (b.until === null || b.until > now) wanted.set(b.ip, b);
    }
    let present: { ip: string; until: number | null }[];
    try {
      present = await fw.listBans();
    } catch (e) {
      this.log('error', `reconcile: cannot list the firewall's bans: ${errorText(e)}`);
      return result;
    }
    const count = new Map<string, number>();
    for (const p of present) {
      const ip = canonicalIp(p.ip) ?? p.ip;
      count.set(ip, (count.get(ip) ?? 0) + 1);
    }
    // What the engine holds when a batch RUNS decides, not this snapshot: log reading goes on
    // meanwhile, and a host banned (or unbanned) since must keep its newer state.
    const stale = [...count].filter(([ip]) => !wanted.has(ip)).map(([ip]) => ip);
    if (stale.length) {
      await this.enqueue(async () => {
        const ips = stale.filter((ip) => !this.engine.isBanned(ip));
        try {
          if (fw.unbanMany) await fw.unbanMany(ips);
          else for (const ip of ips) await fw.unban(ip);
          result.removed.push(...ips);
        } catch (e) {
          this.log('warn', `reconcile: cannot remove ${ips.length} stale bans: ${errorText(e)}`);
        }
      });
    }
    for (const [ip, n] of count) {
      const want = wanted.get(ip);
      if (!want || n <= 1) continue;
      await this.enqueue(async () => {
        for (let i = 0; i < n; i++) await fw.unban(ip).catch(() => undefined);
        await fw.ban(ip, want.until, banComment(want)).catch((e) => this.log('warn', `reconcile ban ${ip}: ${errorText(e)}`));
        result.deduplicated.push(ip);
      });
    }
    // Missing bans go back in batches (one ipset batch each for the set backend; ufw has no batch, so a
    // batch there is a few rules): a live ban waits for one batch at most, never for the whole restore.
    const missing = [...wanted.values()].filter((b) => !count.has(b.ip));
    const batch = this.settings.ban.backend === 'set' ? RESTORE_BATCH_SET : RESTORE_BATCH_UFW;
    for (let i = 0; i < missing.length && !this.stopping; i += batch) {
      const chunk = missing.slice(i, i + batch);
      await this.enqueue(async () => {
        const current = new Map(this.engine.activeBans().map((b) => [b.ip, b]));
        const todo = chunk.flatMap((b) => {
          const now2 = this.o.clock.now();
          const c = current.get(b.ip);
          return c && (c.until === null || c.until > now2) ? [c] : [];
        });
        if (todo.length === 0) return;
        try {
          if (fw.banMany) await fw.banMany(todo.map((b) => ({ ip: b.ip, until: b.until, comment: banComment(b) })));
          else for (const b of todo) await fw.ban(b.ip, b.until, banComment(b));
          result.restored.push(...todo.map((b) => b.ip));
        } catch (e) {
          // One bad entry (e.g. an address the helper refuses) fails the whole batch: retry them one
          // by one so it never drops the others, and name the ones that still fail.
          this.log('warn', `reconcile: restoring ${todo.length} bans as one batch failed (${errorText(e)}); retrying one by one`);
          for (const b of todo) {
            try {
              await fw.ban(b.ip, b.until, banComment(b));
              result.restored.push(b.ip);
            } catch (e1) {
              this.log('error', `reconcile: cannot restore the ban of ${b.ip}: ${errorText(e1)}`);
            }
          }
        }
      });
    }
    if (result.removed.length || result.restored.length || result.deduplicated.length) {
      this.log(
        'info',
        `reconciled: ${result.restored.length} restored, ${result.removed.length} removed, ${result.deduplicated.length} de-duplicated`,
      );
    }
    return result;
  }

  /** The service as the fleet bridge sees it: fleet bans take the same pipeline as local ones. */
  private fleetPort(): ConstructorParameters<typeof FleetBridge>[1] {
    return {
      now: () => this.o.clock.now(),
      protecting: () => this.protecting(),
      isWhitelisted: (ip) => this.engine.isWhitelisted(ip),
      isBanned: (ip) => this.engine.isBanned(ip),
      activeBans: () => this.engine.activeBans(),
      ban: (ip, durationSec, origin, note) => {
        const out = this.withCapture(() => this.engine.ban(ip, { durationSec, note, origin, at: this.o.clock.now() }));
        if (!out.events.some((e) => e.type === 'ban' && e.ban.ip === out.value.ip)) this.applyBan(out.value);
      },
      unban: (ip) => void this.unbanNow(ip),
      log: (level, message) => this.log(level, message),
      notice: (level, message) => this.notice(level, message),
    };
  }

  // ------------------------------------------------------------------ views

  private foreignRateOf: MinuteRate | null = null;
  private get foreignRate(): MinuteRate {
    return (this.foreignRateOf ??= new MinuteRate(this.o.clock));
  }

  private sourceHealth(): SourceHealthDto | null {
    if (!this.o.source) return null;
    try {
      return { ...this.o.source.health(), foreignPerMinute: this.foreignRate.perMinute() };
    } catch (e) {
      return { kind: this.o.source.kind, description: 'log source', kernelTrusted: false, lastRecordAt: null, linesPerMinute: 0, rejectsPerMinute: 0, error: errorText(e) };
    }
  }

  state(): State {
    const stats = this.engine.stats();
    const helper = this.o.helper
      ? { connected: true }
      : { connected: false, readOnlyReason: this.o.readOnlyReason ?? 'the root helper is not running' };
    return {
      protection: this.protection(),
      pausedUntil: this.protection() === 'paused' ? this.pausedUntil : null,
      firewall: this.firewallState,
      helper,
      backend: this.settings.ban.backend,
      counts: {
        blockedPackets: this.safeCount(),
        scanners: stats.trackedSources,
        activeBans: stats.activeBans,
        deferredBans: stats.deferredBans,
      },
      source: this.sourceHealth(),
      lastBanAt: this.lastBanAt,
      alwaysWhitelisted: this.alwaysWhitelisted(),
      ...(this.fleet ? { fleet: this.fleet.health() } : {}),
      version: VERSION,
    };
  }

  /**
   * The engine's offenders (active bans, then sources in their window) followed by those only the
   * store remembers — after a restart or an unban the engine has forgotten them, but the user still
   * wants to see who scanned yesterday. A remembered one is re-judged now: whitelisted if the
   * whitelist covers it today, expired if it was ever banned, else watching.
   */
  private offenderList(state: OffenderState | undefined, limit: number): Offender[] {
    const live = this.engine.offenders(state ? 100_000 : limit);
    const matching = state ? live.filter((o) => o.state === state) : live;
    if (!this.o.store.storedOffenders) return matching.slice(0, limit);
    const seen = new Set(live.map((o) => o.ip));
    const stored = this.o.store.storedOffenders(limit + seen.size);
    // The engine starts a new window when a source comes back after a ban: "first seen" is the
    // earliest sighting the store remembers, not the start of that window.
    const firstSeen = new Map(stored.map((o) => [o.ip, o.firstSeen]));
    const out = matching.map((o) => {
      const first = firstSeen.get(o.ip);
      return first !== undefined && first < o.firstSeen ? { ...o, firstSeen: first } : o;
    });
    if (out.length >= limit) return out.slice(0, limit);
    for (const o of stored) {
      if (out.length >= limit) break;
      if (seen.has(o.ip)) continue;
      const now: OffenderState = this.engine.isWhitelisted(o.ip)
        ? 'whitelisted'
        : this.engine.isBanned(o.ip)
          ? 'banned'
          : o.state === 'banned' || o.state === 'expired' || o.strikes > 0
            ? 'expired'
            : 'watching';
      if (!state || now === state) out.push({ ...o, state: now });
    }
    return out;
  }

  /** What the engine never bans whatever the user's whitelist says — shown on the Whitelist screen. */
  private alwaysWhitelisted(): { cidr: string; why: string }[] {
    const hostCidr = (ip: string) => `${ip}/${ip.includes(':') ? 128 : 32}`;
    return [
      ...NEVER_BAN_RANGES.map((r) => ({ cidr: r.cidr, why: r.label })),
      // Loopback addresses are covered by the loopback entries already.
      ...this.host.addresses.filter((ip) => !LOOPBACK.matches(ip)).map((ip) => ({ cidr: hostCidr(ip), why: 'this host' })),
      ...(this.settings.whitelist.includeGateway ? this.host.gateways.map((ip) => ({ cidr: hostCidr(ip), why: 'default gateway' })) : []),
      ...(this.settings.whitelist.includeNameservers ? (this.host.nameservers ?? []).map((ip) => ({ cidr: hostCidr(ip), why: 'name server' })) : []),
      ...(this.settings.whitelist.includeLanSubnets ? (this.host.lanSubnets ?? []).map((cidr) => ({ cidr, why: 'LAN subnet' })) : []),
    ];
  }

  private safeCount(): number {
    try {
      return this.o.store.packetCount();
    } catch {
      return this.blockedPackets;
    }
  }

  private pushState(): void {
    if (this.events.listenerCount > 0 && this.started) this.events.push({ type: 'state', state: this.state() });
  }

  /** Held-back bans since the last warning about them, and when that was (clock time). */
  private deferredSinceWarning = 0;
  private deferredWarnedAt = -Infinity;
  private savedBanCap = '';

  /** At most once a minute: how many bans the cap held back, how many wait, how many were dropped. */
  private warnDeferred(): void {
    const now = this.o.clock.now();
    if (this.deferredSinceWarning === 0 || now - this.deferredWarnedAt < 60_000) return;
    const stats = this.engine.stats();
    const dropped = stats.deferredDropped ? stats.deferredDropped.aged + stats.deferredDropped.full : 0;
    const first = this.deferredWarnedAt === -Infinity;
    this.notice(
      'warn',
      `${this.deferredSinceWarning} new ban(s) held back by the new-bans-per-minute cap (${this.settings.ban.maxNewBansPerMinute}) ${first ? 'just now' : 'in the last minute'}; ` +
        `${stats.deferredBans} waiting, strongest evidence first` +
        (dropped ? `; ${dropped} dropped so far (evidence older than findtime, or the queue was full)` : ''),
    );
    this.deferredSinceWarning = 0;
    this.deferredWarnedAt = now;
  }

  /** The cap's window and held-back bans into the store, when they changed. */
  private saveBanCap(): void {
    if (!this.engine?.banCapState) return;
    const text = banCapText(this.engine.banCapState());
    if (text === this.savedBanCap) return;
    this.o.store.setSetting(BAN_CAP_KEY, text);
    this.savedBanCap = text;
  }

  private notice(level: 'info' | 'warn' | 'error', message: string): void {
    this.log(level, message);
    this.events.push({ type: 'notice', level, message });
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.o.log?.(level, message);
  }

  private needHelper(): HelperOpsPort {
    if (!this.o.helper) throw new ApiError('read-only', this.o.readOnlyReason ?? 'the root helper is not running: firewall changes are not possible');
    return this.o.helper;
  }

  private async rules(): Promise<RulesView> {
    const h = this.needHelper();
    const { firewall, rules } = await h.status();
    this.firewallState = firewall;
    this.rulesView = rules;
    this.allowedFn = allowedPortsFrom(rules.rules);
    return rules;
  }

  /**
   * The change aimed at the rule the user saw (op.expect), at its number now; refused when that rule
   * is gone. Without this, an editor left open while another rule was deleted or moved changed
   * whatever rule had taken the old number (an SSH rule, say).
   */
  private retarget(op: RuleOp): RuleOp {
    return retargetRuleOp(op, this.rulesView?.rules ?? []);
  }

  /** Warnings for a rule change: would it cut an established inbound session? `op` is retargeted already. */
  private async preview(op: RuleOp): Promise<RulePreview> {
    const h = this.needHelper();
    const commands = await h.previewRule(op);
    const warnings: RulePreview['warnings'] = [];
    // ufw accepts everything on lo before any rule: a loopback session (the browser's own socket to
    // `serve`, an SSH tunnel's end) is never cut by a rule change.
    const sessions = (this.o.inboundSessions?.() ?? []).filter((s) => !LOOPBACK.matches(s.remote));
    const rules = this.rulesView?.rules ?? [];
    let affected: { localPort: number; remote: string }[] = [];
    if (op.kind === 'delete' || op.kind === 'edit') {
      const old = rules.find((r) => r.number === op.number);
      const oldRule = old ? { ...old, family: (old.v6 ? 6 : 4) as 4 | 6 } : null;
      const next = op.kind === 'edit' ? op.rule : null;
      // An edit replaces the rule in place: what the old one let in and the new one does not, and
      // whatever the new one denies.
      affected = sessions.filter(
        (s) => (oldRule !== null && ruleTouches(oldRule, s, 'admits') && !(next && ruleTouches(next, s, 'admits'))) || (next !== null && ruleTouches(next, s, 'denies')),
      );
    } else if (op.kind === 'add') {
      affected = sessions.filter((s) => ruleTouches(op.rule, s, 'denies'));
    }
    for (const s of affected) warnings.push({ kind: 'cuts-session', detail: `an open connection from ${s.remote} to port ${s.localPort} may be cut` });
    return { commands, warnings, needsConfirmation: warnings.length > 0 };
  }

  /**
   * Refuses, unless confirmed, a firewall-wide change that would make ufw refuse NEW connections to
   * a port someone is connected through now (turning ufw on, or the incoming policy to deny/reject,
   * while no rule allows that port): the user's SSH session survives (ufw accepts established
   * traffic) but they cannot connect again. `admitted` says which ports stay open afterwards.
   */
  private guardLockout(what: string, admitted: (s: { localPort: number; remote: string }) => boolean, confirm: boolean): void {
    if (confirm) return;
    const refusal = lockoutRefusal(what, this.o.inboundSessions?.() ?? [], admitted);
    if (refusal) throw new ApiError('needs-confirmation', refusal);
  }

  /** Turning ufw on asks first when it could lock someone out (enableUfwRefusal). */
  private async guardEnable(confirm: boolean): Promise<void> {
    if (confirm) return;
    await this.rules().catch(() => undefined);
    const refusal = enableUfwRefusal(this.firewallState, this.o.inboundSessions?.() ?? []);
    if (refusal) throw new ApiError('needs-confirmation', refusal);
  }

  /** Would the user's current rules (and the incoming policy) still let this session's port in? */
  private admittedByRules(policyIncoming: string | null): (s: { localPort: number; remote: string }) => boolean {
    const rules = this.rulesView?.rules ?? [];
    return (s) => policyIncoming === 'allow' || rules.some((r) => ruleTouches({ ...r, family: r.v6 ? 6 : 4 }, s, 'admits'));
  }

  private doctorChecks(helperChecks: DoctorCheck[]): DoctorCheck[] {
    const checks: DoctorCheck[] = [];
    const fw = this.firewallState;
    const has = (id: string) => helperChecks.some((c) => c.id === id);
    if (!has('ufw-installed'))
      checks.push(
        fw.installed
          ? { id: 'ufw-installed', title: 'ufw is installed', level: 'ok', detail: 'ufw is installed' }
          : { id: 'ufw-installed', title: 'ufw is installed', level: 'error', detail: this.o.helper ? 'ufw is not installed: apt-get install ufw' : 'unknown: the root helper is not running' },
      );
    if (!has('ufw-enabled'))
      checks.push(
        fw.enabled
          ? { id: 'ufw-enabled', title: 'The firewall is on', level: 'ok', detail: 'the firewall is active' }
          : { id: 'ufw-enabled', title: 'The firewall is on', level: 'error', detail: 'ufw is not enabled: bans have no effect (ufw enable)', fix: { id: 'enable-ufw', label: 'Enable ufw' } },
      );
    if (!has('logging') && !has('ufw-logging'))
      checks.push(
        fw.loggingLevel && fw.loggingLevel !== 'off'
          ? { id: 'logging', title: 'ufw logs blocked packets', level: 'ok', detail: `logging level ${fw.loggingLevel}` }
          : { id: 'logging', title: 'ufw logs blocked packets', level: 'error', detail: 'ufw logging is off: no blocked packet is ever seen (ufw logging low)', fix: { id: 'logging-low', label: 'Turn logging on (low)' } },
      );
    const src = this.sourceHealth();
    checks.push(
      !src
        ? { id: 'log-source', title: 'Where Portcullis reads the firewall log', level: 'error', detail: 'no log source: nothing is watched (start with --source journal, or --source file:/var/log/kern.log)' }
        : src.error
          ? { id: 'log-source', title: 'Where Portcullis reads the firewall log', level: 'error', detail: `${src.description}: ${src.error} (if it persists, restart Portcullis or choose another source: --source journal | file:PATH)` }
          : src.kernelTrusted
            ? { id: 'log-source', title: 'Where Portcullis reads the firewall log', level: 'ok', detail: `${src.description} (kernel records only)` }
            : { id: 'log-source', title: 'Where Portcullis reads the firewall log', level: 'warn', detail: `${src.description} is SPOOFABLE: any local user can write lines into it; run as root to read /dev/kmsg` },
    );
    if (!has('per-source-logging'))
      checks.push(
        fw.perSourceLogging
          ? { id: 'per-source-logging', title: 'Every scanner gets logged (per-source logging)', level: 'ok', detail: 'every scanner is logged with its own budget' }
          : {
              id: 'per-source-logging',
              title: 'Every scanner gets logged (per-source logging)',
              level: 'warn',
              detail: "ufw logs all sources through one budget (3/min, burst 10): on a busy host most scanners are never seen",
              fix: { id: 'install-per-source-logging', label: 'Install per-source logging' },
            },
      );
    const last = src?.lastRecordAt ?? null;
    const age = last === null ? null : Math.max(0, Math.round((this.o.clock.now() - last) / 1000));
    checks.push(
      age === null
        ? { id: 'last-record', title: 'The firewall log is being written', level: 'warn', detail: `no firewall record read yet${SILENT_HINT}` }
        : age > this.settings.notifications.warnWhenSilentSec
          ? { id: 'last-record', title: 'The firewall log is being written', level: 'warn', detail: `${age} s ago${SILENT_HINT}` }
          : { id: 'last-record', title: 'The firewall log is being written', level: 'ok', detail: `${age} s ago` },
    );
    checks.push(forgedRecordsCheck(this.o.readSysctl));
    return [...helperChecks, ...checks, ...(this.fleet?.doctorChecks() ?? [])];
  }

  private async doctor(): Promise<DoctorCheck[]> {
    let helperChecks: DoctorCheck[] = [];
    if (this.o.helper) {
      await this.refreshStatus(false);
      helperChecks = await this.o.helper.doctor().catch((e) => [
        { id: 'helper', title: 'The root helper is running', level: 'error' as const, detail: `the helper failed: ${errorText(e)}` },
      ]);
    } else {
      helperChecks = [{ id: 'helper', title: 'The root helper is running', level: 'error', detail: this.o.readOnlyReason ?? 'the root helper is not running' }];
    }
    const server = this.o.serverChecks ? await this.o.serverChecks().catch(() => []) : [];
    return [...this.doctorChecks(helperChecks), uncountedPrefixesCheck(this.uncountedPrefixes, this.settings.detection.prefixes), ...server];
  }

  /** "Test against my recent log": a fresh engine over the stored packets with the patched settings. */
  private testThresholds(patch: Record<string, unknown>, minutes: number): ThresholdTest {
    const r = SettingsSchema.safeParse(mergePatch(this.settings, patch));
    if (!r.success) throw new ApiError('invalid', describeZodError(r.error));
    const now = this.o.clock.now();
    const packets = this.o.store.packetsSince(now, minutes, 2_000_000);
    const wouldBan: ThresholdTest['wouldBan'] = [];
    const clock = { t: packets[0]?.time ?? now, now(): number { return this.t; } };
    const trial = this.o.createEngine(
      {
        settings: r.data,
        clock,
        hostAddresses: this.host.addresses,
        gatewayAddresses: this.host.gateways,
        nameserverAddresses: this.host.nameservers ?? [],
        lanSubnets: this.host.lanSubnets ?? [],
        isAllowedPort: this.allowedPorts,
        hostFilter: null,
      },
      (e) => {
        if (e.type === 'ban') wouldBan.push({ ip: e.ban.ip, at: e.ban.at, ports: e.ban.reason.ports, scanType: e.ban.reason.scanType ?? 'OTHER' });
      },
    );
    const sources = new Map<string, { probes: number; ports: Set<number>; whitelisted: boolean }>();
    for (const p of packets) {
      clock.t = p.time;
      const src = sources.get(p.src) ?? { probes: 0, ports: new Set<number>(), whitelisted: false };
      sources.set(p.src, src);
      const verdict = trial.ingestPacket(p);
      if (verdict === 'counted') {
        src.probes++;
        if (p.dpt !== null && p.dpt !== undefined) src.ports.add(p.dpt);
      } else if (verdict === 'whitelisted') src.whitelisted = true;
    }
    // Why the others would not be banned, most active first.
    const banned = new Set(wouldBan.map((b) => b.ip));
    const d = r.data.detection;
    const notBanned: NonNullable<ThresholdTest['notBanned']> = [...sources]
      .filter(([ip]) => !banned.has(ip))
      .sort((a, b) => b[1].probes - a[1].probes || (a[0] < b[0] ? -1 : 1))
      .slice(0, 20)
      .map(([ip, x]) => ({
        ip,
        probes: x.probes,
        ports: x.ports.size,
        reason: x.whitelisted && x.probes === 0 ? 'whitelisted' : x.probes === 0 ? 'not-probes' : x.probes >= d.maxretry && x.ports.size >= d.minDistinctPorts ? 'spread-out' : 'under-threshold',
      }));
    return { packets: packets.length, sources: sources.size, wouldBan, notBanned };
  }

  // ------------------------------------------------------------------ the API

  handlers(): ApiHandlers {
    const now = () => this.o.clock.now();
    return {
      getState: async () => this.state(),
      getDashboard: async ({ minutes }) => this.o.store.dashboard(minutes, now(), this.engine.offenders(1000)),
      getPackets: async ({ offset, limit, filter }) => this.o.store.packetsPage(offset, limit, filter),
      getOffenders: async ({ state, limit }) => this.offenderList(state, limit),
      getOffender: async ({ ip }) => {
        const offender = this.engine.offender(ip);
        const timeline = this.o.store.offenderPackets(ip, 1000);
        const bans = this.o.store.banHistory(100, ip);
        if (!offender && timeline.length === 0 && bans.length === 0) throw new ApiError('invalid', `${ip} has not been seen`);
        const ports = new Map<string, { port: number; proto: string; hits: number }>();
        for (const r of timeline) {
          if (r.dpt === null) continue;
          const k = `${r.proto}/${r.dpt}`;
          const e = ports.get(k) ?? { port: r.dpt, proto: r.proto, hits: 0 };
          e.hits++;
          ports.set(k, e);
        }
        const fallback: Offender = {
          ip,
          hits: timeline.length,
          distinctPorts: ports.size,
          ports: [...ports.values()].map((p) => p.port),
          firstSeen: timeline.at(-1)?.time ?? bans.at(-1)?.at ?? 0,
          lastSeen: timeline[0]?.time ?? bans[0]?.at ?? 0,
          scanType: 'OTHER',
          state: this.engine.isWhitelisted(ip) ? 'whitelisted' : this.engine.isBanned(ip) ? 'banned' : 'expired',
          strikes: bans[0]?.strikes ?? 0,
        };
        return { offender: offender ?? fallback, ports: [...ports.values()].sort((a, b) => b.hits - a.hits), timeline, bans };
      },
      getBans: async () => ({ active: this.engine.activeBans(), history: this.o.store.banHistory(1000) }),
      getRules: async () => this.rules(),
      getSettings: async () => ({ ...this.settings, fleet: redactFleet(this.settings.fleet) }),
      getDoctor: async () => this.doctor(),

      setProtection: async ({ enabled }) => {
        this.pausedUntil = null;
        this.o.store.setSetting(PAUSED_KEY, '');
        if (this.settings.protectionEnabled !== enabled) this.applySettings({ ...this.settings, protectionEnabled: enabled });
        this.pushState();
        return this.state();
      },
      pauseProtection: async ({ minutes }) => {
        if (!this.settings.protectionEnabled) this.applySettings({ ...this.settings, protectionEnabled: true });
        this.pausedUntil = now() + minutes * 60_000;
        this.o.store.setSetting(PAUSED_KEY, String(this.pausedUntil));
        this.pushState();
        return this.state();
      },
      ban: async ({ ip, durationSec, note }) => {
        // A never-ban address (multicast, broadcast, …) is also whitelisted; engine.ban says which it is.
        if (!neverBanReason(ip) && this.engine.isWhitelisted(ip)) throw new ApiError('invalid', `${ip} is whitelisted (this host, its gateway, loopback or a whitelist entry): it is never banned`);
        let out;
        try {
          out = this.withCapture(() => this.engine.ban(ip, { durationSec, note, at: now() }));
        } catch (e) {
          throw new ApiError('invalid', errorText(e));
        }
        const ban = out.value;
        // The engine's 'ban' event applied it already (onBanDecision); else apply it here.
        const done = out.events.some((e) => e.type === 'ban' && e.ban.ip === ip) ? this.lastBanDone : this.applyBan(ban);
        await done;
        return ban;
      },
      banMany: async ({ ips, durationSec, note }) => this.banMany(ips, durationSec, note),
      unban: async ({ ip }) => {
        const was = this.unbanNow(ip);
        if (!was) {
          // Not banned in the engine: an orphan in the firewall can still be lifted.
          const fw = this.o.firewall;
          if (fw && !this.o.dryRun) {
            const listed = await fw.listBans().catch(() => []);
            if (!listed.some((b) => b.ip === ip)) throw new ApiError('invalid', `${ip} is not banned`);
            this.enqueue(() => fw.unban(ip));
          } else throw new ApiError('invalid', `${ip} is not banned`);
        }
        await this.idle();
        return { ok: true as const };
      },
      whitelistAdd: async ({ cidr }) => {
        const entries = this.settings.whitelist.entries.includes(cidr) ? this.settings.whitelist.entries : [...this.settings.whitelist.entries, cidr];
        return this.applySettings({ ...this.settings, whitelist: { ...this.settings.whitelist, entries } });
      },
      whitelistRemove: async ({ cidr }) => {
        if (!this.settings.whitelist.entries.includes(cidr)) throw new ApiError('invalid', `${cidr} is not in the whitelist`);
        const entries = this.settings.whitelist.entries.filter((e) => e !== cidr);
        return this.applySettings({ ...this.settings, whitelist: { ...this.settings.whitelist, entries } });
      },
      updateSettings: async ({ patch }) => this.applySettings(mergePatch(this.settings, guardFleetPatch(patch, this.settings.fleet))),
      testThresholds: async ({ patch, minutes }) => this.testThresholds(patch, minutes),
      testFleet: async ({ crowdsec }) => {
        if (!this.o.fleet) throw new ApiError('unavailable', 'this Portcullis runs without a fleet link (dry run)');
        const t = fleetTestCandidate(crowdsec, this.settings.fleet);
        if (!t.ok) throw new ApiError('invalid', t.error);
        const r = CrowdsecSettingsSchema.safeParse(t.candidate);
        if (!r.success) throw new ApiError('invalid', describeZodError(r.error));
        return testFleetConnection(r.data, this.o.fleet, () => this.o.clock.now());
      },
      previewRule: async ({ op }) => {
        if (!this.rulesView || op.kind !== 'add') await this.rules().catch(() => undefined);
        return this.preview(this.retarget(op));
      },
      applyRule: async ({ op, confirm }) => {
        const h = this.needHelper();
        await this.rules();
        const target = this.retarget(op);
        const p = await this.preview(target);
        if (p.needsConfirmation && !confirm) {
          throw new ApiError('needs-confirmation', p.warnings.map((w) => w.detail).join('; '));
        }
        // The helper finds the rule again inside its queue (a ban may be prepended in between).
        await h.applyRule(target);
        return this.rules();
      },
      setUfwEnabled: async ({ enabled, confirm }) => {
        const h = this.needHelper();
        if (!enabled && !confirm) throw new ApiError('needs-confirmation', 'turning the firewall off lifts every ban and opens every port');
        if (enabled) await this.guardEnable(confirm);
        await h.setEnabled(enabled);
        await this.refreshStatus(false);
        this.pushState();
        return this.state();
      },
      setDefaultPolicy: async ({ direction, policy, confirm }) => {
        const h = this.needHelper();
        const question = confirm ? null : policyChangeQuestion(direction, policy, this.firewallState.enabled);
        if (question) throw new ApiError('needs-confirmation', question);
        if (direction === 'incoming' && policy !== 'allow') {
          await this.rules();
          // While ufw is off the policy changes nothing yet: enabling it asks then.
          if (this.firewallState.enabled) this.guardLockout(`a default incoming policy of ${policy}`, this.admittedByRules(policy), confirm);
        }
        await h.setDefault(direction, policy);
        return this.rules();
      },
      setLogging: async ({ level, confirm }) => {
        const h = this.needHelper();
        const question = confirm ? null : loggingChangeQuestion(level, this.firewallState.perSourceLogging);
        if (question) throw new ApiError('needs-confirmation', question);
        await h.setLogging(level);
        return this.rules();
      },
      setPerSourceLogging: async ({ installed }) => {
        await this.needHelper().setPerSourceLogging(installed);
        await this.refreshStatus(false);
        this.pushState();
        return this.state();
      },
      runDoctorFix: async ({ fixId, confirm }) => {
        const h = this.needHelper();
        switch (fixId) {
          case 'enable-ufw':
            await this.guardEnable(confirm);
            await h.setEnabled(true);
            break;
          case 'logging-low':
            await h.setLogging('low');
            break;
          case 'install-per-source-logging':
            await h.setPerSourceLogging(true);
            break;
          case 'install-set-block':
            await h.setSetBlock(true);
            break;
          case 'install-forward-block': // helper/forward-check.ts FORWARD_FIX
            await h.setForwardBlock(true);
            break;
          default:
            throw new ApiError('invalid', `unknown fix "${fixId}"`);
        }
        return this.doctor();
      },
    };
  }
}

/** Every API method has a handler (checked at compile time by ApiHandlers; this is for runtime callers). */
export const SERVICE_METHODS = Object.keys(API);
export type { ApiEvent };
