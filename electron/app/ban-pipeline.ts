/**
 * The ban pipeline: an engine decision becomes a ban in the store, then in the firewall, then cut
 * connections; unbans and expiry the same way back. It composes the bulk operations (bulk-bans.ts:
 * `banMany` as one store transaction and one firewall batch, a fleet pull's bans and a resync's
 * unbans in batches — applyTogether, unbanTogether) and runs the start-up reconcile (reconcile.ts:
 * restore after a reboot, stale and duplicate entries).
 *
 *   ban   → store FIRST (a kill -9 after this loses nothing) → firewall.ban → cut connections → fleet
 *         (a store that cannot write — a full disk — does not stop the ban: writeAhead says so instead)
 *   unban → store → firewall.unban
 *   unban asked for (API unban) → firewall.unban FIRST → engine, store, fleet, UI: a failed firewall
 *         call leaves the ban standing everywhere, as it stands in the firewall, and the caller is told
 *
 * A ban the firewall REFUSES for a rule of the user's own (the ufw backend's `users-rule`: their
 * `allow from IP`, or their own deny, decides that source's traffic) blocks nothing of ours: it is
 * ended at once with the reason 'refused-users-rule' (store, API, UI history, never pushed to the
 * fleet), and its source is held off (users-rule-holdoff.ts) so its next probes do not make the same
 * refused ban again. A ban that FAILED (helper down, a ufw error) stays active: reconcile retries it;
 * an API ban (one address or a list) is answered with the failure all the same.
 *
 * Firewall changes of one address run in decision order (a ban then an unban never swap); changes
 * of different addresses run side by side (firewall-order.ts); connection cuts on a queue of their own.
 *
 * The UI's 'ban' event goes out once the firewall has answered, never before: the desktop's
 * notifications and tray, and the window's ban alerts, said "banned" for a ban whose firewall call
 * then failed. A failed one carries the firewall's error (`firewallError`): it is still recorded as
 * active (reconcile retries it) but blocks nothing new — when it extended a ban the firewall holds
 * (`stillStands`), that earlier ban still blocks until its own end. The state's "last ban" moves only
 * when the firewall took a ban. A fleet pull's bans (applyTogether) are bracketed by 'fleetSync'
 * events (bulk-bans.ts).
 */
import type { BanRecord, UnbanReason } from '../shared/model.ts';
import { errorText } from '../shared/errors.ts';
import type { FirewallPort } from '../engine/ports.ts';
import { skippedBanText } from '../shared/helper-protocol.ts';
import { banComment, type BanFailure, type BanPipelineHost } from './ban-pipeline-host.ts';
import { UsersRuleHoldOff } from './users-rule-holdoff.ts';
import { FirewallOrder } from './firewall-order.ts';
import { Reconciler, type ReconcileResult } from './reconcile.ts';
import { BulkBans } from './bulk-bans.ts';
import { MAX_WAITING_RECORDS, RecordRetry } from './record-retry.ts';
import { storeUnavailable } from '../engine/store/unavailable.ts';

export { banComment, type BanFailure, type BanInfo, type BanPipelineHost } from './ban-pipeline-host.ts';

/** What became of a record the store did not take: it waits (RecordRetry kept it), or it is lost. */
function recordFate(waits: boolean): string {
  return waits ? 'waits until the store can write' : 'could not be written';
}

