/**
 * The one API between the UI and the Portcullis service, whatever the transport: Electron IPC
 * (preload ⇄ main) on the desktop, HTTP + WebSocket in headless `portcullis serve`.
 * Every request, response and event has a zod schema here; both ends validate with them.
 */
import * as z from 'zod';
import { BanTargetSchema, canonicalCidr, cidrRefusal, CidrSchema, IpSchema, type Cidr } from './domain.ts';
import { BanDurationSecSchema, BanRecordSchema, OffenderSchema, OffenderStateSchema, ScanTypeSchema, UNBAN_REASONS } from './model.ts';
import { SettingsSchema } from './settings.ts';
import { FleetTestResultSchema } from './fleet.ts';
import { errorText } from './errors.ts';
import { StateSchema } from './api-state.ts';
import { ApiError, apiFailure, ApiReplySchema, unwrapResult, type ApiReply } from './api-reply.ts';

// The state and the reply's wire form live in small zod/mini modules (a CLI client loads only them).
export * from './api-state.ts';
export * from './api-reply.ts';

// ---------------------------------------------------------------- shapes

export const PacketRowSchema = z.object({
  id: z.number().int(),
  time: z.number(),
  src: z.string(),
  dst: z.string(),
  proto: z.string(),
  spt: z.number().int().nullable(),
  dpt: z.number().int().nullable(),
  prefix: z.string(),
  in: z.string(),
  /** TCP flags as logged ("SYN", "FIN PSH URG"), empty for other protocols. */
  flags: z.string(),
});
export type PacketRow = z.infer<typeof PacketRowSchema>;

export const PacketFilterSchema = z
  .object({
    src: z.string().max(64).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    proto: z.string().max(16).optional(),
    prefix: z.string().max(64).optional(),
  })
  .strict();
export type PacketFilter = z.infer<typeof PacketFilterSchema>;

export const DashboardSchema = z.object({
  /** Blocked packets per minute, oldest first. */
  perMinute: z.array(z.object({ t: z.number(), count: z.number().int() })),
  topPorts: z.array(z.object({ port: z.number().int(), proto: z.string(), hits: z.number().int() })),
  topOffenders: z.array(z.object({ ip: z.string(), hits: z.number().int(), state: OffenderStateSchema })),
});
export type Dashboard = z.infer<typeof DashboardSchema>;

export const OffenderDetailSchema = z.object({
  offender: OffenderSchema,
  ports: z.array(z.object({ port: z.number().int(), proto: z.string(), hits: z.number().int() })),
  timeline: z.array(PacketRowSchema),
  bans: z.array(BanRecordSchema),
});

export const RuleActionSchema = z.enum(['allow', 'deny', 'reject', 'limit']);
export const RuleDirectionSchema = z.enum(['in', 'out', 'fwd']);

/** One line of `ufw status numbered`, typed. */
export const UfwRuleSchema = z.object({
  number: z.number().int().positive(),
  v6: z.boolean(),
  action: RuleActionSchema,
  direction: RuleDirectionSchema,
  from: z.string(),
  to: z.string(),
  /** Port or range ("22", "8000:8100", "80,443") or "" for any. */
  port: z.string(),
  /** tcp/udp/any, or another protocol ufw accepts in a rule (`proto esp`, …). */
  proto: z.enum(['tcp', 'udp', 'any', 'ipv6', 'esp', 'ah', 'igmp', 'gre', 'vrrp']),
  app: z.string().optional(),
  iface: z.string().optional(),
  /** Route (fwd) rules: the outgoing interface (`iface` is the incoming one). */
  ifaceOut: z.string().optional(),
  /** Source port or range (`from X port 53`), or a source application profile. */
  fromPort: z.string().optional(),
  fromApp: z.string().optional(),
  /** Per-rule logging (`ufw allow log …`). */
  log: z.enum(['log', 'log-all']).optional(),
  comment: z.string(),
  /** Created by Portcullis (ban rules): shown apart, never edited as a user rule. */
  portcullis: z.boolean(),
});
export type UfwRule = z.infer<typeof UfwRuleSchema>;

