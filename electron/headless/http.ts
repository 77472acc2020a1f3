/**
 * `portcullis serve`'s web side: the built renderer and the one API over HTTP + WebSocket, on
 * 127.0.0.1 ONLY, behind a random per-start token (Jupyter-style `/?token=…`).
 *
 * Why each guard exists:
 * - No ambient credential: there is NO cookie. Cookies ignore ports, and every port of 127.0.0.1 is
 *   the same site, so a cookie would be sent to (and readable by) any local user's server on another
 *   port, and ride along on that page's cross-origin form posts. The static UI holds no secret and is
 *   served without the token; every API request carries the token explicitly: `Authorization: Bearer`
 *   on `/api/call`, the `portcullis-token.<token>` WebSocket subprotocol (or `?token=` for non-browser
 *   clients) on `/api/ws`. The page keeps the token in sessionStorage (renderer/api/index.ts).
 *   Compared in constant time.
 * - `/api/call` takes only `Content-Type: application/json` (a form or a no-cors fetch cannot send
 *   it without a preflight we never answer), and refuses a present foreign `Origin` and
 *   `Sec-Fetch-Site: cross-site|same-site` (another loopback port is "same-site").
 * - Host header must name 127.0.0.1 (any port: an SSH tunnel's local port): a DNS-rebinding page
 *   served from evil.example resolving to 127.0.0.1 sends `Host: evil.example` and is refused.
 * - Origin (API call and WebSocket), when present, must be the page's own: http:// and that Host.
 * - Referrer-Policy no-referrer: the token in the URL never leaks to another site.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { apiFailure, dispatch, type ApiEvent, type ApiHandlers, WsClientFrameSchema } from '../shared/api.ts';
import type { AuditLog } from '../helper/audit.ts';
import { auditedHandlers, type Transport } from '../app/api-audit.ts';
import { tcpPeerIdentity } from './peer-identity.ts';

export interface WebServerOptions {
  handlers: ApiHandlers;
  onEvents(listener: (events: ApiEvent[]) => void): () => void;
  /** The built renderer (index.html + assets); null or missing serves a page explaining how to build it. */
  staticDir: string | null;
  port: number;
  token?: string;
  /** Every changing call is recorded here with the transport and the client (api-audit.ts). */
  audit?: AuditLog;
  /** Above this many bytes unsent to a WebSocket reader, its live packet rows are skipped (default 8 MiB). */
  maxWsBufferBytes?: number;
}

export interface WebServer {
  port: number;
  token: string;
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** The WebSocket subprotocol the server answers with; the token travels as `portcullis-token.<token>` beside it. */
export const WS_PROTOCOL = 'portcullis';
export const WS_TOKEN_PROTOCOL_PREFIX = 'portcullis-token.';
const MAX_BODY = 1024 * 1024;
/** A browser tab that stops reading must not make the root process buffer without bound. */
const MAX_WS_BUFFER = 8 * 1024 * 1024;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time: both sides hashed to the same length first, so neither length nor prefix leaks. */
export function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (typeof given !== 'string' || given.length === 0 || given.length > 512) return false;
  return timingSafeEqual(digest(given), digest(token));
}

export function bearerToken(authorization: string | undefined): string | null {
  return /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? null;
}

/** The token offered as a WebSocket subprotocol (`Sec-WebSocket-Protocol: portcullis, portcullis-token.<token>`). */
export function subprotocolToken(header: string | undefined): string | null {
  for (const p of (header ?? '').split(',')) {
    const v = p.trim();
    if (v.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) return v.slice(WS_TOKEN_PROTOCOL_PREFIX.length);
  }
  return null;
}

/*
 * Only 127.0.0.1, where we listen (no DNS name: a rebinding page's Host is its own name). Not
 * [::1] (we do not listen there: another local user could, and its page would carry an "allowed"
 * origin) and not localhost (it may resolve to ::1 first, which is that same other listener). Any
 * port: an SSH tunnel (`ssh -L 9000:127.0.0.1:8787 server`) brings the browser to 127.0.0.1:9000,
 * and the listening port was all it was refused for. The origin must then be the page's own.
 */
