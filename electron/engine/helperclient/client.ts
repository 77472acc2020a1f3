/**
 * The engine's side of the root helper: typed calls over the helper's Unix socket (desktop) or
 * straight into an in-process dispatcher (headless runner, already root), kmsg event subscription,
 * reconnect with backoff (re-hello, and the kmsg stream resumed after the last seq delivered, so
 * nothing is lost or repeated). The service's FirewallPort over these calls is app/helper-adapter.ts.
 */
import { connect, type Socket } from 'node:net';
import {
  HELPER_OPS,
  HELPER_PROTOCOL_VERSION,
  HelperError,
  HelperServerLineSchema,
  MAX_LINE_BYTES,
  type HelperArgs,
  type HelperEvent,
  type HelperOp,
  type HelperResponse,
  type HelperResult,
  type KmsgBatchInfo,
} from '../../shared/helper-protocol.ts';
import { failure } from '../../shared/reply-envelope.ts';

/** What an in-process dispatcher offers (electron/helper/ops.ts satisfies it; no import across layers). */
export interface InProcessHelper {
  handle(request: unknown): Promise<HelperResponse>;
  onEvent(listener: (event: HelperEvent) => void): () => void;
}

export type HelperClientOptions =
  | { socketPath: string; secret: string; callTimeoutMs?: number; maxBackoffMs?: number; log?: (line: string) => void }
  | { inProcess: InProcessHelper; callTimeoutMs?: number };

type Pending = { resolve: (r: HelperResponse) => void; timer: ReturnType<typeof setTimeout> };

/**
 * After the helper said its kernel-log stream failed (a read error ends its read loop), the stream
 * is asked for again this much later, resumed after the last record delivered: nothing else would
 * restart it until the helper reconnects, and the app would watch nothing meanwhile.
 */
export const KMSG_RESTART_MS = 5_000;

/** Seq of a raw kmsg record ("prio,seq,usec,flags;text"), or null. */
function recordSeq(record: string): number | null {
  const m = /^\d+,(\d+),/.exec(record);
  return m ? Number(m[1]) : null;
}

/** Kernel records as the helper sent them, and what its stream says besides (skipped since the last batch; newBoot). */
export type KmsgListener = (records: string[], info: KmsgBatchInfo) => void;

export class HelperClient {
  private readonly opts: HelperClientOptions;
  private socket: Socket | null = null;
  private connecting: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private backoffMs = 100;
  private readonly kmsgListeners = new Set<KmsgListener>();
  private readonly kmsgErrorListeners = new Set<(message: string | null) => void>();
  private kmsgRestart: ReturnType<typeof setTimeout> | null = null;
  /**
   * kmsg-error events so far: a start of the stream that succeeded says "running" (null) only when
   * no failure came meanwhile — the answer and a failure can arrive in one read, the failure first.
   */
  private kmsgErrors = 0;
  private readonly statusListeners = new Set<(connected: boolean, why?: string) => void>();
  private kmsgWanted = false;
  private lastSeq: number | null = null;
  private kmsgStart: number | null | 'now' = 'now';
  private unsubscribeInProcess: (() => void) | null = null;
  private lastRefusal: string | null = null;

  constructor(opts: HelperClientOptions) {
    this.opts = opts;
    if ('inProcess' in opts) this.unsubscribeInProcess = opts.inProcess.onEvent((e) => this.onEvent(e));
  }

  get connected(): boolean {
    return 'inProcess' in this.opts || (this.socket !== null && !this.socket.destroyed);
  }

  /** Connects (socket mode) and says hello; resolves once authenticated. In-process: nothing to do. */
  async connect(): Promise<void> {
    if ('inProcess' in this.opts || this.connected) return;
    this.connecting ??= this.openSocket().finally(() => (this.connecting = null));
    return this.connecting;
  }

