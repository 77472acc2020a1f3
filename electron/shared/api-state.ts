/**
 * The service's state (the API's `getState` result and `state` event): the one schema both the UI
 * and `portcullis status` validate it with. Written with `zod/mini` (the same zod core, functional
 * form, ~35 KB bundled) so that `portcullis status` can check its reply without loading zod's whole
 * classic API (~750 KB) and every other API schema: that was half of its start-up (issue 11.3).
 * `api.ts` re-exports everything here; mini schemas nest in classic ones and parse the same.
 */
import * as z from 'zod/mini';

export const SourceHealthSchema = z.object({
  kind: z.enum(['kmsg', 'journal', 'file', 'replay', 'nflog']),
  description: z.string(),
  kernelTrusted: z.boolean(),
  lastRecordAt: z.nullable(z.number()),
  linesPerMinute: z.number(),
  rejectsPerMinute: z.number(),
  recordsRead: z.optional(z.number()),
  recordsLost: z.optional(z.number()),
  /** Of linesPerMinute, firewall records addressed to another host (another namespace or container sharing the kernel log), read and dropped. */
  foreignPerMinute: z.optional(z.number()),
  error: z.optional(z.string()),
  /** The source reads nothing at all now (engine/ports.ts SourceHealth.stopped): nothing is watched. */
  stopped: z.optional(z.boolean()),
  /** The last problem the source read on past (engine/ports.ts SourceHealth.warning): not a fault. */
  warning: z.optional(z.string()),
});
export type SourceHealthDto = z.infer<typeof SourceHealthSchema>;

export const ProtectionSchema = z.enum(['on', 'off', 'paused']);

export const FirewallStateSchema = z.object({
  installed: z.boolean(),
  enabled: z.boolean(),
  defaultIncoming: z.nullable(z.string()),
  defaultOutgoing: z.nullable(z.string()),
  defaultRouted: z.nullable(z.string()),
  loggingLevel: z.nullable(z.string()),
  perSourceLogging: z.boolean(),
  /** How the per-source logging block logs: LOG records, or NFLOG messages for the nflog source (absent: unknown). */
  perSourceLoggingVia: z.optional(z.nullable(z.enum(['log', 'nflog']))),
  /** The forward block: installed, and how it logs (null: its files differ; absent: unknown). */
  forwardBlock: z.optional(z.boolean()),
  forwardLoggingVia: z.optional(z.nullable(z.enum(['log', 'nflog']))),
});
export type FirewallState = z.infer<typeof FirewallStateSchema>;

const nullableBool = z.nullable(z.boolean());
const nullableText = z.nullable(z.string());
const nullableTime = z.nullable(z.number());

/** The CrowdSec fleet link's health (fleet.ts re-exports it beside the fleet settings). */
export const FleetHealthSchema = z.object({
  /** off: not configured; connecting: no successful exchange yet; ok; error: the last exchange failed. */
  status: z.enum(['off', 'connecting', 'ok', 'error']),
  url: nullableText,
  machineId: nullableText,
  share: z.boolean(),
  apply: z.boolean(),
  /** Watcher login (push side) and bouncer key (pull side), each with its last error. */
  login: z.object({ ok: nullableBool, error: nullableText }),
  pull: z.object({ ok: nullableBool, error: nullableText, lastAt: nullableTime, lastFullAt: nullableTime }),
  push: z.object({ ok: nullableBool, error: nullableText, lastAt: nullableTime, queued: z.int() }),
  /** Fleet bans applied here now. */
  fleetBans: z.int(),
  /** Fleet decisions not applied, by reason (whitelisted, over maxBans, unsupported scope, origin not applied). */
  refused: z.object({ whitelisted: z.int(), overLimit: z.int(), unsupported: z.int() }),
  /** The last few refusals, newest first ("198.51.100.1 from portcullis@a: whitelisted (gateway)"). */
  lastRefusals: z.array(z.string()),
});
export type FleetHealth = z.infer<typeof FleetHealthSchema>;

/** How bans are made: tagged ufw rules, or kernel sets (settings' `ban.backend`). */
export const BanBackendSchema = z.enum(['ufw', 'set']);
export type BanBackendName = z.infer<typeof BanBackendSchema>;

/**
 * Whether the store can write (the history: blocked packets, offenders, the ban records). Protection
 * does not wait for it: scanners are detected and banned while it cannot (store-trouble.ts). Not ok
 * from the first failed write (a full disk, a read-only file system, no inodes left, another process
 * holding the database's write lock) until a round of writes succeeds again.
 */
export const StoreHealthSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true) }),
  z.object({
    ok: z.literal(false),
    /** When the first write of this trouble failed. */
    since: z.number(),
    /** Why the last failed write failed ("database or disk is full", "database is locked"). */
    error: z.string(),
    /** The database file: the file system to free space or inodes on (absent: unknown). */
    path: z.optional(z.string()),
    /** Blocked packets waiting in memory to be written (bounded: those beyond are counted as not stored). */
    pendingPackets: z.optional(z.int()),
  }),
]);
export type StoreHealth = z.infer<typeof StoreHealthSchema>;

export const StateSchema = z.object({
  protection: ProtectionSchema,
  pausedUntil: z.nullable(z.number()),
  firewall: FirewallStateSchema,
  /** The root helper: without it the UI is read-only, and `readOnlyReason` says why. */
  helper: z.object({ connected: z.boolean(), readOnlyReason: z.optional(z.string()) }),
  /**
   * The ban backend in use: the one this run bans through, fixed at its start (a switch in the
   * settings takes over at the next start, which moves the active bans there).
   */
  backend: BanBackendSchema,
  /** The backend the settings name when it is not the one in use: it takes over at the next start (absent: the same). */
  backendAfterRestart: z.optional(BanBackendSchema),
  counts: z.object({
    /** Stored blocked packets (rows of the packet log). */
    blockedPackets: z.int(),
    /** Blocked packets over logs.maxStoredPacketsPerSecond during a flood: counted, not stored (absent from older services). */
    packetsNotStored: z.optional(z.int()),
    scanners: z.int(),
    activeBans: z.int(),
    deferredBans: z.int(),
  }),
  source: z.nullable(SourceHealthSchema),
  lastBanAt: z.nullable(z.number()),
  version: z.string(),
  /** Whitelist entries the engine always adds (loopback, own addresses, gateway), with why; shown read-only in the UI. */
  alwaysWhitelisted: z.optional(z.array(z.object({ cidr: z.string(), why: z.string() }))),
  /** The CrowdSec fleet link's health (absent when the service runs without one). */
  fleet: z.optional(FleetHealthSchema),
  /** Whether the history is being saved (absent from older services: unknown). */
  store: z.optional(StoreHealthSchema),
});
export type State = z.infer<typeof StateSchema>;
