/**
 * Every state-changing API call, whatever the transport, lands in the audit log with the transport
 * and who the client is — beside the helper's entries of the exact firewall commands it ran.
 * The transports wrap the service's handlers once per client (a WebSocket, a control-socket
 * connection, an HTTP request, the desktop IPC): `auditedHandlers(handlers, audit, client)`.
 * Read-only calls (get*, previews, threshold tests) are not logged.
 */
import type { AuditLog } from '../helper/audit.ts';
import { API, type ApiHandlers, type ApiMethod } from '../shared/api.ts';
import { REDACTED } from '../shared/fleet.ts';
import { errorText } from '../shared/errors.ts';

/** The calls that change something: protection, bans, whitelist, settings (thresholds included), rules, firewall. */
export const CHANGING_METHODS: ReadonlySet<ApiMethod> = new Set<ApiMethod>([
  'setProtection',
  'pauseProtection',
  'ban',
  'unban',
  'banMany',
  'whitelistAdd',
  'whitelistRemove',
  'updateSettings',
  'applyRule',
  'setUfwEnabled',
  'setDefaultPolicy',
  'setLogging',
  'setPerSourceLogging',
  'runDoctorFix',
]);

/** The desktop's main process writes its own (user-owned) audit log with it; it may not import the helper layer. */
export { fileAuditLog } from '../helper/audit.ts';

export type Transport = 'ipc' | 'tray' | 'http' | 'websocket' | 'control-socket' | 'cli';

export interface ClientIdentity {
  transport: Transport;
  /** Who, as the kernel tells it where it can: "uid 1000 pid 4242 (portcullis)", "127.0.0.1:51234 uid 1000". */
  client: string;
}

/** Keys whose values are secrets wherever they sit in a call's arguments (fleet.crowdsec's password and bouncerKey). */
const SECRET_ARG_KEYS: ReadonlySet<string> = new Set(['password', 'bouncerKey']);

/**
 * The arguments as the audit log keeps them (12 weeks, readable by whoever reads the logs): every
 * secret replaced by REDACTED, at any depth (updateSettings' patch.fleet.crowdsec, testFleet's crowdsec).
 */
export function redactSecrets(v: unknown, depth = 0): unknown {
  if (depth > 32 || typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map((x) => redactSecrets(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_ARG_KEYS.has(k) && x !== undefined && x !== null ? REDACTED : redactSecrets(x, depth + 1);
  return out;
}

/** The handlers with every changing call recorded after it ran (success or refusal, with the reason). */
export function auditedHandlers(handlers: ApiHandlers, audit: AuditLog, identify: () => ClientIdentity | Promise<ClientIdentity>, now: () => number = Date.now): ApiHandlers {
  const out = { ...handlers } as Record<ApiMethod, (p: unknown) => Promise<unknown>>;
  for (const method of Object.keys(API) as ApiMethod[]) {
    if (!CHANGING_METHODS.has(method)) continue;
    const inner = (handlers as Record<ApiMethod, (p: unknown) => Promise<unknown>>)[method];
    out[method] = async (params: unknown) => {
      const started = now();
      const who = await identify();
      const entry = (result: 'ok' | 'error', error?: { code: string; message: string }) =>
        audit.append({
          time: new Date(started).toISOString(),
          who: `${who.transport} ${who.client}`,
          transport: who.transport,
          client: who.client,
          op: `api.${method}`,
          args: redactSecrets(params),
          argv: [],
          result,
          ...(error ? { error } : {}),
          ms: now() - started,
        });
      try {
        const value = await inner(params);
        await entry('ok');
        return value;
      } catch (e) {
        const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'failed';
        await entry('error', { code, message: errorText(e) });
        throw e;
      }
    };
  }
  return out as unknown as ApiHandlers;
}
