/**
 * What one item of the push queue sends to the LAPI, and what the LAPI's answer makes the queue
 * write: a batch of pushes as one POST /v1/alerts (their alert ids kept, the deletes of the alerts a
 * ban pushed again supersedes queued), a delete as DELETE /v1/decisions/{id} of exactly this host's
 * decisions (their alerts then forgotten). FleetLink (link.ts) decides when and what to send.
 *
 * WHY the answer's writes are handed back instead of made here: the database may be locked by
 * another process by the time the answer comes (head() found it writable before the request); they
 * are made with the items' removal as one change of the queue (FleetQueue.acknowledged), which waits
 * in memory, in order, when the database cannot take it — written here, a write that failed busy
 * left the item in the queue, and it was sent again.
 */
import * as z from 'zod';
import { LapiError, type LapiClient } from './client.ts';
import { alertBody, parseGoDuration, type PushedBan } from './lapi.ts';
import type { FleetQueue, QueueItem } from './queue.ts';

/**
 * A queued delete, as the queue's database holds it:
 * - `{}`: an unban — every decision of this host for the address.
 * - `{drop, keep}`: a ban pushed again (an extension, a re-ban) as alert `keep` supersedes exactly the
 *   alerts `drop` this host had pushed for the address before it. Never a newer alert: a push queued
 *   or in flight meanwhile has its own delete, queued after it.
 * - `{drop}` alone: the same for a ban pushed again whose alert id is not known (the LAPI took it but
 *   its answer was lost): exactly the alerts `drop`, and no other decision of this host's.
 * - `{keep}` alone: written by an earlier version ("all of mine but `keep`"); read as the alerts older
 *   than `keep` (the LAPI numbers alerts in order), which is what it meant.
 */
const DeleteBodySchema = z.object({ drop: z.array(z.string()).optional(), keep: z.string().optional() });
type DeleteBody = z.infer<typeof DeleteBodySchema>;

/**
 * How far the end of a decision the LAPI made from a push may be from the pushed ban's: the push
 * says the time left, and the LAPI counts it from when it took the request (up to the client's
 * timeout after it was sent); an extension or a re-ban ends minutes or more from the earlier ban.
 */
const PUSHED_END_SLACK_MS = 60_000;

/** Whether alert `a` was pushed before alert `b`: the LAPI numbers alerts in order (ids that are no numbers: never). */
function olderAlert(a: string, b: string): boolean {
  return /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) < BigInt(b);
}

/** The queue's writes that an answer of the LAPI makes due, made by FleetQueue.acknowledged (it may run later: it reads what it needs then). */
export type Acknowledgement = () => void;

