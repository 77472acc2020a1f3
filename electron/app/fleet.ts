/**
 * FleetBridge: the one object between PortcullisService and the fleet link (engine/fleet). The
 * service calls it from a few lines (start/stop, each ban and unban, settings, state, doctor); it
 * owns the FleetLink and decides what a fleet decision does here:
 *
 * - it goes through the service's own ban pipeline (store, firewall, events), marked with its origin;
 * - the whitelist and the always-whitelisted addresses win: a fleet ban of this host, its gateway or
 *   a whitelisted address is refused and reported (once per decision);
 * - fleet bans do not count against the new-bans-per-minute cap (they are not this host's
 *   detections) but at most `fleet.maxBans` of them stand at once;
 * - a local ban of the same address wins (the fleet's is applied when the local one ends); one made
 *   while the fleet's bans the address for longer lasts until the fleet's end but pushes only its own
 *   part (`ownUntil`), and past that part it ends at the resync that finds the fleet's decision gone
 *   (or once fleet bans stop applying here: `apply` off, the fleet removed);
 * - fleet bans are never pushed back; only this host's own bans are, and a local unban deletes only
 *   this host's decision;
 * - a fleet ban lifted here by hand, or refused by the firewall here (a rule of the user's own for the
 *   address: 'refused-users-rule'), stays lifted for that decision (the next resync does not bring it back)
 *   — a refused one only until the user's rules change and none of theirs decides the address (onUserRulesChange);
 * - a local ban is pushed once the firewall has taken it (ban-pipeline.ts): a refused one never is.
 *
 * Local protection never waits for or depends on the LAPI: every link failure only shows in health().
 */
import { type CrowdsecSettings, type FleetHealth, type FleetTestResult } from '../shared/fleet.ts';
import type { DoctorCheck } from '../shared/api.ts';
import { doctorCheck } from '../shared/doctor.ts';
import type { BanRecord, UnbanReason } from '../shared/model.ts';
import type { Settings } from '../shared/settings.ts';
import type { FetchLike } from '../engine/fleet/client.ts';
import { FleetLink, machineCredentials, type FleetDecision, type FleetSink } from '../engine/fleet/link.ts';
import { FleetQueue, type Dismissal } from '../engine/fleet/queue.ts';
import { fleetTarget, rangeTooWide } from '../engine/fleet/target.ts';
import { STOP_BUSY_TIMEOUT_MS } from '../engine/store/unavailable.ts';

/** What the runner (or a test) provides for the fleet: how to reach the network and where the queue lives. */
export interface FleetEnv {
  fetch: FetchLike;
  /** SQLite file of the push queue (the store's file), or ':memory:'. */
  queuePath: string;
  version: string;
  /** Full resync period (default 5 min). */
  resyncMs?: number;
  /** Tests: no timers (they drive the link handed to onLink). */
  manual?: boolean;
  onLink?: (link: FleetLink) => void;
}

/** The service as the bridge sees it. */
export interface FleetServicePort {
  now(): number;
  protecting(): boolean;
  isWhitelisted(ip: string): boolean;
  isBanned(ip: string): boolean;
  activeBans(): BanRecord[];
  /** Ban through the service's pipeline (store first, then the firewall), marked with the origin. */
  ban(ip: string, durationSec: number, origin: string, note: string): void;
  /** The bans `decide` makes (through `ban`) go to the firewall as batches of its bulk ban, not one call each. */
  together(decide: () => void): void;
  /** Lift a ban through the service's pipeline. */
  unban(ip: string): void;
  /** The unbans `lift` makes (through `unban`) leave the firewall as batches of its bulk unban, not one call each. */
  unbanTogether(lift: () => void): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** A message for the user (UI toast, runner stderr). */
  notice(level: 'info' | 'warn' | 'error', message: string): void;
}

const OFF_HEALTH: FleetHealth = {
  status: 'off',
  url: null,
  machineId: null,
  share: false,
  apply: false,
  login: { ok: null, error: null },
  pull: { ok: null, error: null, lastAt: null, lastFullAt: null },
  push: { ok: null, error: null, lastAt: null, queued: 0 },
  fleetBans: 0,
  refused: { whitelisted: 0, overLimit: 0, unsupported: 0 },
  lastRefusals: [],
};

