/**
 * The ban pipeline's bulk operations: many bans or unbans at once, as one store transaction and
 * firewall batches instead of one call each — `banMany` (`portcullis ban --from FILE`, the API's
 * banMany), `applyTogether` (a fleet pull's bans) and `unbanTogether` (a fleet resync's unbans).
 *
 * Apart from ban-pipeline.ts so the single-ban path (applyBan → banInFirewall, latency-critical)
 * reads on its own, and a change to how many bans travel together has a file of its own. The
 * pipeline (BanPipeline) owns a BulkBans and keeps the public methods as delegations; what a bulk
 * operation needs of it comes through BulkBanParts, nothing else:
 *
 *   - while `decide`/`lift` runs, the engine's decisions reach applyBan / applyUnban, which put them
 *     in the collection given here (collectBans, collectUnbans) instead of applying each one;
 *   - what stands and the state's "last ban" move through the pipeline's took / bannedAt, UI events
 *     through its announce / announceFailed, refused bans end through its refused;
 *   - the batches run in the pipeline's FirewallOrder (through the Reconciler's batch steps for a
 *     fleet pull and resync, between live bans), and `running` is what idle() waits for.
 *
 * A fleet pull's bans are bracketed by 'fleetSync' events, so the desktop sums the whole pull up
 * once, however long its firewall batches take.
 */
import type { BanRecord, Offender, UnbanReason } from '../shared/model.ts';
import { neverBanReason } from '../shared/never-ban.ts';
import { errorText } from '../shared/errors.ts';
import { skippedBanText, type SkippedBan } from '../shared/helper-protocol.ts';
import { banComment, RESTORE_BATCH_SET, RESTORE_BATCH_UFW, type BanPipelineHost } from './ban-pipeline-host.ts';
import type { FirewallOrder } from './firewall-order.ts';
import type { FirewallPort } from '../engine/ports.ts';
import type { Reconciler } from './reconcile.ts';

/** What the bulk operations need of the pipeline that owns them (BanPipeline). */
export interface BulkBanParts {
  host: BanPipelineHost;
  /** The pipeline's order of firewall changes: a banMany batch is one step of it. */
  order: FirewallOrder;
  /** The reconcile's batch steps (inBatches, restoreBatch, liftBatch), shared by a fleet pull and resync. */
  rec: Reconciler;
  /** Where applyBan puts the engine's ban decisions instead of applying them (null: each its own); returns the one before. */
  collectBans(into: BanRecord[] | null): BanRecord[] | null;
  /** Where applyUnban puts the addresses whose firewall ban it lifts (null: each its own); returns the one before. */
  collectUnbans(into: Map<string, UnbanReason> | null): Map<string, UnbanReason> | null;
  /** The firewall took a ban of `ip` ending at `until`, made at `at` (BanPipeline.took: what stands, the "last ban"). */
  took(ip: string, until: number | null, at: number): void;
  /** The state's "last ban" moves to `at` if later (BanPipeline.bannedAt). */
  bannedAt(at: number): void;
  /** The UI's 'ban' event once the firewall answered (BanPipeline.announce). */
  announce(ban: BanRecord): void;
  /** A ban whose firewall call failed, announced with the error (BanPipeline.announceFailed); the notice's sentence. */
  announceFailed(ban: BanRecord, error: string): string;
  /** Ends a ban the firewall refused for a rule of the user's (BanPipeline.refused); the notice's sentence. */
  refused(ban: { ip: string; until: number | null }): string;
  /** Cuts a banned host's connections after its block, on the pipeline's cut queue (BanPipeline.cutLater). */
  cutLater(ip: string): void;
  /** Tells the fleet of a ban the firewall answered, if the engine still holds it (BanPipeline.shareWithFleet). */
  shareWithFleet(ban: BanRecord): void;
  /** The store's write-ahead record of bans, a failure said in a notice, never thrown (BanPipeline.writeAhead). */
  writeAhead(bans: readonly BanRecord[], write: () => void): void;
}

export class BulkBans {
  private readonly h: BanPipelineHost;
  private readonly p: BulkBanParts;
  /** The batches of applyTogether and unbanTogether still running: BanPipeline.idle() waits for them. */
  running: Promise<void> = Promise.resolve();

