/**
 * FleetLink: this host's link to a CrowdSec LAPI. Two loops, each independent of local protection
 * (a LAPI that is down, refuses the credentials or answers garbage only shows in `health()`):
 *
 * - push: drains the durable FleetQueue in order — batches of consecutive "push" items as one
 *   POST /v1/alerts, a "delete" as DELETE /v1/decisions/{id} of exactly this host's decisions: on an
 *   unban those of every alert it pushed for the address and any other of its origin the LAPI lists
 *   for it; after a ban pushed again (an extension, a re-ban) only those of the alerts pushed before
 *   it, named when it was pushed — never those of a ban pushed later (DeleteBody; one send and what
 *   its answer writes: push-send.ts).
 *   Transient failures (down, a proxy's 502/503/504, 500 "database is locked", a reply that is no
 *   LAPI answer) retry with exponential backoff forever, counted against nothing. A batch the LAPI
 *   refuses otherwise is sent again one item at a time, and an item it keeps refusing — with a
 *   validation error, or with another error while others of its batch went through — is dropped
 *   after MAX_REFUSALS tries and reported, so one bad item cannot block the queue (`failure`).
 * - pull: the bouncer stream. startup=true at start, after any failure, every RESYNC_MS, and shortly
 *   after a busy delta (the delta stream loses decisions under load; startup=true recovers them);
 *   deltas every pullIntervalMs in between. State is keyed by value (address or range), so repeats
 *   (deletions repeat for ~2 s) and reorderings are harmless. A deletion is checked against
 *   GET /v1/decisions?ip= because the stream keeps one decision per value: another host's may still
 *   stand. Decisions whose origin is this host's own, or not in `origins`, are never applied.
 *
 * What the fleet wants banned goes to a FleetSink (the service's bridge), which owns the ban
 * pipeline: whitelist, maxBans, firewall.
 */
import { originMatches, ownOrigin, type CrowdsecSettings, type FleetHealth } from '../../shared/fleet.ts';
import { machineCredentials } from './credentials.ts';
import { LapiClient, LapiError, sendFailure as failure, type FetchLike } from './client.ts';
import { parseGoDuration, type Decision, type PushedBan } from './lapi.ts';
import { PushSender } from './push-send.ts';
import { FleetQueue } from './queue.ts';
import { errorText } from '../../shared/errors.ts';
import { MAX_BAN_DURATION_SEC } from '../../shared/model.ts';

// Where they were before credentials.ts: the bridge and the tests import them from the link.
export { CREDENTIALS_MAX_BYTES, machineCredentials, readCredentialsFile } from './credentials.ts';

export interface FleetDecision {
  value: string;
  scope: string;
  origin: string;
  scenario: string;
  id: number;
  /** Local time the decision ends (now + its remaining duration: immune to clock skew between hosts). */
  until: number;
  /**
   * The link cannot say no longer decision stands for the value: it remembers fleet.maxBans values,
   * not this one. Otherwise a decision handed on is the one that stands (a shorter one only once the
   * longer one is gone), which may end a fleet ban earlier; this one must not cut one short.
   */
  unchecked?: true;
}

export interface FleetSink {
  upsert(d: FleetDecision): void;
  /** The new decisions of one pull, applied together. */
  upsertMany(ds: readonly FleetDecision[]): void;
  /** The values whose decisions a delta found gone (no other host's stands for them), lifted together. */
  removeMany(values: readonly string[]): void;
  /** The whole picture after a startup=true pull: what is not in `all` is lifted. */
  replaceAll(all: FleetDecision[]): void;
}

export interface FleetLinkOptions {
  settings: CrowdsecSettings;
  queue: FleetQueue;
  fetch: FetchLike;
  now: () => number;
  version: string;
  sink: FleetSink;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Full resync period (default 5 min). */
  resyncMs?: number;
  /** Timers off: tests drive pullOnce/pumpOnce. */
  manual?: boolean;
  /** At most this many fleet decisions remembered (fleet.maxBans); unbounded unless given. */
  maxDecisions?: () => number;
}

const BATCH = 50;
const MAX_REFUSALS = 8;
const BACKOFF_MAX_MS = 10_000;
const RESYNC_MS = 5 * 60_000;
/** A delta with at least this many changes was a burst: resync shortly after it. */
const BURST = 10;
const BURST_RESYNC_MS = 3000;
/** Fleet decisions last at most this long here (a far larger duration from the LAPI is clamped): the bound of every ban. */
export const MAX_FLEET_BAN_MS = MAX_BAN_DURATION_SEC * 1000;