export class FleetBridge implements FleetSink {
  private readonly env: FleetEnv;
  private readonly port: FleetServicePort;
  private settings: Settings;
  private queue: FleetQueue | null = null;
  private link: FleetLink | null = null;
  /** Fleet bans applied here: address → the decision. */
  private readonly applied = new Map<string, { origin: string; until: number; id: number }>();
  /**
   * Fleet bans not to apply again: address → the decision, and whether it was lifted by hand or
   * refused by the firewall for a rule of the user's (that one only while the user's rules stay as
   * they were). Kept in the queue's database too, so a restart does not bring them back.
   */
  private readonly dismissed = new Map<string, Dismissal>();
  private readonly reported = new Set<string>();
  private readonly refused = { whitelisted: 0, overLimit: 0, unsupported: 0 };
  private lastRefusals: string[] = [];
  private lifting = false;
  private restarting: Promise<void> = Promise.resolve();

  constructor(env: FleetEnv, port: FleetServicePort, settings: Settings) {
    this.env = env;
    this.port = port;
    this.settings = settings;
  }

  start(): void {
    for (const b of this.port.activeBans()) {
      if (b.reason.origin !== undefined) this.applied.set(b.ip, { origin: b.reason.origin, until: b.until ?? Infinity, id: -1 });
    }
    this.startLink();
  }

  private startLink(): void {
    const cs = this.settings.fleet.crowdsec;
    if (!cs) return;
    try {
      if (!this.queue) {
        this.queue = new FleetQueue(this.env.queuePath);
        for (const [ip, d] of this.queue.dismissals()) this.dismissed.set(ip, d);
      }
    } catch (e) {
      this.port.log('error', `fleet: cannot open the push queue in ${this.env.queuePath}: ${(e as Error).message}`);
      return;
    }
    this.link = new FleetLink({
      settings: cs,
      queue: this.queue,
      fetch: this.env.fetch,
      now: () => this.port.now(),
      version: this.env.version,
      sink: this,
      log: (l, m) => this.port.log(l, m),
      ...(this.env.resyncMs !== undefined ? { resyncMs: this.env.resyncMs } : {}),
      ...(this.env.manual ? { manual: true } : {}),
      maxDecisions: () => this.settings.fleet.maxBans,
    });
    this.link.start();
    this.env.onLink?.(this.link);
    this.port.log('info', `fleet: linked to the CrowdSec LAPI at ${cs.url}${this.link.origin ? ` as ${this.link.origin}` : ''} (share ${cs.share}, apply ${cs.apply})`);
  }

  async stop(): Promise<void> {
    await this.link?.stop();
    this.link = null;
    // The queue's changes that wait (dismissals, bans to share, unbans) wait for a lock at the stop as
    // long as the store's last writes do, which follow: the unban's record is no more history than its dismissal.
    const lost = this.queue?.close(STOP_BUSY_TIMEOUT_MS) ?? 0;
    if (lost > 0) this.port.log('error', `fleet: ${lost} changes of the push queue (bans to share, unbans, dismissals) could not be written before the stop: the LAPI does not hear of them`);
    this.queue = null;
  }

  /** New settings: the link restarts when its own settings changed; fleet bans of now-unwanted origins go at the next resync. */
  updateSettings(next: Settings): Promise<void> {
    const before = JSON.stringify(this.settings.fleet.crowdsec);
    this.settings = next;
    if (JSON.stringify(next.fleet.crowdsec) === before) return this.restarting;
    // One restart at a time: two quick saves must not leave two links running.
    this.restarting = this.restarting.then(async () => {
      await this.link?.stop();
      this.link = null;
      const cs = this.settings.fleet.crowdsec;
      if (!cs || !cs.apply) {
        this.removeMany([...this.applied.keys()]);
        // Local bans past their own part stand only for a fleet decision: none is applied now, and no
        // resync will run to find it gone (liftOutlived).
        this.liftOutlived(new Set());
      }
      this.startLink();
    });
    return this.restarting;
  }

  // ------------------------------------------------------------------ local bans → the fleet

  /**
   * A local ban was decided: from now on the address is this host's (the fleet's ban is applied when
   * it ends) — at the decision, not once the firewall has answered (onBan): a fleet decision deleted
   * meanwhile must not lift the local ban as if it were the fleet's.
   */
  onLocalBanDecided(ban: BanRecord): void {
    if (ban.reason.origin === undefined) this.applied.delete(ban.ip);
  }

