/**
 * Records the engine produces and every outer layer shows or stores: offenders, bans, engine
 * events. zod schemas because they cross the IPC/WebSocket boundary and the SQLite store.
 */
import * as z from 'zod';

export const ScanTypeSchema = z.enum(['SYN', 'UDP', 'FIN', 'NULL', 'XMAS', 'MIXED', 'OTHER']);
export type ScanType = z.infer<typeof ScanTypeSchema>;

export const OffenderStateSchema = z.enum(['watching', 'banned', 'whitelisted', 'expired']);
export type OffenderState = z.infer<typeof OffenderStateSchema>;

/** Why a ban happened: kept with the ban, shown in the UI, written into the store. */
export const BanReasonSchema = z.object({
  kind: z.enum(['scan', 'manual']),
  scanType: ScanTypeSchema.optional(),
  /** Distinct destination ports seen in the window (capped list, ascending). */
  ports: z.array(z.number().int()),
  hits: z.number().int(),
  firstSeen: z.number(),
  lastSeen: z.number(),
  note: z.string().optional(),
  /** Where a fleet ban came from (a CrowdSec decision's origin, e.g. portcullis@hostA); absent = this host. */
  origin: z.string().optional(),
  /**
   * This host's own ban of an address a fleet decision holds longer (a short manual ban of a
   * fleet-banned address): when this host's own part ends. The ban here lasts until `until` (the
   * fleet's end), but only this part is pushed to the LAPI as this host's decision — the rest is
   * another host's, never echoed back as ours. Absent: `until` is this host's own end (or, with
   * `origin`, the fleet's).
   */
  ownUntil: z.number().optional(),
  /** A prefix ban (its ip is a CIDR): the member addresses seen probing (capped). */
  members: z.array(z.string()).optional(),
});
export type BanReason = z.infer<typeof BanReasonSchema>;

/**
 * The longest ban anyone can ask for (API ban/banMany, `portcullis ban --duration`, fleet decisions).
 * Without a bound a duration of ~1e13 s gave an `until` beyond 2^53 ms, which SQLite keeps as an
 * integer that node:sqlite refuses to read back: every later read of the bans, and so every start,
 * failed. Longer than this is what a permanent ban (ban.permanentAfterStrikes) is for.
 */
export const MAX_BAN_DURATION_SEC = 3650 * 86_400;
/** A ban duration in whole seconds: the one schema every way of asking for one goes through. */
export const BanDurationSecSchema = z.number().int().positive().max(MAX_BAN_DURATION_SEC, 'a ban lasts at most 3,650 days');

export const BanRecordSchema = z.object({
  ip: z.string(),
  /** When the ban started (event time for scan bans). */
  at: z.number(),
  /** When it ends, or null for a permanent ban. */
  until: z.number().nullable(),
  /** Offences so far including this one (1 on a first ban). */
  strikes: z.number().int(),
  reason: BanReasonSchema,
  /**
   * In the ban history: when and why the ban ended (an UnbanReason: 'expired': its time ran out;
   * 'manual': lifted by an unban; 'whitelisted'; 'refused-users-rule': never in force, the firewall
   * refused it for a rule of the user's). Without it a ban lifted after a minute read as if it had
   * lasted its full hour. A string, not the enum: rows written by other versions still read.
   */
  ended: z.object({ at: z.number(), why: z.string() }).optional(),
});
export type BanRecord = z.infer<typeof BanRecordSchema>;

export const OffenderSchema = z.object({
  ip: z.string(),
  hits: z.number().int(),
  distinctPorts: z.number().int(),
  /** Most targeted ports first, capped. */
  ports: z.array(z.number().int()),
  firstSeen: z.number(),
  lastSeen: z.number(),
  scanType: ScanTypeSchema,
  state: OffenderStateSchema,
  strikes: z.number().int(),
  bannedUntil: z.number().nullable().optional(),
  /** A prefix (its ip is a CIDR): the member addresses seen probing (capped). */
  members: z.array(z.string()).optional(),
});
export type Offender = z.infer<typeof OffenderSchema>;

/** Why a packet record did not count as a probe. Counted by reason in stats and replay output. */
export const IGNORE_REASONS = [
  'prefix-not-counted',
  'not-inbound',
  'not-a-probe',
  'late-reply',
  'icmp-error',
  'fragment',
  'allowed-port',
  'ignored-port',
  'whitelisted',
  'untrusted',
  'not-for-this-host',
  'already-banned',
  /** Another LOG rule's line for a packet already taken (the per-source block's and ufw's own). */
  'duplicate-record',
] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

/**
 * Why a ban ended: its time ran out, a user lifted it, the whitelist covers the address now (an
 * entry added, a restart that restored a ban the whitelist forbids, a new gateway or host address),
 * or 'refused-users-rule': the firewall refused it because a rule of the user's own decides that
 * source's traffic (ufw keeps one rule per source: the user's `allow from IP` or their own deny), so
 * nothing of Portcullis's blocks it and calling it banned would be a lie.
 */
export const UNBAN_REASONS = ['expired', 'manual', 'whitelisted', 'refused-users-rule'] as const;
export type UnbanReason = (typeof UNBAN_REASONS)[number];

/** How a ban's end reads for the user (the UI's ban history, `portcullis bans --history`, notifications). */
export const UNBAN_REASON_TEXT: Record<UnbanReason, string> = {
  expired: 'expired',
  manual: 'lifted',
  whitelisted: 'whitelisted',
  'refused-users-rule': 'not banned: the firewall refused it, a rule of yours for this source decides its traffic',
};

/** UNBAN_REASON_TEXT for a stored reason (a string: another version may have written it). */
export function unbanReasonText(why: string): string {
  return Object.hasOwn(UNBAN_REASON_TEXT, why) ? UNBAN_REASON_TEXT[why as UnbanReason] : why;
}

/** What the engine tells the outer layers, in event-time order. */
export type EngineEvent =
  | { type: 'probe'; ip: string; port: number | null; time: number; scanType: ScanType }
  | { type: 'ban'; ban: BanRecord }
  | { type: 'unban'; ip: string; time: number; why: UnbanReason }
  /** The new-bans-per-minute cap held this ban back; it is retried when the budget allows. */
  | { type: 'ban-deferred'; ip: string; time: number; queued: number }
  | { type: 'evicted'; ip: string; time: number };
