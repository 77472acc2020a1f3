/**
 * The wire protocol between Portcullis and its root helper: newline-delimited JSON over a Unix
 * socket (desktop) or direct calls (headless runner, same process). Requests are `{id, op, args}`
 * with a CLOSED set of ops; every op's args and result have a zod schema here, and the helper
 * decodes with them before anything runs. Anything the schemas do not describe is refused.
 */
import * as z from 'zod';
import * as zm from 'zod/mini';
import { type BanTarget, canonicalCidr, IpSchema } from './domain.ts';
import { V4_PREFIX_MIN, V6_PREFIX_MIN } from './prefix.ts';
import { RuleExpectSchema, RuleOpSchema, RuleSpecSchema, RulesViewSchema, UfwRuleSchema } from './api.ts';
import { CodedError, failure, replyEnvelope } from './reply-envelope.ts';
import { UNBAN_REASONS } from './model.ts';

export const HELPER_PROTOCOL_VERSION = 1;
/** A request line longer than this is refused before JSON.parse (a hostile peer must not make root parse megabytes). */
export const MAX_LINE_BYTES = 64 * 1024;
/** Comment prefix of every ufw rule Portcullis creates: how its own rules are told apart from the user's. */
export const PORTCULLIS_TAG = 'portcullis-ban';
/** Cap on kmsg records per event frame (and on one record's length), so a frame stays under the line cap of a reader. */
export const MAX_KMSG_RECORDS_PER_EVENT = 256;
export const MAX_KMSG_RECORD_CHARS = 2048;

/** Characters allowed in comments passed to ufw: no quotes, no shell or ufw syntax, no newlines. */
const SAFE_TEXT = /^[A-Za-z0-9 _.,:@()/+=-]*$/;
export const SafeCommentSchema = z
  .string()
  .max(100, 'comments are at most 100 characters')
  .regex(SAFE_TEXT, 'comments may use letters, digits, spaces and _.,:@()/+=-');

/** ipset's largest per-element timeout (~24.8 days); longer bans are permanent (null) and expired by Portcullis. */
export const MAX_BAN_SEC = 2_147_483;
const BackendSchema = z.enum(['ufw', 'set']);
/** `forward`: routed and container traffic (helper/firewall/forward-blocks.ts). */
const BlockSchema = z.enum(['set', 'perSourceLogging', 'forward']);
const RuleNumberSchema = z.number().int().min(1).max(100_000);
/** The rule as the client saw it: lets the helper find it again if numbers shifted (bans are prepended). */
const ExpectSchema = RuleExpectSchema.optional();

/** At the root boundary, an address is exactly an address: no surrounding whitespace, nothing else. */
const StrictIpSchema = z.string().max(45).regex(/^[0-9A-Fa-f:.]+$/, 'not an IPv4 or IPv6 address').pipe(IpSchema);
/**
 * A network as a ban target (a prefix ban), strictly: already in canonical form (its network address,
 * lower-case, RFC 5952), IPv4 /16–/31 or IPv6 /48–/127 (a /32 or /128 is an address: send the address).
 * No other spelling is rewritten here: what the helper bans is exactly what was asked.
 */
const StrictPrefixSchema = z
  .string()
  .max(49)
  .regex(/^[0-9a-f:.]+\/\d{1,3}$/, 'not a network (CIDR) in canonical form, e.g. 2001:db8:1:2::/64')
  .superRefine((s, ctx) => {
    const canonical = canonicalCidr(s);
    if (canonical === null) return void ctx.addIssue({ code: 'custom', message: `"${s}" is not a network (CIDR)` });
    if (canonical !== s) return void ctx.addIssue({ code: 'custom', message: `"${s}" is not in canonical form (${canonical}): host bits set or another spelling` });
    const bits = Number(s.slice(s.indexOf('/') + 1));
    const v6 = s.includes(':');
    const [min, max] = v6 ? [V6_PREFIX_MIN, 127] : [V4_PREFIX_MIN, 31];
    if (bits < min || bits > max) ctx.addIssue({ code: 'custom', message: `a banned IPv${v6 ? 6 : 4} network is /${min} to /${max} (got /${bits})` });
  });
