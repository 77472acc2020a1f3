/**
 * 100k blocked packets in the live table, in real Chromium, fed by a real `portcullis serve
 * --dry-run` reading a recorded log file (a real engine; --dry-run never touches the firewall, so
 * this runs in the machine's own namespace). Asserts that the table stays virtual (a few dozen DOM
 * rows for 100k), that scrolling reaches both ends, that filtering and CSV export cover all rows.
 * It prints the time taken by a filter and by scroll frames as figures; it does not assert them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { ROOT, buildRenderer, launchChromium, openScreen, screenshot } from '../renderer/browser/chromium.ts';
import { type DryServe, startDryServe } from '../support/dry-serve.ts';

const NODE = path.join(ROOT, 'node_modules/.bin/node');
const ROWS = 100_000;

/** A syslog-framed ufw BLOCK line as rsyslog writes it to kern.log. */
function logLine(i: number, at: Date): string {
  const mon = at.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const stamp = `${mon} ${String(at.getUTCDate()).padStart(2, ' ')} ${at.toISOString().slice(11, 19)}`;
  const src = `198.51.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`;
  const dpt = (i % 1000) + 1;
  return `${stamp} fw kernel: [${(1000 + i / 1000).toFixed(6)}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=${src} DST=10.9.9.9 LEN=44 TOS=0x00 PREC=0x00 TTL=51 ID=${i % 65536} PROTO=TCP SPT=${40000 + (i % 20000)} DPT=${dpt} WINDOW=1024 RES=0x00 SYN URGP=0`;
}

const vitestWait = (check: () => Promise<void>, timeout: number) => vi.waitFor(check, { timeout, interval: 250 });