  /**
   * A local ban the firewall took (or failed transiently): pushed. Its take-over was recorded at the
   * decision (onLocalBanDecided). Only this host's own part: a fleet decision that holds the address
   * longer (`ownUntil`) is another host's, and pushed as ours it stood at the LAPI as this host's ban.
   */
  onBan(ban: BanRecord): void {
    if (ban.reason.origin !== undefined) return; // a fleet ban: never pushed back
    this.link?.enqueueBan({ ip: ban.ip, until: ban.reason.ownUntil ?? ban.until, ports: ban.reason.ports, hits: ban.reason.hits, kind: ban.reason.kind, ...(ban.reason.scanType ? { scanType: ban.reason.scanType } : {}) });
  }

  onUnban(ip: string, why: UnbanReason): void {
    const fleetBan = this.applied.get(ip);
    if (fleetBan) {
      this.applied.delete(ip);
      // Lifted by hand, or refused by the firewall here (a rule of the user's own for it): that
      // decision is not applied again at the next resync, which would only be refused again.
      if (!this.lifting && (why === 'manual' || why === 'refused-users-rule')) this.dismiss(ip, { id: fleetBan.id, origin: fleetBan.origin, refused: why === 'refused-users-rule' });
      return;
    }
    if (this.lifting) return;
    // This host's own ban ended. Lifted by hand, because the address is whitelisted here now, or
    // refused by the firewall (never pushed, but an earlier run may have): delete our decision (an
    // expired one expires at the LAPI too).
    if (why !== 'expired') this.link?.enqueueUnban(ip);
    // The fleet may still want it banned — unless the firewall refuses it here: it would be refused again.
    if (why === 'refused-users-rule') return;
    const remote = this.link?.remoteFor(ip);
    if (remote) queueMicrotask(() => this.upsert(remote));
    // The stream showed this host's decision for it, the longest: another host's may stand behind it.
    else if (this.link?.showsOwn(ip)) void this.link.lookupRemote(ip).then((d) => d && this.upsert(d));
  }

  /**
   * The user's firewall rules changed (firewall-status.ts): the rule that made the firewall refuse a
   * fleet ban may be gone, so those decisions are applied again now rather than never — but not
   * for `decidedByUser`, the sources a rule of the user's still decides (it would be refused again).
   * Bans lifted by hand stay lifted.
   */
  onUserRulesChange(decidedByUser: ReadonlySet<string>): void {
    for (const [ip, why] of [...this.dismissed]) {
      if (!why.refused || decidedByUser.has(ip)) continue;
      this.undismiss(ip);
      const remote = this.link?.remoteFor(ip);
      if (remote) this.upsert(remote);
    }
  }

  /** Bounded like the fleet bans (the oldest dismissal goes first), and kept across restarts. */
  private dismiss(ip: string, d: Dismissal): void {
    const max = this.settings.fleet.maxBans;
    this.dismissed.delete(ip);
    while (this.dismissed.size >= max && this.dismissed.size > 0) this.dismissed.delete(this.dismissed.keys().next().value!);
    this.dismissed.set(ip, d);
    const q = this.queue;
    q?.change(() => q.dismiss(ip, d, max)); // in order with the queue's other changes (queue.ts)
  }

  private undismiss(ip: string): void {
    const q = this.queue;
    if (this.dismissed.delete(ip)) q?.change(() => q.undismiss(ip));
  }

  /**
   * Whether `d` is the decision lifted here. One restored from the store before any pull named it
   * (id -1) is known by its origin, and pinned to the first decision of that origin seen. Another
   * decision for the address means the lifted one is gone or outlasted: the dismissal is forgotten.
   */
  private isDismissed(ip: string, d: FleetDecision): boolean {
    const dis = this.dismissed.get(ip);
    if (!dis) return false;
    if (dis.id === d.id) return true;
    if (dis.id === -1 && dis.origin === d.origin) {
      this.dismiss(ip, { ...dis, id: d.id });
      return true;
    }
    this.undismiss(ip);
    return false;
  }

  // ------------------------------------------------------------------ the fleet → this host (FleetSink)

