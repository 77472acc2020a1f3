import { describe, expect, it } from 'vitest';
import { ApiError, type ApiEvent } from '../../electron/shared/api.ts';
import { type SocketLike, WsApiClient } from '../../renderer/api/wsClient.ts';
import { takeToken, wsProtocolsFor, wsUrlFor } from '../../renderer/api/index.ts';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  url: string;
  constructor(url: string) {
    this.url = url;
  }
  send(data: string) {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
    this.onclose?.({});
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({});
  }
  reply(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  lastFrame(): { id: number; method: string; params: unknown } {
    return JSON.parse(this.sent[this.sent.length - 1]!);
  }
}

/** Timers under test control: nothing fires until `fire` is called. */
function fakeTimers() {
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  return {
    timers,
    setTimeout: (fn: () => void, ms: number) => {
      timers.set(next, { fn, ms });
      return next++;
    },
    clearTimeout: (h: unknown) => void timers.delete(h as number),
    /** Fires every pending timer with exactly this delay. */
    fire(ms: number) {
      for (const [id, t] of [...timers]) {
        if (t.ms === ms) {
          timers.delete(id);
          t.fn();
        }
      }
    },
    delays: () => [...timers.values()].map((t) => t.ms),
  };
}

function setup(opts: { callTimeoutMs?: number } = {}) {
  const sockets: FakeSocket[] = [];
  const timers = fakeTimers();
  const client = new WsApiClient({
    url: 'ws://127.0.0.1:1/api/ws?token=t',
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    initialBackoffMs: 100,
    maxBackoffMs: 400,
    callTimeoutMs: opts.callTimeoutMs ?? 60_000,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
  });
  return { client, sockets, timers, socket: () => sockets[sockets.length - 1]! };
}

const STATE = {
  protection: 'on',
  pausedUntil: null,
  firewall: { installed: true, enabled: true, defaultIncoming: 'deny', defaultOutgoing: 'allow', defaultRouted: 'disabled', loggingLevel: 'low', perSourceLogging: true },
  helper: { connected: true },
  backend: 'set',
  counts: { blockedPackets: 1, scanners: 1, activeBans: 0, deferredBans: 0 },
  source: null,
  lastBanAt: null,
  version: '0.1.0',
};

