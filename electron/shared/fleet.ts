/**
 * The fleet: several Portcullis hosts share their bans through CrowdSec's Local API (LAPI). This
 * file holds the `fleet` settings schema (referenced from settings.ts), the link's health as the
 * state and `portcullis fleet status` show it, and how secrets are kept out of every reply.
 *
 * Portcullis is a CrowdSec *watcher* (machineId + password: pushes its own bans as alerts) and a
 * *bouncer* (bouncerKey: pulls the fleet's decisions and applies them).
 */
import * as z from 'zod';
import { groupDigits } from './digits.ts';

const count = (what: string, min: number, max: number) => {
  const msg = `${what} is a whole number from ${groupDigits(min)} to ${groupDigits(max)}`;
  return z.number({ error: msg }).int(msg).min(min, msg).max(max, msg);
};

/** What getSettings and every log line show in place of a secret. Sent back unchanged, it keeps the saved secret. */
export const REDACTED = '••••••';

/** The only directory a credentialsFile may be in: the service reads it as root. */
export const CREDENTIALS_DIR = '/etc/portcullis/';

/** Default origins applied: the other Portcullis hosts, the CrowdSec agents and cscli (never CAPI's community lists unless added). */
export const DEFAULT_FLEET_ORIGINS = ['portcullis@*', 'crowdsec', 'cscli'];

export const CrowdsecSettingsSchema = z
  .object({
    /** The LAPI's base URL, e.g. http://10.0.0.5:8080 */
    url: z
      .string()
      .trim()
      .regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, 'url is the LAPI address, e.g. http://10.0.0.5:8080 (http or https, no path)')
      .transform((u) => u.replace(/\/$/, '')),
    /** Watcher login (`cscli machines add ID --password P`): pushes this host's bans. */
    machineId: z.string().trim().min(1, 'machineId cannot be empty').max(128).regex(/^[A-Za-z0-9._-]+$/, 'machineId is letters, digits, dot, dash or underscore').optional(),
    password: z.string().min(1, 'password cannot be empty').max(512).optional(),
    /** Or the YAML `cscli machines add -f FILE` writes (login, password; its url is ignored in favour of `url`). */
    credentialsFile: z
      .string()
      .refine((p) => p.startsWith(CREDENTIALS_DIR) && !p.split('/').includes('..'), `credentialsFile is a file in ${CREDENTIALS_DIR} (read as root, so no other place)`)
      .optional(),
    /** Bouncer key (`cscli bouncers add NAME`): pulls the fleet's decisions. One key per host. */
    bouncerKey: z.string({ error: 'bouncerKey is required (give it again when the LAPI url changes: saved secrets never follow a new url)' }).min(1, 'bouncerKey cannot be empty').max(512),
    pullIntervalMs: count('pullIntervalMs', 200, 3_600_000).default(1000),
    /** Push this host's bans to the LAPI. */
    share: z.boolean().default(true),
    /** Apply the fleet's bans here. */
    apply: z.boolean().default(true),
    /** Origins whose decisions are applied; `*` matches any text (portcullis@* = every other Portcullis host). */
    origins: z
      .array(z.string().trim().min(1, 'an origin cannot be empty').max(128).regex(/^[A-Za-z0-9@*._:/-]+$/, 'an origin is letters, digits and @ * . _ : / -'))
      .default(DEFAULT_FLEET_ORIGINS),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.credentialsFile === undefined && (c.machineId === undefined || c.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['machineId'], message: 'give machineId and password, or credentialsFile (the file `cscli machines add -f` writes)' });
    }
    if (c.credentialsFile !== undefined && c.password !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['credentialsFile'], message: 'give either password or credentialsFile, not both' });
    }
  });
export type CrowdsecSettings = z.infer<typeof CrowdsecSettingsSchema>;

export const FleetSettingsSchema = z
  .object({
    /** The CrowdSec LAPI link; null = no fleet (the default). */
    crowdsec: CrowdsecSettingsSchema.nullable().default(null),
    /** At most this many fleet bans applied here at once (local bans do not count). */
    maxBans: count('maxBans', 1, 10_000_000).default(100_000),
  })
  .strict();
export type FleetSettings = z.infer<typeof FleetSettingsSchema>;

/** The secrets of the fleet settings (paths inside `fleet.crowdsec`). */
const SECRET_KEYS = ['password', 'bouncerKey'] as const;

