/**
 * The IPC binding of the main process: one `handle` for every API call. (Events need no batcher
 * here: the service's own EventBatcher, electron/headless/events.ts, already delivers at most
 * MAX_EVENT_DELIVERIES_PER_SEC batches a second, coalesced and bounded; a second one stacked on it
 * only added up to one more interval of delay.)
 * A call is answered only when it comes from OUR window's main frame showing OUR page: an iframe,
 * a navigated-away page or another window gets a refusal, never the service.
 */
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { dispatch, type ApiHandlers, type ApiReply } from '../shared/api.ts';
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
