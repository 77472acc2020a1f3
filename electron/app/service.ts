/**
 * PortcullisService: the one object both shells run (the desktop's Electron main, and the server's
 * `portcullis run`/`serve`), served by every transport (Electron IPC, HTTP + WebSocket, the control
 * socket). It owns the settings, the ScanEngine, the store, the log source, the firewall and the
 * helper's other operations, and wires them; this file is its lifecycle and the state that ties the
 * parts together:
 *
 *   source lines → PacketIntake (ingest.ts) → engine → engine events
 *     ban / unban / expiry → BanPipeline (ban-pipeline.ts): store first, then the firewall (an unban
 *     the API asks for: the firewall first, so that a failed one leaves the ban active everywhere)
 *   tick timer → engine.tick (expiry, deferred bans), store flush + retention, end of a pause;
 *     every statusRefreshMs the firewall status, this host's addresses, the DOCKER-USER jumps
 *   API → apiHandlers (api-handlers.ts) over views.ts, rule-safety.ts and the Doctor (doctor.ts)
 *   settings: loaded, applied and reloaded by service-settings.ts; what a change means, here
 *
 * Every dependency is injected (contracts.ts), so the desktop app reaches the firewall through the
 * helper socket while the headless runner calls the helper dispatcher in-process.
 */
import type { ApiEvent, ApiHandlers, DoctorCheck, FirewallState, RulesView, State } from '../shared/api.ts';
import type { BanRecord, EngineEvent, UnbanReason } from '../shared/model.ts';
import type { Settings } from '../shared/settings.ts';
import { errorText } from '../shared/errors.ts';
import { loadBanCap } from '../engine/store/bancap.ts';
import type { EngineLike, HelperOpsPort, ServiceOptions } from './contracts.ts';
import { EventBatcher, type EventListener } from './events.ts';
import type { HostInfo } from './hostinfo.ts';
import { forgedRecordsCheck } from './userns-check.ts';
import { FleetBridge } from './fleet.ts';
import { sourcesDecidedByUser } from './users-rule-owners.ts';
import { prefixesToCount, uncountedPrefixesCheck } from './server-doctor.ts';
import { BanPipeline } from './ban-pipeline.ts';
import { PacketIntake } from './ingest.ts';
import { apiHandlers, type AppCore } from './api-handlers.ts';
import { doctorList, firewallStatusChecks, forwardVariantCheck, helperChecks, lastRecordCheck, logSourceCheck, nflogRulesCheck, storeWritesCheck } from './doctor.ts';
import { FirewallStatus } from './firewall-status.ts';
import { ForwardJumpsWatch } from './forward-jumps.ts';
import { BanCapNotes } from './ban-cap-notes.ts';
import { StoreTrouble } from './store-trouble.ts';
import { storeBusy } from '../engine/store/unavailable.ts';
import { ProtectionPause } from './pause.ts';
import { lastStoreWrites } from './store-stop.ts';
import { ServiceSettings } from './service-settings.ts';
import { alwaysWhitelisted, sourceHealthOf, type ThresholdTestEnv } from './views.ts';

export const VERSION = '0.1.0';
export type { ServiceOptions };

type Protection = 'on' | 'off' | 'paused';
type Level = 'info' | 'warn' | 'error';

/** The tick's test write while the store cannot write (its time; read by nobody). */
const WRITE_CHECK_KEY = 'store.writeCheckedAt';

export class PortcullisService implements AppCore {
  readonly o: ServiceOptions;
  readonly pipeline: BanPipeline;
  private readonly intake: PacketIntake;
  private readonly events: EventBatcher;
  private readonly config: ServiceSettings;
  engine!: EngineLike;
  private readonly fw: FirewallStatus;
  private readonly capNotes: BanCapNotes;
  private readonly storeTrouble: StoreTrouble;
  private readonly forwardJumps: ForwardJumpsWatch;
  private readonly pause: ProtectionPause;
  private host: HostInfo = { addresses: [], interfaces: [], gateways: [] };
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private started = false;
  /** Engine events produced while a handler calls the engine directly (so they are applied once). */
  private captured: EngineEvent[] | null = null;
  /** Unban events the service itself provoked (protection paused): not real unbans. */
  private readonly suppressUnban = new Set<string>();
  private restoring = false;
  private fleet: FleetBridge | null = null;