/**
 * A rule as the client saw it (every field but its number): a change to an existing rule carries
 * it, so the rule acted on is the one the user looked at even when numbers moved meanwhile (a ban
 * prepended, another rule deleted) — and a change to a rule that is gone is refused, not applied
 * to whatever now has its number.
 */
export const RuleExpectSchema = UfwRuleSchema.omit({ number: true }).strict();
export type RuleExpect = z.infer<typeof RuleExpectSchema>;

/** The fields a rule is compared on: all of them but its number (optional ones included, absent = absent). */
const RULE_FIELDS = (Object.keys(UfwRuleSchema.shape) as (keyof UfwRule)[]).filter((k) => k !== 'number');

/**
 * Same rule as the client saw it? Every field, not just those sent: the expectation is the whole
 * rule (a partial one — `{}` matched every rule — let a change land on a rule nobody was shown).
 */
export function ruleMatches(rule: UfwRule, expect: RuleExpect): boolean {
  return RULE_FIELDS.every((k) => rule[k] === (expect as Partial<UfwRule>)[k]);
}

/** The rule the client meant: the same number if it still matches, else the nearest matching rule; null when none does. */
export function findExpectedRule(rules: UfwRule[], number: number, expect: RuleExpect): UfwRule | null {
  const at = rules.find((r) => r.number === number);
  if (at && ruleMatches(at, expect)) return at;
  const candidates = rules.filter((r) => ruleMatches(r, expect));
  if (candidates.length === 0) return null;
  return candidates.reduce((a, b) => (Math.abs(a.number - number) <= Math.abs(b.number - number) ? a : b));
}

const SAFE_COMMENT = /^[A-Za-z0-9 _.,:@()\/+=-]*$/;
const SAFE_IFACE = /^[A-Za-z0-9_.-]{1,15}$/;
const PORT_SPEC = /^(\d{1,5}(:\d{1,5})?)(,\d{1,5}(:\d{1,5})?)*$/;
const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$/;
/**
 * Words ufw's rule parser reads by their value wherever they stand: an app profile or an interface
 * of that name would be read as syntax (`app comment comment OpenSSH` made the profile "OpenSSH"
 * and the comment "comment" — not what the preview, the warnings and the audit log said).
 */
const UFW_KEYWORDS = new Set(['comment', 'log', 'log-all', 'in', 'out', 'on', 'from', 'to', 'port', 'app', 'proto', 'route', 'allow', 'deny', 'reject', 'limit', 'any']);
const hasUfwKeyword = (v: string) => v.split(' ').some((w) => UFW_KEYWORDS.has(w.toLowerCase()));

/** A rule's from/to: "any", or an address or CIDR in canonical form; refused with a reason a user can act on. */
const RuleAddressSchema = z.string().transform((s, ctx): Cidr | 'any' => {
  const t = s.trim();
  if (t === '' || t.toLowerCase() === 'any') return 'any';
  const cidr = canonicalCidr(t);
  if (!cidr) {
    ctx.addIssue({ code: 'custom', message: cidrRefusal(s, true) });
    return z.NEVER;
  }
  return cidr;
});

