/**
 * The ban pipeline: an engine decision becomes a ban in the store, then in the firewall, then cut
 * connections; unbans and expiry the same way back; `banMany` as one store transaction and one
 * firewall batch; and the start-up reconcile (restore after a reboot, stale and duplicate entries).
 *
 *   ban   → store FIRST (a kill -9 after this loses nothing) → firewall.ban → cut connections → fleet
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
 * active (reconcile retries it) but blocks nothing.
 */
import type { BanRecord, Offender, UnbanReason } from '../shared/model.ts';
import { canonicalIp } from '../shared/domain.ts';
import { neverBanReason } from '../shared/never-ban.ts';
import { errorText } from '../shared/errors.ts';
import type { FirewallPort } from '../engine/ports.ts';
import { skippedBanText, type SkippedBan } from '../shared/helper-protocol.ts';
import { banComment, RESTORE_BATCH_SET, RESTORE_BATCH_UFW, type BanFailure, type BanPipelineHost } from './ban-pipeline-host.ts';
import { UsersRuleHoldOff } from './users-rule-holdoff.ts';
import { FirewallOrder } from './firewall-order.ts';

export { banComment, type BanFailure, type BanInfo, type BanPipelineHost } from './ban-pipeline-host.ts';
/**
 * How much later than the firewall's end the store's must be for reconcile to ban again: the ends the
 * firewall lists are whole seconds counted from the listing (±2 s of the store's); an extension is
 * minutes or more.
 */
const EXTENDED_SLACK_MS = 5_000;

export class BanPipeline {
  private readonly h: BanPipelineHost;
  private readonly order = new FirewallOrder();
  /** Connection cuts, after their bans, beside the firewall changes (conntrack is slow and touches no rule). */
  private cutTail: Promise<void> = Promise.resolve();
  /** The start-up reconcile (restore after a reboot), running behind log reading, not in front of it. */
  private reconciling: Promise<unknown> = Promise.resolve();
  /** While banMany runs: the engine's ban decisions, applied as one batch instead of one by one. */
  private bulkBans: BanRecord[] | null = null;
  /**
   * The firewall promise of the latest applyBan (an API call waits for its own ban, not for every
   * queued one): resolves with why the firewall did not take it (BanFailure), else undefined.
   */
  lastBanDone: Promise<BanFailure | undefined> = Promise.resolve(undefined);
  /** When the latest ban was made (the state's "last ban"). */
  lastBanAt: number | null = null;
  /** The batches of applyTogether still running. */
  private together: Promise<void> = Promise.resolve();
  /** Addresses whose firewall ban unbanRequested has just lifted: their applyUnban leaves the firewall alone. */
  private readonly liftedFirst = new Set<string>();
  /** Addresses unbanRequested is lifting in the firewall: true once a ban of theirs was decided meanwhile. */
  private readonly lifting = new Map<string, boolean>();
  /** Set at stop: a restore in progress stops after its batch (the next start resumes it). */
  stopping = false;
  /** Sources whose ban the firewall refused for a rule of the user's: not scan-banned again before that ban's end. */
  readonly holdOff = new UsersRuleHoldOff();

  constructor(host: BanPipelineHost) {
    this.h = host;
  }