const ALLOWED_HOST = /^127\.0\.0\.1:([1-9][0-9]{0,4})$/;

export function hostAllowed(host: string | undefined): boolean {
  const m = host === undefined ? null : ALLOWED_HOST.exec(host);
  return m !== null && Number(m[1]) <= 65_535;
}

/** A browser's Origin must be the page the request came from: http:// and the Host it was sent to (hostAllowed). */
export function originAllowed(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true; // non-browser clients (curl, ws) send none
  return hostAllowed(host) && origin.toLowerCase() === `http://${host}`;
}

/**
 * Why a POST to /api/call is refused before its token is even looked at, or null if it may go on.
 * A browser always sends Origin on a cross-origin POST and Sec-Fetch-Site on every request; curl and
 * other non-browser clients send neither and are judged by their token alone.
 */
export function apiCallRefusal(headers: http.IncomingHttpHeaders): { status: number; reason: string } | null {
  const origin = headers.origin;
  if (origin !== undefined && !originAllowed(origin, headers.host)) return { status: 403, reason: `forbidden origin ${origin}` };
  const site = String(headers['sec-fetch-site'] ?? '').toLowerCase();
  if (site === 'cross-site' || site === 'same-site') return { status: 403, reason: `forbidden: a ${site} request` };
  return null;
}

