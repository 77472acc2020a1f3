/**
 * The renderer's layout in a narrow window (800×600), in real Chromium. The backend here is the
 * in-page fake service (tests/renderer/fakeApi.ts): this is about what the browser lays out, which
 * a DOM without layout (jsdom) cannot tell — a table spilling out of its card, a badge cut off, a
 * preview appearing above the top of the window.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { buildRenderer, launchChromium, openScreen, screenshot } from '../renderer/browser/chromium.ts';
import { fakeApiScript, serveDist } from '../renderer/browser/fakePage.ts';

describe.runIf(requireSystem('chromium'))('the UI in a narrow window (Chromium, fake service)', () => {
  let browser: Browser;
  let page: Page;
  let site: { url: string; close(): void };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await buildRenderer();
    const script = await fakeApiScript();
    site = await serveDist();
    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 800, height: 600 } });
    await ctx.addInitScript({ content: script });
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(site.url);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    site?.close();
  });

  /** Right edge of the element's box, and of the card (section.card) around it. */
  const rightEdges = (sel: ReturnType<Page['locator']>) =>
    sel.evaluate((el) => ({ el: el.getBoundingClientRect().right, card: el.closest('.card')!.getBoundingClientRect().right }));

  it('the dashboard shows the whole trust badge inside its card', async () => {
    const badge = page.getByTestId('source-health').locator('.badge');
    const { el, card } = await rightEdges(badge);
    expect(el).toBeLessThanOrEqual(card);
    expect(await badge.evaluate((b) => b.scrollWidth <= b.clientWidth + 1)).toBe(true);
    // The chart is a Tab stop (recharts' keyboard layer): it has a name for screen readers.
    const chart = page.locator('.chart svg[tabindex="0"]');
    await chart.waitFor();
    expect(await chart.locator('title').textContent()).toBe('Blocked packets per minute, last hour');
    await screenshot(page, 'narrow-dashboard');
  });

  it('the rules table stays inside its card (scrolling sideways there), and a preview asked for from the editor comes into view', async () => {
    await openScreen(page, 'Rules');
    // Nothing spills out of the card (the table used to reach past it, Edit/Delete near x=930).
    const spill = await page.getByTestId('rules-table').evaluate((t) => {
      const card = t.closest('.card')!;
      return { card: card.scrollWidth - card.clientWidth, table: t.getBoundingClientRect().width };
    });
    expect(spill.card).toBeLessThanOrEqual(1);
    expect(spill.table).toBeGreaterThan(500); // the table did need more room than the card had
    // The row actions are reachable by scrolling the table, not outside the window.
    const del = page.getByRole('button', { name: 'Delete rule 1' });
    await del.scrollIntoViewIfNeeded();
    const box = await del.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(800);

    await page.getByRole('button', { name: 'HTTP', exact: true }).click();
    await page.getByRole('button', { name: 'Preview command' }).click();
    const preview = page.getByTestId('rule-preview');
    await preview.waitFor();
    await expect.poll(async () => (await preview.boundingBox())!.y, { timeout: 5_000 }).toBeGreaterThanOrEqual(0);
    const p = (await preview.boundingBox())!;
    expect(p.y).toBeLessThan(600);
    await screenshot(page, 'narrow-rules-preview');
    expect(pageErrors).toEqual([]);
  });
});