  constructor(parts: BulkBanParts) {
    this.h = parts.host;
    this.p = parts;
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
    this.p.collectBans(decided);
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
      this.p.collectBans(null);
    }
    // An address listed twice was extended by the engine: its latest record stands.
    const byIp = new Map(decided.map((b) => [b.ip, b]));
    const bans = [...byIp.values()];
    if (bans.length === 0) return { banned: 0, refused };
    const decidedAt = performance.now();
    this.recordDecided(bans);
    const fw = h.firewall;
    let firewallDone: Promise<void> = Promise.resolve();
    // Bans the firewall did not take (the ufw backend: a source the user has a rule of their own for):
    // refused with the reason, never counted as banned.
    let skipped: SkippedBan[] = [];
    let failed: string | null = null;
    if (h.dryRun || !fw) {
      // Shared with the fleet like any local ban (each is one alert in the push queue).
      for (const b of bans) this.p.took(b.ip, b.until, b.at);
      for (const b of bans) this.p.announce(b);
      for (const b of bans) h.fleet()?.onBan(b);
      for (const b of bans) h.onBan?.(b, { latencyMs: null, dryRun: true });
    } else {
      firewallDone = this.p.order.forAll(async () => {
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
              this.p.announce(b);
              h.onBan?.(b, { latencyMs: null, dryRun: false, error: why });
              ended = this.p.refused(b);
              continue;
            }
            this.p.took(b.ip, b.until, b.at);
            this.p.announce(b);
            if (h.settings().ban.cutConnections && !fw.blocksEstablished) this.p.cutLater(b.ip);
            this.p.shareWithFleet(b);
            h.onBan?.(b, { latencyMs, dryRun: false });
          }
          if (skipped.length) {
            const more = skipped.length > 1 ? ` (and ${skipped.length - 1} more; their bans are ended too: refused-users-rule)` : '';
            h.notice('warn', `${skipped.length} of ${bans.length} addresses were not banned in the firewall: ${skippedBanText(skipped[0]!)}. ${ended}${more}`);
          }
        } catch (e) {
          failed = errorText(e);
          for (const b of bans) this.p.announceFailed(b, failed);
          for (const b of bans) this.p.shareWithFleet(b);
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
    this.p.writeAhead(bans, () => {
      if (h.store.recordBans) h.store.recordBans(bans);
      else for (const b of bans) h.store.recordBan(b);
    });
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
   *
   * The UI hears of the pull as a whole: 'fleetSync' start before its first ban event, end after its
   * last batch answered (a ufw batch takes seconds, and the desktop summed up each batch on its own).
   * A batch the firewall failed is one error notice with the firewall's error, and each of its bans
   * is announced with that error. A ban refused for a rule of the user's is announced, then ended (as
   * a single ban is): the desktop sees both together and says nothing of a ban it never announced.
   */
  async applyTogether(decide: () => void): Promise<void> {
    const h = this.h;
    const decided: BanRecord[] = [];
    const outer = this.p.collectBans(decided);
    try {
      decide();
    } finally {
      this.p.collectBans(outer);
    }
    if (outer) {
      outer.push(...decided); // inside a banMany: it applies them
      return;
    }
    const bans = [...new Map(decided.map((b) => [b.ip, b])).values()];
    if (bans.length === 0) return;
    const decidedAt = performance.now();
    this.recordDecided(bans);
    this.storeOffenders(bans);
    h.events.push({ type: 'fleetSync', phase: 'start' });
    const fw = h.firewall;
    if (h.dryRun || !fw) {
      // The end in a finally, as on the firewall's path: a sync left open holds the desktop's fleet summaries back for good.
      try {
        for (const b of bans) this.p.took(b.ip, b.until, b.at);
        for (const b of bans) this.p.announce(b);
        for (const b of bans) h.fleet()?.onBan(b);
        for (const b of bans) h.onBan?.(b, { latencyMs: null, dryRun: true });
      } finally {
        h.events.push({ type: 'fleetSync', phase: 'end' });
      }
      return;
    }
    const byIp = new Map(bans.map((b) => [b.ip, b]));
    const size = h.settings().ban.backend === 'set' ? RESTORE_BATCH_SET : RESTORE_BATCH_UFW;
    // idle() waits for every batch, not only the one queued now.
    const run = this.p.rec
      .inBatches([...byIp.keys()], size, async (chunk) => {
        const result = { restored: [] as string[], failed: new Map<string, string>() };
        // A refused one is announced before restoreBatch ends it: ban then unban, in one delivery.
        await this.p.rec.restoreBatch(fw, chunk, result, (b) => this.p.announce(b));
        const latencyMs = performance.now() - decidedAt;
        // Not taken and still held (the call failed): announced as failed with the firewall's error,
        // never as banned; one notice per failed batch.
        let said = '';
        for (const [ip, error] of result.failed) said = this.p.announceFailed(byIp.get(ip)!, error);
        if (result.failed.size === 1) h.notice('error', `A ban from the fleet was not taken: ${said}`);
        else if (result.failed.size > 1) {
          const first = result.failed.values().next().value!;
          h.notice('error', `Could not ban ${result.failed.size} of ${chunk.length} bans from the fleet in the firewall: ${first} (they stay recorded as active; the next start tries again)`);
        }
        for (const ip of result.restored) {
          const b = byIp.get(ip)!;
          this.p.bannedAt(b.at); // what stands: restoreBatch noted it
          this.p.announce(b);
          if (h.settings().ban.cutConnections && !fw.blocksEstablished) this.p.cutLater(ip);
          this.p.shareWithFleet(b);
          h.onBan?.(b, { latencyMs, dryRun: false });
        }
      })
      .finally(() => h.events.push({ type: 'fleetSync', phase: 'end' }));
    this.running = this.running.then(() => run);
    await run;
  }

