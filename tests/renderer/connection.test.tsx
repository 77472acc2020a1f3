// @vitest-environment jsdom
/**
 * Unknown looks unknown (issue 15, item 4): while the service cannot be reached the window does not
 * go on saying "Protected"; a token the service refuses (it restarted with a new one) says to open
 * the new URL instead of "reconnecting…" forever.
 */
import { act, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { ConnectionStatus } from '../../renderer/api/index.ts';
import { httpAuthProbe } from '../../renderer/api/index.ts';
import { type SocketLike, WsApiClient } from '../../renderer/api/wsClient.ts';
import { renderApp } from './render-app.tsx';

class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  send() {}
  close() {
    this.readyState = 3;
    this.onclose?.({ code: 1000 });
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function client(probe?: () => Promise<'refused' | 'ok' | 'down'>) {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const c = new WsApiClient({
    url: 'ws://x/api/ws',
    createSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    setTimeout: (fn, ms) => timers.push({ fn, ms }),
    clearTimeout: () => undefined,
    ...(probe ? { authProbe: probe } : {}),
  });
  const statuses: ConnectionStatus[] = [];
  c.onConnection((st) => statuses.push(st));
  return { c, sockets, timers, statuses };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('the WebSocket client tells a refused token from a service that is down', () => {
  it('a close with the "token refused" code (4401) ends in "refused" and stops reconnecting', () => {
    const { sockets, timers, statuses } = client();
    sockets[0]!.open();
    sockets[0]!.drop(4401);
    expect(statuses.at(-1)).toBe('refused');
    expect(timers).toHaveLength(0);
  });

  it('a handshake that fails before opening asks the probe: refused → "refused", no retry loop', async () => {
    const { sockets, timers, statuses } = client(async () => 'refused');
    sockets[0]!.drop();
    await flush();
    expect(statuses.at(-1)).toBe('refused');
    expect(timers).toHaveLength(0);
  });

  it('…and a service that is down is retried as before ("closed", then reconnecting)', async () => {
    const { sockets, timers, statuses } = client(async () => 'down');
    sockets[0]!.drop();
    await flush();
    expect(statuses.at(-1)).toBe('closed');
    expect(timers).toHaveLength(1);
    timers[0]!.fn();
    expect(sockets).toHaveLength(2);
    sockets[1]!.open();
    expect(statuses.at(-1)).toBe('open');
  });

  it('the HTTP probe reads 401 as refused, a network error as down, anything else as ok', async () => {
    const seen: RequestInit[] = [];
    const answer = (status: number) => (async (_u: unknown, init?: RequestInit) => (seen.push(init!), new Response('', { status }))) as typeof fetch;
    expect(await httpAuthProbe('http://127.0.0.1:1', 'tok', answer(401))()).toBe('refused');
    expect(await httpAuthProbe('http://127.0.0.1:1', 'tok', answer(200))()).toBe('ok');
    expect(await httpAuthProbe('http://127.0.0.1:1', 'tok', (async () => Promise.reject(new TypeError('failed to fetch'))) as typeof fetch)()).toBe('down');
    expect((seen[0]!.headers as Record<string, string>).Authorization).toBe('Bearer tok');
  });
});

/** The fake service plus a connection status the test drives. */
async function renderConnected() {
  let push: (s: ConnectionStatus) => void = () => undefined;
  await renderApp((api) =>
    Object.assign(api, {
      onConnection(l: (s: ConnectionStatus) => void) {
        push = l;
        l('open');
        return () => undefined;
      },
    }),
  );
  return { set: (s: ConnectionStatus) => act(async () => push(s)) };
}

const sidebarFoot = () => document.querySelector('.sidebar-foot')!;

describe('the window while the service is unreachable', () => {
  it('says "Protected" only while connected; unknown (grey) when the link is lost, and says the page may be out of date', async () => {
    const { set } = await renderConnected();
    expect(sidebarFoot().textContent).toBe('Protected');
    expect(sidebarFoot().querySelector('.dot-on')).not.toBeNull();
    await set('closed');
    expect(sidebarFoot().textContent).toBe('Unknown — not connected');
    expect(sidebarFoot().querySelector('.dot-on')).toBeNull();
    expect(screen.getByTestId('protection-status').textContent).toBe('Unknown — not connected to the Portcullis service');
    expect((screen.getByRole('switch', { name: 'Protection' }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('connection-banner').textContent).toMatch(/lost — reconnecting… What this page shows may be out of date/);
    await set('open');
    expect(sidebarFoot().textContent).toBe('Protected');
    expect(screen.queryByTestId('connection-banner')).toBeNull();
  });

  it('a refused token says to open the new URL that `portcullis serve` printed, not "reconnecting…"', async () => {
    const { set } = await renderConnected();
    await set('refused');
    const banner = screen.getByTestId('connection-banner');
    expect(banner.getAttribute('role')).toBe('alert');
    expect(banner.textContent).toContain('Open the new URL that portcullis serve printed');
    expect(banner.textContent).not.toContain('reconnecting');
    expect(sidebarFoot().textContent).toBe('Unknown — not connected');
  });
});