/** What the user asks for in the rule editor; the helper turns it into a fixed ufw argv. */
export const RuleSpecSchema = z
  .object({
    action: RuleActionSchema,
    direction: RuleDirectionSchema.default('in'),
    from: RuleAddressSchema.default('any'),
    to: RuleAddressSchema.default('any'),
    port: z
      .string()
      .regex(PORT_SPEC, { error: (i) => (/^\d+-\d+$/.test(String(i.input)) ? `ufw writes a range with a colon: use ${String(i.input).replace('-', ':')}` : 'port is a number, a range like 8000:8100, or a comma list') })
      .refine(
        (p) => p.split(/[,:]/).every((n) => Number(n) >= 1 && Number(n) <= 65535),
        'ports run from 1 to 65535',
      )
      .optional(),
    proto: z.enum(['tcp', 'udp', 'any']).default('any'),
    app: z
      .string()
      .regex(APP_NAME, 'not an application profile name')
      .refine((v) => !hasUfwKeyword(v), { error: (i) => `the application profile "${String(i.input)}" contains a word ufw reads as syntax` })
      .optional(),
    iface: z
      .string()
      .regex(SAFE_IFACE, 'not an interface name')
      .refine((v) => !hasUfwKeyword(v), { error: (i) => `the interface "${String(i.input)}" contains a word ufw reads as syntax` })
      .optional(),
    // No blank at either end: ufw keeps them, and the status parser's trim made " portcullis-ban x"
    // look like a ban rule of Portcullis's (hidden among the bans, and refused by edit and unban alike).
    comment: z
      .string()
      .max(100)
      .regex(SAFE_COMMENT, 'comments may use letters, digits, spaces and _.,:@()/+=-')
      .refine((c) => c === c.trim(), 'a comment cannot start or end with a space')
      .default(''),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.app && r.port) ctx.addIssue({ code: 'custom', path: ['app'], message: 'give either an application profile or a port, not both' });
    if (r.port && r.port.includes(',') && r.proto === 'any')
      ctx.addIssue({ code: 'custom', path: ['proto'], message: 'ufw needs tcp or udp with a port list' });
  });
export type RuleSpec = z.infer<typeof RuleSpecSchema>;

export const RuleOpSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('add'), rule: RuleSpecSchema, position: z.number({ error: 'position is a rule number: 1, 2, …' }).int('position is a rule number: 1, 2, …').positive('position is a rule number: 1, 2, …').optional() }).strict(),
  z.object({ kind: z.literal('edit'), number: z.number().int().positive(), rule: RuleSpecSchema, to: z.number({ error: 'position is a rule number: 1, 2, …' }).int('position is a rule number: 1, 2, …').positive('position is a rule number: 1, 2, …').optional(), expect: RuleExpectSchema.optional() }).strict(),
  z.object({ kind: z.literal('delete'), number: z.number().int().positive(), expect: RuleExpectSchema.optional() }).strict(),
  z.object({ kind: z.literal('move'), number: z.number().int().positive(), to: z.number().int().positive(), expect: RuleExpectSchema.optional() }).strict(),
]);
export type RuleOp = z.infer<typeof RuleOpSchema>;

/**
 * A change to an existing rule aimed at the rule the client saw (op.expect), at that rule's number
 * now; a 'conflict' ApiError when no rule matches any more. A change without `expect` (or an add)
 * is returned as it is.
 */
export function retargetRuleOp(op: RuleOp, rules: UfwRule[]): RuleOp {
  if (op.kind === 'add' || op.expect === undefined) return op;
  const found = findExpectedRule(rules, op.number, op.expect);
  if (!found) throw new ApiError('conflict', `rule ${op.number} is not the rule you saw any more (it was changed, moved or deleted meanwhile); look at the list again`);
  if (found.number === op.number) return op;
  return op.kind === 'move' || (op.kind === 'edit' && op.to !== undefined)
    ? { ...op, number: found.number, to: Math.max(1, op.to! + found.number - op.number) }
    : { ...op, number: found.number };
}

export const RulePreviewSchema = z.object({
  /** The exact ufw commands that applying will run, in order. */
  commands: z.array(z.string()),
  /** Reasons to ask before applying (e.g. it would cut an active inbound session). */
  warnings: z.array(z.object({ kind: z.enum(['cuts-session', 'cuts-own-connection', 'disables-firewall', 'other']), detail: z.string() })),
  needsConfirmation: z.boolean(),
});
export type RulePreview = z.infer<typeof RulePreviewSchema>;