export interface PushSendOptions {
  client: LapiClient;
  queue: FleetQueue;
  /** This host's origin (portcullis@<machine>), null without machine credentials. */
  origin: string | null;
  /** Why the machine credentials cannot be used, or null. */
  credError: string | null;
  now: () => number;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export class PushSender {
  private readonly o: PushSendOptions;
  /** The last push may have reached the LAPI though no answer came back (connection cut mid-request). */
  uncertain = false;

  constructor(opts: PushSendOptions) {
    this.o = opts;
  }

  /** Sends a batch of pushes: what the answer makes the queue write. */
  async pushes(batch: readonly QueueItem[]): Promise<Acknowledgement> {
    if (this.o.credError) throw new LapiError('auth', null, this.o.credError);
    const q = this.o.queue;
    const now = this.o.now();
    const live: { item: QueueItem; ban: PushedBan }[] = [];
    for (const item of batch) {
      const ban = JSON.parse(item.body) as PushedBan;
      // A ban that ended while it waited needs no decision.
      if (ban.until === null || ban.until > now + 1000) live.push({ item, ban });
    }
    // Never push a ban twice: one the LAPI took though its answer was lost is not sent again. The
    // alerts it supersedes go as after any push again (its own alert id is not known: none kept).
    const taken: string[] = [];
    if (this.uncertain) {
      for (let i = live.length - 1; i >= 0; i--) {
        if (!(await this.pushedUnanswered(live[i]!.ban, now))) continue;
        taken.push(live[i]!.ban.ip);
        live.splice(i, 1);
      }
      this.uncertain = false;
    }
    const ids = live.length === 0 ? [] : await this.o.client.pushAlerts(live.map((l) => alertBody(l.ban, this.o.origin!, now)));
    return () => {
      for (const ip of new Set(taken)) {
        const older = q.alertsOf(ip);
        if (older.length > 0) q.add('delete', ip, { drop: older } satisfies DeleteBody);
      }
      live.forEach((l, i) => {
        const id = ids[i]!;
        // A ban of an address already pushed (an extension, a re-ban): the new decision says how long
        // the ban lasts now, so the older ones go — or they would hold it fleet-wide for their own time.
        // Exactly the alerts pushed before this one (named now: a push that follows has its own delete).
        const older = q.alertsOf(l.ban.ip);
        q.addAlert(l.ban.ip, id);
        if (older.length > 0) q.add('delete', l.ban.ip, { drop: older, keep: id } satisfies DeleteBody);
      });
    };
  }

  /**
   * Whether the LAPI holds the decision of this push already (a push whose answer was lost): a
   * decision of ours for the address that no alert we know of made (the known ones are the bans this
   * one extends or replaces: counting them lost every extension pushed over a cut connection) and
   * that ends when this ban does (a permanent ban: any such).
   */
  private async pushedUnanswered(ban: PushedBan, now: number): Promise<boolean> {
    const ours = (await this.o.client.decisionsFor(ban.ip)).filter((d) => d.origin === this.o.origin && d.value === ban.ip);
    if (ours.length === 0) return false;
    const known = new Set<number>();
    for (const alertId of this.o.queue.alertsOf(ban.ip)) for (const id of await this.o.client.alertDecisionIds(alertId)) known.add(id);
    return ours.some((d) => {
      if (known.has(d.id)) return false;
      if (ban.until === null) return true;
      const ms = parseGoDuration(d.duration);
      return ms !== null && Math.abs(now + ms - ban.until) <= PUSHED_END_SLACK_MS;
    });
  }

  /**
   * Deletes this host's decisions for the address, by id — never another host's. An unban: those of
   * every alert it pushed for it, and any other decision of its origin the LAPI lists for the value
   * (a push whose answer was lost, one of an earlier database). A ban pushed again: those of the
   * alerts it supersedes, and of its origin only decisions older than the new alert's (LAPI ids grow),
   * so a ban pushed after it is never touched. What the answer makes the queue write: those alerts forgotten.
   */
  async delete(item: QueueItem): Promise<Acknowledgement> {
    let raw: unknown = null;
    try {
      raw = JSON.parse(item.body);
    } catch {
      // unreadable: below
    }
    const body = DeleteBodySchema.safeParse(raw);
    if (!body.success) {
      this.o.log('warn', `fleet: a queued delete for ${item.ip} is unreadable (${body.error.issues[0]?.message ?? 'invalid'}): skipped`);
      return () => undefined;
    }
    const client = this.o.client;
    const known = this.o.queue.alertsOf(item.ip);
    const unban = body.data.drop === undefined && body.data.keep === undefined;
    const keep = body.data.keep ?? null;
    const drop = unban ? known : (body.data.drop ?? known.filter((a) => olderAlert(a, keep!)));
    const ids = new Set<number>();
    for (const alertId of drop) for (const id of await client.alertDecisionIds(alertId)) ids.add(id);
    // Unknown decisions of this host's: all of them on an unban; on a supersede only those older than
    // the kept alert's (none when its decisions are gone: nothing tells older from newer then).
    let below = unban ? Infinity : -Infinity;
    if (keep !== null) {
      const kept = await client.alertDecisionIds(keep);
      if (kept.length > 0) below = Math.min(...kept);
    }
    if (below > -Infinity) {
      try {
        for (const d of await client.decisionsFor(item.ip)) if (d.origin === this.o.origin && d.value === item.ip && d.id < below) ids.add(d.id);
      } catch (e) {
        // A bouncer key the LAPI refuses (the pull says so) must not hold the delete: the alerts' ids do it.
        if (!(e instanceof LapiError && e.kind === 'auth')) throw e;
      }
    }
    for (const id of ids) await client.deleteDecision(id);
    return () => this.o.queue.forgetAlerts(item.ip, drop);
  }
}
