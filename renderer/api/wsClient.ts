/**
 * The browser side of `portcullis serve`: the typed API over one WebSocket.
 * Requests carry an id and are matched to their reply; results are validated with the shared
 * schemas (unwrapReply), so a bad reply becomes an ApiError instead of bad data in the store.
 * The socket reconnects with exponential backoff; calls made while it is down wait for it
 * (bounded by a timeout) and calls in flight when it drops are failed, never re-sent, because a
 * command like `ban` must not run twice.
 */
import {
  type ApiEvent,
  ApiError,
  type ApiMethod,
  type ApiParams,
  type ApiResult,
  type PortcullisApi,
  ApiEventSchema,
  unwrapReply,
} from '../../electron/shared/api.ts';
import { errorText } from '../../electron/shared/errors.ts';

/** 'refused': the service is there but does not take this page's token (it restarted with a new one). */
export type ConnectionStatus = 'connecting' | 'open' | 'closed' | 'refused';

/** Close codes a server uses to refuse the credentials (4401: token refused; 1008: policy violation). */
const REFUSED_CLOSE_CODES: ReadonlySet<number> = new Set([4401, 4403, 1008]);

/** What the store needs beyond PortcullisApi: to know when the link drops and comes back (to resync). */
export interface ConnectionAware {
  onConnection(listener: (status: ConnectionStatus) => void): () => void;
}

/** The slice of the DOM WebSocket this client uses, so tests can hand in a fake. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface WsClientOptions {
  url: string;
  /** WebSocket subprotocols offered on every (re)connect; the serve token travels here. */
  protocols?: string[];
  createSocket?: (url: string, protocols: string[]) => SocketLike;
  /** First reconnect delay; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A call without a reply after this long fails with code "unavailable". */
  callTimeoutMs?: number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  /**
   * Asked when a socket closed before it ever opened: is the service refusing our token ('refused'),
   * or just not there ('down')? A browser does not tell a refused handshake from a dead server.
   */
  authProbe?: () => Promise<'refused' | 'ok' | 'down'>;
}

interface Pending {
  method: ApiMethod;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: unknown;
  /** The frame, kept until the socket is open. */
  frame: string;
  sent: boolean;
}

const OPEN = 1;

export class WsApiClient implements PortcullisApi, ConnectionAware {
  private readonly url: string;
  private readonly protocols: string[];
  private readonly createSocket: (url: string, protocols: string[]) => SocketLike;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly callTimeoutMs: number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly authProbe: WsClientOptions['authProbe'];

  private socket: SocketLike | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners = new Set<(events: ApiEvent[]) => void>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();
  private backoffMs: number;
  private reconnectTimer: unknown = null;
  private closedByUser = false;
  status: ConnectionStatus = 'connecting';

  constructor(options: WsClientOptions) {
    this.url = options.url;
    this.protocols = options.protocols ?? [];
    this.createSocket = options.createSocket ?? ((u, p) => new WebSocket(u, p) as unknown as SocketLike);
    this.initialBackoffMs = options.initialBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 15_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.setTimer = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.clearTimer = options.clearTimeout ?? ((h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>));
    this.backoffMs = this.initialBackoffMs;
    this.authProbe = options.authProbe;
    this.connect();
  }