  upsert(d: FleetDecision): void {
    const cs = this.settings.fleet.crowdsec;
    if (!cs?.apply) return;
    const ip = fleetTarget(d.scope, d.value);
    if (ip === null) {
      this.refuse('unsupported', `${d.value}`, d, `${d.scope} decisions are not applied (addresses and ranges only)`);
      return;
    }
    const wide = rangeTooWide(ip);
    if (wide) {
      this.refuse('unsupported', ip, d, wide);
      return;
    }
    // Paused or off: nothing is banned; the next resync applies what still stands.
    if (!this.port.protecting()) return;
    if (this.port.isWhitelisted(ip)) {
      this.refuse('whitelisted', ip, d, 'whitelisted here (this host, its gateway, loopback or a whitelist entry)');
      return;
    }
    if (this.isDismissed(ip, d)) return;
    const cur = this.applied.get(ip);
    if (!cur && this.port.isBanned(ip)) return; // this host's own ban stands
    if (cur && cur.origin === d.origin && Math.abs(cur.until - d.until) < 5000) {
      cur.id = d.id;
      return;
    }
    // A decision the link could not check against the one applied (its memory is full): the applied
    // one may still stand, and a shorter one would cut its ban short — so the later end holds.
    if (cur && d.unchecked && cur.id !== d.id && cur.until > d.until) return;
    if (!cur && this.applied.size >= this.settings.fleet.maxBans) {
      this.refuse('overLimit', ip, d, `fleet.maxBans (${this.settings.fleet.maxBans}) fleet bans already stand`);
      return;
    }
    const durationSec = (d.until - this.port.now()) / 1000;
    if (!(durationSec > 0)) return;
    this.applied.set(ip, { origin: d.origin, until: d.until, id: d.id });
    try {
      this.port.ban(ip, durationSec, d.origin, d.scenario ? `fleet: ${d.scenario}` : 'fleet');
    } catch (e) {
      this.applied.delete(ip);
      this.port.log('warn', `fleet: cannot apply the ban of ${ip} from ${d.origin}: ${(e as Error).message}`);
    }
  }

  /** The decisions of one pull: applied together (one firewall batch, not one `ufw prepend` each). */
  upsertMany(ds: readonly FleetDecision[]): void {
    if (ds.length === 0) return;
    this.port.together(() => {
      for (const d of ds) this.upsert(d);
    });
  }

  private remove(value: string): void {
    const ip = fleetTarget(value.includes('/') ? 'range' : 'ip', value);
    if (ip === null || !this.applied.has(ip)) return;
    this.lifting = true;
    try {
      this.port.unban(ip);
    } finally {
      this.lifting = false;
      this.applied.delete(ip);
    }
  }

  /**
   * Fleet bans lifted together (a resync's or a delta's decisions found gone): one firewall batch, not
   * one `ufw delete` each. Each as `remove` decides: only a fleet ban applied here (a local ban of the
   * address stays), and never a dismissal (the decision is gone, not lifted by hand).
   */
  removeMany(values: readonly string[]): void {
    if (values.length === 0) return;
    this.port.unbanTogether(() => {
      for (const v of values) this.remove(v);
    });
  }

  replaceAll(all: FleetDecision[]): void {
    const wanted = new Set(all.map((d) => fleetTarget(d.scope, d.value) ?? d.value));
    this.removeMany([...this.applied.keys()].filter((ip) => !wanted.has(ip)));
    this.liftOutlived(wanted);
    // A dismissal lasts as long as its decision: gone at the LAPI, forgotten here.
    for (const ip of [...this.dismissed.keys()]) if (!wanted.has(ip)) this.undismiss(ip);
    this.upsertMany(all);
  }

  /**
   * Local bans that outlived their own part (`ownUntil`: a short ban of an address the fleet banned
   * for longer) stand only for the fleet's decision: once no decision for the address stands (the
   * full picture, `wanted`), they are lifted, as the fleet ban they stand for would be. Not pushed
   * as an unban: this host's own decision ended at the LAPI with its part.
   */
  private liftOutlived(wanted: ReadonlySet<string>): void {
    const now = this.port.now();
    const ips = this.port
      .activeBans()
      .filter((b) => b.reason.origin === undefined && b.reason.ownUntil !== undefined && b.reason.ownUntil <= now && !wanted.has(b.ip))
      .map((b) => b.ip);
    if (ips.length === 0) return;
    this.port.unbanTogether(() => {
      this.lifting = true;
      try {
        for (const ip of ips) this.port.unban(ip);
      } finally {
        this.lifting = false;
      }
    });
  }