  /** Waits for pending firewall changes (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const cuts = this.cutTail;
      const rec = this.reconciling;
      const together = this.together;
      await rec;
      await together;
      await this.order.settled();
      await cuts;
      if (cuts === this.cutTail && rec === this.reconciling && together === this.together && this.order.idle) return;
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
    this.h.store.recordBan(ban);
    this.h.fleet()?.onLocalBanDecided(ban);
    const before = this.lastBanAt;
    const done = this.banInFirewall(ban, decidedAt, before);
    this.lastBanDone = done;
    this.lastBanAt = ban.at;
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

  private async banInFirewall(ban: BanRecord, decidedAt: number, lastBanBefore: number | null): Promise<BanFailure | undefined> {
    const fw = this.h.firewall;
    if (this.h.dryRun || !fw) {
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
          // Nothing was banned: the state's "last ban" (status, the tray's recent-ban icon) is the one before.
          if (this.lastBanAt === ban.at) this.lastBanAt = lastBanBefore;
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
        this.announce(ban);
        if (this.h.settings().ban.cutConnections && !fw.blocksEstablished) this.cutLater(ban.ip);
        this.shareWithFleet(ban);
        this.h.onBan?.(ban, { latencyMs, dryRun: false });
      } catch (e) {
        // Still an active ban (reconcile retries it at the next start): the fleet may have it.
        failure = { error: errorText(e) };
        // Nothing was banned: the state's "last ban" (the tray's recent-ban icon) is the one before.
        if (this.lastBanAt === ban.at) this.lastBanAt = lastBanBefore;
        this.announce(ban, failure.error);
        this.shareWithFleet(ban);
        this.h.onBan?.(ban, { latencyMs: null, dryRun: false, error: errorText(e) });
        this.h.notice('error', `Could not ban ${ban.ip} in the firewall: ${errorText(e)}`);
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
    this.h.store.recordUnban(ip, at, why);
    this.h.fleet()?.onUnban(ip, why);
    const off = this.h.engine().offender(ip);
    if (off) this.h.store.upsertOffenders([off]);
    this.h.events.push({ type: 'unban', ip, why });
    this.h.onUnban?.(ip, why);
    const fw = this.h.firewall;
    if (this.h.dryRun || !fw || this.liftedFirst.has(ip)) return;
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
      await fw.unban(ip).catch((e) => void (error = errorText(e)));
    });
    if (error !== null) throw new Error(`the firewall did not lift the ban of ${ip}: ${error}`);
  }

  /**
   * Bulk ban (`portcullis ban --from FILE`): the engine decides each ban as for `ban`, then the store
   * records them in ONE transaction and the firewall gets them as one batch (the set backend: one
   * ipset batch per 500). Established sessions: as for a ban, cut unless the block drops them itself
   * (the set backend's match comes before ufw's ESTABLISHED accept). When the firewall call fails the
   * bans stay active (reconcile retries them at the next start) and this rejects with its error.
   */
  async banMany(ips: string[], durationSec: number | undefined, note: string | undefined): Promise<{ banned: number; refused: { ip: string; reason: string }[] }> {
    const h = this.h;
    const engine = h.engine();
    const now = h.now();
    const refused: { ip: string; reason: string }[] = [];
    const decided: BanRecord[] = [];
    this.bulkBans = decided;
    try {
      for (const ip of ips) {
        if (!neverBanReason(ip) && engine.isWhitelisted(ip)) {
          refused.push({ ip, reason: 'whitelisted (this host, its gateway, loopback or a whitelist entry)' });
          continue;
        }
        try {
          engine.ban(ip, { ...(durationSec ? { durationSec } : {}), ...(note !== undefined ? { note } : {}), at: now });
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
    this.recordDecided(bans);
    const lastBanBefore = this.lastBanAt;
    this.lastBanAt = now;
    const fw = h.firewall;
    let firewallDone: Promise<void> = Promise.resolve();
    // Bans the firewall did not take (the ufw backend: a source the user has a rule of their own for):
    // refused with the reason, never counted as banned.
    let skipped: SkippedBan[] = [];
    let failed: string | null = null;
    if (h.dryRun || !fw) {
      // Shared with the fleet like any local ban (each is one alert in the push queue).
      for (const b of bans) this.announce(b);
      for (const b of bans) h.fleet()?.onBan(b);
      for (const b of bans) h.onBan?.(b, { latencyMs: null, dryRun: true });
    } else {
      firewallDone = this.order.forAll(async () => {
        try {
          if (fw.banMany) skipped = await fw.banMany(bans.map((b) => ({ ip: b.ip, until: b.until, comment: banComment(b) })));
          else
            for (const b of bans) {
              const one = await fw.ban(b.ip, b.until, banComment(b));
              if (one) skipped.push(one); // refused: as a banMany entry's
            }
          const latencyMs = performance.now() - decidedAt;
          const notBanned = new Map(skipped.map((s) => [s.ip, skippedBanText(s)]));
          let ended = '';
          for (const b of bans) {
            const why = notBanned.get(b.ip);
            if (why !== undefined) {
              this.announce(b);
              h.onBan?.(b, { latencyMs: null, dryRun: false, error: why });
              ended = this.refused(b);
              continue;
            }
            this.announce(b);
            if (h.settings().ban.cutConnections && !fw.blocksEstablished) this.cutLater(b.ip);
            this.shareWithFleet(b);
            h.onBan?.(b, { latencyMs, dryRun: false });
          }
          // Nothing of the batch was banned: the state's "last ban" is the one before, as for a single ban.
          if (skipped.length === bans.length && this.lastBanAt === now) this.lastBanAt = lastBanBefore;
          if (skipped.length) {
            const more = skipped.length > 1 ? ` (and ${skipped.length - 1} more; their bans are ended too: refused-users-rule)` : '';
            h.notice('warn', `${skipped.length} of ${bans.length} addresses were not banned in the firewall: ${skippedBanText(skipped[0]!)}. ${ended}${more}`);
          }
        } catch (e) {
          failed = errorText(e);
          if (this.lastBanAt === now) this.lastBanAt = lastBanBefore;
          for (const b of bans) this.announce(b, failed);
          for (const b of bans) this.shareWithFleet(b);
          for (const b of bans) h.onBan?.(b, { latencyMs: null, dryRun: false, error: failed });
          h.notice('error', `Could not ban ${bans.length} addresses in the firewall: ${failed}`);
        }
      });
    }
    this.storeOffenders(bans);
    await firewallDone;
    if (failed !== null) throw new Error(`the firewall did not take the ${bans.length} bans: ${failed} (they stay recorded as active; the next start tries again)`);
    refused.push(...skipped.map((s) => ({ ip: s.ip, reason: skippedBanText(s) })));
    return { banned: bans.length - skipped.length, refused };
  }

  /** Bans decided together (banMany, a fleet pull): recorded in one store transaction, and the fleet told each is this host's. */
  private recordDecided(bans: readonly BanRecord[]): void {
    const h = this.h;
    if (h.store.recordBans) h.store.recordBans(bans);
    else for (const b of bans) h.store.recordBan(b);
    for (const b of bans) h.fleet()?.onLocalBanDecided(b);
  }

  /** Their offender rows (their UI events go out once the firewall has answered: announce). */
  private storeOffenders(bans: readonly BanRecord[]): void {
    const offenders = bans.map((b) => this.h.engine().offender(b.ip)).filter((x): x is Offender => x !== null);
    if (offenders.length) this.h.store.upsertOffenders(offenders);
  }

  /**
   * The bans `decide` makes (the fleet's decisions of one pull, through the engine) reach the
   * firewall as batches of its bulk ban, as the reconcile restores (restoreBatch, between live bans)
   * — not one call each: with the ufw backend one `ufw prepend` is 0.3–1.4 s, so a sync of thousands
   * kept the ban queue busy for hours. Resolves once the firewall has taken them.
   */
  async applyTogether(decide: () => void): Promise<void> {
    const h = this.h;
    const decided: BanRecord[] = [];
    const outer = this.bulkBans;
    this.bulkBans = decided;
    try {
      decide();
    } finally {
      this.bulkBans = outer;
    }
    if (outer) {
      outer.push(...decided); // inside a banMany: it applies them
      return;
    }
    const bans = [...new Map(decided.map((b) => [b.ip, b])).values()];
    if (bans.length === 0) return;
    const decidedAt = performance.now();
    this.recordDecided(bans);
    for (const b of bans) if (this.lastBanAt === null || b.at > this.lastBanAt) this.lastBanAt = b.at;
    this.storeOffenders(bans);
    const fw = h.firewall;
    if (h.dryRun || !fw) {
      for (const b of bans) this.announce(b);
      for (const b of bans) h.fleet()?.onBan(b);
      for (const b of bans) h.onBan?.(b, { latencyMs: null, dryRun: true });
      return;
    }
    const byIp = new Map(bans.map((b) => [b.ip, b]));
    const size = h.settings().ban.backend === 'set' ? RESTORE_BATCH_SET : RESTORE_BATCH_UFW;
    // idle() waits for every batch, not only the one queued now.
    const run = this.inBatches([...byIp.keys()], size, async (chunk) => {
      const result = { restored: [] as string[] };
      await this.restoreBatch(fw, chunk, result);
      const latencyMs = performance.now() - decidedAt;
      // Not taken and still held (the call failed; restoreBatch logged why): announced as failed, never
      // as banned. One a rule of the user's decided was ended by restoreBatch: announce skips it.
      const taken = new Set(result.restored);
      for (const ip of chunk) if (!taken.has(ip)) this.announce(byIp.get(ip)!, 'the firewall did not take it (see the log)');
      for (const ip of result.restored) {
        const b = byIp.get(ip)!;
        this.announce(b);
        if (h.settings().ban.cutConnections && !fw.blocksEstablished) this.cutLater(ip);
        this.shareWithFleet(b);
        h.onBan?.(b, { latencyMs, dryRun: false });
      }
    });
    this.together = this.together.then(() => run);
    await run;
  }

  /** The start-up reconcile, not awaited by the start (see reconcile); idle() waits for it. */
  startReconcile(now: number): void {
    this.reconciling = this.reconcile(now).catch((e) => this.h.log('error', `reconcile: ${errorText(e)}`));
  }

  /**
   * Makes the firewall agree with the store: bans that expired are removed, bans missing from the
   * firewall (crash between store and firewall, reboot emptied the set) are restored, duplicates are
   * collapsed. Only what FirewallPort.listBans reports is touched, and that lists Portcullis's own
   * tagged rules / set elements, never the user's rules.
   */
  async reconcile(now = this.h.now()): Promise<{ restored: string[]; removed: string[]; deduplicated: string[]; moved: string[]; extended: string[] }> {
    const h = this.h;
    const result = { restored: [] as string[], removed: [] as string[], deduplicated: [] as string[], moved: [] as string[], extended: [] as string[] };
    const fw = h.firewall;
    if (!fw || h.dryRun) return result;
    // Bans whose time ran out while nobody was running: close them in the store (history stays right).
    for (const b of h.store.openBans?.() ?? []) {
      if (b.until !== null && b.until <= now) h.store.recordUnban(b.ip, b.until, 'expired');
    }
    const wanted = new Map<string, BanRecord>();
    for (const b of h.store.activeBans(now)) {
      if (b.until === null || b.until > now) wanted.set(b.ip, b);
    }
    let present: { ip: string; until: number | null }[];
    try {
      present = await fw.listBans();
    } catch (e) {
      h.log('error', `reconcile: cannot list the firewall's bans: ${errorText(e)}`);
      return result;
    }
    // Listed after this backend's: listing the ufw backend copies its bans into the sets while the
    // forward block is installed, as mirror elements the set backend does not list as its own.
    const elsewhere = h.otherFirewall ? await this.listOther(h.otherFirewall) : [];
    const count = new Map<string, number>();
    /** The earliest end the firewall lists per address (null: none, the entry never expires there). */
    const listedEnd = new Map<string, number | null>();
    for (const p of present) {
      const ip = canonicalIp(p.ip) ?? p.ip;
      count.set(ip, (count.get(ip) ?? 0) + 1);
      const was = listedEnd.get(ip);
      listedEnd.set(ip, was === undefined ? p.until : was === null ? p.until : p.until === null ? was : Math.min(was, p.until));
    }
    const batch = h.settings().ban.backend === 'set' ? RESTORE_BATCH_SET : RESTORE_BATCH_UFW;
    // What the engine holds when a batch RUNS decides, not this snapshot: log reading goes on
    // meanwhile, and a host banned (or unbanned) since must keep its newer state. In batches, as the
    // restore below: with the ufw backend a batch of stale rules costs one edit and load of ufw's
    // rules files, and a live ban waits for one batch, not for all of them.
    const stale = [...count].filter(([ip]) => !wanted.has(ip)).map(([ip]) => ip);
    if (stale.length) await this.inBatches(stale, batch, async (chunk) => {
      const ips = chunk.filter((ip) => !h.engine().isBanned(ip));
      if (ips.length === 0) return;
      try {
        if (fw.unbanMany) await fw.unbanMany(ips);
        else for (const ip of ips) await fw.unban(ip);
        result.removed.push(...ips);
      } catch (e) {
        h.log('warn', `reconcile: cannot remove ${ips.length} stale bans: ${errorText(e)}`);
      }
    });
    for (const [ip, n] of count) {
      const want = wanted.get(ip);
      if (!want || n <= 1) continue;
      await this.order.forAll(async () => {
        for (let i = 0; i < n; i++) await fw.unban(ip).catch(() => undefined);
        // Put back the ban the engine holds NOW (as the restore below does): one lifted since the
        // listing must not come back from the snapshot.
        const now2 = h.now();
        const cur = h.engine().activeBans().find((b) => b.ip === ip);
        if (cur && (cur.until === null || cur.until > now2)) {
          const skipped = await fw.ban(ip, cur.until, banComment(cur)).catch((e) => void h.log('warn', `reconcile ban ${ip}: ${errorText(e)}`));
          if (skipped) h.notice('warn', `Not banned: ${skippedBanText(skipped)}. ${this.refused(cur)}`);
        }
        result.deduplicated.push(ip);
      });
    }
    // Bans in the other backend (ban.backend switched since): out of it, then those the engine holds
    // back into this one in the same batch (the set and the ufw backend's mirror share the sets: the
    // other's removal must come first), so each is unblocked for one batch's ban at most.
    const other = h.otherFirewall;
    const moving = new Set(elsewhere);
    if (other && elsewhere.length) await this.inBatches(elsewhere, batch, async (chunk) => {
      try {
        if (other.unbanMany) await other.unbanMany(chunk);
        else for (const ip of chunk) await other.unban(ip);
        result.moved.push(...chunk);
      } catch (e) {
        h.log('warn', `reconcile: cannot remove ${chunk.length} bans from the other ban backend: ${errorText(e)}`);
      }
      // Every address of the batch, not only those the store held as active when this began: a source
      // banned live since (its old entry an expired ban) shares the old backend's removal when both
      // use the same kernel sets (the ufw backend's forward mirror), and must go back in as well.
      await this.restoreBatch(fw, chunk, result);
    });
    // Missing bans go back in batches (one ipset batch each for the set backend; one write and load of
    // ufw's rules files for ufw): a live ban waits for one batch at most, never for the whole restore.
    const missing = [...wanted.keys()].filter((ip) => !count.has(ip) && !moving.has(ip));
    await this.inBatches(missing, batch, (chunk) => this.restoreBatch(fw, chunk, result));
    // Bans the firewall ends earlier than the store: extended since they went in. The ufw backend's
    // rule keeps the end it was written with (`exp:` in its comment: ufw skips a rule it already has),
    // and the forward set's element is filled from that end after a restart — it expired at the old
    // end while the ban and its input rule stood. Banned again with the end the store holds, which sets
    // the element's timeout (the ufw rule, already there, is left as it is). Not for a duplicate (put
    // back above as the engine holds it) nor for one moved in from the other backend.
    const extended = [...wanted].filter(([ip, want]) => {
      const end = listedEnd.get(ip);
      if (end === undefined || end === null || count.get(ip)! > 1 || moving.has(ip)) return false;
      return want.until === null || want.until - end > EXTENDED_SLACK_MS;
    });
    await this.inBatches(
      extended.map(([ip]) => ip),
      batch,
      (chunk) => this.restoreBatch(fw, chunk, { restored: result.extended }),
    );
    if (result.removed.length || result.restored.length || result.deduplicated.length || result.moved.length || result.extended.length) {
      const moved = result.moved.length ? `, ${result.moved.length} taken out of the other ban backend` : '';
      const ext = result.extended.length ? `, ${result.extended.length} banned again with the later end the store holds` : '';
      h.log('info', `reconciled: ${result.restored.length} restored, ${result.removed.length} removed, ${result.deduplicated.length} de-duplicated${moved}${ext}`);
    }
    return result;
  }

  /**
   * Puts the bans of a batch of addresses into the firewall, as the engine holds them when it runs (a
   * ban lifted since stays out, an extended one goes in with its new end); one whose source a rule of
   * the user's decides is ended (refused-users-rule).
   */
  private async restoreBatch(fw: FirewallPort, ips: readonly string[], result: { restored: string[] }): Promise<void> {
    const h = this.h;
    const current = new Map(h.engine().activeBans().map((b) => [b.ip, b]));
    const todo = ips.flatMap((ip) => {
      const now2 = h.now();
      const c = current.get(ip);
      return c && (c.until === null || c.until > now2) ? [c] : [];
    });
    if (todo.length === 0) return;
    try {
      let skipped: SkippedBan[] = [];
      if (fw.banMany) skipped = await fw.banMany(todo.map((b) => ({ ip: b.ip, until: b.until, comment: banComment(b) })));
      else
        for (const b of todo) {
          const one = await fw.ban(b.ip, b.until, banComment(b));
          if (one) skipped.push(one); // refused: as a banMany entry's
        }
      const notBanned = new Set(skipped.map((s) => s.ip));
      result.restored.push(...todo.filter((b) => !notBanned.has(b.ip)).map((b) => b.ip));
      for (const s of skipped) h.log('warn', `reconcile: not restored: ${skippedBanText(s)}`);
      // Not restored for a rule of the user's: kept as active, it would be a ban that blocks nothing.
      let ended = '';
      for (const b of todo) if (notBanned.has(b.ip)) ended = this.refused(b);
      if (skipped.length) {
        const more = skipped.length > 1 ? ` (and ${skipped.length - 1} more; their bans are ended too: refused-users-rule)` : '';
        h.notice('warn', `${skipped.length} stored ban${skipped.length === 1 ? ' was' : 's were'} not put back into the firewall: ${skippedBanText(skipped[0]!)}. ${ended}${more}`);
      }
    } catch (e) {
      // One bad entry (e.g. an address the helper refuses) fails the whole batch: retry them one
      // by one so it never drops the others, and name the ones that still fail.
      h.log('warn', `reconcile: restoring ${todo.length} bans as one batch failed (${errorText(e)}); retrying one by one`);
      for (const b of todo) {
        try {
          const skipped = await fw.ban(b.ip, b.until, banComment(b));
          if (skipped) {
            h.notice('warn', `Not restored: ${skippedBanText(skipped)}. ${this.refused(b)}`);
            continue;
          }
          result.restored.push(b.ip);
        } catch (e1) {
          h.log('error', `reconcile: cannot restore the ban of ${b.ip}: ${errorText(e1)}`);
        }
      }
    }
  }

  /** Portcullis's entries in the other ban backend (none when it cannot list: its sets or ufw absent). */
  private async listOther(other: FirewallPort): Promise<string[]> {
    try {
      return [...new Set((await other.listBans()).map((p) => canonicalIp(p.ip) ?? p.ip))];
    } catch (e) {
      this.h.log('info', `reconcile: the other ban backend lists nothing (${errorText(e)})`);
      return [];
    }
  }

  /**
   * Whole-firewall work on many entries, one batch at a time: each batch is its own step of the
   * order, queued only once the one before has run, so a live ban decided meanwhile runs between
   * two batches — it waits for one batch at most, never for the whole job. Stops after a batch at
   * stop (the next start's reconcile resumes).
   */
  private async inBatches<T>(items: readonly T[], size: number, op: (batch: T[]) => Promise<void>): Promise<void> {
    for (let i = 0; i < items.length && !this.stopping; i += size) {
      const batch = items.slice(i, i + size);
      await this.order.forAll(() => op(batch));
    }
  }
}