describe('WsApiClient', () => {
  it('queues calls until the socket opens, then matches each reply to its call by id', async () => {
    const { client, socket } = setup();
    const a = client.call('getState', {});
    const b = client.call('unban', { ip: '203.0.113.9' });
    expect(socket().sent).toHaveLength(0);
    socket().open();
    const frames = socket().sent.map((s) => JSON.parse(s));
    expect(frames.map((f) => f.method)).toEqual(['getState', 'unban']);
    expect(frames[0].id).not.toBe(frames[1].id);
    // Replies in the other order still land on the right promise.
    socket().reply({ id: frames[1].id, reply: { ok: true, result: { ok: true } } });
    socket().reply({ id: frames[0].id, reply: { ok: true, result: STATE } });
    expect(await b).toEqual({ ok: true });
    expect((await a).protection).toBe('on');
  });

  it('turns an error reply into an ApiError with its code', async () => {
    const { client, socket } = setup();
    socket().open();
    const p = client.call('ban', { ip: '203.0.113.9' });
    socket().reply({ id: socket().lastFrame().id, reply: { ok: false, error: { code: 'read-only', message: 'helper not connected' } } });
    await expect(p).rejects.toMatchObject({ name: 'ApiError', code: 'read-only', message: 'helper not connected' });
  });

  it('refuses a result that does not match the method schema instead of passing bad data on', async () => {
    const { client, socket } = setup();
    socket().open();
    const p = client.call('getState', {});
    socket().reply({ id: socket().lastFrame().id, reply: { ok: true, result: { protection: 'sideways' } } });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('failed');
  });

  it('delivers event batches to every listener, drops malformed events, and unsubscribes', () => {
    const { client, socket } = setup();
    socket().open();
    const got1: ApiEvent[][] = [];
    const got2: ApiEvent[][] = [];
    const off1 = client.onEvents((e) => got1.push(e));
    client.onEvents((e) => got2.push(e));
    socket().reply({ events: [{ type: 'notice', level: 'info', message: 'hello' }, { type: 'bogus' }, { type: 'unban', ip: '203.0.113.9', why: 'manual' }] });
    expect(got1).toHaveLength(1);
    expect(got1[0]!.map((e) => e.type)).toEqual(['notice', 'unban']);
    expect(got2).toHaveLength(1);
    off1();
    socket().reply({ events: [{ type: 'notice', level: 'warn', message: 'again' }] });
    expect(got1).toHaveLength(1);
    expect(got2).toHaveLength(2);
    // Garbage frames are ignored, not thrown.
    socket().onmessage?.({ data: 'not json' });
    socket().reply({ hello: 1 });
    expect(got2).toHaveLength(2);
  });

  it('fails calls in flight when the link drops (never re-sends a command) and reconnects with doubling backoff', async () => {
    const { client, sockets, socket, timers } = setup();
    const statuses: string[] = [];
    client.onConnection((s) => statuses.push(s));
    expect(statuses).toEqual(['connecting']);
    socket().open();
    // A listener added after the socket opened learns it at once.
    const late: string[] = [];
    client.onConnection((s) => late.push(s));
    expect(late).toEqual(['open']);
    const p = client.call('ban', { ip: '203.0.113.9' });
    socket().drop();
    await expect(p).rejects.toMatchObject({ code: 'unavailable' });
    expect(timers.delays()).toContain(100);
    timers.fire(100);
    expect(sockets).toHaveLength(2);
    socket().drop(); // second attempt fails at once
    expect(timers.delays()).toContain(200);
    timers.fire(200);
    socket().drop();
    expect(timers.delays()).toContain(400);
    timers.fire(400);
    socket().drop();
    expect(timers.delays()).toContain(400); // capped
    timers.fire(400);
    // A call made while disconnected waits for the next open and is sent then, once.
    const q = client.call('getState', {});
    socket().open();
    expect(socket().sent).toHaveLength(1);
    socket().reply({ id: socket().lastFrame().id, reply: { ok: true, result: STATE } });
    await expect(q).resolves.toMatchObject({ version: '0.1.0' });
    expect(statuses).toContain('closed');
    expect(statuses[statuses.length - 1]).toBe('open');
    // After a successful open the backoff starts again from the beginning.
    socket().drop();
    expect(timers.delays()).toContain(100);
  });

  it('gives up on a call without a reply after the call timeout', async () => {
    const { client, socket, timers } = setup({ callTimeoutMs: 5000 });
    socket().open();
    const p = client.call('getDoctor', {});
    timers.fire(5000);
    await expect(p).rejects.toMatchObject({ code: 'unavailable' });
    // A late reply for it is ignored.
    socket().reply({ id: socket().lastFrame().id, reply: { ok: true, result: [] } });
  });
});

describe('token and URL', () => {
  function memoryStorage() {
    const m = new Map<string, string>();
    return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
  }

  it('takes the token from ?token=, keeps it for reloads and removes it from the address bar', () => {
    const storage = memoryStorage();
    let replaced = '';
    const t = takeToken({ search: '?token=abc123&x=1', href: 'http://127.0.0.1:8080/?token=abc123&x=1' }, storage, (u) => (replaced = u));
    expect(t).toBe('abc123');
    expect(replaced).toBe('http://127.0.0.1:8080/?x=1');
    expect(takeToken({ search: '', href: 'http://127.0.0.1:8080/' }, storage)).toBe('abc123');
    expect(takeToken({ search: '', href: 'http://127.0.0.1:8080/' }, memoryStorage())).toBeNull();
  });

  it('builds the WebSocket URL on the same origin without the token, which goes in a subprotocol', () => {
    expect(wsUrlFor({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api/ws');
    expect(wsUrlFor({ protocol: 'https:', host: 'h:1' })).toBe('wss://h:1/api/ws');
    expect(wsProtocolsFor('abc_-1')).toEqual(['portcullis', 'portcullis-token.abc_-1']);
  });

  it('offers the subprotocols on every (re)connect', () => {
    const seen: string[][] = [];
    const client = new WsApiClient({
      url: 'ws://x/api/ws',
      protocols: wsProtocolsFor('t0k'),
      createSocket: (u, p) => {
        seen.push(p);
        return new FakeSocket(u);
      },
    });
    expect(seen).toEqual([['portcullis', 'portcullis-token.t0k']]);
    client.close();
  });
});
