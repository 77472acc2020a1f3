/**
 * The one way the renderer reaches the Portcullis service: `getApi()`.
 * In Electron the preload has put `window.portcullis` there (IPC); in a browser opened from
 * `portcullis serve` it is a WebSocket client on the same origin, authenticated by the token
 * printed in the URL (kept in sessionStorage, sent as a WebSocket subprotocol; there is no cookie).
 */
import type { PortcullisApi } from '../../electron/shared/api.ts';
import type { PortcullisDesktopApi } from '../../electron/shared/ipc.ts';
import { type ConnectionAware, type ConnectionStatus, WsApiClient } from './wsClient.ts';

export type { ConnectionStatus, ConnectionAware };
/** The common API, plus what only one transport offers: connection status (WebSocket) and navigation requests from the tray or a notification (desktop). */
export type RendererApi = PortcullisApi & Partial<ConnectionAware> & Partial<Pick<PortcullisDesktopApi, 'onNavigate'>>;

declare global {
  interface Window {
    portcullis?: PortcullisDesktopApi;
  }
}

const TOKEN_KEY = 'portcullis.token';

/**
 * The serve token: from `?token=` (then kept in sessionStorage and removed from the address bar,
 * so it does not end up in history, bookmarks or screenshots), or from sessionStorage on reload.
 */
export function takeToken(loc: Pick<Location, 'search' | 'href'>, storage: Pick<Storage, 'getItem' | 'setItem'>, replaceUrl?: (url: string) => void): string | null {
  const fromUrl = new URLSearchParams(loc.search).get('token');
  if (fromUrl) {
    try {
      storage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      /* storage disabled: the token still works for this page */
    }
    if (replaceUrl) {
      const url = new URL(loc.href);
      url.searchParams.delete('token');
      replaceUrl(url.toString());
    }
    return fromUrl;
  }
  try {
    return storage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** The socket URL carries no token: it goes in the subprotocols (wsProtocolsFor), never in a URL or a cookie. */
export function wsUrlFor(loc: Pick<Location, 'protocol' | 'host'>): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host}/api/ws`;
}

/**
 * `portcullis` (what the server answers with) and `portcullis-token.<token>` (the credential; the
 * server reads it and does not echo it). Must match electron/headless/http.ts.
 */
export function wsProtocolsFor(token: string): string[] {
  return ['portcullis', `portcullis-token.${token}`];
}

/**
 * After a WebSocket closed before opening: does the service refuse this token (401), or is it not
 * there at all? A harmless read through the HTTP API with the token as a bearer tells the two apart.
 */
export function httpAuthProbe(origin: string, token: string, fetchFn: typeof fetch = fetch): () => Promise<'refused' | 'ok' | 'down'> {
  return async () => {
    try {
      const r = await fetchFn(`${origin}/api/call`, {
        method: 'POST',
        credentials: 'omit',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ method: 'getState', params: {} }),
      });
      return r.status === 401 || r.status === 403 ? 'refused' : 'ok';
    } catch {
      return 'down';
    }
  };
}

let api: RendererApi | null = null;

export function getApi(): RendererApi {
  if (api) return api;
  if (typeof window !== 'undefined' && window.portcullis) {
    api = window.portcullis;
    return api;
  }
  const token = takeToken(window.location, window.sessionStorage, (url) => window.history.replaceState(null, '', url)) ?? '';
  api = new WsApiClient({ url: wsUrlFor(window.location), protocols: token ? wsProtocolsFor(token) : [], authProbe: httpAuthProbe(window.location.origin, token) });
  return api;
}

/** Tests only: forget the cached facade. */
export function resetApiForTests(next: RendererApi | null = null): void {
  api = next;
}
