/**
 * LapiClient: the HTTP side of the fleet link, one method per LAPI call Portcullis makes. As a
 * watcher (JWT from machineId + password) it pushes alerts and deletes its own decisions; as a
 * bouncer (X-Api-Key) it reads the decision stream. `fetch` and the clock are injected (tests use
 * an in-process fake LAPI).
 *
 * Token: renewed before it is 50 minutes old (LAPI tokens last an hour), and once more on a 401 —
 * never computed from the server's `expire`, so clock skew between hosts cannot make it stale.
 * The User-Agent must look like `name/version`: with Node's default one, 1.4.6 answers a
 * misleading 401 "incorrect Username or Password".
 */
import * as z from 'zod';
import {
  AlertDetailSchema,
  AlertIdsSchema,
  DecisionListSchema,
  DeleteReplySchema,
  ErrorReplySchema,
  LoginReplySchema,
  StreamReplySchema,
  type Decision,
  type StreamReply,
} from './lapi.ts';

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal; redirect: 'error' },
) => Promise<{
  status: number;
  text(): Promise<string>;
  /** Read chunk by chunk when there (global fetch), so an endless reply is cut at the cap instead of filling memory. */
  body?: ReadableStream<Uint8Array> | null;
}>;

/**
 * The largest LAPI reply read. Measured: a startup stream of 100,000 decisions is 20 MB (~200 bytes
 * each, uuid included; tests/fleet/client.test.ts); 64 MiB leaves room for ~330,000 (a CAPI
 * community list included) and stops a broken or hostile server there.
 */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export interface LapiClientOptions {
  url: string;
  machineId: string | null;
  password: string | null;
  bouncerKey: string;
  userAgent: string;
  fetch: FetchLike;
  now: () => number;
  timeoutMs?: number;
  /** MAX_REPLY_BYTES unless given (tests). */
  maxReplyBytes?: number;
}

/** unreachable: no answer; auth: credentials refused; server: a 5xx (1.4.6 answers validation and DB errors alike); reply: an answer that does not parse. */
export type LapiErrorKind = 'unreachable' | 'auth' | 'server' | 'client' | 'reply';

export class LapiError extends Error {
  readonly kind: LapiErrorKind;
  readonly status: number | null;
  constructor(kind: LapiErrorKind, status: number | null, message: string) {
    super(message);
    this.name = 'LapiError';
    this.kind = kind;
    this.status = status;
  }
  /** Worth retrying as is: the LAPI was down, busy ("database is locked") or restarting. */
  get transient(): boolean {
    return this.kind === 'unreachable' || this.kind === 'server';
  }
}

const TOKEN_RENEW_MS = 50 * 60_000;

/** The reply's text, or null when it passes `cap` bytes (the rest is not read). */
async function readCapped(res: Awaited<ReturnType<FetchLike>>, cap: number): Promise<string | null> {
  if (!res.body) {
    const text = await res.text();
    return new TextEncoder().encode(text).byteLength > cap ? null : text;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > cap) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join('');
}

/**
 * What a failed send (FleetLink's push) says about the item. transient: the LAPI is away, busy or not itself — down,
 * a proxy's 502/503/504, 500 "database is locked", 408/429, credentials, a reply that is no LAPI
 * answer; retried forever. refused: a validation error — 400/422, or a 500 whose message says so
 * (1.4.6, measured: "unable to create alerts: invalid addr/range …", "… invalid duration …",
 * "validation failure list: …"). unknown: anything else (another 4xx or 5xx) — a refusal only once
 * the LAPI shows it works.
 */
export function sendFailure(e: unknown): 'transient' | 'refused' | 'unknown' {
  if (!(e instanceof LapiError)) return 'transient';
  if (e.kind === 'unreachable' || e.kind === 'auth' || e.kind === 'reply') return 'transient';
  if (e.status === 502 || e.status === 503 || e.status === 504 || e.status === 408 || e.status === 429) return 'transient';
  if (/locked|busy|timeout/i.test(e.message)) return 'transient';
  if (e.status === 400 || e.status === 422) return 'refused';
  if (e.status === 500 && /invalid|validation|unable to parse/i.test(e.message)) return 'refused';
  return 'unknown';
}

export class LapiClient {
  private readonly o: LapiClientOptions;
  private token: string | null = null;
  private tokenAt = 0;
  private loggingIn: Promise<string> | null = null;

  constructor(opts: LapiClientOptions) {
    this.o = opts;
  }

  get canWatch(): boolean {
    return this.o.machineId !== null && this.o.password !== null;
  }