export class BanPipeline {
  private readonly h: BanPipelineHost;
  private readonly order = new FirewallOrder();
  /** Connection cuts, after their bans, beside the firewall changes (conntrack is slow and touches no rule). */
  private cutTail: Promise<void> = Promise.resolve();
  /** The start-up reconcile (restore after a reboot), running behind log reading, not in front of it. */
  private reconciling: Promise<unknown> = Promise.resolve();
  /** While banMany or applyTogether decides (bulk-bans.ts): the engine's ban decisions, applied as batches instead of one by one. */
  private bulkBans: BanRecord[] | null = null;
  /**
   * The firewall promise of the latest applyBan (an API call waits for its own ban, not for every
   * queued one): resolves with why the firewall did not take it (BanFailure), else undefined.
   */
  lastBanDone: Promise<BanFailure | undefined> = Promise.resolve(undefined);
  /**
   * When the latest ban the firewall took was made (the state's "last ban": the tray's recent-ban
   * icon). Moved forward only once the firewall has taken a ban (at once in a dry run or without a
   * firewall), never set early and put back: with two bans in flight the first one's "before" was
   * the other's time, so failed bans left a "recent ban".
   */
  lastBanAt: number | null = null;
  /**
   * Per address the engine holds a ban of: the end of the ban the firewall took last (this run's bans,
   * or what reconcile found or put in). A later ban of it whose firewall call fails is an extension that
   * did not happen: the earlier ban still stands, until this end.
   */
  private readonly inForce = new Map<string, number | null>();
  /** While unbanTogether lifts (bulk-bans.ts): the addresses whose firewall ban applyUnban lifts, lifted as batches instead of one by one. */
  private bulkUnbans: Map<string, UnbanReason> | null = null;
  /** Addresses whose firewall ban unbanRequested has just lifted: their applyUnban leaves the firewall alone. */
  private readonly liftedFirst = new Set<string>();
  /** Addresses unbanRequested is lifting in the firewall: true once a ban of theirs was decided meanwhile. */
  private readonly lifting = new Map<string, boolean>();
  /** Set at stop: a restore in progress stops after its batch (the next start resumes it). */
  stopping = false;
  /** Sources whose ban the firewall refused for a rule of the user's: not scan-banned again before that ban's end. */
  readonly holdOff = new UsersRuleHoldOff();
  /** The start-up reconcile, and the batch steps applyTogether shares with it. */
  private readonly rec: Reconciler;
  /** The bulk operations: banMany, a fleet pull's bans and a resync's unbans, in batches. */
  private readonly bulk: BulkBans;
  /** Ban and unban records the store could not write yet, written again by the tick (flushRecords). */
  private readonly records = new RecordRetry();
  /** records.dropped and records.droppedPauses already said in a notice. */
  private droppedSaid = { all: 0, pauses: 0 };

  constructor(host: BanPipelineHost) {
    this.h = host;
    this.rec = new Reconciler({
      host,
      order: this.order,
      stopped: () => this.stopping,
      refused: (ban) => this.refused(ban),
      took: (ip, until) => this.took(ip, until),
      listed: (ip, until) => {
        if (!this.inForce.has(ip)) this.took(ip, until);
      },
      lost: (ip) => this.inForce.delete(ip),
    });
    this.bulk = new BulkBans({
      host,
      order: this.order,
      rec: this.rec,
      collectBans: (into) => {
        const before = this.bulkBans;
        this.bulkBans = into;
        return before;
      },
      collectUnbans: (into) => {
        const before = this.bulkUnbans;
        this.bulkUnbans = into;
        return before;
      },
      took: (ip, until, at) => this.took(ip, until, at),
      bannedAt: (at) => this.bannedAt(at),
      announce: (ban) => this.announce(ban),
      announceFailed: (ban, error) => this.announceFailed(ban, error),
      refused: (ban) => this.refused(ban),
      cutLater: (ip) => this.cutLater(ip),
      shareWithFleet: (ban) => this.shareWithFleet(ban),
      writeAhead: (bans, write) => this.writeAhead(bans, write),
    });
  }

