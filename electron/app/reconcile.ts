/**
 * The start-up reconcile: makes the firewall agree with the store after a reboot or a crash — bans
 * whose time ran out while nobody ran are closed, bans missing from the firewall are restored, stale
 * and duplicate entries removed, bans left in the other ban backend moved into this one, and bans
 * extended since they went in banned again with the later end. The ban pipeline (ban-pipeline.ts)
 * owns it and runs it behind log reading (startReconcile); its batch steps, restoreBatch, liftBatch
 * and inBatches, are also how a fleet pull's bans reach the firewall and its unbans leave it
 * (applyTogether, unbanTogether: bulk-bans.ts).
 *
 * Each batch is one step of the pipeline's FirewallOrder, so a live ban decided meanwhile runs
 * between two batches; what the engine holds when a batch RUNS decides, never the listing's snapshot.
 */
import type { BanRecord } from '../shared/model.ts';
import { canonicalIp } from '../shared/domain.ts';
import { errorText } from '../shared/errors.ts';
import type { FirewallPort } from '../engine/ports.ts';
import { skippedBanText, type FirewallUnbanReason, type SkippedBan } from '../shared/helper-protocol.ts';
import { banComment, RESTORE_BATCH_SET, RESTORE_BATCH_UFW, type BanPipelineHost } from './ban-pipeline-host.ts';
import type { FirewallOrder } from './firewall-order.ts';

/**
 * How much later than the firewall's end the store's must be for reconcile to ban again: the ends the
 * firewall lists are whole seconds counted from the listing (±2 s of the store's); an extension is
 * minutes or more.
 */
const EXTENDED_SLACK_MS = 5_000;

export type ReconcileResult = { restored: string[]; removed: string[]; deduplicated: string[]; moved: string[]; extended: string[] };

/** What the reconcile needs of the pipeline that owns it. */
export interface ReconcilerParts {
  host: BanPipelineHost;
  /** The pipeline's order of firewall changes: batches run between its live bans. */
  order: FirewallOrder;
  /** True once the service stops: a batch job stops after its current batch. */
  stopped(): boolean;
  /** Ends a ban the firewall refused for a rule of the user's (BanPipeline.refused); the notice's sentence. */
  refused(ban: { ip: string; until: number | null }): string;
  /** The firewall holds a ban of `ip` ending at `until` (put in, or found there): see BanPipeline.inForce. */
  took(ip: string, until: number | null): void;
  /** As took, for an end read from the firewall's listing: never over one a ban of this run recorded (it may postdate the listing). */
  listed(ip: string, until: number | null): void;
  /** The firewall no longer holds what was recorded for `ip` (reconcile took its entries out and could not put one back). */
  lost(ip: string): void;
}

/** What a batch of restoreBatch did: addresses put in, and (when asked for) those it could not, with the error. */
export type RestoreResult = { restored: string[]; failed?: Map<string, string> };

export class Reconciler {
  private readonly h: BanPipelineHost;
  private readonly order: FirewallOrder;
  private readonly stopped: () => boolean;
  private readonly refused: (ban: { ip: string; until: number | null }) => string;
  private readonly took: (ip: string, until: number | null) => void;
  private readonly listed: (ip: string, until: number | null) => void;
  private readonly lost: (ip: string) => void;

  constructor(parts: ReconcilerParts) {
    this.h = parts.host;
    this.order = parts.order;
    this.stopped = parts.stopped;
    this.refused = parts.refused;
    this.took = parts.took;
    this.listed = parts.listed;
    this.lost = parts.lost;
  }