/** Only `application/json` (parameters such as charset allowed): a form or a no-cors fetch cannot send it. */
export function isJsonContentType(type: string | undefined): boolean {
  return (type ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

const SECURITY_HEADERS = {
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

function send(res: http.ServerResponse, status: number, body: string | Buffer, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

const MISSING_UI = `<!doctype html><meta charset="utf-8"><title>Portcullis</title>
<h1>Portcullis</h1><p>The user interface is not built. Build it with <code>npm run build:renderer</code>
(or <code>./node_modules/.bin/vite build --config renderer/vite.config.ts</code>) and restart
<code>portcullis serve</code>. The API is available at <code>/api/ws</code> and <code>POST /api/call</code>.</p>`;

/** The events with their packet rows replaced by one `packetsSkipped` naming the last id dropped and how many. */
export function withoutPacketRows(events: ApiEvent[]): ApiEvent[] {
  const out: ApiEvent[] = [];
  let upToId = -1;
  let count = 0;
  for (const e of events) {
    if (e.type !== 'packets') out.push(e);
    else
      for (const r of e.rows) {
        count++;
        if (r.id > upToId) upToId = r.id;
      }
  }
  if (count > 0) out.push({ type: 'packetsSkipped', upToId, count });
  return out;
}

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const token = o.token ?? randomBytes(24).toString('base64url');
  let port = o.port;
  const staticRoot = o.staticDir && existsSync(path.join(o.staticDir, 'index.html')) ? path.resolve(o.staticDir) : null;

  const handlersFor = (transport: Transport, socket: Socket): ApiHandlers => {
    if (!o.audit) return o.handlers;
    let client: string | null = null;
    return auditedHandlers(o.handlers, o.audit, () => ({ transport, client: (client ??= tcpPeerIdentity(socket)) }));
  };

  const serveStatic = (res: http.ServerResponse, pathname: string): void => {
    if (!staticRoot) return send(res, 200, MISSING_UI, TYPES['.html']);
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return send(res, 400, 'bad path');
    }
    const file = path.resolve(staticRoot, '.' + path.posix.normalize('/' + rel));
    if (file !== staticRoot && !file.startsWith(staticRoot + path.sep)) return send(res, 404, 'not found');
    let target = file;
    const isFile = existsSync(target) && statSync(target).isFile();
    if (!isFile) {
      // SPA fallback: client-side routes (no extension) get index.html; missing assets are 404.
      if (path.extname(rel) !== '') return send(res, 404, 'not found');
      target = path.join(staticRoot, 'index.html');
    }
    const type = TYPES[path.extname(target).toLowerCase()] ?? 'application/octet-stream';
    send(res, 200, readFileSync(target), type);
  };

  const server = http.createServer((req, res) => {
    if (!hostAllowed(req.headers.host)) return send(res, 403, 'forbidden host');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    } catch {
      return send(res, 400, 'bad request');
    }
    if (url.pathname === '/api/call') {
      if (req.method !== 'POST') return send(res, 405, 'POST only', undefined, { Allow: 'POST' });
      const refusal = apiCallRefusal(req.headers);
      if (refusal) return send(res, refusal.status, refusal.reason);
      if (!tokenMatches(bearerToken(req.headers.authorization), token)) return send(res, 401, 'unauthorized: send the token that `portcullis serve` printed as `Authorization: Bearer <token>`');
      if (!isJsonContentType(req.headers['content-type'])) return send(res, 415, 'Content-Type must be application/json');
      let size = 0;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          send(res, 413, 'body too large');
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => {
        if (res.headersSent) return;
        let body: { method?: unknown; params?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
        } catch {
          return send(res, 400, JSON.stringify(apiFailure('invalid', 'body is not JSON')), TYPES['.json']);
        }
        if (!body || typeof body !== 'object') return send(res, 400, JSON.stringify(apiFailure('invalid', 'expected {method, params}')), TYPES['.json']);
        void dispatch(handlersFor('http', req.socket), body.method, body.params).then((reply) => send(res, 200, JSON.stringify(reply), TYPES['.json']));
      });
      return;
    }
    if (url.pathname.startsWith('/api/')) return send(res, 404, 'not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only');
    // The UI itself holds no secret: served to anyone who can reach loopback; the API needs the token.
    serveStatic(res, url.pathname);
  });

  // The browser offers [portcullis, portcullis-token.<token>]; we answer with the first only, so the
  // token is never echoed back.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY, handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false) });
  const reject = (socket: Socket, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  };
  server.on('upgrade', (req, socket: Socket, head) => {
    socket.on('error', () => undefined);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    } catch {
      return reject(socket, '400 Bad Request');
    }
    if (!hostAllowed(req.headers.host) || !originAllowed(req.headers.origin, req.headers.host)) return reject(socket, '403 Forbidden');
    if (url.pathname !== '/api/ws') return reject(socket, '404 Not Found');
    const given = subprotocolToken(req.headers['sec-websocket-protocol']) ?? url.searchParams.get('token');
    if (!tokenMatches(given, token)) return reject(socket, '401 Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, handlersFor('websocket', socket)));
  });

  const onSocket = (ws: WebSocket, handlers: ApiHandlers): void => {
    const unsubscribe = o.onEvents((events) => {
      if (ws.readyState !== ws.OPEN) return;
      // A reader that fell far behind loses live packet rows (the store keeps them), never bans, and
      // is told which rows it missed, so it can fetch them back (a silent drop at the end of a burst
      // left its table short, with no later row to reveal the hole).
      const out = ws.bufferedAmount > (o.maxWsBufferBytes ?? MAX_WS_BUFFER) ? withoutPacketRows(events) : events;
      if (out.length) ws.send(JSON.stringify({ events: out }));
    });
    ws.on('close', unsubscribe);
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      let raw: unknown;
      try {
        raw = JSON.parse(String(data));
      } catch {
        return ws.send(JSON.stringify({ id: 0, reply: apiFailure('invalid', 'frame is not JSON') }));
      }
      const frame = WsClientFrameSchema.safeParse(raw);
      if (!frame.success) {
        const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : 0;
        return ws.send(JSON.stringify({ id, reply: apiFailure('invalid', 'expected {id, method, params}') }));
      }
      void dispatch(handlers, frame.data.method, frame.data.params).then((reply) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: frame.data.id, reply }));
      });
    });
  };

  await new Promise<void>((resolve, reject2) => {
    server.once('error', reject2);
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