  /** Waits for pending firewall changes (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const cuts = this.cutTail;
      const rec = this.reconciling;
      const together = this.bulk.running;
      await rec;
      await together;
      await this.order.settled();
      await cuts;
      if (cuts === this.cutTail && rec === this.reconciling && together === this.bulk.running && this.order.idle) return;
    }
  }

  /**
   * Store first, then the firewall: a crash in between leaves a ban that reconcile restores, never an
   * orphan rule. The store's record is the write-ahead (one small WAL commit, tens of µs); the firewall
   * call is queued right after it, and everything else (offender row) comes behind — nothing slow
   * stands between the decision and the block. The UI event goes out when the firewall has answered
   * (announce), saying whether it took the ban. Connections are cut after the block, on their own
   * queue (the next ban never waits for conntrack), and only where the block leaves established
   * sessions alive (the ufw backend). Resolves when the firewall has answered, with why it did not
   * take the ban if it did not (BanFailure); an automatic ban's caller ignores it (the notice says it).
   */
  applyBan(ban: BanRecord): Promise<BanFailure | undefined> {
    if (this.lifting.has(ban.ip)) this.lifting.set(ban.ip, true);
    if (this.bulkBans) {
      this.bulkBans.push(ban); // banMany applies them together
      return Promise.resolve(undefined);
    }
    const decidedAt = performance.now();
    this.writeAhead([ban], () => this.h.store.recordBan(ban));
    this.h.fleet()?.onLocalBanDecided(ban);
    const done = this.banInFirewall(ban, decidedAt);
    this.lastBanDone = done;
    const off = this.h.engine().offender(ban.ip);
    if (off) this.h.store.upsertOffenders([off]);
    return done;
  }

  /**
   * The UI's 'ban' event, once the firewall answered (`firewallError` when its call failed). Not for a
   * ban the engine no longer holds: its 'unban' went out already (whitelisted, lifted meanwhile), and a
   * 'ban' after it would list as active a ban that is not.
   */
  private announce(ban: BanRecord, firewallError?: string): void {
    if (!this.h.engine().isBanned(ban.ip)) return;
    this.h.events.push(firewallError === undefined ? { type: 'ban', ban } : { type: 'ban', ban, firewallError });
  }

  /**
   * A ban whose firewall call failed, announced with the error; `stillStands` when it extended a ban
   * the firewall holds (that one blocks until its own end). Returns the sentence for the notice.
   */
  private announceFailed(ban: BanRecord, error: string): string {
    const held = this.inForce.get(ban.ip);
    const stands = held !== undefined && (held === null || held > this.h.now());
    if (this.h.engine().isBanned(ban.ip)) {
      this.h.events.push(stands ? { type: 'ban', ban, firewallError: error, stillStands: { until: held } } : { type: 'ban', ban, firewallError: error });
    }
    if (!stands) return `Could not ban ${ban.ip} in the firewall: ${error}`;
    const until = held === null ? 'permanent ban' : `ban until ${new Date(held).toISOString().replace('.000Z', 'Z')}`;
    return `Could not extend the ban of ${ban.ip} in the firewall: ${error}; the ${until} still stands`;
  }

  /** The firewall took a ban of `ip` ending at `until` (made at `at`): what stands, and the state's "last ban". */
  private took(ip: string, until: number | null, at?: number): void {
    if (at !== undefined) this.bannedAt(at);
    if (this.h.engine().isBanned(ip)) this.inForce.set(ip, until);
  }

  private bannedAt(at: number): void {
    if (this.lastBanAt === null || at > this.lastBanAt) this.lastBanAt = at;
  }