  constructor(opts: ServiceOptions) {
    this.o = opts;
    this.storeTrouble = new StoreTrouble({ store: opts.store, now: () => opts.clock.now(), say: (level, message) => this.notice(level, message), changed: () => this.pushState() });
    this.config = new ServiceSettings({ repo: opts.settingsRepo, overrides: opts.overrides, onChange: (before, running) => this.onSettingsChange(before, running) });
    this.events = new EventBatcher({ maxPerSec: opts.maxEventsPerSec, now: () => Date.now() });
    this.pipeline = new BanPipeline({
      store: opts.store,
      firewall: opts.firewall,
      otherFirewall: opts.otherFirewall ?? null,
      dryRun: opts.dryRun === true,
      now: () => opts.clock.now(),
      engine: () => this.engine,
      settings: () => this.settings,
      fleet: () => this.fleet,
      events: this.events,
      onBan: opts.onBan,
      onUnban: opts.onUnban,
      endBan: (ip, why) => void this.unbanNow(ip, why),
      notice: (level, message) => this.notice(level, message),
      storeFailed: (e) => this.storeTrouble.failed(e),
      log: (level, message) => this.log(level, message),
    });
    // An API read (or a full batch of packets) must not commit the offender rows ahead of the ban
    // records that wait: the tick writes those first (below), and a read then answers from what is committed.
    opts.store.holdOwnFlushes?.(() => this.pipeline.recordsWaiting > 0);
    this.pause = new ProtectionPause({ store: opts.store, writeInOrder: (write) => this.pipeline.writeInOrder(write), now: () => opts.clock.now() });
    this.fw = new FirewallStatus({
      clock: opts.clock,
      helper: opts.helper,
      readOnlyReason: opts.readOnlyReason,
      onEnabledChange: (enabled) => {
        if (!enabled) this.notice('warn', 'The firewall (ufw) was turned off: bans have no effect');
        this.pushState();
      },
      // A source held off because a rule of the user's decided its traffic may have lost that rule
      // (deleted by hand or in the rule editor): its next scan is tried again now, not only once the
      // refused ban would have ended (hours, days; never for a permanent one).
      onUserRulesChange: () => {
        // Sources whose traffic a rule of the user's decides now (the ufw backend; none with the set
        // backend, whose block comes first): they stay held off.
        const decided = this.o.firewall?.usersRulesDecide && this.fw.rules ? sourcesDecidedByUser(this.fw.rules.rules) : new Set<string>();
        const n = this.pipeline.holdOff.clear(decided);
        if (n) this.log('info', `the firewall's rules changed: ${n} source(s) whose ban it refused for a rule of the user's may be banned again`);
        // A ban whose rule the user replaced (`ufw allow from X` updates our `deny from X` in place)
        // or put a rule of theirs ahead of blocks nothing now: ended, not shown as active.
        this.pipeline.endDecidedByUser(decided);
        this.fleet?.onUserRulesChange(decided);
      },
      log: (level, message) => this.log(level, message),
    });
    this.forwardJumps = new ForwardJumpsWatch({
      helper: opts.helper,
      notice: (level, message) => this.notice(level, message),
      log: (level, message) => this.log(level, message),
    });
    this.capNotes = new BanCapNotes(opts.clock, opts.store, (message) => this.notice('warn', message));
    this.intake = new PacketIntake({
      clock: opts.clock,
      parseLine: opts.parseLine,
      store: opts.store,
      source: opts.source,
      events: this.events,
      engine: () => this.engine,
      recordMode: opts.recordMode,
      storedPerSecond: () => this.settings.logs.maxStoredPacketsPerSecond,
      storeFailed: (e) => this.storeTrouble.failed(e),
    });
  }

  // ------------------------------------------------------------------ lifecycle