  private async request(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: unknown }> {
    let res;
    try {
      res = await this.o.fetch(`${this.o.url}${path}`, {
        method,
        headers: { 'User-Agent': this.o.userAgent, Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000),
        // Never follow a redirect: it would carry the bouncer key and the login body to another origin.
        redirect: 'error',
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new LapiError('unreachable', null, `LAPI ${this.o.url} unreachable: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    const text = await readCapped(res, this.o.maxReplyBytes ?? MAX_REPLY_BYTES).catch((e: unknown) => {
      if (e instanceof LapiError) throw e;
      return '';
    });
    if (text === null) throw new LapiError('reply', res.status, `LAPI ${method} ${path.split('?')[0]}: reply larger than ${Math.round((this.o.maxReplyBytes ?? MAX_REPLY_BYTES) / 1024)} KiB, refused`);
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status, json };
    const msg = ErrorReplySchema.safeParse(json).data?.message ?? (typeof json === 'string' ? json.slice(0, 200) : '');
    const kind: LapiErrorKind = res.status === 401 || res.status === 403 ? 'auth' : res.status >= 500 ? 'server' : 'client';
    throw new LapiError(kind, res.status, `LAPI ${method} ${path.split('?')[0]} answered ${res.status}${msg ? `: ${msg}` : ''}`);
  }

  private parse<T extends z.ZodType>(schema: T, json: unknown, what: string): z.infer<T> {
    const r = schema.safeParse(json);
    if (!r.success) throw new LapiError('reply', null, `LAPI ${what}: unexpected reply (${r.error.issues[0]?.message ?? 'invalid'})`);
    return r.data;
  }

  /** Logs in as the watcher; the token is kept and reused. */
  async login(): Promise<string> {
    if (!this.canWatch) throw new LapiError('auth', null, 'no machine credentials (machineId + password or credentialsFile): this host cannot push');
    this.loggingIn ??= (async () => {
      try {
        const r = await this.request('POST', '/v1/watchers/login', {}, { machine_id: this.o.machineId, password: this.o.password, scenarios: ['portcullis/portscan'] });
        const reply = this.parse(LoginReplySchema, r.json, 'login');
        this.token = reply.token;
        this.tokenAt = this.o.now();
        return reply.token;
      } catch (e) {
        if (e instanceof LapiError && e.kind === 'auth') throw new LapiError('auth', e.status, `machine "${this.o.machineId}" refused: wrong machineId or password, or not validated (cscli machines validate)`);
        throw e;
      } finally {
        this.loggingIn = null;
      }
    })();
    return this.loggingIn;
  }

  private async watcher(method: string, path: string, body?: unknown): Promise<unknown> {
    const fresh = this.token !== null && this.o.now() - this.tokenAt < TOKEN_RENEW_MS && this.o.now() >= this.tokenAt;
    let token = fresh ? this.token! : await this.login();
    try {
      return (await this.request(method, path, { Authorization: `Bearer ${token}` }, body)).json;
    } catch (e) {
      if (!(e instanceof LapiError) || e.kind !== 'auth') throw e;
      // Expired or revoked early (LAPI restarted with a new secret): log in again, once.
      this.token = null;
      token = await this.login();
      return (await this.request(method, path, { Authorization: `Bearer ${token}` }, body)).json;
    }
  }

  private async bouncer(path: string): Promise<unknown> {
    try {
      return (await this.request('GET', path, { 'X-Api-Key': this.o.bouncerKey })).json;
    } catch (e) {
      if (e instanceof LapiError && e.kind === 'auth') throw new LapiError('auth', e.status, 'bouncer key refused: check fleet.crowdsec.bouncerKey (cscli bouncers list)');
      throw e;
    }
  }

  /** Pushes alerts (each with its decisions); the new alert ids, in the same order. */
  async pushAlerts(alerts: Record<string, unknown>[]): Promise<string[]> {
    const json = await this.watcher('POST', '/v1/alerts', alerts);
    const ids = this.parse(AlertIdsSchema, json, 'push');
    if (ids.length !== alerts.length) throw new LapiError('reply', null, `LAPI push: ${ids.length} ids for ${alerts.length} alerts`);
    return ids;
  }

  /** The decision ids of one alert (this host's own), or [] when the alert is gone. */
  async alertDecisionIds(alertId: string): Promise<number[]> {
    try {
      const json = await this.watcher('GET', `/v1/alerts/${encodeURIComponent(alertId)}`);
      return (this.parse(AlertDetailSchema, json, 'alert').decisions ?? []).map((d) => d.id);
    } catch (e) {
      if (e instanceof LapiError && e.status === 404) return [];
      throw e;
    }
  }

  /** Deletes one decision by id (never by ?ip=, which deletes every host's decision for the address). */
  async deleteDecision(id: number): Promise<void> {
    try {
      this.parse(DeleteReplySchema, await this.watcher('DELETE', `/v1/decisions/${id}`), 'delete');
    } catch (e) {
      if (e instanceof LapiError && e.status === 404) return;
      throw e;
    }
  }

  /** Active decisions for one address or range (bouncer view, not merged per value). */
  async decisionsFor(value: string): Promise<Decision[]> {
    const q = value.includes('/') ? `range=${encodeURIComponent(value)}` : `ip=${encodeURIComponent(value)}`;
    return this.parse(DecisionListSchema, await this.bouncer(`/v1/decisions?${q}`), 'decisions') ?? [];
  }

  /** The decision stream: everything (startup) or what changed since this bouncer's last pull. */
  async stream(startup: boolean): Promise<StreamReply> {
    return this.parse(StreamReplySchema, await this.bouncer(`/v1/decisions/stream?startup=${startup}`), 'stream');
  }

  /** Checks the bouncer key without moving this bouncer's stream position. */
  async checkBouncerKey(): Promise<void> {
    await this.bouncer('/v1/decisions?ip=192.0.2.255');
  }
}