  private async banInFirewall(ban: BanRecord, decidedAt: number): Promise<BanFailure | undefined> {
    const fw = this.h.firewall;
    if (this.h.dryRun || !fw) {
      this.took(ban.ip, ban.until, ban.at);
      this.announce(ban);
      this.h.fleet()?.onBan(ban);
      this.h.onBan?.(ban, { latencyMs: null, dryRun: true });
      return undefined;
    }
    let failure: BanFailure | undefined;
    await this.order.forIp(ban.ip, async () => {
      try {
        const skipped = await fw.ban(ban.ip, ban.until, banComment(ban));
        if (skipped) {
          failure = { refused: skipped };
          // Ended already while its rule was being added (the status read saw the user's rule decide
          // its source: endDecidedByUser, with its own notice): nothing more to end or say.
          if (!this.h.engine().isBanned(ban.ip)) return;
          // Announced, then ended at once with why (the UI's history shows it refused).
          this.announce(ban);
          const why = skippedBanText(skipped);
          this.h.onBan?.(ban, { latencyMs: null, dryRun: false, error: why });
          this.h.notice('warn', `Not banned: ${why}. ${this.refused(ban)}`);
          return;
        }
        const latencyMs = performance.now() - decidedAt;
        this.took(ban.ip, ban.until, ban.at);
        this.announce(ban);
        if (this.h.settings().ban.cutConnections && !fw.blocksEstablished) this.cutLater(ban.ip);
        this.shareWithFleet(ban);
        this.h.onBan?.(ban, { latencyMs, dryRun: false });
      } catch (e) {
        // Still an active ban (reconcile retries it at the next start): the fleet may have it.
        // Nothing new was banned: the state's "last ban" stays (the tray's recent-ban icon).
        failure = { error: errorText(e) };
        const said = this.announceFailed(ban, failure.error);
        this.shareWithFleet(ban);
        this.h.onBan?.(ban, { latencyMs: null, dryRun: false, error: errorText(e) });
        this.h.notice('error', said);
      }
    });
    return failure;
  }

  /**
   * A ban goes to the fleet once the firewall has answered, never before: a ban it refused must not
   * stand as a decision at the LAPI. Not when the engine no longer holds it (lifted meanwhile).
   */
  private shareWithFleet(ban: BanRecord): void {
    if (this.h.engine().isBanned(ban.ip)) this.h.fleet()?.onBan(ban);
  }

  /**
   * The firewall refused `ban` for a rule of the user's own: the ban ends ('refused-users-rule') and
   * its source is held off until the ban would have ended. Returns the sentence for the notice.
   */
  private refused(ban: { ip: string; until: number | null }): string {
    this.holdOff.hold(ban.ip, ban.until);
    this.h.endBan(ban.ip, 'refused-users-rule');
    const until = ban.until === null ? 'while Portcullis runs' : `before ${new Date(ban.until).toISOString().replace('.000Z', 'Z')}`;
    return `The ban is ended (refused-users-rule), and ${ban.ip}'s scans are not banned again ${until}.`;
  }

  /**
   * Active bans whose source a rule of the user's now decides (`sources`: the ufw backend's rules, read
   * after the user changed them): the ban blocks nothing, so it is ended like a refused one
   * ('refused-users-rule', held off), with one notice.
   */
  endDecidedByUser(sources: ReadonlySet<string>): void {
    const ended = this.h.engine().activeBans().filter((b) => sources.has(b.ip));
    let sentence = '';
    for (const b of ended) sentence = this.refused(b);
    if (!ended.length) return;
    const more = ended.length > 1 ? ` (and ${ended.length - 1} more: ${ended.slice(1, 4).map((b) => b.ip).join(', ')}${ended.length > 4 ? ', …' : ''})` : '';
    this.h.notice('warn', `A rule of yours now decides the traffic of ${ended[0]!.ip}${more}: Portcullis's ban of it blocks nothing. ${ended.length > 1 ? 'Their bans are ended (refused-users-rule).' : sentence}`);
  }

  /** Cuts a banned host's open connections after its block is in place, one cut at a time, beside the ban queue. */
  private cutLater(ip: string): void {
    const fw = this.h.firewall;
    if (!fw) return;
    this.cutTail = this.cutTail.then(() => fw.cutConnections(ip).catch((e) => this.h.log('warn', `cutting connections of ${ip}: ${errorText(e)}`)));
  }