export const RulesViewSchema = z.object({
  enabled: z.boolean(),
  defaults: z.object({ incoming: z.string(), outgoing: z.string(), routed: z.string() }),
  logging: z.string(),
  /** The user's rules, in ufw order. */
  rules: z.array(UfwRuleSchema),
  /** Portcullis's own ban rules (ufw backend) — shown apart. */
  portcullisRules: z.array(UfwRuleSchema),
  appProfiles: z.array(z.string()),
});
export type RulesView = z.infer<typeof RulesViewSchema>;

export const DoctorCheckSchema = z.object({
  id: z.string(),
  title: z.string(),
  level: z.enum(['ok', 'warn', 'error']),
  detail: z.string(),
  /** A fix the service can apply by itself (runDoctorFix), with its button label. */
  fix: z.object({ id: z.string(), label: z.string() }).optional(),
});
export type DoctorCheck = z.infer<typeof DoctorCheckSchema>;

export const ThresholdTestSchema = z.object({
  packets: z.number().int(),
  /**
   * Blocked packets of the same window that a flood kept out of the store (logs.maxStoredPacketsPerSecond):
   * the test could not replay them, so a scanner among them may be missing from wouldBan.
   */
  packetsNotStored: z.number().int().optional(),
  sources: z.number().int(),
  wouldBan: z.array(z.object({ ip: z.string(), at: z.number(), ports: z.array(z.number().int()), scanType: ScanTypeSchema })),
  /** The most active sources that would not be banned, and why (the UI says "nobody" with reasons). */
  notBanned: z
    .array(z.object({ ip: z.string(), probes: z.number().int(), ports: z.number().int(), reason: z.enum(['whitelisted', 'under-threshold', 'spread-out', 'not-probes']) }))
    .optional(),
});
export type ThresholdTest = z.infer<typeof ThresholdTestSchema>;

// ---------------------------------------------------------------- methods

const none = z.object({}).strict();
const ok = z.object({ ok: z.literal(true) });

/** The Doctor fix that starts the root helper (desktop only): usable precisely while the UI is read-only. */
export const CONNECT_HELPER_FIX_ID = 'connect-helper';

/** Addresses per banMany call (a client with more sends several). */
export const MAX_BULK_BANS = 10_000;

