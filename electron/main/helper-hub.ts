/**
 * The desktop app's view of the root helper: the service is built ONCE with ports that delegate to
 * whichever HelperClient is connected now (the supervisor swaps it on reconnect/relaunch). While no
 * helper is connected every firewall change is refused as 'read-only' with the supervisor's reason,
 * and the state the UI sees says so (`withHelperStatus`).
 */
import { API_METHODS, ApiError, CONNECT_HELPER_FIX_ID, type ApiEvent, type ApiHandlers, type ApiMethod, type DoctorCheck, type State } from '../shared/api.ts';
import type { HelperArgs, HelperOp, HelperResult } from '../shared/helper-protocol.ts';
import { DOCTOR_FIXES, doctorCheck } from '../shared/doctor.ts';
import type { HelperCall } from '../app/helper-adapter.ts';
import path from 'node:path';
import { HelperClient } from '../engine/helperclient/client.ts';
import type { HelperLink, HelperSession, HelperStatus } from './elevation.ts';

export interface HelperCaller {
  call<O extends HelperOp>(op: O, args: HelperArgs<O>): Promise<HelperResult<O>>;
}

export class HelperHub<C extends HelperCaller = HelperCaller> {
  private client: C | null = null;
  private status: HelperStatus = { phase: 'idle', connected: false, readOnlyReason: 'the helper has not been started yet' };

  set(client: C | null, status: HelperStatus): void {
    this.client = status.connected ? client : null;
    this.status = status;
  }

  current(): C | null {
    return this.client;
  }

  helperState(): State['helper'] {
    return this.status.connected ? { connected: true } : { connected: false, readOnlyReason: this.status.readOnlyReason ?? 'the root helper is not connected' };
  }

  /** The typed call the service's ports use: refused as read-only while no helper is connected. */
  readonly call: HelperCall = (<O extends HelperOp>(op: O, args: HelperArgs<O>): Promise<HelperResult<O>> => {
    const client = this.client;
    if (!client) return Promise.reject(new ApiError('read-only', this.helperState().readOnlyReason ?? 'the root helper is not connected'));
    return client.call(op, args);
  }) as HelperCall;
}

function isState(v: unknown): v is State {
  return typeof v === 'object' && v !== null && 'protection' in v && 'helper' in v && 'firewall' in v;
}

type MethodCall = (params: unknown) => Promise<unknown>;

/** A handler table with every method of the API (not the object's own keys: it may be a class or a proxy) passed through `wrap`. */
function wrapHandlers(handlers: ApiHandlers, wrap: (method: ApiMethod, call: MethodCall) => MethodCall): ApiHandlers {
  const wrapped = {} as Record<ApiMethod, MethodCall>;
  for (const method of API_METHODS) wrapped[method] = wrap(method, (params) => (handlers[method] as MethodCall)(params));
  return wrapped as unknown as ApiHandlers;
}

/** Every State leaving the service (method results and 'state' events) carries the live helper status. */
export function withHelperStatus(handlers: ApiHandlers, helper: () => State['helper']): ApiHandlers {
  return wrapHandlers(handlers, (_method, call) => async (params) => {
    const result = await call(params);
    return isState(result) ? { ...result, helper: helper() } : result;
  });
}

export function eventsWithHelperStatus(events: ApiEvent[], helper: () => State['helper']): ApiEvent[] {
  return events.map((e) => (e.type === 'state' ? { ...e, state: { ...e.state, helper: helper() } } : e));
}

export type HelperClientLink = HelperLink & { client: HelperClient };

/** helper.sock is SOCKET_NAME of electron/helper/server.ts (main may not import the helper's code). */
export const HELPER_SOCKET_NAME = 'helper.sock';

/**
 * One authenticated connection to the helper of a session. The supervisor owns reconnection, so
 * the client's own reconnect is stopped as soon as the socket drops: the link then ends.
 */
export async function connectHelperClient(session: HelperSession, log: (line: string) => void): Promise<HelperClientLink> {
  const client = new HelperClient({ socketPath: path.join(session.socketDir, HELPER_SOCKET_NAME), secret: session.secret, log });
  try {
    await client.connect();
  } catch (e) {
    client.close();
    throw e;
  }
  const closed = new Promise<void>((resolve) => {
    const off = client.onStatus((connected) => {
      if (!connected) {
        off();
        client.close();
        resolve();
      }
    });
  });
  return { client, closed, close: () => client.close() };
}

export const CONNECT_HELPER_FIX = { id: CONNECT_HELPER_FIX_ID, label: DOCTOR_FIXES[CONNECT_HELPER_FIX_ID].label } as const;

/**
 * The desktop's Doctor offers what the tray offers: while no helper is connected its check carries
 * a "Connect helper" fix, and running that fix asks the supervisor to start the helper again (one
 * password prompt) before the checks are read anew. The service cannot do this itself: starting
 * the helper is the desktop shell's business.
 */
export function withHelperFix(handlers: ApiHandlers, helper: () => State['helper'], retry: () => Promise<void>): ApiHandlers {
  const withFix = (checks: DoctorCheck[]): DoctorCheck[] => {
    const h = helper();
    if (h.connected) return checks;
    const detail = h.readOnlyReason ?? 'the root helper is not connected';
    const i = checks.findIndex((c) => c.id === 'helper');
    const check: DoctorCheck = { ...doctorCheck('helper', 'error', detail), fix: { ...CONNECT_HELPER_FIX } };
    return i < 0 ? [check, ...checks] : checks.map((c, j) => (j === i ? { ...c, fix: { ...CONNECT_HELPER_FIX } } : c));
  };
  return wrapHandlers(handlers, (method, call) => {
    if (method === 'getDoctor') return async (params) => withFix((await call(params)) as DoctorCheck[]);
    if (method !== 'runDoctorFix') return call;
    return async (params) => {
      if ((params as { fixId: string }).fixId !== CONNECT_HELPER_FIX.id) return withFix((await call(params)) as DoctorCheck[]);
      await retry();
      return withFix(await handlers.getDoctor({}));
    };
  });
}
