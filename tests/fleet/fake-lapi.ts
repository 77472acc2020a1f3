/**
 * An in-process fake of CrowdSec's Local API 1.4.6, as a `fetch`: the calls Portcullis makes, with
 * the behaviours measured on the real one (notes/crowdsec-lapi.md) that a client must survive —
 * a User-Agent that is not `name/version` gets 401, tokens expire, POSTs fail with 500 "database is
 * locked", the delta stream can lose decisions, the stream keeps one decision per value (the longest),
 * deletions repeat. Switches let a test cause each of them.
 */
import type { FetchLike } from '../../electron/engine/fleet/client.ts';

interface Dec {
  id: number;
  alertId: number;
  origin: string;
  scenario: string;
  scope: string;
  type: string;
  value: string;
  until: number;
  createdAt: number;
  deletedAt: number | null;
}

export class FakeLapi {
  now: () => number;
  machines = new Map<string, string>();
  bouncers = new Set<string>();
  decisions: Dec[] = [];
  private nextId = 1;
  private nextAlert = 1;
  private tokens = new Map<string, number>();
  private lastPull = new Map<string, number>();
  /** Requests seen, "METHOD /path". */
  log: string[] = [];
  logins = 0;
  /** Throw like fetch does when nothing listens. */
  down = false;
  /** The next N requests (of any kind, or matching `failOnly`) answer 500 "database is locked". */
  failNext = 0;
  failOnly: RegExp | null = null;
  /** The next delta pulls drop the decisions they would have carried (they stay in the DB). */
  loseDeltas = 0;
  /** A POST /v1/alerts with a decision for a value matching this is refused whole, as 1.4.6 refuses a batch with one invalid alert (HTTP 500). */
  refuseValue: RegExp | null = null;
  /** The message of that refusal (1.4.6: "unable to create alerts: invalid addr/range …", measured). */
  refuseMessage = (value: string) => `unable to create alerts: invalid addr/range ${value}`;
  /** Tokens issued from now on are valid this long. */
  tokenTtlMs = 3_600_000;
  userAgents = new Set<string>();

  constructor(now: () => number) {
    this.now = now;
  }

  /** A decision made elsewhere (another host, cscli). */
  add(value: string, origin: string, durationMs = 3_600_000, scope = 'Ip'): Dec {
    const d: Dec = { id: this.nextId++, alertId: this.nextAlert++, origin, scenario: origin.startsWith('portcullis') ? 'portcullis/portscan' : 'manual', scope, type: 'ban', value, until: this.now() + durationMs, createdAt: this.now(), deletedAt: null };
    this.decisions.push(d);
    return d;
  }

  remove(id: number): void {
    const d = this.decisions.find((x) => x.id === id);
    if (d && d.deletedAt === null) d.deletedAt = this.now();
  }

  active(): Dec[] {
    const now = this.now();
    return this.decisions.filter((d) => d.deletedAt === null && d.until > now);
  }

  private wire(d: Dec) {
    const now = this.now();
    const ms = d.deletedAt !== null ? -1 : d.until - now;
    return { id: d.id, origin: d.origin, scenario: d.scenario, scope: d.scope, type: d.type, value: d.value, duration: `${(ms / 1000).toFixed(3)}s` };
  }

  /** One decision per value, the longest (what the stream shows; measured on 1.4.6, notes/crowdsec-lapi.md). */
  private merged(ds: Dec[]): Dec[] {
    const by = new Map<string, Dec>();
    for (const d of ds) {
      const cur = by.get(d.value);
      if (!cur || d.until > cur.until || (d.until === cur.until && d.id > cur.id)) by.set(d.value, d);
    }
    return [...by.values()];
  }

  /** The next POST /v1/alerts is committed but its answer is lost (connection cut mid-reply). */
  loseNextPushReply = false;

  readonly fetch: FetchLike = async (url, init) => {
    const r = await this.serve(url, init);
    if (this.loseNextPushReply && init.method === 'POST' && url.endsWith('/v1/alerts') && r.status === 201) {
      this.loseNextPushReply = false;
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET', message: 'other side closed' } });
    }
    return r;
  };