/** Every method: its params schema and its result schema. */
export const API = {
  getState: { params: none, result: StateSchema },
  getDashboard: { params: z.object({ minutes: z.number().int().min(1).max(1440).default(60) }).strict(), result: DashboardSchema },
  getPackets: {
    params: z
      .object({
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(5000).default(500),
        filter: PacketFilterSchema.default({}),
      })
      .strict(),
    result: z.object({ total: z.number().int(), rows: z.array(PacketRowSchema) }),
  },
  getOffenders: {
    params: z.object({ state: OffenderStateSchema.optional(), limit: z.number().int().min(1).max(100_000).default(5000) }).strict(),
    result: z.array(OffenderSchema),
  },
  getOffender: { params: z.object({ ip: BanTargetSchema }).strict(), result: OffenderDetailSchema },
  getBans: { params: none, result: z.object({ active: z.array(BanRecordSchema), history: z.array(BanRecordSchema) }) },
  getRules: { params: none, result: RulesViewSchema },
  getSettings: { params: none, result: SettingsSchema },
  getDoctor: { params: none, result: z.array(DoctorCheckSchema) },

  setProtection: { params: z.object({ enabled: z.boolean() }).strict(), result: StateSchema },
  pauseProtection: { params: z.object({ minutes: z.number().int().min(1).max(24 * 60) }).strict(), result: StateSchema },
  ban: {
    params: z.object({ ip: IpSchema, durationSec: BanDurationSecSchema.optional(), note: z.string().max(200).optional() }).strict(),
    result: BanRecordSchema,
  },
  /** `ip`: an address, or a banned network (a prefix ban, any spelling of its CIDR). */
  unban: { params: z.object({ ip: BanTargetSchema }).strict(), result: ok },
  /** Many bans at once (`portcullis ban --from FILE`): one store transaction, one firewall batch. */
  banMany: {
    params: z.object({ ips: z.array(IpSchema).min(1).max(MAX_BULK_BANS), durationSec: BanDurationSecSchema.optional(), note: z.string().max(200).optional() }).strict(),
    result: z.object({ banned: z.number().int(), refused: z.array(z.object({ ip: z.string(), reason: z.string() })) }),
  },
  whitelistAdd: { params: z.object({ cidr: CidrSchema }).strict(), result: SettingsSchema },
  whitelistRemove: { params: z.object({ cidr: CidrSchema }).strict(), result: SettingsSchema },
  /** A partial settings object, deep-merged over the current settings, then validated whole. */
  updateSettings: { params: z.object({ patch: z.record(z.string(), z.unknown()) }).strict(), result: SettingsSchema },
  testThresholds: {
    params: z.object({ patch: z.record(z.string(), z.unknown()), minutes: z.number().int().min(1).max(7 * 1440).default(1440) }).strict(),
    result: ThresholdTestSchema,
  },
  /** "Test connection" of the Fleet settings: the candidate fleet.crowdsec (secrets may be the redacted placeholder). */
  testFleet: { params: z.object({ crowdsec: z.record(z.string(), z.unknown()) }).strict(), result: FleetTestResultSchema },
  previewRule: { params: z.object({ op: RuleOpSchema }).strict(), result: RulePreviewSchema },
  applyRule: { params: z.object({ op: RuleOpSchema, confirm: z.boolean().default(false) }).strict(), result: RulesViewSchema },
  setUfwEnabled: { params: z.object({ enabled: z.boolean(), confirm: z.boolean().default(false) }).strict(), result: StateSchema },
  setDefaultPolicy: {
    params: z.object({ direction: z.enum(['incoming', 'outgoing', 'routed']), policy: z.enum(['allow', 'deny', 'reject']), confirm: z.boolean().default(false) }).strict(),
    result: RulesViewSchema,
  },
  setLogging: { params: z.object({ level: z.enum(['off', 'low', 'medium', 'high', 'full']), confirm: z.boolean().default(false) }).strict(), result: RulesViewSchema },
  setPerSourceLogging: { params: z.object({ installed: z.boolean() }).strict(), result: StateSchema },
  runDoctorFix: { params: z.object({ fixId: z.string().regex(/^[a-z0-9-]{1,40}$/), confirm: z.boolean().default(false) }).strict(), result: z.array(DoctorCheckSchema) },
} as const;

export type ApiMethod = keyof typeof API;
export const API_METHODS = Object.keys(API) as ApiMethod[];
export type ApiParams<M extends ApiMethod> = z.input<(typeof API)[M]['params']>;
export type ApiParsedParams<M extends ApiMethod> = z.output<(typeof API)[M]['params']>;
export type ApiResult<M extends ApiMethod> = z.output<(typeof API)[M]['result']>;

// ---------------------------------------------------------------- events

export const ApiEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('packets'), rows: z.array(PacketRowSchema) }),
  z.object({ type: z.literal('offenders'), offenders: z.array(OffenderSchema) }),
  /**
   * Sent once the firewall has answered. `firewallError`: its call failed — the ban is recorded as
   * active (retried at the next start) but blocks nothing new, and must not be shown as a ban made.
   * `stillStands` (with `firewallError` only): it extended a ban the firewall holds, which still
   * blocks until its own end (`until`; null: permanent) — the extension is what failed.
   */
  z.object({
    type: z.literal('ban'),
    ban: BanRecordSchema,
    firewallError: z.string().optional(),
    stillStands: z.object({ until: z.number().nullable() }).optional(),
  }),
  /**
   * A fleet pull's bans: 'start' before the first of its 'ban' events, 'end' once the firewall has
   * answered for its last batch (with the ufw backend batches take seconds each). The desktop sums the
   * pull up once, at its end.
   */
  z.object({ type: z.literal('fleetSync'), phase: z.enum(['start', 'end']) }),
  z.object({ type: z.literal('unban'), ip: z.string(), why: z.enum(UNBAN_REASONS) }),
  z.object({ type: z.literal('state'), state: StateSchema }),
  z.object({ type: z.literal('notice'), level: z.enum(['info', 'warn', 'error']), message: z.string() }),
  /** Live rows this reader was not sent (it fell behind); the store has them: fetch them with getPackets. */
  z.object({ type: z.literal('packetsSkipped'), upToId: z.number().int().nonnegative(), count: z.number().int().positive() }),
]);
export type ApiEvent = z.infer<typeof ApiEventSchema>;
/** Events are delivered in batches, at most 10 deliveries a second. */
export const ApiEventBatchSchema = z.array(ApiEventSchema);
export const MAX_EVENT_DELIVERIES_PER_SEC = 10;