/** What a ban names: one address, or one network (a prefix ban). */
const BanTargetSchema = z.string().max(49).transform((s, ctx): BanTarget => {
  // A '/' decides which it must be, so a refusal names the reason of that kind (a union's would not).
  const r = (s.includes('/') ? StrictPrefixSchema : StrictIpSchema).safeParse(s);
  if (r.success) return r.data as BanTarget;
  for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
  return z.NEVER;
});
/**
 * Why Portcullis takes a ban out of the firewall (`unban`, `unbanMany`). It changes nothing the helper
 * does: it is written to the audit log with the op, so every entry that lifts bans says why. A ban's
 * end as the ban history names it (model.ts's UNBAN_REASONS: a fleet decision gone is `manual`, as a
 * single fleet unban), or the firewall's own housekeeping, which ends no ban:
 * - `stale`: reconcile found an entry of Portcullis's the store holds no active ban for;
 * - `moved`: ban.backend was switched, and the entry leaves the other ban backend.
 * (`portcullis uninstall` runs the backend itself, not this protocol: its own audit entry, op `uninstall`, says why.)
 */
export const FIREWALL_UNBAN_REASONS = [...UNBAN_REASONS, 'stale', 'moved'] as const;
export const FirewallUnbanReasonSchema = z.enum(FIREWALL_UNBAN_REASONS, {
  error: (issue) => `not a reason to unban (${FIREWALL_UNBAN_REASONS.join(', ')})${typeof issue.input === 'string' ? `: "${issue.input.slice(0, 40)}"` : ''}`,
});
export type FirewallUnbanReason = z.infer<typeof FirewallUnbanReasonSchema>;
const none = z.object({}).strict().default({});
const done = z.object({ ran: z.array(z.string()) });

/** One ban as the helper takes it (`ban`, and each entry of `banMany`). */
const BanEntrySchema = z
  .object({
    ip: BanTargetSchema,
    /** null: permanent. */
    timeoutSec: z.number().int().min(1).max(MAX_BAN_SEC).nullable(),
    /** Narrower than rule comments: it ends up in ufw's files and in ipset/ufw argv. */
    comment: z
      .string()
      .max(100)
      .regex(/^[A-Za-z0-9 ._:/-]*$/, 'ban comments may use letters, digits, spaces and ._:/-')
      // The ufw backend keeps a ban's expiry in its tag as `exp:<seconds>`: a comment holding one
      // would fake it (`exp:1` made a permanent ban expire at once).
      .refine((c) => !/(?:^| )exp:/.test(c), 'ban comments cannot hold "exp:" (the expiry tag)')
      .default(''),
  })
  .strict();
/** Entries per banMany/unbanMany request: 500 bans (or 500 skipped, answered) stay well under MAX_LINE_BYTES on the socket. */
export const MAX_BATCH = 500;

/**
 * A ban (of a banMany, or a single ban) the firewall did not take, and why, from a closed set — the text is written on
 * the caller's side (skippedBanText), so a batch of 500 skipped bans stays a short answer line:
 * - `users-rule`: the ufw backend; the source has a rule of the user's own (`ufw allow from IP`, or
 *   their own deny), and ufw skips a second rule for the same source.
 * The rest of the batch is in force.
 */
export const SkippedBanSchema = z.object({ ip: z.string().max(49), why: z.enum(['users-rule']) }).strict();
export type SkippedBan = z.infer<typeof SkippedBanSchema>;

/** What a skipped ban means, for the user (notices, a bulk ban's refused list, the single ban's error). */
export function skippedBanText(s: SkippedBan): string {
  return `ufw did not add Portcullis's ban of ${s.ip}: it keeps a rule of yours for ${s.ip} ("Skipping inserting existing rule"), and that rule decides what happens to its traffic; delete it (ufw status numbered) to let Portcullis ban ${s.ip}, or whitelist ${s.ip}`;
}

const LoggingViaSchema = z.enum(['log', 'nflog']);
/**
 * perSourceLoggingVia: how the logging block logs (LOG, or NFLOG for the nflog source); null without
 * one, or when its IPv4 and IPv6 rules differ — perSourceLoggingByFamily says which logs how.
 */
export const BlocksStatusSchema = z.object({
  setBlock: z.boolean(),
  perSourceLogging: z.boolean(),
  perSourceLoggingVia: LoggingViaSchema.nullable().optional(),
  perSourceLoggingByFamily: z.object({ v4: LoggingViaSchema.nullable(), v6: LoggingViaSchema.nullable() }).optional(),
  forward: z.boolean(),
  /** How the forward block logs (LOG, or NFLOG for the nflog source); null: not installed, or its files differ. */
  forwardVia: LoggingViaSchema.nullable().optional(),
});

