/**
 * CrowdSec Local API (1.4.6) wire format: the replies Portcullis reads, parsed with zod (a reply
 * that does not fit is an error with the reason, never a half-read object), and the alert body it
 * pushes. Every field of the alert body is required by 1.4.6 (notes/crowdsec-lapi.md).
 */
import * as z from 'zod';

export const LoginReplySchema = z.object({ code: z.number().optional(), expire: z.string().optional(), token: z.string().min(1) });

export const DecisionSchema = z.object({
  id: z.number().int(),
  origin: z.string(),
  scenario: z.string().default(''),
  scope: z.string(),
  type: z.string(),
  value: z.string(),
  /** Go duration of what remains ("59m51.2s"); negative for deleted/expired decisions. */
  duration: z.string(),
  simulated: z.boolean().optional(),
});
export type Decision = z.infer<typeof DecisionSchema>;

/**
 * The stream's lists are checked item by item: one malformed decision (a `scenario: null`) is
 * skipped and counted, not the reason every pull fails until it is gone.
 */
const DecisionItemsSchema = z
  .array(z.unknown())
  .nullable()
  .default(null)
  .transform((items) => {
    if (items === null) return { ok: null, bad: 0 };
    const ok: Decision[] = [];
    for (const item of items) {
      const r = DecisionSchema.safeParse(item);
      if (r.success) ok.push(r.data);
    }
    return { ok, bad: items.length - ok.length };
  });

export const StreamReplySchema = z.object({ new: DecisionItemsSchema, deleted: DecisionItemsSchema }).transform((r) => ({
  new: r.new.ok,
  deleted: r.deleted.ok,
  /** Items that were no decision Portcullis reads, skipped. */
  skipped: r.new.bad + r.deleted.bad,
}));
export type StreamReply = z.infer<typeof StreamReplySchema>;

/** GET /v1/decisions?ip=… answers null when there is none. */
export const DecisionListSchema = z.array(DecisionSchema).nullable();

/** POST /v1/alerts answers the new alert ids, as strings. */
export const AlertIdsSchema = z.array(z.union([z.string(), z.number()]).transform(String));

/** GET /v1/alerts/{id}: only the decisions matter (their ids, to delete exactly this host's). */
export const AlertDetailSchema = z.object({ id: z.number().int().optional(), decisions: z.array(z.object({ id: z.number().int(), origin: z.string().optional(), value: z.string().optional() })).nullable().default([]) });

export const DeleteReplySchema = z.object({ nbDeleted: z.union([z.string(), z.number()]).optional() });

export const ErrorReplySchema = z.object({ message: z.string() }).partial();

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, 'μs': 0.001, ns: 0.000001 };

/** A Go duration ("1h2m3.5s", "-2s", "500ms") in milliseconds; null when it is not one. */
export function parseGoDuration(text: string): number | null {
  const t = text.trim();
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|µs|μs|ns))+$/.exec(t);
  if (!m) return t === '0' ? 0 : null;
  let total = 0;
  for (const part of t.replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)/g)) total += Number(part[1]) * UNIT_MS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

/** Milliseconds as a Go duration CrowdSec accepts ("3599s"); at least one second. */
export function goDuration(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))}s`;
}

/** A permanent local ban becomes a decision this long (CrowdSec has no permanent decisions). */
export const PERMANENT_MS = 10 * 365 * 86_400_000;

export const SCENARIO = 'portcullis/portscan';

export interface PushedBan {
  ip: string;
  /** Local ban end (ms since epoch) or null for permanent. */
  until: number | null;
  /** Evidence, for the alert's message and meta. */
  scanType?: string;
  ports: number[];
  hits: number;
  kind: string;
}

/** The alert for one local ban: one `ban` decision for the remaining time, the host named in origin. */
export function alertBody(ban: PushedBan, origin: string, now: number): Record<string, unknown> {
  const remaining = ban.until === null ? PERMANENT_MS : ban.until - now;
  const scope = ban.ip.includes('/') ? 'Range' : 'Ip';
  const stamp = new Date(now).toISOString();
  const what = ban.kind === 'manual' ? 'banned by hand' : `${ban.scanType ?? 'port'} scan of ${ban.ports.length} ports (${ban.ports.slice(0, 20).join(',')}), ${ban.hits} probes`;
  return {
    scenario: SCENARIO,
    scenario_hash: '',
    scenario_version: '',
    message: `${origin}: ${ban.ip} ${what}`,
    events_count: Math.max(1, ban.hits),
    start_at: stamp,
    stop_at: stamp,
    capacity: 0,
    leakspeed: '0',
    simulated: false,
    events: [],
    meta: [
      { key: 'ports', value: ban.ports.slice(0, 100).join(',') },
      { key: 'scan_type', value: ban.scanType ?? ban.kind },
    ],
    source: { scope, value: ban.ip },
    decisions: [{ type: 'ban', duration: goDuration(remaining), scope, value: ban.ip, origin, scenario: SCENARIO }],
  };
}