  call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
    const id = this.nextId++;
    const frame = JSON.stringify({ id, method, params: params ?? {} });
    return new Promise<ApiResult<M>>((resolve, reject) => {
      const timer = this.setTimer(() => {
        if (this.pending.delete(id)) reject(new ApiError('unavailable', `no answer to ${method} from the Portcullis service`));
      }, this.callTimeoutMs);
      const p: Pending = { method, resolve: resolve as (v: unknown) => void, reject, timer, frame, sent: false };
      this.pending.set(id, p);
      if (this.socket && this.socket.readyState === OPEN) this.sendPending(p);
    });
  }

  onEvents(listener: (events: ApiEvent[]) => void): () => void {
    this.eventListeners.add(listener);
    return () => {
      this.eventListeners.delete(listener);
    };
  }

  /** Calls the listener at once with the current status (the socket may have opened before anyone listened), then on every change. */
  onConnection(listener: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => {
      this.statusListeners.delete(listener);
    };
  }

  close(): void {
    this.closedByUser = true;
    if (this.reconnectTimer !== null) this.clearTimer(this.reconnectTimer);
    this.socket?.close(1000, 'client closed');
    this.failInFlight(new ApiError('unavailable', 'connection closed'), true);
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.status === status) return;
    this.status = status;
    for (const l of this.statusListeners) l(status);
  }

  private connect(): void {
    this.reconnectTimer = null;
    this.setStatus('connecting');
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.url, this.protocols);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.backoffMs = this.initialBackoffMs;
      this.setStatus('open');
      for (const p of this.pending.values()) if (!p.sent) this.sendPending(p);
    };
    socket.onmessage = (ev) => this.receive(ev.data);
    socket.onerror = () => {
      /* onclose follows and handles it */
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      // Calls already sent may or may not have run: fail them rather than risk running twice.
      this.failInFlight(new ApiError('unavailable', 'the connection to the Portcullis service was lost'), false);
      if (this.closedByUser) {
        this.setStatus('closed');
        return;
      }
      const code = (ev as { code?: unknown } | null)?.code;
      if (typeof code === 'number' && REFUSED_CLOSE_CODES.has(code)) return this.refused();
      this.setStatus('closed');
      if (!opened && this.authProbe) {
        // Reconnecting with a token the service refuses would say "reconnecting…" forever.
        void this.authProbe().then(
          (r) => (r === 'refused' ? this.refused() : this.scheduleReconnect()),
          () => this.scheduleReconnect(),
        );
        return;
      }
      this.scheduleReconnect();
    };
  }

  /** The token is refused: stop retrying (only a new URL helps) and fail what waits. */
  private refused(): void {
    this.failInFlight(new ApiError('unavailable', 'the Portcullis service refused this page\'s token'), true);
    this.setStatus('refused');
  }

  private scheduleReconnect(): void {
    if (this.closedByUser || this.reconnectTimer !== null) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    this.reconnectTimer = this.setTimer(() => this.connect(), delay);
  }

  private sendPending(p: Pending): void {
    try {
      this.socket!.send(p.frame);
      p.sent = true;
    } catch {
      /* stays unsent; retried on the next open */
    }
  }

  private failInFlight(error: ApiError, all: boolean): void {
    for (const [id, p] of this.pending) {
      if (!all && !p.sent) continue;
      this.pending.delete(id);
      this.clearTimer(p.timer);
      p.reject(error);
    }
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      console.warn('portcullis: ignored a frame that is not JSON');
      return;
    }
    // A reply is matched by id first, so a malformed result fails that one call, not the link.
    if (raw && typeof raw === 'object' && 'id' in raw && 'reply' in raw) {
      const id = (raw as { id: unknown }).id;
      const p = typeof id === 'number' ? this.pending.get(id) : undefined;
      if (!p) return;
      this.pending.delete(id as number);
      this.clearTimer(p.timer);
      try {
        p.resolve(unwrapReply(p.method, (raw as { reply: unknown }).reply));
      } catch (e) {
        p.reject(e instanceof ApiError ? e : new ApiError('failed', `bad reply to ${p.method}: ${errorText(e)}`));
      }
      return;
    }
    const list = raw && typeof raw === 'object' ? (raw as { events?: unknown }).events : undefined;
    if (!Array.isArray(list)) {
      console.warn('portcullis: ignored a frame that is neither a reply nor events');
      return;
    }
    // Each event is checked on its own: one malformed event is dropped, the rest of the batch is kept.
    const events: ApiEvent[] = [];
    for (const item of list) {
      const ev = ApiEventSchema.safeParse(item);
      if (ev.success) events.push(ev.data);
      else console.warn('portcullis: dropped a malformed event');
    }
    if (events.length === 0) return;
    for (const l of [...this.eventListeners]) {
      try {
        l(events);
      } catch (e) {
        console.error('portcullis: event listener failed', e);
      }
    }
  }
}