export class FleetLink {
  private readonly o: FleetLinkOptions;
  readonly client: LapiClient;
  readonly origin: string | null;
  private readonly credError: string | null;
  private running = false;
  private pullTimer: ReturnType<typeof setTimeout> | null = null;
  private pushTimer: ReturnType<typeof setTimeout> | null = null;
  private pumping: Promise<void> | null = null;
  private readonly inFlight = new Set<number>();
  private readonly sender: PushSender;
  private pushFailures = 0;
  private readonly refusals = new Map<number, number>();
  /** After a batch was refused: queue items up to this id are pushed one at a time. */
  private oneByOneThrough: number | null = null;
  /** One of those went through: the LAPI works, so a failure of another is that item's. */
  private oneByOneSent = false;
  private pullFailures = 0;
  /** Stream items skipped as malformed since the start. */
  private skippedItems = 0;
  private needFull = true;
  private lastFullAt = -Infinity;
  private burstResyncAt: number | null = null;
  /** The decision applied per value (best allowed one), as last seen. */
  private readonly remote = new Map<string, FleetDecision>();
  /**
   * Values the stream last showed with a decision of this host's own. The stream keeps one decision
   * per value, the longest: behind ours another host's may stand unseen (lookupRemote).
   */
  private readonly ownShown = new Set<string>();
  private readonly h = {
    login: { ok: null as boolean | null, error: null as string | null },
    pull: { ok: null as boolean | null, error: null as string | null, lastAt: null as number | null, lastFullAt: null as number | null },
    push: { ok: null as boolean | null, error: null as string | null, lastAt: null as number | null },
  };

  constructor(opts: FleetLinkOptions) {
    this.o = opts;
    const cred = machineCredentials(opts.settings);
    this.credError = cred.error;
    if (cred.error) this.h.login = { ok: false, error: cred.error };
    this.origin = cred.machineId ? ownOrigin(cred.machineId) : null;
    this.client = new LapiClient({
      url: opts.settings.url,
      machineId: cred.machineId,
      password: cred.password,
      bouncerKey: opts.settings.bouncerKey,
      userAgent: `portcullis/${opts.version}`,
      fetch: opts.fetch,
      now: opts.now,
    });
    this.sender = new PushSender({ client: this.client, queue: opts.queue, origin: this.origin, credError: this.credError, now: opts.now, log: (l, m) => this.log(l, m) });
  }

  start(): void {
    this.running = true;
    if (this.o.manual) return;
    this.schedulePull(0);
    this.kickPush(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.pullTimer) clearTimeout(this.pullTimer);
    if (this.pushTimer) clearTimeout(this.pushTimer);
    this.pullTimer = this.pushTimer = null;
    await this.pumping?.catch(() => undefined);
  }

  // ------------------------------------------------------------------ push

  /** A local ban to share (only this host's own bans come here: never a fleet ban). */
  enqueueBan(ban: PushedBan): void {
    if (!this.o.settings.share) return;
    this.o.queue.change(() => this.o.queue.add('push', ban.ip, ban));
    this.kickPush(0);
  }

  /** A local ban lifted by hand: delete this host's decision for it (or never push it at all). */
  enqueueUnban(ip: string): void {
    if (!this.o.settings.share) return;
    // Nothing to delete only if that push was the address's one and only: an earlier push of it
    // (sent, or still queued) left a decision of this host's at the LAPI.
    this.o.queue.change(() => {
      if (this.o.queue.dropPendingPush(ip, this.inFlight) && !this.o.queue.has(ip) && this.o.queue.alertsOf(ip).length === 0) return;
      this.o.queue.add('delete', ip, {});
    });
    this.kickPush(0);
  }