  /**
   * The unbans `lift` makes (a fleet resync's decisions found gone, through the engine: applyUnban,
   * engine and store first, events as for any unban) leave the firewall as batches of its bulk unban,
   * as a pull's bans go in (applyTogether) — not one call each: with the ufw backend one `ufw delete`
   * is ~0.3 s, so a resync finding thousands gone kept the ban queue busy for minutes. What the engine
   * holds when a batch RUNS decides (liftBatch): an address banned again since keeps its entry. A
   * batch the firewall failed is retried one by one, and what still fails is one error notice.
   */
  async unbanTogether(lift: () => void): Promise<void> {
    const lifted = new Map<string, UnbanReason>();
    const outer = this.p.collectUnbans(lifted);
    try {
      lift();
    } finally {
      this.p.collectUnbans(outer);
    }
    if (outer) {
      // Inside another: it lifts them.
      for (const [ip, why] of lifted) {
        outer.delete(ip);
        outer.set(ip, why);
      }
      return;
    }
    const fw = this.h.firewall;
    if (lifted.size === 0 || !fw) return;
    const size = this.h.settings().ban.backend === 'set' ? RESTORE_BATCH_SET : RESTORE_BATCH_UFW;
    // The helper's audit log takes one reason per batch: a batch per reason (a resync's are all one).
    const byReason = new Map<UnbanReason, string[]>();
    for (const [ip, why] of lifted) {
      const ips = byReason.get(why);
      if (ips) ips.push(ip);
      else byReason.set(why, [ip]);
    }
    const liftAll = async () => {
      for (const [why, ips] of byReason) await this.p.rec.inBatches(ips, size, (chunk) => this.liftChunk(fw, chunk, why));
    };
    const run = liftAll();
    this.running = this.running.then(() => run);
    await run;
  }

  /** One batch of unbanTogether: the bulk unban, else one by one, and what still fails is one error notice. */
  private async liftChunk(fw: FirewallPort, chunk: string[], why: UnbanReason): Promise<void> {
    try {
      await this.p.rec.liftBatch(fw, chunk, why);
    } catch (e) {
      this.h.log('warn', `lifting ${chunk.length} bans as one batch failed (${errorText(e)}); retrying one by one`);
      const failed: string[] = [];
      let error = '';
      for (const ip of chunk) {
        if (this.h.engine().isBanned(ip)) continue;
        try {
          await fw.unban(ip, why);
        } catch (e1) {
          failed.push(ip);
          error ||= errorText(e1);
        }
      }
      if (failed.length === 1) this.h.notice('error', `Could not lift the ban of ${failed[0]} in the firewall: ${error}`);
      else if (failed.length > 1) this.h.notice('error', `Could not lift the bans of ${failed.length} addresses in the firewall (${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ', …' : ''}): ${error}`);
    }
  }
}