// ---------------------------------------------------------------- errors and dispatch

/**
 * Firewall-wide changes that quietly undo protection ask first (needs-confirmation), with this
 * reason; null when the change is harmless. A default incoming policy of allow opens every port no
 * rule denies (probes are then neither blocked nor logged, so no scan is seen); logging off leaves
 * Portcullis blind unless its own per-source logging rule is installed.
 */
export function policyChangeQuestion(direction: 'incoming' | 'outgoing' | 'routed', policy: 'allow' | 'deny' | 'reject', firewallEnabled: boolean): string | null {
  if (direction !== 'incoming' || policy !== 'allow' || !firewallEnabled) return null;
  return 'a default incoming policy of allow lets in every connection that no rule denies: every closed port opens, and probes are no longer blocked or logged, so Portcullis sees no scans';
}

export function loggingChangeQuestion(level: 'off' | 'low' | 'medium' | 'high' | 'full', perSourceLogging: boolean): string | null {
  if (level !== 'off' || perSourceLogging) return null;
  return 'with ufw logging off the kernel logs no blocked packets, so Portcullis sees no scanners (unless you install its per-source logging rule, on the Doctor screen)';
}

/** WebSocket frames. */
export const WsClientFrameSchema = z.object({ id: z.number().int().nonnegative(), method: z.string().max(64), params: z.unknown() }).strict();
export const WsServerFrameSchema = z.union([
  z.object({ id: z.number().int(), reply: ApiReplySchema }),
  z.object({ events: ApiEventBatchSchema }),
]);

/** The service side: one handler per method, receiving already-validated params. */
export type ApiHandlers = { [M in ApiMethod]: (params: ApiParsedParams<M>) => Promise<ApiResult<M>> };

/** The UI side: what the preload exposes and what the browser facade implements. */
export interface PortcullisApi {
  call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>>;
  /** Subscribes to event batches; returns the unsubscribe function. */
  onEvents(listener: (events: ApiEvent[]) => void): () => void;
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`).join('; ');
}

/** Validates a raw call and runs its handler; never throws, always answers in wire form. */
export async function dispatch(handlers: ApiHandlers, method: unknown, rawParams: unknown): Promise<ApiReply> {
  if (typeof method !== 'string' || !Object.hasOwn(API, method)) {
    return apiFailure('unknown-method', `unknown method ${JSON.stringify(method)}`);
  }
  const m = method as ApiMethod;
  const parsed = API[m].params.safeParse(rawParams ?? {});
  if (!parsed.success) return apiFailure('invalid', formatIssues(parsed.error));
  try {
    const handler = handlers[m] as (p: unknown) => Promise<unknown>;
    return { ok: true, result: await handler(parsed.data) };
  } catch (e) {
    if (e instanceof ApiError) return apiFailure(e.code, e.message);
    return apiFailure('failed', errorText(e));
  }
}

/** Client side: turn a wire reply into a result or a thrown ApiError. */
export function unwrapReply<M extends ApiMethod>(method: M, reply: unknown): ApiResult<M> {
  return unwrapResult<unknown>(reply, API[method].result as { parse(v: unknown): unknown }) as ApiResult<M>;
}