  private kickPush(delayMs: number): void {
    if (!this.running || this.o.manual || this.pushTimer || this.pumping) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = null;
      void this.pumpAll();
    }, delayMs);
    this.pushTimer.unref?.();
  }

  private async pumpAll(): Promise<void> {
    if (this.pumping) return;
    const run = (async () => {
      while (this.running) {
        const r = await this.pumpOnce();
        if (r === 'empty') return;
        if (r === 'failed') {
          this.pumping = null;
          this.kickPush(Math.min(BACKOFF_MAX_MS, 250 * 2 ** Math.min(this.pushFailures, 10)));
          return;
        }
      }
    })();
    this.pumping = run;
    try {
      await run;
    } finally {
      if (this.pumping === run) this.pumping = null;
    }
  }

  /**
   * Sends the head of the queue (one batch of pushes, or one delete). Never throws: pumpAll runs
   * from a timer (`void`), where a rejection would end the service; an error no step expected (a
   * queue write refused for what it is: a bug) is a failed round, tried again after the backoff.
   */
  async pumpOnce(): Promise<'empty' | 'sent' | 'failed'> {
    try {
      return await this.pumpStep();
    } catch (e) {
      this.pushFailures++;
      const msg = errorText(e);
      this.h.push = { ...this.h.push, ok: false, error: msg };
      this.log('error', `fleet push: ${msg}`);
      return 'failed';
    }
  }

  private async pumpStep(): Promise<'empty' | 'sent' | 'failed'> {
    const items = this.o.queue.head(BATCH);
    if (items.length === 0) return this.o.queue.blockedBy === null ? 'empty' : this.queueBlocked(this.o.queue.blockedBy);
    const first = items[0]!;
    if (this.oneByOneThrough !== null && first.id > this.oneByOneThrough) {
      this.oneByOneThrough = null;
      this.oneByOneSent = false;
    }
    const pushes = items.slice(0, (items.findIndex((i) => i.kind !== 'push') + 1 || items.length + 1) - 1);
    const batch = first.kind === 'push' && this.oneByOneThrough === null ? pushes : [first];
    for (const i of batch) this.inFlight.add(i.id);
    try {
      const written = first.kind === 'push' ? await this.sender.pushes(batch) : await this.sender.delete(first);
      this.o.queue.acknowledged(batch.map((i) => i.id), written);
      if (this.oneByOneThrough !== null) this.oneByOneSent = true;
      this.pushFailures = 0;
      this.h.push = { ok: true, error: null, lastAt: this.o.now() };
      if (first.kind === 'push' && this.h.login.ok !== true) this.h.login = { ok: true, error: null };
      return 'sent';
    } catch (e) {
      this.pushFailures++;
      const msg = errorText(e);
      if (first.kind === 'push' && e instanceof LapiError && e.kind === 'unreachable' && !/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(e.message)) this.sender.uncertain = true;
      this.h.push = { ...this.h.push, ok: false, error: msg };
      if (e instanceof LapiError && e.kind === 'auth') this.h.login = { ok: false, error: msg };
      const how = failure(e);
      if (how !== 'transient' && batch.length > 1) {
        // The LAPI refuses a batch as a whole for one bad alert: its items go one by one, so the one
        // refused is found and dropped (below) and the others are shared.
        this.oneByOneThrough = batch[batch.length - 1]!.id;
        this.oneByOneSent = false;
        this.log('warn', `fleet push: a batch of ${batch.length} refused (${msg}): sending them one by one`);
      } else if (how === 'refused' || (how === 'unknown' && this.oneByOneThrough !== null && this.oneByOneSent)) {
        // Refused for what it is (the LAPI works: it said why, or took others of its batch): counted,
        // and the item dropped after a few.
        const n = (this.refusals.get(first.id) ?? 0) + 1;
        this.refusals.set(first.id, n);
        if (n >= MAX_REFUSALS) {
          // A change: the database may be locked by now (it waits, in order, and nothing is sent meanwhile).
          this.o.queue.change(() => this.o.queue.remove([first.id]));
          this.refusals.delete(first.id);
          this.log('error', `fleet: dropped "${first.kind} ${first.ip}" after ${n} refusals: ${msg}`);
        }
      }
      if (this.pushFailures === 1 || this.pushFailures % 20 === 0) this.log('warn', `fleet push: ${msg} (will retry; nothing is lost)`);
      return 'failed';
    } finally {
      for (const i of batch) this.inFlight.delete(i.id);
    }
  }

  /** The queue's database cannot be written now (another process holds its lock): nothing is sent (queue.ts head); tried again after the backoff. */
  private queueBlocked(e: unknown): 'failed' {
    this.pushFailures++;
    const msg = `the push queue cannot be written: ${errorText(e)}`;
    this.h.push = { ...this.h.push, ok: false, error: msg };
    if (this.pushFailures === 1 || this.pushFailures % 20 === 0) this.log('warn', `fleet push: ${msg} (will retry; nothing is lost)`);
    return 'failed';
  }

  // ------------------------------------------------------------------ pull

  private schedulePull(delayMs: number): void {
    if (!this.running || this.o.manual) return;
    this.pullTimer = setTimeout(() => {
      this.pullTimer = null;
      void this.pullOnce().finally(() => {
        const interval = this.o.settings.pullIntervalMs;
        const backoff = this.pullFailures === 0 ? interval : Math.min(BACKOFF_MAX_MS, Math.max(interval, 500 * 2 ** Math.min(this.pullFailures, 5)));
        this.schedulePull(backoff);
      });
    }, delayMs);
    this.pullTimer.unref?.();
  }

  /** One pull: the full picture when due, else the delta. */
  async pullOnce(): Promise<'full' | 'delta' | 'failed'> {
    if (!this.o.settings.apply) return 'delta';
    const now = this.o.now();
    const full =
      this.needFull ||
      now - this.lastFullAt >= (this.o.resyncMs ?? RESYNC_MS) ||
      now < this.lastFullAt ||
      (this.burstResyncAt !== null && now >= this.burstResyncAt);
    try {
      const reply = await this.client.stream(full);
      if (reply.skipped > 0) {
        this.skippedItems += reply.skipped;
        this.log('warn', `fleet pull: ${reply.skipped} malformed decision${reply.skipped === 1 ? '' : 's'} skipped (${this.skippedItems} since the start)`);
      }
      if (full) {
        this.applyFull(reply.new ?? []);
        this.lastFullAt = now;
        this.needFull = false;
        this.burstResyncAt = null;
        this.h.pull.lastFullAt = now;
      } else {
        const changes = (reply.new?.length ?? 0) + (reply.deleted?.length ?? 0);
        await this.applyDelta(reply.new ?? [], reply.deleted ?? []);
        if (changes >= BURST) this.burstResyncAt = now + BURST_RESYNC_MS;
      }
      if (this.pullFailures > 0) this.log('info', 'fleet: the LAPI answers again');
      // The watcher credentials are checked even while there is nothing to push (the Doctor shows them).
      if (full && this.h.login.ok !== true && this.client.canWatch && this.o.settings.share && !this.credError) await this.checkLogin();
      this.pullFailures = 0;
      this.h.pull = { ok: true, error: null, lastAt: now, lastFullAt: this.h.pull.lastFullAt };
      return full ? 'full' : 'delta';
    } catch (e) {
      this.pullFailures++;
      // What happened while we could not pull is unknown: the next success takes the whole picture.
      this.needFull = true;
      const msg = errorText(e);
      this.h.pull = { ...this.h.pull, ok: false, error: msg };
      if (this.pullFailures === 1 || this.pullFailures % 60 === 0) this.log('warn', `fleet pull: ${msg}`);
      return 'failed';
    }
  }

  private async checkLogin(): Promise<void> {
    try {
      await this.client.login();
      this.h.login = { ok: true, error: null };
    } catch (e) {
      this.h.login = { ok: false, error: errorText(e) };
    }
  }

  /** A decision this host applies: a ban, still running, from an allowed origin that is not this host. */
  private usable(d: Decision, now: number): FleetDecision | null {
    if (d.type !== 'ban' || d.simulated === true) return null;
    if (this.origin !== null && d.origin === this.origin) return null;
    if (!originMatches(d.origin, this.o.settings.origins)) return null;
    const ms = parseGoDuration(d.duration);
    if (ms === null || ms <= 0) return null;
    return { value: d.value, scope: d.scope, origin: d.origin, scenario: d.scenario, id: d.id, until: now + Math.min(ms, MAX_FLEET_BAN_MS) };
  }

  private best(ds: readonly Decision[], now: number): Map<string, FleetDecision> {
    const out = new Map<string, FleetDecision>();
    for (const d of ds) {
      const u = this.usable(d, now);
      if (!u) continue;
      const cur = out.get(u.value);
      if (!cur || u.until > cur.until) out.set(u.value, u);
    }
    return out;
  }

  private remoteFull(): boolean {
    return this.remote.size >= (this.o.maxDecisions?.() ?? Infinity);
  }

  /** Remembers a fleet decision unless maxBans of them are remembered already (a LAPI with millions cannot fill memory). */
  private remember(v: string, d: FleetDecision): void {
    if (this.remote.has(v) || !this.remoteFull()) this.remote.set(v, d);
  }

  /** Notes the values the stream shows with this host's own decision (bounded like `remote`). */
  private noteOwn(ds: readonly Decision[]): void {
    if (this.origin === null) return;
    for (const d of ds) if (d.origin === this.origin && this.ownShown.size < (this.o.maxDecisions?.() ?? Infinity)) this.ownShown.add(d.value);
  }

  private applyFull(ds: readonly Decision[]): void {
    const next = this.best(ds, this.o.now());
    this.ownShown.clear();
    this.noteOwn(ds);
    this.remote.clear();
    for (const [v, d] of next) this.remember(v, d);
    this.o.sink.replaceAll([...next.values()]);
  }

  private async applyDelta(added: readonly Decision[], deleted: readonly Decision[]): Promise<void> {
    const now = this.o.now();
    // The values found gone are lifted together once every deletion is looked at (one firewall batch:
    // with the ufw backend one `ufw delete` each was 0.3–1.4 s), before the new decisions are applied.
    const gone = new Set<string>();
    for (const d of deleted) {
      const cur = this.remote.get(d.value);
      // Not remembered: ignored, unless the map is full (then it may be applied here all the same).
      if (cur ? cur.id !== d.id && cur.origin !== d.origin : !this.remoteFull()) continue;
      // The stream keeps one decision per value: another host's may still stand for this address.
      let still: FleetDecision | null = null;
      try {
        still = this.best(await this.client.decisionsFor(d.value), now).get(d.value) ?? null;
      } catch {
        still = null; // the next full resync corrects it
      }
      if (still) {
        gone.delete(d.value); // found gone by an earlier deletion of this delta: it stands after all
        this.remember(d.value, still);
        this.o.sink.upsert(still);
      } else {
        this.remote.delete(d.value);
        gone.add(d.value);
      }
    }
    // Not one remembered again meanwhile (lookupRemote applied another host's decision during our awaits).
    const lift = [...gone].filter((v) => !this.remote.has(v));
    if (lift.length) this.o.sink.removeMany(lift);
    this.noteOwn(added);
    const apply: FleetDecision[] = [];
    for (const [v, d] of this.best(added, now)) {
      const cur = this.remote.get(v);
      if (cur && cur.id === d.id && Math.abs(cur.until - d.until) < 5000) continue;
      if (cur && cur.until > d.until && cur.id !== d.id) continue;
      this.remember(v, d);
      apply.push(this.remote.has(v) ? d : { ...d, unchecked: true });
    }
    this.o.sink.upsertMany(apply);
  }

  /** The fleet's decision for a value, if one stands (applied when a local ban of it ends). */
  remoteFor(value: string): FleetDecision | null {
    const d = this.remote.get(value);
    return d && d.until > this.o.now() ? d : null;
  }

  /** Whether the stream showed this host's own decision for the value, which may hide another host's. */
  showsOwn(value: string): boolean {
    return this.ownShown.has(value);
  }

  /**
   * Another host's decision for a value the stream showed with this host's own (GET /v1/decisions
   * lists every decision, not one per value): remembered and returned; null when there is none or
   * the LAPI does not answer (the next full resync corrects it then).
   */
  async lookupRemote(value: string): Promise<FleetDecision | null> {
    if (!this.o.settings.apply) return null;
    let found: FleetDecision | null;
    try {
      found = this.best(await this.client.decisionsFor(value), this.o.now()).get(value) ?? null;
    } catch {
      return null;
    }
    this.ownShown.delete(value);
    if (found) this.remember(value, found);
    return found;
  }

  // ------------------------------------------------------------------ health

  health(): Omit<FleetHealth, 'fleetBans' | 'refused' | 'lastRefusals'> {
    const s = this.o.settings;
    const any = this.h.pull.ok !== null || this.h.push.ok !== null;
    const bad = this.h.pull.ok === false || this.h.push.ok === false || this.h.login.ok === false;
    return {
      status: bad ? 'error' : any ? 'ok' : 'connecting',
      url: s.url,
      machineId: this.origin ? this.origin.slice('portcullis@'.length) : null,
      share: s.share,
      apply: s.apply,
      login: { ...this.h.login },
      pull: { ...this.h.pull },
      push: { ...this.h.push, queued: this.o.queue.size() },
    };
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.o.log?.(level, message);
  }
}