  /** Typed call; throws HelperError (code 'unavailable' when the helper cannot be reached). */
  async call<O extends HelperOp>(op: O, args: HelperArgs<O>): Promise<HelperResult<O>> {
    let response: HelperResponse;
    if ('inProcess' in this.opts) {
      response = await this.opts.inProcess.handle({ id: this.nextId++, op, args });
    } else {
      if (!this.connected) await this.connect();
      response = await this.send(op, args);
    }
    if (!response.ok) throw new HelperError(response.error.code, response.error.message);
    const parsed = HELPER_OPS[op].result.safeParse(response.result);
    if (!parsed.success) throw new HelperError('failed', `the helper answered ${op} with an unexpected result`);
    return parsed.data as HelperResult<O>;
  }

  /**
   * Streams kernel records: after `afterSeq` (resume; -1: before this boot's first record), from the
   * oldest in the ring (null), or from now. The listener also hears how many records the helper's
   * stream skipped (lost to ring overwrite, filtered out), possibly with no record, and that it reads
   * this boot from its start although asked after a seq (newBoot: the position was another boot's).
   * After a reconnect the stream resumes after the last record delivered. `onError` hears that the
   * helper's stream failed (a message), and that a restart of it took (null); it is restarted
   * KMSG_RESTART_MS later (resumed the same way), until it runs again. Returns the unsubscribe.
   */
  async streamKmsg(afterSeq: number | null | 'now', listener: KmsgListener, onError?: (message: string | null) => void): Promise<() => void> {
    await this.connect(); // so the (re)connect path does not start a second stream
    this.kmsgListeners.add(listener);
    if (onError) this.kmsgErrorListeners.add(onError);
    this.kmsgWanted = true;
    this.kmsgStart = afterSeq;
    this.lastSeq = typeof afterSeq === 'number' ? afterSeq : null;
    const errors = this.kmsgErrors;
    await this.call('streamKmsg', { afterSeq });
    // Running: a failure of an earlier stream (an earlier helper's) is over.
    if (onError && this.kmsgErrors === errors) onError(null);
    return () => {
      this.kmsgListeners.delete(listener);
      if (onError) this.kmsgErrorListeners.delete(onError);
    };
  }

  /** Connection changes (socket mode): the UI shows "read-only" while the helper is away. */
  onStatus(listener: (connected: boolean, why?: string) => void): () => void {
    this.statusListeners.add(listener);
    return () => void this.statusListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    if (this.kmsgRestart !== null) clearTimeout(this.kmsgRestart);
    this.unsubscribeInProcess?.();
    this.socket?.destroy();
    this.failPending('the helper client was closed');
  }

  // ------------------------------------------------------------ socket mode