  private serve: FetchLike = async (url, init) => {
    const u = new URL(url);
    const key = `${init.method} ${u.pathname}`;
    this.log.push(key);
    if (this.down) throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const reply = (status: number, body: unknown) => ({ status, text: async () => JSON.stringify(body) });
    if (this.failNext > 0 && (!this.failOnly || this.failOnly.test(key))) {
      this.failNext--;
      return reply(500, { message: 'database is locked' });
    }
    const ua = init.headers['User-Agent'] ?? '';
    this.userAgents.add(ua);
    const now = this.now();
    if (key === 'POST /v1/watchers/login') {
      const b = JSON.parse(init.body ?? '{}') as { machine_id: string; password: string };
      if (!/^[\w.-]+\/[\w.-]+$/.test(ua) || this.machines.get(b.machine_id) !== b.password) return reply(401, { code: 401, message: 'incorrect Username or Password' });
      this.logins++;
      const token = `t${this.logins}`;
      this.tokens.set(token, now + this.tokenTtlMs);
      return reply(200, { code: 200, expire: new Date(now + this.tokenTtlMs).toISOString(), token });
    }
    if (u.pathname.startsWith('/v1/decisions/stream') || (init.method === 'GET' && u.pathname === '/v1/decisions')) {
      const k = init.headers['X-Api-Key'] ?? '';
      if (!this.bouncers.has(k)) return reply(403, { message: 'access forbidden' });
      if (u.pathname === '/v1/decisions') {
        const ip = u.searchParams.get('ip') ?? u.searchParams.get('range');
        const list = this.active().filter((d) => d.value === ip).map((d) => this.wire(d));
        return reply(200, list.length ? list : null);
      }
      const startup = u.searchParams.get('startup') === 'true';
      // What was created since this bouncer's last pull (by creation order, as the LAPI's created_at > last_pull).
      const since = startup ? 0 : (this.lastPull.get(k) ?? 0);
      this.lastPull.set(k, this.nextId);
      let fresh = this.merged(this.active().filter((d) => startup || d.id >= since));
      if (!startup && this.loseDeltas > 0 && fresh.length > 0) {
        this.loseDeltas--;
        fresh = [];
      }
      // Deletions show (and repeat) for 2 s.
      const deleted = this.merged(this.decisions.filter((d) => d.deletedAt !== null && now - d.deletedAt < 2000));
      return reply(200, { new: fresh.length ? fresh.map((d) => this.wire(d)) : null, deleted: deleted.length ? deleted.map((d) => this.wire(d)) : null });
    }
    // Watcher calls.
    const auth = /^Bearer (.+)$/.exec(init.headers.Authorization ?? '');
    const exp = auth ? this.tokens.get(auth[1]!) : undefined;
    if (exp === undefined || exp <= now) return reply(401, { code: 401, message: 'Token is expired' });
    if (key === 'POST /v1/alerts') {
      const alerts = JSON.parse(init.body ?? '[]') as { decisions: { value: string; origin: string; scenario: string; scope: string; type: string; duration: string }[] }[];
      const bad = this.refuseValue && alerts.flatMap((a) => a.decisions).find((d) => this.refuseValue!.test(d.value));
      if (bad) return reply(500, { message: this.refuseMessage(bad.value) });
      const ids: string[] = [];
      for (const a of alerts) {
        const alertId = this.nextAlert++;
        for (const d of a.decisions) {
          const s = Number(/^(\d+)s$/.exec(d.duration)?.[1] ?? 'NaN');
          if (!Number.isFinite(s)) return reply(500, { message: `bad duration ${d.duration}` });
          this.decisions.push({ id: this.nextId++, alertId, origin: d.origin, scenario: d.scenario, scope: d.scope, type: d.type, value: d.value, until: now + s * 1000, createdAt: now, deletedAt: null });
        }
        ids.push(String(alertId));
      }
      return reply(201, ids);
    }
    const alert = /^\/v1\/alerts\/(\d+)$/.exec(u.pathname);
    if (init.method === 'GET' && alert) {
      const ds = this.decisions.filter((d) => d.alertId === Number(alert[1]));
      if (ds.length === 0) return reply(404, { message: 'object not found' });
      return reply(200, { id: Number(alert[1]), decisions: ds.map((d) => ({ id: d.id, origin: d.origin, value: d.value })) });
    }
    const del = /^\/v1\/decisions\/(\d+)$/.exec(u.pathname);
    if (init.method === 'DELETE' && del) {
      const d = this.decisions.find((x) => x.id === Number(del[1]) && x.deletedAt === null);
      if (d) d.deletedAt = now;
      return reply(200, { nbDeleted: d ? '1' : '0' });
    }
    if (init.method === 'DELETE' && u.pathname === '/v1/decisions') {
      // ?ip= deletes EVERY host's decision for the address: a client must never use it.
      const ip = u.searchParams.get('ip');
      let n = 0;
      for (const d of this.active()) if (d.value === ip) (d.deletedAt = now), n++;
      return reply(200, { nbDeleted: String(n) });
    }
    return reply(404, { message: 'not found' });
  };
}