describe.runIf(requireSystem('chromium'))('100k blocked packets in the live table (serve --dry-run on a recorded log)', () => {
  let tmp: string;
  let logFile: string;
  let serve: DryServe | undefined;
  let browser: Browser;
  let page: Page;

  let hogs: ChildProcess[] = [];
  const stopHogs = () => {
    for (const h of hogs) h.kill('SIGKILL');
    hogs = [];
  };
  const storeCount = (p: Page) => p.evaluate(() => (window as unknown as { __portcullisStore: { getState(): { packets: unknown[] } } }).__portcullisStore.getState().packets.length);
  const domRows = (p: Page) => p.getByTestId('packets-table').locator('.vtable-body [role=row]').count();

  beforeAll(async () => {
    await buildRenderer();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'portcullis-ui100k-'));
    logFile = path.join(tmp, 'kern.log');
    writeFileSync(logFile, '');
    // A log file is spoofable, so records from it are ignored unless kernel trust is waived (the user's
    // explicit choice in the settings; the UI then says SPOOFABLE). Dry run: nobody is banned anyway.
    const config = path.join(tmp, 'settings.json');
    // All 100k lines carry the same second: the per-second storage cap at its most (100,000) stores them all.
    writeFileSync(config, JSON.stringify({ detection: { requireKernelTrust: false }, logs: { maxStoredPackets: 1_000_000, maxStoredPacketsPerSecond: 100_000 } }));
    serve = await startDryServe({ logFile, stateDir: path.join(tmp, 'state'), config });
    const url = serve.url;
    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await ctx.newPage();
    await page.goto(url);
    await openScreen(page, 'Blocked packets');
  });

  afterAll(async () => {
    stopHogs();
    await browser?.close().catch(() => undefined);
    await serve?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('streams 100k rows into the table while only a screenful exists in the DOM, with every core busy with another process', async () => {
    const now = new Date();
    // The machine is shared (CI once got 98,204 of 100,000 rows here under load): one busy-loop
    // process per core competes with serve and Chromium for the whole burst, so the page falls far
    // behind and serve sheds live rows; after the burst the table must still become complete.
    hogs = Array.from({ length: os.availableParallelism() }, () => spawn(NODE, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    const progress = setInterval(() => {
      void page
        .evaluate(() => {
          const st = (window as unknown as { __portcullisStore: { getState(): { packets: unknown[]; packetsMissing: number; packetsSkippedUpTo: number } } }).__portcullisStore.getState();
          return `${st.packets.length} rows, ${st.packetsMissing} missing, skipped up to ${st.packetsSkippedUpTo}`;
        })
        .then((t) => console.log(`[progress] ${new Date().toISOString().slice(11, 19)} ${t}`), () => undefined);
    }, 10_000);
    try {
      // Appended in slices, as a busy log grows (10k lines/s); the page receives them as live event
      // batches. Faster than the page can read, serve skips live rows for it (by design: the store
      // keeps them), says which (packetsSkipped), and the page fetches them back after the burst.
      for (let start = 0; start < ROWS; start += 5000) {
        const lines: string[] = [];
        for (let i = start; i < start + 5000; i++) lines.push(logLine(i, now));
        appendFileSync(logFile, lines.join('\n') + '\n');
        await new Promise((r) => setTimeout(r, 500));
      }
      stopHogs();
      // Complete, however long a busy machine takes to catch up: the bound only ends a hung run.
      await vitestWait(async () => expect(await storeCount(page)).toBe(ROWS), 480_000);
    } finally {
      clearInterval(progress);
      stopHogs();
    }
    await vitestWait(async () => expect(await page.getByTestId('packets-shown').innerText()).toBe('100,000'), 10_000);
    const rendered = await domRows(page);
    expect(rendered).toBeGreaterThan(10);
    expect(rendered).toBeLessThan(100);
    await screenshot(page, 'virtual-100k-top');
  }, 600_000);

  it('scrolls to the oldest row and back; rows keep a fixed height', async () => {
    const body = page.getByTestId('packets-table').locator('.vtable-body');
    const measure = (mode: 'jump' | 'step') =>
      body.evaluate(async (el, mode) => {
        const times: number[] = [];
        let last = performance.now();
        for (let i = 0; i <= 60; i++) {
          el.scrollTop = mode === 'jump' ? (el.scrollHeight * i) / 60 : el.scrollTop + 120;
          await new Promise((r) => requestAnimationFrame(() => r(null)));
          const t = performance.now();
          times.push(t - last);
          last = t;
        }
        return times.slice(1).sort((a, b) => a - b);
      }, mode);
    const step = await measure('step');
    const jump = await measure('jump');
    await body.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.waitForTimeout(200);
    // The oldest row (the first line of the log, port 1) is at the very bottom of a newest-first table.
    const lastRow = page.getByTestId('packets-table').locator('.vtable-body [role=row]').last();
    expect(await lastRow.innerText()).toContain('198.51.0.1');
    const heights = await page.getByTestId('packets-table').locator('.vtable-body [role=row]').evaluateAll((rows) => [...new Set(rows.map((r) => (r as HTMLElement).offsetHeight))]);
    expect(heights).toEqual([32]);
    expect(await domRows(page)).toBeLessThan(100);
    await screenshot(page, 'virtual-100k-bottom');
    const q = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(a.length * p))]!.toFixed(1);
    console.log(`[figures] 100k rows, frame time scrolling 120 px a frame: median ${q(step, 0.5)} ms, p90 ${q(step, 0.9)} ms; jumping 1/60 of the list a frame: median ${q(jump, 0.5)} ms, p90 ${q(jump, 0.9)} ms`);
    await body.evaluate((el) => (el.scrollTop = 0));
  });

  it('filters 100k rows by port and exports exactly the filtered rows as CSV', async () => {
    const t0 = Date.now();
    await page.getByLabel('Port', { exact: true }).fill('22');
    await vitestWait(async () => expect(await page.getByTestId('packets-shown').innerText()).toBe(String(ROWS / 1000)), 10_000);
    console.log(`[figures] filter 100k rows by port, typed to shown: ${Date.now() - t0} ms`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const file = path.join(tmp, 'export.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('id,time,src,dst,proto,spt,dpt,flags,in,prefix');
    expect(lines).toHaveLength(ROWS / 1000 + 1);
    expect(lines.slice(1).every((l) => l.split(',')[6] === '22')).toBe(true);
    await page.getByLabel('Source', { exact: true }).fill('198.51.0.0/24');
    await vitestWait(async () => expect(await page.getByTestId('packets-shown').innerText()).toBe('1'), 10_000);
    await screenshot(page, 'virtual-100k-filtered');
  });

  it('in a narrow window the table scrolls sideways with its header, and its rows span the whole width', async () => {
    await page.getByLabel('Port', { exact: true }).fill('');
    await page.getByLabel('Source', { exact: true }).fill('');
    await page.setViewportSize({ width: 800, height: 600 });
    try {
      const table = page.getByTestId('packets-table');
      const body = table.locator('.vtable-body');
      await vitestWait(async () => expect(await body.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true), 10_000);
      await body.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
      // The header followed: its last column is over the rows' last column.
      await vitestWait(async () => {
        const [head, cell] = await Promise.all([
          table.locator('.vtable-head [role=columnheader]').last().boundingBox(),
          table.locator('.vtable-body [role=row]').first().locator('[role=cell]').last().boundingBox(),
        ]);
        expect(Math.abs(head!.x - cell!.x)).toBeLessThan(2);
      }, 5_000);
      const firstHeader = await table.locator('.vtable-head [role=columnheader]').first().boundingBox();
      const firstCell = await table.locator('.vtable-body [role=row]').first().locator('[role=cell]').first().boundingBox();
      expect(Math.abs(firstHeader!.x - firstCell!.x)).toBeLessThan(2);
      // A row is as wide as the scrolled content (its stripe did not stop at the old viewport edge).
      const [rowWidth, scrollWidth] = await Promise.all([table.locator('.vtable-body [role=row]').first().evaluate((el) => el.getBoundingClientRect().width), body.evaluate((el) => el.scrollWidth)]);
      expect(rowWidth).toBeGreaterThanOrEqual(scrollWidth - 1);
      await screenshot(page, 'virtual-100k-narrow-scrolled');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });
});