const DockerUserStateSchema = z.enum(['absent', 'jumped', 'missing-jump']);
/** The forward block in the kernel: files, chains loaded by ufw, and Docker's DOCKER-USER jumps per family. */
export const ForwardBlockStatusSchema = z.object({
  installed: z.boolean(),
  logsRouted: z.boolean(),
  /** LOG, or NFLOG for the nflog source, in all four rules files; null: not installed, or they differ. */
  via: LoggingViaSchema.nullable().optional(),
  loaded: z.object({ v4: z.boolean(), v6: z.boolean() }),
  dockerUser: z.object({ v4: DockerUserStateSchema, v6: DockerUserStateSchema }),
});
export type ForwardBlockStatusView = z.infer<typeof ForwardBlockStatusSchema>;

export const HelperStatusSchema = RulesViewSchema.extend({
  installed: z.boolean(),
  /** Every rule in ufw order (user's and Portcullis's), numbered as `ufw status numbered`. */
  all: z.array(UfwRuleSchema),
  blocks: BlocksStatusSchema,
});
export type HelperStatus = z.infer<typeof HelperStatusSchema>;

export const HelperDoctorCheckSchema = z.object({ id: z.string(), ok: z.boolean(), detail: z.string() });

/** Every op: its args schema and its result schema. The set is closed: nothing else is decoded. */
export const HELPER_OPS = {
  hello: {
    args: z.object({ secret: z.string().min(16).max(512), version: z.number().int().optional() }).strict(),
    result: z.object({ version: z.number().int(), pid: z.number().int() }),
  },
  status: { args: none, result: HelperStatusSchema },
  enable: { args: none, result: done },
  disable: { args: none, result: done },
  addRule: { args: z.object({ rule: RuleSpecSchema }).strict(), result: done },
  insertRule: { args: z.object({ position: RuleNumberSchema, rule: RuleSpecSchema }).strict(), result: done },
  editRule: { args: z.object({ number: RuleNumberSchema, rule: RuleSpecSchema, to: RuleNumberSchema.optional(), expect: ExpectSchema }).strict(), result: done },
  deleteRule: { args: z.object({ number: RuleNumberSchema, expect: ExpectSchema }).strict(), result: done },
  moveRule: { args: z.object({ number: RuleNumberSchema, to: RuleNumberSchema, expect: ExpectSchema }).strict(), result: done },
  setDefault: {
    args: z.object({ direction: z.enum(['incoming', 'outgoing', 'routed']), policy: z.enum(['allow', 'deny', 'reject']) }).strict(),
    result: done,
  },
  setLogging: { args: z.object({ level: z.enum(['off', 'on', 'low', 'medium', 'high', 'full']) }).strict(), result: done },
  ban: {
    args: BanEntrySchema.extend({ backend: BackendSchema }).strict(),
    /** `skipped`: the firewall did not take this ban (as a banMany entry's), and why; absent = in force. */
    result: z.object({ ok: z.literal(true), skipped: SkippedBanSchema.optional() }),
  },
  unban: {
    /** `reason` changes nothing the helper does: it is written to the audit log with the op. */
    args: z.object({ ip: BanTargetSchema, backend: BackendSchema, reason: FirewallUnbanReasonSchema.optional() }).strict(),
    result: z.object({ ok: z.literal(true) }),
  },
  /** Many bans as one firewall batch (restore after reboot, bulk ban); each entry as `ban`'s, without the backend. */
  banMany: {
    args: z.object({ bans: z.array(BanEntrySchema).min(1).max(MAX_BATCH), backend: BackendSchema }).strict(),
    result: z.object({ ok: z.literal(true), skipped: z.array(SkippedBanSchema).max(MAX_BATCH).default([]) }),
  },
  /** `reason`, one for the batch (the caller batches by reason), as `unban`'s: for the audit log, required so no batch is written without it. */
  unbanMany: {
    args: z.object({ ips: z.array(BanTargetSchema).min(1).max(MAX_BATCH), backend: BackendSchema, reason: FirewallUnbanReasonSchema }).strict(),
    /**
     * `warnings`: what went wrong on the way though the bans came out, for the user — the ufw backend's
     * edit of its rules files failed and a file could not be put back (someone else's edit since
     * Portcullis wrote it, left as it is), then `ufw delete` lifted them one by one.
     */
    result: z.object({ ok: z.literal(true), warnings: z.array(z.string().max(4000)).max(8).default([]) }),
  },
  listBans: {
    args: z.object({ backend: BackendSchema }).strict(),
    result: z.object({ bans: z.array(z.object({ ip: z.string(), expiresInSec: z.number().nullable() })) }),
  },
  cutConnections: { args: z.object({ ip: BanTargetSchema }).strict(), result: z.object({ ok: z.literal(true) }) },
  installBlocks: { args: z.object({ block: BlockSchema, via: LoggingViaSchema.optional() }).strict(), result: BlocksStatusSchema },
  removeBlocks: { args: z.object({ block: BlockSchema }).strict(), result: BlocksStatusSchema },
  /**
   * The Doctor's IPv6 fix: IPV6=yes in /etc/default/ufw (that one key only), then `ufw reload` when ufw
   * is active (firewall/ufw-ipv6.ts). No arguments: it can do nothing else.
   */
  enableUfwIpv6: { args: none, result: z.object({ changed: z.boolean(), reloaded: z.boolean() }) },
  /** Read-only: the forward block's state in the kernel (runs `iptables -L/-C`, changes nothing). */
  forwardStatus: { args: none, result: ForwardBlockStatusSchema },
  /**
   * The service's periodic check: while the forward block is installed, puts back DOCKER-USER's jumps
   * that are missing (dockerd recreated the chain, a ufw reload flushed it) — only those, with the
   * argv installBlocks uses (firewall/forward.ts). No arguments. `repaired`: the families it re-added
   * them in (empty: nothing was missing, or there is nothing to join: no Docker, ufw off).
   */
  repairForwardJumps: { args: none, result: z.object({ repaired: z.array(z.enum(['v4', 'v6'])).max(2) }) },
  /**
   * Read-only: the packet counters of the filter table's rules that log to Portcullis's NFLOG group,
   * both families (firewall/nflog-counters.ts) — what the nflog source counts its unread messages from.
   */
  nflogCounters: {
    args: none,
    result: z.object({
      rules: z
        .array(z.object({ family: z.union([z.literal(4), z.literal(6)]), chain: z.string().max(64), rule: z.string().max(2000), packets: z.number().int().min(0) }))
        .max(1000),
      unreadable: z.array(z.object({ family: z.union([z.literal(4), z.literal(6)]), error: z.string().max(500) })).max(2),
    }),
  },
  streamKmsg: {
    /**
     * Records with seq ≤ afterSeq are skipped (resume without duplicates); -1 is "before this boot's
     * first record" (a position stored in another boot: engine/logs/kmsg-position.ts); null streams
     * from the oldest record in the ring, 'now' only records written from now on. A position past the
     * ring's newest record cannot be of this boot: streamed as -1 (the first event says newBoot).
     * Only kernel-facility records are sent; each event counts what was skipped besides (KmsgEventSchema).
     */
    args: z.object({ afterSeq: z.union([z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER), z.literal('now')]).nullable() }).strict(),
    result: z.object({ streaming: z.literal(true) }),
  },
  doctor: { args: none, result: z.object({ checks: z.array(HelperDoctorCheckSchema) }) },
  previewRule: { args: z.object({ op: RuleOpSchema }).strict(), result: z.object({ commands: z.array(z.string()) }) },
} as const;