/** A copy of the fleet settings with every secret replaced by REDACTED (for replies, logs and the UI). */
export function redactFleet<T extends { crowdsec: Record<string, unknown> | null }>(fleet: T): T {
  if (!fleet.crowdsec) return fleet;
  const c: Record<string, unknown> = { ...fleet.crowdsec };
  for (const k of SECRET_KEYS) if (typeof c[k] === 'string') c[k] = REDACTED;
  return { ...fleet, crowdsec: c };
}

/**
 * A settings candidate coming back from the UI carries REDACTED where a secret was shown: put the
 * saved secret back (only when the LAPI url is unchanged, so a redacted secret never travels to a
 * different server).
 */
export function unredactFleet(candidate: unknown, saved: FleetSettings): unknown {
  if (typeof candidate !== 'object' || candidate === null) return candidate;
  const c = (candidate as { crowdsec?: unknown }).crowdsec;
  if (typeof c !== 'object' || c === null) return candidate;
  const next: Record<string, unknown> = { ...(c as Record<string, unknown>) };
  for (const k of SECRET_KEYS) {
    if (next[k] !== REDACTED) continue;
    const url = typeof next.url === 'string' ? next.url.trim().replace(/\/$/, '') : null;
    if (saved.crowdsec && saved.crowdsec.url === url && saved.crowdsec[k] !== undefined) next[k] = saved.crowdsec[k];
    else delete next[k];
  }
  return { ...(candidate as Record<string, unknown>), crowdsec: next };
}

const normalUrl = (u: unknown): string | null => (typeof u === 'string' ? u.trim().replace(/\/$/, '') : null);

/**
 * A settings patch (deep-merged over the saved settings, which hold the real secrets) that moves
 * the link to another LAPI url must not carry the saved secrets there: password, bouncerKey and
 * credentialsFile are then dropped unless the patch itself gives them as real values (REDACTED or
 * absent = inherited = dropped). Returns the patch to merge; the schema then asks for what is missing.
 */
export function guardFleetPatch(patch: unknown, saved: FleetSettings): unknown {
  if (!isRecord(patch) || !isRecord(patch.fleet)) return patch;
  const c = patch.fleet.crowdsec;
  if (!isRecord(c) || !saved.crowdsec || !('url' in c) || normalUrl(c.url) === saved.crowdsec.url) return patch;
  const next: Record<string, unknown> = { ...c };
  for (const k of [...SECRET_KEYS, 'credentialsFile'] as const) if (next[k] === undefined || next[k] === REDACTED) next[k] = undefined;
  return { ...patch, fleet: { ...patch.fleet, crowdsec: next } };
}

/**
 * The LAPI settings `testFleet` tries: REDACTED secrets come back only for the saved url, and a
 * credentialsFile (read as root) is only sent to the saved url, so a test cannot carry a file's
 * password to another server. Returns the candidate, or why it is refused.
 */
export function fleetTestCandidate(crowdsec: unknown, saved: FleetSettings): { ok: true; candidate: unknown } | { ok: false; error: string } {
  const candidate = (unredactFleet({ crowdsec }, saved) as { crowdsec: unknown }).crowdsec;
  if (isRecord(candidate) && candidate.credentialsFile !== undefined && normalUrl(candidate.url) !== (saved.crowdsec?.url ?? null)) {
    return { ok: false, error: 'credentialsFile: a credentials file is only tested against the saved LAPI url; give machineId and password to test another url' };
  }
  return { ok: true, candidate };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Does a decision's origin match one of the configured origins (`*` = any text)? */
export function originMatches(origin: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    if (!p.includes('*')) return p === origin;
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(origin);
  });
}

/** The origin this host writes into its decisions: the stream carries no machine id, so the host is named here. */
export function ownOrigin(machineId: string): string {
  return `portcullis@${machineId}`;
}

/** Who a ban came from, for the UI: this host, another Portcullis host, or CrowdSec (agent, cscli, lists). */
export function originLabel(origin: string | undefined): string {
  if (origin === undefined || origin === '') return 'this host';
  if (origin.startsWith('portcullis@')) return origin.slice('portcullis@'.length);
  return `CrowdSec (${origin})`;
}

// The link's health is part of the state: its schema lives with the state's (a CLI client loads only those).
export { FleetHealthSchema, type FleetHealth } from './api-state.ts';

export const FleetTestResultSchema = z.object({
  ok: z.boolean(),
  checks: z.array(z.object({ what: z.string(), ok: z.boolean(), detail: z.string() })),
});
export type FleetTestResult = z.infer<typeof FleetTestResultSchema>;