  /**
   * Makes the firewall agree with the store: bans that expired are removed, bans missing from the
   * firewall (crash between store and firewall, reboot emptied the set) are restored, duplicates are
   * collapsed. Only what FirewallPort.listBans reports is touched, and that lists Portcullis's own
   * tagged rules / set elements, never the user's rules.
   */
  async reconcile(now = this.h.now()): Promise<ReconcileResult> {
    const h = this.h;
    const result = { restored: [] as string[], removed: [] as string[], deduplicated: [] as string[], moved: [] as string[], extended: [] as string[] };
    const fw = h.firewall;
    if (!fw || h.dryRun) return result;
    // Bans whose time ran out while nobody was running: close them in the store (history stays right).
    // A store that cannot write must not stop the restore of the bans that stand (they matter more
    // than the history): the close is tried again at the next start.
    for (const b of h.store.openBans?.() ?? []) {
      if (b.until === null || b.until > now) continue;
      try {
        h.store.recordUnban(b.ip, b.until, 'expired');
      } catch (e) {
        h.storeFailed?.(e);
        break;
      }
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
    // Only for addresses reconcile leaves as they are: a duplicate's entries are taken out below, and
    // a moved address's entry may go with the other backend's (they share the forward sets); theirs
    // are recorded once put back.
    const moving = new Set(elsewhere);
    for (const ip of wanted.keys()) {
      const end = listedEnd.get(ip);
      if (end !== undefined && (count.get(ip) ?? 0) <= 1 && !moving.has(ip)) this.listed(ip, end);
    }
    const batch = h.settings().ban.backend === 'set' ? RESTORE_BATCH_SET : RESTORE_BATCH_UFW;
    // What the engine holds when a batch RUNS decides, not this snapshot: log reading goes on
    // meanwhile, and a host banned (or unbanned) since must keep its newer state. In batches, as the
    // restore below: with the ufw backend a batch of stale rules costs one edit and load of ufw's
    // rules files, and a live ban waits for one batch, not for all of them.
    const stale = [...count].filter(([ip]) => !wanted.has(ip)).map(([ip]) => ip);
    if (stale.length) await this.inBatches(stale, batch, async (chunk) => {
      try {
        result.removed.push(...(await this.liftBatch(fw, chunk, 'stale')));
      } catch (e) {
        h.log('warn', `reconcile: cannot remove ${chunk.length} stale bans: ${errorText(e)}`);
      }
    });
    for (const [ip, n] of count) {
      const want = wanted.get(ip);
      if (!want || n <= 1) continue;
      await this.order.forAll(async () => {
        for (let i = 0; i < n; i++) await fw.unban(ip, 'stale').catch(() => undefined);
        // Put back the ban the engine holds NOW (as the restore below does): one lifted since the
        // listing must not come back from the snapshot.
        const now2 = h.now();
        const cur = h.engine().activeBans().find((b) => b.ip === ip);
        let back = false;
        if (cur && (cur.until === null || cur.until > now2)) {
          const skipped = await fw.ban(ip, cur.until, banComment(cur)).then(
            (r) => ({ r }),
            (e) => void h.log('warn', `reconcile ban ${ip}: ${errorText(e)}`),
          );
          if (skipped?.r) h.notice('warn', `Not banned: ${skippedBanText(skipped.r)}. ${this.refused(cur)}`);
          else if (skipped) {
            back = true;
            this.took(ip, cur.until);
          }
        }
        if (!back) this.lost(ip);
        result.deduplicated.push(ip);
      });
    }
    // Bans in the other backend (ban.backend switched since): out of it, then those the engine holds
    // back into this one in the same batch (the set and the ufw backend's mirror share the sets: the
    // other's removal must come first), so each is unblocked for one batch's ban at most.
    const other = h.otherFirewall;
    if (other && elsewhere.length) await this.inBatches(elsewhere, batch, async (chunk) => {
      try {
        if (other.unbanMany) this.warnUnbans(chunk.length, await other.unbanMany(chunk, 'moved'));
        else for (const ip of chunk) await other.unban(ip, 'moved');
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
   * the user's decides is ended (refused-users-rule), after `beforeEnd` (a fleet pull announces it
   * first). Those the firewall failed to take go into `result.failed` with the error, when given.
   */
  async restoreBatch(fw: FirewallPort, ips: readonly string[], result: RestoreResult, beforeEnd?: (ban: BanRecord) => void): Promise<void> {
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
      for (const b of todo) if (!notBanned.has(b.ip)) this.took(b.ip, b.until);
      result.restored.push(...todo.filter((b) => !notBanned.has(b.ip)).map((b) => b.ip));
      for (const s of skipped) h.log('warn', `reconcile: not restored: ${skippedBanText(s)}`);
      // Not restored for a rule of the user's: kept as active, it would be a ban that blocks nothing.
      let ended = '';
      for (const b of todo) {
        if (!notBanned.has(b.ip)) continue;
        beforeEnd?.(b);
        ended = this.refused(b);
      }
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
            beforeEnd?.(b);
            h.notice('warn', `Not restored: ${skippedBanText(skipped)}. ${this.refused(b)}`);
            continue;
          }
          this.took(b.ip, b.until);
          result.restored.push(b.ip);
        } catch (e1) {
          h.log('error', `reconcile: cannot restore the ban of ${b.ip}: ${errorText(e1)}`);
          result.failed?.set(b.ip, errorText(e1));
        }
      }
    }
  }

  /**
   * Takes the entries of a batch of addresses out of the firewall (its bulk unban), but not those the
   * engine holds a ban of when the batch RUNS: banned again since, they must keep their entry. Returns
   * the addresses taken out; rejects with the firewall's error (the whole batch, as one call). `why`
   * goes to the helper's audit log with the batch.
   */
  async liftBatch(fw: FirewallPort, ips: readonly string[], why: FirewallUnbanReason): Promise<string[]> {
    const todo = ips.filter((ip) => !this.h.engine().isBanned(ip));
    if (todo.length === 0) return todo;
    if (fw.unbanMany) this.warnUnbans(todo.length, await fw.unbanMany(todo, why));
    else for (const ip of todo) await fw.unban(ip, why);
    return todo;
  }

  /**
   * What a bulk unban warned of though its bans came out (the ufw backend: a file of ufw's its failed
   * batch edit could not put back, someone else's edit since), as a notice: the user must check it, as
   * a ban batch's failed put-back is in its error notice.
   */
  private warnUnbans(count: number, warnings: readonly string[]): void {
    for (const w of warnings) this.h.notice('warn', `Lifting ${count} ban${count === 1 ? '' : 's'} in the firewall: ${w}`);
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
  async inBatches<T>(items: readonly T[], size: number, op: (batch: T[]) => Promise<void>): Promise<void> {
    for (let i = 0; i < items.length && !this.stopped(); i += size) {
      const batch = items.slice(i, i + size);
      await this.order.forAll(() => op(batch));
    }
  }
}