  private refuse(kind: 'whitelisted' | 'overLimit' | 'unsupported', what: string, d: FleetDecision, why: string): void {
    const key = `${kind}|${what}|${d.id}`;
    if (this.reported.has(key)) return;
    if (this.reported.size > 10_000) this.reported.clear();
    this.reported.add(key);
    this.refused[kind]++;
    const line = `${what} from ${d.origin}: ${why}`;
    this.lastRefusals = [line, ...this.lastRefusals].slice(0, 10);
    if (kind === 'whitelisted') this.port.notice('warn', `Fleet ban refused: ${line}`);
    else this.port.log('warn', `fleet: not applied: ${line}`);
  }

  // ------------------------------------------------------------------ views

  health(): FleetHealth {
    if (!this.link) {
      const cs = this.settings.fleet.crowdsec;
      return cs ? { ...OFF_HEALTH, status: 'error', url: cs.url, share: cs.share, apply: cs.apply, pull: { ...OFF_HEALTH.pull, error: 'the fleet link did not start (see the log)' } } : OFF_HEALTH;
    }
    return { ...this.link.health(), fleetBans: this.applied.size, refused: { ...this.refused }, lastRefusals: [...this.lastRefusals] };
  }

  doctorChecks(): DoctorCheck[] {
    const h = this.health();
    if (h.status === 'off') return [];
    const checks: DoctorCheck[] = [];
    const ago = (t: number | null) => (t === null ? 'never' : `${Math.max(0, Math.round((this.port.now() - t) / 1000))} s ago`);
    if (h.apply) {
      checks.push(
        h.pull.ok === true
          ? doctorCheck('fleet-pull', 'ok', `${h.url}: bouncer key valid, last pull ${ago(h.pull.lastAt)}, ${h.fleetBans} fleet bans applied`)
          : doctorCheck('fleet-pull', h.pull.ok === null ? 'warn' : 'error', `${h.url}: ${h.pull.error ?? 'no pull yet'} (last successful pull ${ago(h.pull.lastAt)}; local protection is not affected)`),
      );
    }
    if (h.share) {
      const queued = `${h.push.queued} ban change${h.push.queued === 1 ? '' : 's'} queued`;
      const bad = h.login.ok === false || h.push.ok === false;
      checks.push(
        bad
          ? doctorCheck('fleet-push', 'error', `${h.login.error ?? h.push.error ?? 'push failed'}; ${queued} (kept until the LAPI takes them)`)
          : doctorCheck('fleet-push', h.login.ok === true || h.push.ok === true ? 'ok' : 'warn', `${h.login.ok === true ? `logged in as ${h.machineId}` : 'not logged in yet'}; ${queued}; last push ${ago(h.push.lastAt)}`),
      );
    }
    return checks;
  }
}

/** "Test connection": reachability, the machine login and the bouncer key, without changing anything. */
export async function testFleetConnection(cs: CrowdsecSettings, env: Pick<FleetEnv, 'fetch' | 'version'>, now: () => number): Promise<FleetTestResult> {
  const checks: FleetTestResult['checks'] = [];
  const cred = machineCredentials(cs);
  const { LapiClient } = await import('../engine/fleet/client.ts');
  const client = new LapiClient({ url: cs.url, machineId: cred.machineId, password: cred.password, bouncerKey: cs.bouncerKey, userAgent: `portcullis/${env.version}`, fetch: env.fetch, now });
  try {
    await client.checkBouncerKey();
    checks.push({ what: 'bouncer key', ok: true, detail: `${cs.url} answers and accepts the bouncer key` });
  } catch (e) {
    checks.push({ what: 'bouncer key', ok: false, detail: (e as Error).message });
  }
  if (cred.error) checks.push({ what: 'machine login', ok: false, detail: cred.error });
  else if (client.canWatch) {
    try {
      await client.login();
      checks.push({ what: 'machine login', ok: true, detail: `logged in as ${cred.machineId}` });
    } catch (e) {
      checks.push({ what: 'machine login', ok: false, detail: (e as Error).message });
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}