  applyUnban(ip: string, at: number, why: UnbanReason): void {
    this.inForce.delete(ip);
    const e = this.records.write(() => this.h.store.recordUnban(ip, at, why));
    if (e !== null) {
      this.h.storeFailed?.(e);
      // The firewall has lifted it (an API unban lifts first) and the engine has. A record that waits
      // (record-retry.ts) is written by a later tick: the unban went through, and the fleet, the UI
      // and the caller are told so; until then the store still holds it active, and a restart before
      // then restores it until its end — the safe side. A record the store refused for its content is
      // not kept: a requested unban reports that to its caller, as its history will not have it.
      const waits = storeUnavailable(e); // RecordRetry kept it
      if (!waits && this.liftedFirst.has(ip)) throw e;
      this.h.notice('error', `Lifting the ban of ${ip}; its record ${recordFate(waits)} (${errorText(e)}). A restart before then puts the ban back until its end`);
    }
    this.h.fleet()?.onUnban(ip, why);
    const off = this.h.engine().offender(ip);
    if (off) this.h.store.upsertOffenders([off]);
    this.h.events.push({ type: 'unban', ip, why });
    this.h.onUnban?.(ip, why);
    const fw = this.h.firewall;
    if (this.h.dryRun || !fw || this.liftedFirst.has(ip)) return;
    if (this.bulkUnbans) {
      this.bulkUnbans.delete(ip); // in the order of their last unban
      this.bulkUnbans.set(ip, why);
      return;
    }
    void this.order.forIp(ip, async () => {
      try {
        await fw.unban(ip, why);
      } catch (e) {
        this.h.notice('error', `Could not lift the ban of ${ip} in the firewall: ${errorText(e)}`);
      }
    });
  }

  /**
   * An unban asked for (the API's): the firewall first, then `lift` (the engine's unban, whose event
   * records it in the store and tells the fleet and the UI; applyUnban skips the firewall, done
   * already). When the firewall call fails nothing is lifted: the ban stays active in the engine and
   * the store, as it does in the firewall, and this rejects with the firewall's error. (Store first,
   * as for a ban, would record a lift the firewall never made.) A crash between the two leaves a ban
   * the store holds and the firewall does not: the next start's reconcile puts it back, as after any
   * crash between a ban's store write and its firewall call.
   */
  async unbanRequested(ip: string, lift: () => void): Promise<void> {
    const fw = this.h.firewall;
    if (this.h.dryRun || !fw) return lift();
    let error: string | null = null;
    // The store's (or engine's) failure in lift(): the queue swallows what its tasks throw, and an
    // unban whose store write failed would have answered ok while the next start bans it again.
    let liftFailed: { e: unknown } | null = null;
    await this.order.forIp(ip, async () => {
      this.lifting.set(ip, false);
      try {
        await fw.unban(ip, 'manual');
      } catch (e) {
        error = errorText(e);
      }
      const rebanned = this.lifting.get(ip) === true;
      this.lifting.delete(ip);
      if (error !== null) return this.h.log('error', `Could not lift the ban of ${ip} in the firewall: ${error}; it stays active`);
      // In the same turn as the firewall's answer: nothing else changes this address in between. A ban
      // decided while the firewall was lifting queued its firewall call behind this one: the lift then
      // lifts it too, and its applyUnban queues its own firewall call after that ban's.
      if (!rebanned) this.liftedFirst.add(ip);
      try {
        lift();
      } catch (e) {
        liftFailed = { e };
      } finally {
        this.liftedFirst.delete(ip);
      }
    });
    if (error !== null) throw new Error(`the firewall did not lift the ban of ${ip}: ${error} (it stays active)`);
    if (liftFailed !== null) throw (liftFailed as { e: unknown }).e;
  }

  /**
   * Lifts a ban found in the firewall only (an orphan the engine does not hold), behind the queue;
   * rejects with the firewall's error.
   */
  async unbanOrphan(fw: FirewallPort, ip: string): Promise<void> {
    let error: string | null = null;
    // What the engine holds when it RUNS decides (as in reconcile): the caller listed the firewall
    // before queueing this, and a ban decided since then must keep its rule.
    await this.order.forIp(ip, async () => {
      if (this.h.engine().isBanned(ip)) return;
      await fw.unban(ip, 'manual').catch((e) => void (error = errorText(e)));
    });
    if (error !== null) throw new Error(`the firewall did not lift the ban of ${ip}: ${error}`);
  }

