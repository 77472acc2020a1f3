import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type ApiEvent, type ApiHandlers, type ApiReply, WsServerFrameSchema } from '../../electron/shared/api.ts';
import { apiCallRefusal, hostAllowed, isJsonContentType, startWebServer, subprotocolToken, tokenMatches, withoutPacketRows, type WebServer } from '../../electron/headless/http.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import { FakeEngine, FakeFirewall, FakeHelper, fakeParser, Journal, MemorySettings, MemoryStore, PushSource } from './fakes.ts';

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, p: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: o.method ?? 'GET', headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

function wsOpen(url: string, headers: Record<string, string> = {}, protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = protocols ? new WebSocket(url, protocols, { headers }) : new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describe('portcullis serve: HTTP + WebSocket', () => {
  let server: WebServer;
  let dir: string;
  let service: PortcullisService;
  let source: PushSource;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pc-http-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Portcullis UI</title>');
    writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(path.join(dir, 'assets', 'app.css'), 'body{}');
    const journal = new Journal();
    const clock = new ManualClock(Date.now());
    source = new PushSource();
    service = new PortcullisService({
      clock,
      settingsRepo: new MemorySettings({ detection: { maxretry: 3 } }),
      createEngine: (o, sink) => new FakeEngine(o, sink),
      parseLine: fakeParser(clock),
      store: new MemoryStore(journal),
      source,
      firewall: new FakeFirewall(journal),
      helper: new FakeHelper(),
      hostInfo: async () => ({ addresses: ['10.0.0.1'], interfaces: ['eth0'], gateways: [] }),
      tickMs: 3_600_000,
    });
    await service.start();
    server = await startWebServer({ handlers: service.handlers(), onEvents: (l) => service.onEvents(l), staticDir: dir, port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a loopback URL with a long random token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
  });

  it('refuses every API request without the right token (401)', async () => {
    const json = { 'Content-Type': 'application/json' };
    const call = JSON.stringify({ method: 'getState', params: {} });
    expect((await request(server.port, '/api/call', { method: 'POST', headers: json, body: call })).status).toBe(401);
    expect((await request(server.port, '/api/call', { method: 'POST', headers: { ...json, Authorization: 'Bearer wrong' }, body: call })).status).toBe(401);
    expect(tokenMatches(server.token + 'x', server.token)).toBe(false);
    expect(tokenMatches(server.token, server.token)).toBe(true);
  });

  it('serves the UI without the token and sets no cookie, with correct types and SPA fallback', async () => {
    const page = await request(server.port, `/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).toContain('Portcullis UI');
    expect(page.headers['set-cookie']).toBeUndefined();
    expect((await request(server.port, '/')).status).toBe(200);
    const js = await request(server.port, '/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    const css = await request(server.port, '/assets/app.css');
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect((await request(server.port, '/offenders')).body).toContain('Portcullis UI');
    expect((await request(server.port, '/assets/missing.js')).status).toBe(404);
    const traversal = await request(server.port, '/..%2f..%2fetc%2fpasswd');
    expect(traversal.body).not.toContain('root:');
  });

  it('a cookie, a query token or a text/plain body never authorize /api/call', async () => {
    const call = JSON.stringify({ method: 'setProtection', params: { enabled: false } });
    const asCookie = await request(server.port, '/api/call', { method: 'POST', headers: { Cookie: `portcullis_token=${server.token}`, 'Content-Type': 'application/json' }, body: call });
    expect(asCookie.status).toBe(401);
    const asQuery = await request(server.port, `/api/call?token=${server.token}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: call });
    expect(asQuery.status).toBe(401);
    const plain = await request(server.port, '/api/call', { method: 'POST', headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'text/plain' }, body: call });
    expect(plain.status).toBe(415);
    const form = await request(server.port, '/api/call', { method: 'POST', headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/x-www-form-urlencoded' }, body: call });
    expect(form.status).toBe(415);
    const none = await request(server.port, '/api/call', { method: 'POST', headers: { Authorization: `Bearer ${server.token}` }, body: call });
    expect(none.status).toBe(415);
    expect((await service.handlers().getState({})).protection).toBe('on');
  });

  it('/api/call refuses a foreign Origin and a cross-site or same-site fetch, even with the token', async () => {
    const ok = { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' };
    const call = JSON.stringify({ method: 'setProtection', params: { enabled: false } });
    const foreign: Record<string, string>[] = [{ Origin: 'http://127.0.0.1:9999' }, { Origin: 'http://evil.example' }, { Origin: 'null' }, { 'Sec-Fetch-Site': 'same-site' }, { 'Sec-Fetch-Site': 'cross-site' }];
    for (const extra of foreign) {
      const r = await request(server.port, '/api/call', { method: 'POST', headers: { ...ok, ...extra }, body: call });
      expect(r.status, JSON.stringify(extra)).toBe(403);
    }
    expect((await service.handlers().getState({})).protection).toBe('on');
    const own = await request(server.port, '/api/call', {
      method: 'POST',
      headers: { ...ok, Origin: `http://127.0.0.1:${server.port}`, 'Sec-Fetch-Site': 'same-origin', 'Content-Type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ method: 'getState', params: {} }),
    });
    expect(own.status).toBe(200);
  });

  it('the HTTP checks, one by one', () => {
    const host = '127.0.0.1:8787';
    expect(apiCallRefusal({ host })).toBeNull();
    expect(apiCallRefusal({ host, origin: 'http://127.0.0.1:8787', 'sec-fetch-site': 'same-origin' })).toBeNull();
    // Audit F8: we listen on 127.0.0.1 only; [::1]:PORT may be another local user's listener, and localhost may resolve there.
    expect(apiCallRefusal({ host, origin: 'http://localhost:8787' })?.status).toBe(403);
    expect(apiCallRefusal({ host, origin: 'http://[::1]:8787' })?.status).toBe(403);
    expect(hostAllowed('127.0.0.1:8787')).toBe(true);
    expect(hostAllowed('localhost:8787')).toBe(false);
    expect(hostAllowed('[::1]:8787')).toBe(false);
    expect(hostAllowed('127.0.0.1')).toBe(false);
    expect(hostAllowed('127.0.0.1:65536')).toBe(false);
    expect(hostAllowed('127.0.0.1:8787.evil.example')).toBe(false);
    expect(hostAllowed(undefined)).toBe(false);
    // Through an SSH tunnel the browser is at another port of 127.0.0.1: allowed, with that page's own origin only.
    expect(hostAllowed('127.0.0.1:9000')).toBe(true);
    expect(apiCallRefusal({ host: '127.0.0.1:9000', origin: 'http://127.0.0.1:9000', 'sec-fetch-site': 'same-origin' })).toBeNull();
    expect(apiCallRefusal({ host: '127.0.0.1:9000', origin: 'http://127.0.0.1:8787' })?.status).toBe(403);
    expect(apiCallRefusal({ host, 'sec-fetch-site': 'none' })).toBeNull();
    // Another local listener's page (127.0.0.1, another port) posting here: its origin is not this Host.
    expect(apiCallRefusal({ host, origin: 'http://127.0.0.1:8788' })?.status).toBe(403);
    expect(apiCallRefusal({ host, 'sec-fetch-site': 'same-site' })?.status).toBe(403);
    expect(apiCallRefusal({ host, 'sec-fetch-site': 'Cross-Site' })?.status).toBe(403);
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON; charset=utf-8')).toBe(true);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType('application/jsonx')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
    expect(subprotocolToken('portcullis, portcullis-token.abc')).toBe('abc');
    expect(subprotocolToken('portcullis')).toBeNull();
    expect(subprotocolToken(undefined)).toBeNull();
  });

  it('refuses a foreign Host header (DNS rebinding) even with the token', async () => {
    const r = await request(server.port, `/?token=${server.token}`, { headers: { Host: 'evil.example:' + server.port } });
    expect(r.status).toBe(403);
  });

  it('answers through an SSH tunnel (the browser at another port of 127.0.0.1), its own page only', async () => {
    const tunnel = { Host: '127.0.0.1:9000', Origin: 'http://127.0.0.1:9000', 'Sec-Fetch-Site': 'same-origin' };
    expect((await request(server.port, '/', { headers: { Host: tunnel.Host } })).status).toBe(200);
    const call = (headers: Record<string, string>) =>
      request(server.port, '/api/call', { method: 'POST', headers: { ...headers, Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ method: 'getSettings', params: {} }) });
    expect((await call(tunnel)).status).toBe(200);
    expect((await call({ ...tunnel, Origin: 'http://127.0.0.1:8788' })).status).toBe(403);
  });

  it('POST /api/call answers in wire form', async () => {
    const r = await request(server.port, '/api/call', {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ method: 'getSettings', params: {} }),
    });
    expect(r.status).toBe(200);
    const reply = JSON.parse(r.body) as ApiReply;
    expect(reply.ok).toBe(true);
    const bad = await request(server.port, '/api/call', {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ method: 'nope' }),
    });
    expect(JSON.parse(bad.body)).toMatchObject({ ok: false, error: { code: 'unknown-method' } });
  });

  it('WebSocket: refused without the token or from a foreign origin', async () => {
    await expect(wsOpen(`ws://127.0.0.1:${server.port}/api/ws`)).rejects.toThrow(/401/);
    await expect(wsOpen(`ws://127.0.0.1:${server.port}/api/ws?token=bad`)).rejects.toThrow(/401/);
    await expect(wsOpen(`ws://127.0.0.1:${server.port}/api/ws?token=${server.token}`, { Origin: 'http://evil.example' })).rejects.toThrow(/403/);
    await expect(wsOpen(`ws://127.0.0.1:${server.port}/api/ws?token=${server.token}`, { Origin: `http://127.0.0.1:${server.port + 1}` })).rejects.toThrow(/403/);
    await expect(wsOpen(`ws://127.0.0.1:${server.port}/api/ws`, { Cookie: `portcullis_token=${server.token}` })).rejects.toThrow(/401/);
    await expect(wsOpen(`ws://127.0.0.1:${server.port}/api/ws`, {}, ['portcullis', 'portcullis-token.bad'])).rejects.toThrow(/401/);
  });

  it('WebSocket: the token as a subprotocol opens it, and the server answers with "portcullis" only', async () => {
    const ws = await wsOpen(`ws://127.0.0.1:${server.port}/api/ws`, { Origin: `http://127.0.0.1:${server.port}` }, ['portcullis', `portcullis-token.${server.token}`]);
    expect(ws.protocol).toBe('portcullis');
    ws.close();
  });

  it('WebSocket round trip: request/reply frames and pushed event batches', async () => {
    const ws = await wsOpen(`ws://127.0.0.1:${server.port}/api/ws?token=${server.token}`);
    const frames: unknown[] = [];
    ws.on('message', (d) => frames.push(WsServerFrameSchema.parse(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ id: 7, method: 'getState', params: {} }));
    ws.send(JSON.stringify({ id: 8, method: 'ban', params: { ip: 'not an ip' } }));
    source.push('203.0.113.5 10.0.0.1 21', '203.0.113.5 10.0.0.1 23', '203.0.113.5 10.0.0.1 25');
    const deadline = Date.now() + 5000;
    const hasBan = () => frames.some((f) => (f as { events?: ApiEvent[] }).events?.some((e) => e.type === 'ban'));
    while ((!hasBan() || frames.filter((f) => 'id' in (f as object)).length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const reply7 = frames.find((f) => (f as { id?: number }).id === 7) as { reply: ApiReply };
    expect(reply7.reply).toMatchObject({ ok: true, result: { protection: 'on' } });
    const reply8 = frames.find((f) => (f as { id?: number }).id === 8) as { reply: ApiReply };
    expect(reply8.reply).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(hasBan()).toBe(true);
    ws.close();
  });

  it('a reader that fell behind is told which packet rows it was not sent (packetsSkipped), bans still go through', async () => {
    const row = (id: number) => ({ id, time: 1, src: '203.0.113.9', dst: '10.0.0.1', proto: 'TCP', spt: 1, dpt: id, prefix: 'UFW BLOCK', in: 'eth0', flags: 'SYN' });
    const listeners = new Set<(e: ApiEvent[]) => void>();
    // Every reader counts as behind: nothing may be buffered.
    const s2 = await startWebServer({
      handlers: {} as ApiHandlers,
      onEvents: (l) => (listeners.add(l), () => listeners.delete(l)),
      staticDir: null,
      port: 0,
      maxWsBufferBytes: -1,
    });
    try {
      const ws = await wsOpen(`ws://127.0.0.1:${s2.port}/api/ws`, {}, ['portcullis', `portcullis-token.${s2.token}`]);
      const got = new Promise<unknown>((r) => ws.once('message', (d) => r(WsServerFrameSchema.parse(JSON.parse(String(d))))));
      for (const l of listeners) l([{ type: 'packets', rows: [row(7), row(8)] }, { type: 'notice', level: 'info', message: 'x' }, { type: 'packets', rows: [row(9)] }]);
      expect(await got).toEqual({ events: [{ type: 'notice', level: 'info', message: 'x' }, { type: 'packetsSkipped', upToId: 9, count: 3 }] });
      ws.close();
    } finally {
      await s2.close();
    }
    expect(withoutPacketRows([{ type: 'notice', level: 'warn', message: 'y' }])).toEqual([{ type: 'notice', level: 'warn', message: 'y' }]);
  });

  it('without a built UI it serves a page saying how to build it', async () => {
    const s2 = await startWebServer({ handlers: {} as ApiHandlers, onEvents: () => () => undefined, staticDir: path.join(dir, 'nope'), port: 0 });
    try {
      const r = await request(s2.port, `/?token=${s2.token}`);
      expect(r.status).toBe(200);
      expect(r.body).toContain('npm run build:renderer');
    } finally {
      await s2.close();
    }
  });
});
