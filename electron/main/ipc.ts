/**
 * The IPC binding of the main process: one `handle` for every API call, and a batcher that forwards
 * the service's events to the window at most MAX_EVENT_DELIVERIES_PER_SEC times a second.
 * A call is answered only when it comes from OUR window's main frame showing OUR page: an iframe,
 * a navigated-away page or another window gets a refusal, never the service.
 */
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { dispatch, MAX_EVENT_DELIVERIES_PER_SEC, type ApiEvent, type ApiHandlers, type ApiReply } from '../shared/api.ts';
import type { Clock } from '../shared/domain.ts';
import { IPC_CALL_CHANNEL } from '../shared/ipc.ts';

/** The parts of a WebFrameMain the check reads. */
export interface FrameLike {
  readonly url: string;
  readonly processId: number;
  readonly routingId: number;
  readonly parent: unknown;
}

export type InvokeEventLike = { sender: { id: number }; senderFrame: FrameLike | null };

/** Our window as the check sees it: its webContents id and main frame, or null when it is gone. */
export interface TrustedWindow {
  webContentsId: number;
  mainFrame: FrameLike;
}

/** file:// URL of our page without query and fragment, e.g. file:///opt/Portcullis/…/index.html */
export function pageKey(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol !== 'file:') return null;
    return `file://${u.host}${u.pathname}`;
  } catch {
    return null;
  }
}

/** Why a call must be refused, or null when the sender is our window's main frame on our page. */
export function senderProblem(event: InvokeEventLike, window: TrustedWindow | null, pageUrl: string): string | null {
  if (!window) return 'no Portcullis window is open';
  if (event.sender.id !== window.webContentsId) return 'the call does not come from the Portcullis window';
  const frame = event.senderFrame;
  if (!frame) return 'the sending frame is gone (navigated or destroyed)';
  if (frame.parent !== null && frame.parent !== undefined) return 'the call comes from a sub-frame';
  if (frame.processId !== window.mainFrame.processId || frame.routingId !== window.mainFrame.routingId) {
    return 'the call does not come from the main frame of the Portcullis window';
  }
  const expected = pageKey(pageUrl);
  if (expected === null || pageKey(frame.url) !== expected) return `the page ${JSON.stringify(frame.url.slice(0, 200))} is not the Portcullis UI`;
  return null;
}

export interface ApiIpcDeps {
  /** The service's handlers, or null while the service is still starting. */
  handlers(): ApiHandlers | null;
  window(): TrustedWindow | null;
  pageUrl: string;
  /** Refusals are logged: a refused sender is either a bug or an attack, both worth seeing. */
  log(message: string): void;
}

/** Answers one raw IPC call (exported so tests drive it without Electron). Never throws. */
export async function answerCall(deps: ApiIpcDeps, event: InvokeEventLike, args: unknown[]): Promise<ApiReply> {
  const problem = senderProblem(event, deps.window(), deps.pageUrl);
  if (problem) {
    deps.log(`IPC call refused: ${problem}`);
    return { ok: false, error: { code: 'invalid', message: `refused: ${problem}` } };
  }
  if (args.length > 2) return { ok: false, error: { code: 'invalid', message: 'a call carries a method and one params object' } };
  const handlers = deps.handlers();
  if (!handlers) return { ok: false, error: { code: 'unavailable', message: 'Portcullis is still starting' } };
  // dispatch() checks the method name against the API table and validates params with its zod schema.
  return dispatch(handlers, args[0], args[1]);
}

/** Registers the one call handler; returns the function that removes it. */
export function bindApiIpc(ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>, deps: ApiIpcDeps): () => void {
  ipcMain.handle(IPC_CALL_CHANNEL, (event: IpcMainInvokeEvent, ...args: unknown[]) => answerCall(deps, event, args));
  return () => ipcMain.removeHandler(IPC_CALL_CHANNEL);
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Coalesces events into deliveries at most `maxPerSec` a second, whatever rate the service emits at.
 * The first batch after a quiet spell goes out at once; later ones wait for the interval. The queue is
 * bounded: past `maxQueued`, the oldest packet rows are dropped (the table is a live view; the store
 * keeps every packet), never bans, unbans or state.
 */
export class EventBatcher {
  private readonly deliver: (batch: ApiEvent[]) => void;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly intervalMs: number;
  private readonly maxQueued: number;
  private queue: ApiEvent[] = [];
  private lastDelivery = Number.NEGATIVE_INFINITY;
  private timer: unknown = null;
  private closed = false;

  constructor(opts: { deliver: (batch: ApiEvent[]) => void; clock: Clock; timers?: Timers; maxPerSec?: number; maxQueued?: number }) {
    this.deliver = opts.deliver;
    this.clock = opts.clock;
    this.timers = opts.timers ?? realTimers;
    this.intervalMs = 1000 / (opts.maxPerSec ?? MAX_EVENT_DELIVERIES_PER_SEC);
    this.maxQueued = opts.maxQueued ?? 20_000;
  }

  push(events: ApiEvent[]): void {
    if (this.closed || events.length === 0) return;
    this.queue.push(...events);
    this.bound();
    if (this.timer !== null) return;
    const wait = this.lastDelivery + this.intervalMs - this.clock.now();
    if (wait <= 0) this.flush();
    else this.timer = this.timers.setTimeout(() => this.flush(), wait);
  }

  /** Events waiting for the next delivery. */
  get pending(): number {
    return this.queue.length;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }

  private flush(): void {
    this.timer = null;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.lastDelivery = this.clock.now();
    this.deliver(batch);
  }

  private bound(): void {
    let excess = this.queue.reduce((n, e) => n + (e.type === 'packets' ? e.rows.length : 1), 0) - this.maxQueued;
    if (excess <= 0) return;
    const kept: ApiEvent[] = [];
    for (const e of this.queue) {
      if (excess > 0 && e.type === 'packets') {
        const drop = Math.min(excess, e.rows.length);
        excess -= drop;
        if (drop < e.rows.length) kept.push({ type: 'packets', rows: e.rows.slice(drop) });
      } else kept.push(e);
    }
    this.queue = kept;
  }
}