  /** Bulk ban (`portcullis ban --from FILE`): one store transaction, one firewall batch (bulk-bans.ts). */
  banMany(ips: string[], durationSec: number | undefined, note: string | undefined): Promise<{ banned: number; refused: { ip: string; reason: string }[] }> {
    return this.bulk.banMany(ips, durationSec, note);
  }

  /** A fleet pull's bans, made by `decide`, reach the firewall in batches (bulk-bans.ts). */
  applyTogether(decide: () => void): Promise<void> {
    return this.bulk.applyTogether(decide);
  }

  /** A fleet resync's unbans, made by `lift`, leave the firewall in batches (bulk-bans.ts). */
  unbanTogether(lift: () => void): Promise<void> {
    return this.bulk.unbanTogether(lift);
  }

  /**
   * The store's write-ahead record of bans on their way to the firewall. When the store cannot write
   * it (a full disk), the bans go to the firewall all the same — blocking the scanner matters more
   * than the crash-safety the record buys — and a notice says so; nothing is thrown into the caller
   * (an automatic ban is decided inside the log's read path, where a throw ended the process).
   */
  private writeAhead(bans: readonly BanRecord[], write: () => void): void {
    const e = this.records.write(write);
    if (e === null) return;
    this.h.storeFailed?.(e);
    const who = bans.length === 1 ? bans[0]!.ip : `${bans.length} addresses (${bans[0]!.ip}, …)`;
    this.h.notice(
      'error',
      `Banning ${who} in the firewall; the record of the ban ${recordFate(storeUnavailable(e))} (${errorText(e)}). A restart before then takes it for a stale firewall entry and lifts it (a scanner probing again is banned again)`,
    );
  }

  /**
   * The tick's round: the ban and unban records that wait are written again, in order (record-retry.ts).
   * The error of the one that still fails, or null when none waits.
   */
  flushRecords(): unknown {
    const error = this.records.flush((refused) => this.h.log('error', `store: a waiting ban, unban or pause record was refused and dropped: ${errorText(refused)}`));
    const pauses = this.records.droppedPauses - this.droppedSaid.pauses;
    const records = this.records.dropped - this.droppedSaid.all - pauses;
    if (records > 0 || pauses > 0) {
      // Said apart: a lost ban record and a lost pause's stored copy cost a restart different things.
      const what = [records > 0 ? `${records} ban or unban records` : '', pauses > 0 ? `${pauses} stored pause or resume changes` : ''].filter(Boolean).join(' and ');
      const cost = [records > 0 ? "the next start restores or lifts those bans from the firewall's view" : '', pauses > 0 ? 'a restart keeps the pause it last saved' : ''].filter(Boolean).join('; ');
      this.h.notice('error', `${what} were dropped while the store could not write (more than ${MAX_WAITING_RECORDS} waited): ${cost}`);
      this.droppedSaid = { all: this.records.dropped, pauses: this.records.droppedPauses };
    }
    return error;
  }

  /**
   * A write that keeps its place among the ban and unban records (the pause's stored end: pause.ts;
   * said as such if dropped): made now, behind those that wait, or kept to wait when the store cannot write now.
   * Its error when it failed now (told to the store's health, as a record's is), else null.
   */
  writeInOrder(write: () => void): unknown {
    const e = this.records.write(write, 'pause');
    if (e !== null) this.h.storeFailed?.(e);
    return e;
  }

  /** How many records wait to be written (said at stop when some are left). */
  get recordsWaiting(): number {
    return this.records.size;
  }

  /** The start-up reconcile, not awaited by the start (see reconcile); idle() waits for it. */
  startReconcile(now: number): void {
    this.reconciling = this.reconcile(now).catch((e) => this.h.log('error', `reconcile: ${errorText(e)}`));
  }

  /**
   * Makes the firewall agree with the store (reconcile.ts): expired bans closed, missing ones restored,
   * stale and duplicate entries removed, the other backend's moved in, extended ones banned again.
   */
  reconcile(now = this.h.now()): Promise<ReconcileResult> {
    return this.rec.reconcile(now);
  }
}