export type HelperOp = keyof typeof HELPER_OPS;
export const HELPER_OP_NAMES = Object.keys(HELPER_OPS) as HelperOp[];
export type HelperArgs<O extends HelperOp> = z.input<(typeof HELPER_OPS)[O]['args']>;
export type HelperParsedArgs<O extends HelperOp> = z.output<(typeof HELPER_OPS)[O]['args']>;
export type HelperResult<O extends HelperOp> = z.output<(typeof HELPER_OPS)[O]['result']>;
/** Ops that change the firewall: serialised by the queue and written to the audit log. */
export const CHANGING_OPS: ReadonlySet<HelperOp> = new Set<HelperOp>([
  'enable', 'disable', 'addRule', 'insertRule', 'editRule', 'deleteRule', 'moveRule', 'setDefault', 'setLogging',
  'ban', 'unban', 'banMany', 'unbanMany', 'cutConnections', 'installBlocks', 'removeBlocks', 'enableUfwIpv6',
]);

// ---------------------------------------------------------------- envelopes

export const HelperErrorCodeSchema = z.enum([
  'invalid', 'unknown-op', 'too-large', 'unauthenticated', 'not-found', 'conflict', 'unavailable', 'failed',
]);
export type HelperErrorCode = z.infer<typeof HelperErrorCodeSchema>;
const envelope = replyEnvelope(HelperErrorCodeSchema, { extra: { id: zm.nullable(zm.int()) }, strict: true });
export const HelperErrorSchema = envelope.error;

export const HelperRequestEnvelopeSchema = z
  .object({ id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), op: z.string().max(32), args: z.unknown().optional() })
  .strict();

export const HelperResponseSchema = envelope.reply;
export type HelperResponse = z.infer<typeof HelperResponseSchema>;

const SkippedCountSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();
/**
 * Kernel records, and what the helper's stream skipped since its previous event (absent: none), so
 * the client can tell a seq gap of records lost from one of records filtered out:
 * - `lost`: overwritten in the kernel's ring before they were read (seq numbers never read — an
 *   EPIPE read, or a resume position the ring no longer holds);
 * - `filtered`: read but not sent, for not being kernel facility (userspace writes to /dev/kmsg).
 * An event may carry counts and no record.
 * `newBoot`, with a stream's first event: it was asked to resume after a seq past the ring's newest
 * record — another boot's — and reads this boot from its first record (-1): these records are new
 * although their seq is lower than the one asked.
 */
export const KmsgEventSchema = z
  .object({
    event: z.literal('kmsg'),
    records: z.array(z.string().max(MAX_KMSG_RECORD_CHARS)).max(MAX_KMSG_RECORDS_PER_EVENT),
    lost: SkippedCountSchema,
    filtered: SkippedCountSchema,
    newBoot: z.literal(true).optional(),
  })
  .strict();
export type KmsgEvent = z.infer<typeof KmsgEventSchema>;
/** What a kmsg event says besides its records: the counts (0 when absent), and newBoot. */
export type KmsgBatchInfo = { [K in 'lost' | 'filtered']: NonNullable<KmsgEvent[K]> } & Pick<KmsgEvent, 'newBoot'>;
export const HelperEventSchema = z.union([
  KmsgEventSchema,
  z.object({ event: z.literal('kmsg-error'), message: z.string() }).strict(),
]);
export type HelperEvent = z.infer<typeof HelperEventSchema>;

/** One line from the helper: a response or an event. */
export const HelperServerLineSchema = z.union([HelperResponseSchema, HelperEventSchema]);

export class HelperError extends CodedError<HelperErrorCode> {
  override readonly name = 'HelperError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`).join('; ');
}

/** Path of the first string (key or value) starting with '-', anywhere in a JSON value: option injection. */
function findOptionLike(value: unknown, path: string, depth = 0): string | null {
  if (depth > 8) return path;
  if (typeof value === 'string') return value.trimStart().startsWith('-') ? path || 'value' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findOptionLike(value[i], `${path}[${i}]`, depth + 1);
      if (hit) return hit;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith('-')) return `${path}.${k}`;
      const hit = findOptionLike(v, path ? `${path}.${k}` : k, depth + 1);
      if (hit) return hit;
    }
  }
  return null;
}

/** Is the UTF-8 form of `s` longer than `max` bytes? (Encodes only when the char count cannot decide.) */
export function overBytes(s: string, max: number): boolean {
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return new TextEncoder().encode(s).length > max;
}

export type DecodedRequest = { [O in HelperOp]: { id: number; op: O; args: HelperParsedArgs<O> } }[HelperOp];

/**
 * Decodes one request (a raw line or an already-parsed value). Never throws: either the typed
 * request, or a typed error (with the id when one could be read, so the peer can match it).
 */
export function decodeHelperRequest(input: string | unknown):
  | { ok: true; request: DecodedRequest }
  | { ok: false; id: number | null; error: { code: HelperErrorCode; message: string } } {
  let raw: unknown = input;
  if (typeof input === 'string') {
    if (overBytes(input, MAX_LINE_BYTES))
      return { id: null, ...failure('too-large', `request line over ${MAX_LINE_BYTES} bytes`) };
    try {
      raw = JSON.parse(input);
    } catch {
      return { id: null, ...failure('invalid', 'request is not valid JSON') };
    }
  }
  const env = HelperRequestEnvelopeSchema.safeParse(raw);
  const rawId = (raw as { id?: unknown } | null)?.id;
  const id = typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId >= 0 ? rawId : null;
  if (!env.success) return { id, ...failure('invalid', `bad request: ${describeIssues(env.error)}`) };
  const { op, args } = env.data;
  if (!Object.hasOwn(HELPER_OPS, op)) return { id, ...failure('unknown-op', `unknown op ${JSON.stringify(op)}`) };
  const dash = findOptionLike(args, '');
  if (dash) return { id, ...failure('invalid', `${dash}: arguments may not start with '-'`) };
  const parsed = HELPER_OPS[op as HelperOp].args.safeParse(args ?? {});
  if (!parsed.success) return { id, ...failure('invalid', `${op}: ${describeIssues(parsed.error)}`) };
  return { ok: true, request: { id: env.data.id, op, args: parsed.data } as DecodedRequest };
}