  private send(op: HelperOp, args: unknown): Promise<HelperResponse> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return Promise.resolve(unavailable('not connected to the helper'));
    const id = this.nextId++;
    const timeoutMs = this.opts.callTimeoutMs ?? 120_000;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ id, ...failure('unavailable', `the helper did not answer ${op} within ${timeoutMs} ms`) });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      socket.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  private openSocket(): Promise<void> {
    const o = this.opts as Extract<HelperClientOptions, { socketPath: string }>;
    this.lastRefusal = null;
    return new Promise<void>((resolve, reject) => {
      const socket = connect(o.socketPath);
      let buffer = '';
      let settled = false;
      socket.setEncoding('utf8');
      socket.once('connect', async () => {
        this.socket = socket;
        const hello = await this.send('hello', { secret: o.secret, version: HELPER_PROTOCOL_VERSION });
        if (!hello.ok) {
          settled = true;
          socket.destroy();
          reject(new HelperError(hello.error.code, hello.error.message));
          return;
        }
        this.backoffMs = 100;
        settled = true;
        resolve();
        for (const l of this.statusListeners) l(true);
        if (this.kmsgWanted) {
          const afterSeq = this.lastSeq ?? this.kmsgStart;
          void this.send('streamKmsg', { afterSeq });
        }
      });
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          this.onLine(line);
        }
        if (buffer.length > 4 * MAX_LINE_BYTES) socket.destroy(); // a helper never sends this
      });
      socket.on('error', (e) => {
        if (!settled) {
          settled = true;
          reject(new HelperError('unavailable', `cannot reach the helper at ${o.socketPath}: ${e.message}`));
        }
      });
      socket.on('close', () => {
        if (this.socket === socket) this.socket = null;
        // Let an answer that arrived just before the close (a refused hello) settle first.
        setImmediate(() => {
          this.failPending('the connection to the helper was lost');
          if (!settled) {
            settled = true;
            const why = this.lastRefusal ?? 'the helper closed the connection';
            reject(new HelperError('unavailable', why));
          }
        });
        for (const l of this.statusListeners) l(false, 'the helper is not connected');
        this.scheduleReconnect();
      });
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || 'inProcess' in this.opts) return;
    const o = this.opts;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, o.maxBackoffMs ?? 5_000);
    const timer = setTimeout(() => {
      if (this.closed || this.connected) return;
      this.connect().catch((e) => o.log?.(`helper reconnect failed: ${(e as Error).message}`));
    }, delay);
    timer.unref?.();
  }

  private onLine(line: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return;
    }
    const parsed = HelperServerLineSchema.safeParse(raw);
    if (!parsed.success) return;
    const msg = parsed.data;
    if ('event' in msg) return this.onEvent(msg);
    const p = msg.id === null ? undefined : this.pending.get(msg.id);
    if (p) {
      this.pending.delete(msg.id!);
      clearTimeout(p.timer);
      p.resolve(msg);
    } else if (msg.id === null && !msg.ok) {
      this.lastRefusal = msg.error.message; // e.g. "another client is connected": the reason a connect failed
      (this.opts as { log?: (l: string) => void }).log?.(`helper: ${msg.error.message}`);
    }
  }

  private onEvent(e: HelperEvent): void {
    if (e.event === 'kmsg-error') {
      this.kmsgErrors++;
      for (const l of this.kmsgErrorListeners) l(e.message);
      this.restartKmsgLater();
      return;
    }
    if (e.event !== 'kmsg') return;
    // The helper reads this boot from its start (the position asked was another boot's): so does a resume.
    if (e.newBoot) this.lastSeq = -1;
    const last = e.records.length ? recordSeq(e.records[e.records.length - 1]!) : null;
    if (last !== null) this.lastSeq = last;
    const info: KmsgBatchInfo = { lost: e.lost ?? 0, filtered: e.filtered ?? 0, ...(e.newBoot ? { newBoot: true as const } : {}) };
    for (const l of this.kmsgListeners) l(e.records, info);
  }

  /** Asks for the kernel-log stream again after KMSG_RESTART_MS (see there); a failed ask tries again as late. */
  private restartKmsgLater(): void {
    if (this.kmsgRestart !== null || this.closed) return;
    this.kmsgRestart = setTimeout(() => {
      this.kmsgRestart = null;
      if (this.closed || !this.kmsgWanted) return;
      const errors = this.kmsgErrors;
      this.call('streamKmsg', { afterSeq: this.lastSeq ?? this.kmsgStart }).then(
        () => {
          if (this.kmsgErrors !== errors) return; // failed again meanwhile: that failure stands (its own restart follows)
          for (const l of this.kmsgErrorListeners) l(null);
        },
        (e: Error) => {
          for (const l of this.kmsgErrorListeners) l(`restarting the kernel log stream: ${e.message}`);
          this.restartKmsgLater();
        },
      );
    }, KMSG_RESTART_MS);
    this.kmsgRestart.unref?.();
  }

  private failPending(message: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ id, ...failure('unavailable', message) });
    }
    this.pending.clear();
  }
}

function unavailable(message: string): HelperResponse {
  return { id: null, ...failure('unavailable', message) };
}
