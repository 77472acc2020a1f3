/**
 * Issue 9 item 1, in real Chromium: `portcullis serve` cannot be driven from another origin.
 *
 * The admin's browser context opens the printed URL (the UI loads and works with the token it keeps
 * in sessionStorage). Then, in the same context, a page served by "another local user" from another
 * port of 127.0.0.1 tries what worked against the old cookie-based login: an auto-submitted
 * `enctype=text/plain` form POST of `{"method":"setProtection",…}`, a `no-cors` fetch with
 * credentials, and a WebSocket to `/api/ws`. Protection stays on, and the other port's server — which
 * records every request header it receives — never sees the token (cookies ignore ports, so the old
 * login cookie was sent to it).
 *
 * `serve --dry-run` on a file source never touches the firewall, so this runs in the machine's own
 * namespace, like ui-virtual.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { buildRenderer, launchChromium } from '../renderer/browser/chromium.ts';
import { type DryServe, startDryServe } from '../support/dry-serve.ts';

const ATTACK_PAGE = `<!doctype html><meta charset="utf-8"><title>not portcullis</title>
<iframe name="sink" id="sink"></iframe>`;

describe.runIf(requireSystem('chromium'))('serve from another origin (real Chromium)', () => {
  let tmp: string;
  let serve: DryServe | undefined;
  let url = '';
  let token = '';
  let base = '';
  let browser: Browser;
  let ctx: BrowserContext;
  let admin: Page;
  let evil: http.Server;
  let evilBase = '';
  const evilSaw: http.IncomingHttpHeaders[] = [];

  /** What serve says its protection is, asked the way a legitimate client does. */
  async function protection(): Promise<string> {
    const r = await fetch(`${base}/api/call`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ method: 'getState', params: {} }),
    });
    const reply = (await r.json()) as { ok: boolean; result: { protection: string } };
    expect(reply.ok).toBe(true);
    return reply.result.protection;
  }

  beforeAll(async () => {
    await buildRenderer();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'portcullis-origin-'));
    const logFile = path.join(tmp, 'kern.log');
    writeFileSync(logFile, '');
    serve = await startDryServe({ logFile, stateDir: path.join(tmp, 'state') });
    url = serve.url;
    token = new URL(url).searchParams.get('token')!;
    base = url.split('/?')[0]!;
    // "Another local user's" server on another loopback port: it logs every request's headers.
    evil = http.createServer((req, res) => {
      evilSaw.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(ATTACK_PAGE);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    evilBase = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
    browser = await launchChromium();
    ctx = await browser.newContext();
    admin = await ctx.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await new Promise((r) => (evil ? evil.close(() => r(null)) : r(null)));
    await serve?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the admin opens the printed URL: the UI works with the token it keeps, and no cookie is set', async () => {
    await admin.goto(url);
    await admin.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await vi.waitFor(async () => expect(await admin.getByRole('switch', { name: 'Protection' }).getAttribute('aria-checked')).toBe('true'), { timeout: 20_000 });
    expect(admin.url()).not.toContain('token=');
    expect(await admin.evaluate(() => sessionStorage.getItem('portcullis.token'))).toBe(token);
    expect(await ctx.cookies()).toEqual([]);
    // The page's own API calls work (the WebSocket carries the token as a subprotocol).
    expect(await protection()).toBe('on');
  });

  it('a page from another loopback port cannot switch protection off, and never sees the token', async () => {
    const page = await ctx.newPage();
    await page.goto(`${evilBase}/`);
    const api = `${base}/api/call`;

    // 1. The auto-submitted text/plain form: its body is valid JSON.
    await page.evaluate((action) => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = action;
      form.enctype = 'text/plain';
      form.target = 'sink';
      const input = document.createElement('input');
      input.name = '{"method":"setProtection","params":{"enabled":false},"x":"';
      input.value = '"}';
      form.appendChild(input);
      document.body.appendChild(form);
      form.submit();
    }, api);
    await page.waitForTimeout(1500);
    expect(await protection()).toBe('on');

    // 2. A no-cors fetch with credentials (the response is opaque, but the request would run).
    await page.evaluate(async (u) => {
      const body = JSON.stringify({ method: 'setProtection', params: { enabled: false } });
      await fetch(u, { method: 'POST', mode: 'no-cors', credentials: 'include', body }).catch(() => undefined);
      await fetch(u, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body }).catch(() => undefined);
    }, api);
    expect(await protection()).toBe('on');

    // 3. A WebSocket: it must not open; if it did, it would try the same.
    const ws = await page.evaluate(
      (u) =>
        new Promise<string>((resolve) => {
          const s = new WebSocket(u);
          s.onopen = () => {
            s.send(JSON.stringify({ id: 1, method: 'setProtection', params: { enabled: false } }));
            setTimeout(() => resolve('opened'), 1000);
          };
          s.onerror = () => resolve('refused');
          s.onclose = () => resolve('refused');
          setTimeout(() => resolve('timeout'), 5000);
        }),
      `${base.replace('http', 'ws')}/api/ws`,
    );
    expect(ws).toBe('refused');
    expect(await protection()).toBe('on');

    // The other port received the page request (and whatever the browser attached), never the token.
    expect(evilSaw.length).toBeGreaterThan(0);
    for (const h of evilSaw) expect(JSON.stringify(h)).not.toContain(token);
    await page.close();
  });

  it('after all that the admin page still drives serve (protection off and on again)', async () => {
    await admin.bringToFront();
    const sw = admin.getByRole('switch', { name: 'Protection' });
    await sw.click();
    await vi.waitFor(async () => expect(await protection()).toBe('off'), { timeout: 10_000 });
    await sw.click();
    await vi.waitFor(async () => expect(await protection()).toBe('on'), { timeout: 10_000 });
  });
});
