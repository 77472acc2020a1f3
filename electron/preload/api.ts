/**
 * The one object the preload exposes to the renderer. Built from an injected `ipcRenderer` so it is
 * testable without Electron. It offers typed calls and event subscriptions only: there is no generic
 * send(channel, …), so a compromised page cannot reach any other IPC channel.
 */
import type { IpcRenderer, IpcRendererEvent } from 'electron';
import { ApiEventBatchSchema, unwrapReply, type ApiEvent, type ApiMethod, type ApiParams, type ApiResult } from '../shared/api.ts';
import {
  IPC_CALL_CHANNEL,
  IPC_EVENTS_CHANNEL,
  IPC_NAVIGATE_CHANNEL,
  NavigateTargetSchema,
  type NavigateTarget,
  type PortcullisDesktopApi,
} from '../shared/ipc.ts';

export type IpcRendererLike = Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>;

export function createPreloadApi(ipc: IpcRendererLike): PortcullisDesktopApi {
  // A listener is registered with a fresh wrapper so that the page never receives the IpcRendererEvent
  // (it carries `sender`, i.e. the ipcRenderer itself) and so that unsubscribe removes exactly it.
  function subscribe<T>(channel: string, parse: (raw: unknown) => T | null, listener: (value: T) => void): () => void {
    const wrapper = (_event: IpcRendererEvent, raw: unknown) => {
      const value = parse(raw);
      if (value !== null) listener(value);
    };
    ipc.on(channel, wrapper);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      ipc.removeListener(channel, wrapper);
    };
  }

  const api: PortcullisDesktopApi = {
    async call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
      const reply: unknown = await ipc.invoke(IPC_CALL_CHANNEL, method, params);
      return unwrapReply(method, reply);
    },
    onEvents(listener: (events: ApiEvent[]) => void): () => void {
      return subscribe(
        IPC_EVENTS_CHANNEL,
        (raw) => {
          const r = ApiEventBatchSchema.safeParse(raw);
          return r.success ? r.data : null;
        },
        listener,
      );
    },
    onNavigate(listener: (target: NavigateTarget) => void): () => void {
      return subscribe(
        IPC_NAVIGATE_CHANNEL,
        (raw) => {
          const r = NavigateTargetSchema.safeParse(raw);
          return r.success ? r.data : null;
        },
        listener,
      );
    },
  };
  // Frozen: the page cannot swap a method for its own through the bridge.
  return Object.freeze(api);
}