  /** Loads settings (refusing invalid ones with the reason), builds the engine, reconciles, starts reading. */
  async start(): Promise<void> {
    this.config.load();
    this.pause.load();

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
        isAllowedPort: this.fw.allowedPorts,
        hostFilter: filter ? { addresses: this.host.addresses, interfaces: this.host.interfaces, macs: this.host.macs ?? {} } : null,
      },
      (e) => this.onEngineEvent(e),
    );
    // Scans of a source whose ban the firewall refused (a rule of the user's) are not banned again
    // before that ban's end; a refusal remembered from the last run counts too.
    this.engine.setBanHoldOff?.((target, time) => this.pipeline.holdOff.holds(target, time));

    const now = this.o.clock.now();
    try {
      // Newest first: only a source whose latest ban was refused (one banned since has lost that rule).
      const seen = new Set<string>();
      for (const b of this.o.store.banHistory(1000)) {
        if (seen.has(b.ip)) continue;
        seen.add(b.ip);
        if (b.ended?.why === 'refused-users-rule' && b.until !== null && b.until > now) this.pipeline.holdOff.hold(b.ip, b.until);
      }
    } catch (e) {
      this.log('warn', `store: ${errorText(e)}`);
    }
    const active = this.o.store.activeBans(now);
    this.restoring = true;
    try {
      this.engine.restore(active, this.o.store.strikes());
    } finally {
      this.restoring = false;
    }
    for (const b of active) this.pipeline.lastBanAt = Math.max(this.pipeline.lastBanAt ?? 0, b.at);
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
    this.pipeline.startReconcile(now);
    if (this.o.fleet) {
      this.fleet = new FleetBridge(this.o.fleet, this.fleetPort(), this.settings);
      this.fleet.start();
    }

    this.started = true;
    if (this.o.source) await this.o.source.start((lines) => this.ingestLines(lines), (packets) => this.intake.ingestPackets(packets));
    this.tickTimer = setInterval(() => void this.tick(), this.o.tickMs ?? 1000);
    this.tickTimer.unref?.();
  }

  async stop(): Promise<void> {
    this.pipeline.stopping = true; // a restore in progress stops after its batch: the next start resumes it
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    if (this.o.source) await this.o.source.stop().catch(() => undefined);
    await this.fleet?.stop();
    await this.idle();
    this.events.close();
    lastStoreWrites({
      store: this.o.store,
      flushRecords: () => this.pipeline.flushRecords(),
      recordsWaiting: () => this.pipeline.recordsWaiting,
      saveCapNotes: () => this.capNotes.save(this.engine),
      log: (level, message) => this.log(level, message),
    });
  }

  /** Waits for pending firewall changes (tests, shutdown). */
  idle(): Promise<void> {
    return this.pipeline.idle();
  }

  onEvents(listener: EventListener): () => void {
    return this.events.subscribe(listener);
  }

  handlers(): ApiHandlers {
    return apiHandlers(this);
  }

  /** One chunk of raw log lines from the source. Never throws: a bad line is a counted reject. */
  ingestLines(lines: string[]): void {
    this.intake.ingestLines(lines);
  }

  /** Makes the firewall agree with the store (reconcile.ts); the start runs it behind log reading. */
  reconcile(now = this.o.clock.now()): ReturnType<BanPipeline['reconcile']> {
    return this.pipeline.reconcile(now);
  }

  // ------------------------------------------------------------------ settings

  /** The running settings (service-settings.ts). */
  get settings(): Settings {
    return this.config.running;
  }

  getSettingsNow(): Settings {
    return this.settings;
  }

  /** A whole new settings object from the API: validated, saved, run (ServiceSettings.apply). */
  applySettings(candidate: unknown): Settings {
    return this.config.apply(candidate);
  }

  /** The settings loaded again from the repo (`systemctl reload`, SIGHUP; ServiceSettings.reload). */
  reloadSettings(refuse?: (s: Settings) => string | null): { ok: true } | { ok: false; error: string } {
    return this.config.reload(refuse);
  }

  /** What a change of the running settings means for the running parts. */
  private onSettingsChange(before: Settings, running: Settings): void {
    this.engine.updateSettings(running);
    void this.fleet?.updateSettings(running);
    const inUse = this.config.backendInUse;
    if (before.ban.backend !== running.ban.backend) {
      // Said against the backend in use: a switch back to it before a restart moves nothing.
      if (running.ban.backend === inUse) this.notice('info', `The ban backend stays "${running.ban.backend}", the one in use: nothing moves at the next start.`);
      else this.notice('warn', `The ban backend changes to "${running.ban.backend}" at the next start, which moves the active bans there; until then they stay in "${inUse}".`);
    }
    // A host that is whitelisted now must not stay banned.
    this.liftWhitelistedBans();
    // The state carries both (protection; the backend after a restart): every window and the tray see the change.
    if (before.protectionEnabled !== running.protectionEnabled || before.ban.backend !== running.ban.backend) this.pushState();
  }

  // ------------------------------------------------------------------ protection and engine events

  protection(): Protection {
    if (!this.settings.protectionEnabled) return 'off';
    if (this.pause.until !== null) return 'paused';
    return 'on';
  }

  /** Pauses protection until `until` (null: resumes): in effect at once, stored in order with the ban records (pause.ts). */
  setPausedUntil(until: number | null): void {
    this.pause.set(until);
  }

  private protecting(): boolean {
    return this.protection() === 'on';
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
        this.pipeline.applyUnban(e.ip, e.time, e.why);
        break;
      case 'ban-deferred':
        // A flood defers thousands: one warning a minute with the counts, not one per ban.
        this.capNotes.deferred(this.engine, this.settings.ban.maxNewBansPerMinute);
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
    void this.pipeline.applyBan(ban);
  }

  /** Runs an engine call and reports the events it produced synchronously. */
  withCapture<T>(fn: () => T): { value: T; events: EngineEvent[] } {
    const prev = this.captured;
    const events: EngineEvent[] = [];
    this.captured = events;
    try {
      return { value: fn(), events };
    } finally {
      this.captured = prev;
    }
  }

  unbanNow(ip: string, why: Exclude<UnbanReason, 'expired'> = 'manual'): boolean {
    const { value, events } = this.withCapture(() => this.engine.unban(ip, this.o.clock.now(), why));
    if (value && !events.some((e) => e.type === 'unban' && e.ip === ip)) this.pipeline.applyUnban(ip, this.o.clock.now(), why);
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

  // ------------------------------------------------------------------ the clock's work

  /** Expiry, deferred bans, store flush and retention, end of a pause, periodic firewall status. */
  async tick(): Promise<void> {
    const now = this.o.clock.now();
    /** The last store write of this tick that failed: said once, not every tick (store-trouble.ts). */
    let storeError: unknown = null;
    /**
     * One of the tick's store writes. Once one found the database locked by another connection, the
     * round's other writes are not tried: each would block the event loop for the busy timeout again
     * (node:sqlite is synchronous), to fail the same way; the next tick tries again.
     */
    const write = (fn: () => unknown): void => {
      if (storeError !== null && storeBusy(storeError)) return;
      try {
        fn();
      } catch (e) {
        storeError = e;
      }
    };
    // While the store cannot write, a write of the tick's own says whether it can again: a round
    // with nothing buffered (a quiet host) writes nothing, and a read-only file system seemed fixed.
    if (this.storeTrouble.error !== null) write(() => this.o.store.setSetting(WRITE_CHECK_KEY, String(now)));
    if (this.pause.ended(now)) this.notice('info', 'Pause over: protection is on again');
    try {
      this.engine.tick(now);
    } catch (e) {
      this.log('error', `engine tick: ${errorText(e)}`);
    }
    this.capNotes.warnDeferred(this.engine, this.settings.ban.maxNewBansPerMinute);
    write(() => this.capNotes.save(this.engine));
    // Ban and unban records that failed wait in memory: the store writes again only once they are
    // written. They go first: a ban's record before its offender row says "banned" (ban-pipeline.ts
    // writes the record ahead of the ban too); the offender rows need no list of their own — the
    // store buffers each address's latest picture (bounded) until a flush succeeds, never throwing.
    write(() => {
      const error = this.pipeline.flushRecords();
      if (error !== null) throw error;
    });
    write(() => {
      this.o.store.flush();
      this.o.store.prune(now, this.settings.logs.retentionDays, this.settings.logs.maxStoredPackets);
    });
    this.storeTrouble.report(storeError);
    // A live dashboard: the state (counts, source health) at most once a tick, coalesced by the batcher.
    if (this.events.listenerCount > 0) this.pushState();
    if (now - this.fw.readAt >= (this.o.statusRefreshMs ?? 30_000)) {
      await this.refreshStatus(false);
      await this.refreshHost();
      // DOCKER-USER loses the forward block's jumps whenever dockerd recreates it or a ufw reload
      // flushes it: put back within one refresh, not at the next start (forward-jumps.ts).
      await this.forwardJumps.check(this.fw.state.forwardBlock === true);
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

  // ------------------------------------------------------------------ the firewall's status

  get firewallState(): FirewallState {
    return this.fw.state;
  }

  get rulesView(): RulesView | null {
    return this.fw.rules;
  }

  refreshStatus(initial: boolean): Promise<void> {
    return this.fw.refresh(initial);
  }

  needHelper(): HelperOpsPort {
    return this.fw.needHelper();
  }

  rules(): Promise<RulesView> {
    return this.fw.read();
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
        if (!out.events.some((e) => e.type === 'ban' && e.ban.ip === out.value.ip)) void this.pipeline.applyBan(out.value);
      },
      together: (decide) => void this.pipeline.applyTogether(decide),
      unban: (ip) => void this.unbanNow(ip),
      unbanTogether: (lift) => void this.pipeline.unbanTogether(lift),
      log: (level, message) => this.log(level, message),
      notice: (level, message) => this.notice(level, message),
    };
  }

  // ------------------------------------------------------------------ views

  state(): State {
    const stats = this.engine.stats();
    const helper = this.o.helper ? { connected: true } : { connected: false, readOnlyReason: this.o.readOnlyReason ?? 'the root helper is not running' };
    return {
      protection: this.protection(),
      pausedUntil: this.protection() === 'paused' ? this.pause.until : null,
      firewall: this.fw.state,
      helper,
      backend: this.config.backendInUse,
      ...(this.settings.ban.backend !== this.config.backendInUse ? { backendAfterRestart: this.settings.ban.backend } : {}),
      counts: {
        blockedPackets: this.safeCount(),
        packetsNotStored: this.safeNotStored(),
        scanners: stats.trackedSources,
        activeBans: stats.activeBans,
        deferredBans: stats.deferredBans,
      },
      source: this.sourceHealth(),
      lastBanAt: this.pipeline.lastBanAt,
      alwaysWhitelisted: alwaysWhitelisted(this.host, this.settings),
      ...(this.fleet ? { fleet: this.fleet.health() } : {}),
      store: this.storeTrouble.health(),
      version: VERSION,
    };
  }

  private sourceHealth() {
    return sourceHealthOf(this.o.source, () => this.intake.foreignRate.perMinute());
  }

  /** Blocked packets over the per-second storage cap: counted, not stored (the store's count, or this run's). */
  private safeNotStored(): number {
    try {
      return this.o.store.packetsNotStored?.() ?? this.intake.packetsNotStored;
    } catch {
      return this.intake.packetsNotStored;
    }
  }

  private safeCount(): number {
    try {
      return this.o.store.packetCount();
    } catch {
      return this.intake.blockedPackets;
    }
  }

  thresholdEnv(): ThresholdTestEnv {
    return { settings: this.settings, clock: this.o.clock, store: this.o.store, createEngine: this.o.createEngine, host: this.host, isAllowedPort: this.fw.allowedPorts };
  }

  /** Every check of the Doctor table this service can run, in the table's order. */
  async doctor(): Promise<DoctorCheck[]> {
    if (this.o.helper) await this.refreshStatus(false);
    const fromHelper = await helperChecks(this.o.helper, this.o.readOnlyReason ?? 'the root helper is not running');
    const src = this.sourceHealth();
    const server = this.o.serverChecks ? await this.o.serverChecks().catch(() => []) : [];
    // The block's variant must be the reading source's (NFLOG for the nflog source): that check replaces the helper's.
    const nflog = nflogRulesCheck(src?.kind ?? null, this.fw.state);
    const forward = forwardVariantCheck(src?.kind ?? null, this.fw.state);
    // The helper's own finding about the forward block (missing jumps, the routed policy) is kept in the replacing check's words.
    const helperForward = fromHelper.find((c) => c.id === 'forward-block');
    const forwardCheck = forward && helperForward && helperForward.level !== 'ok' ? { ...forward, detail: `${forward.detail}; also: ${helperForward.detail}` } : forward;
    const replaced = [...(nflog ? [nflog] : []), ...(forwardCheck ? [forwardCheck] : [])];
    return doctorList(
      [...fromHelper.filter((c) => !replaced.some((r) => r.id === c.id)), ...replaced],
      firewallStatusChecks(this.fw.state, fromHelper, this.o.helper !== null),
      [logSourceCheck(src), lastRecordCheck(src?.lastRecordAt ?? null, this.o.clock.now(), this.settings.notifications.warnWhenSilentSec)],
      [storeWritesCheck(this.storeTrouble.health())],
      [forgedRecordsCheck(this.o.readSysctl)],
      this.fleet?.doctorChecks() ?? [],
      [uncountedPrefixesCheck(this.intake.uncountedPrefixes, this.settings.detection.prefixes)],
      server,
    );
  }

  seenUncountedPrefixes(): string[] {
    return prefixesToCount(this.intake.uncountedPrefixes, this.settings.detection.prefixes);
  }

  pushState(): void {
    if (this.events.listenerCount > 0 && this.started) this.events.push({ type: 'state', state: this.state() });
  }

  private notice(level: Level, message: string): void {
    this.log(level, message);
    this.events.push({ type: 'notice', level, message });
  }

  private log(level: Level, message: string): void {
    this.o.log?.(level, message);
  }
}

export type { ApiEvent };
