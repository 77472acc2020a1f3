/**
 * The layout at 1280×800 and at 800×600, light and dark, in real Chromium (the in-page fake
 * service, tests/renderer/fakeApi.ts): the sidebar folds to icons in a narrow window, Offenders'
 * Unban/Whitelist show without scrolling sideways, a ban raises an alert with its reasons and
 * buttons, toasts do not cover the page, and every screen opens at its top. Screenshots of every
 * screen at both sizes and in both schemes go to test-artifacts/screenshots/layout-*.png.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { SCREENS, buildRenderer, launchChromium, openScreen, screenshot, slug } from '../renderer/browser/chromium.ts';
import { fakeApiScript, serveDist } from '../renderer/browser/fakePage.ts';

const SIZES = [
  { name: '1280x800', width: 1280, height: 800 },
  { name: '800x600', width: 800, height: 600 },
] as const;

describe.runIf(requireSystem('chromium'))('the layout at 1280×800 and 800×600, light and dark (Chromium, fake service)', () => {
  let browser: Browser;
  let site: { url: string; close(): void };
  let script: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await buildRenderer();
    script = await fakeApiScript();
    site = await serveDist();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    site?.close();
  });

  async function open(width: number, height: number, colorScheme: 'light' | 'dark' = 'light'): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext({ viewport: { width, height }, colorScheme });
    await ctx.addInitScript({ content: script });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(site.url);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    return { ctx, page };
  }

  it('at 800×600 the sidebar folds to icons (still named), and Offenders\' Unban and Whitelist show without scrolling sideways', async () => {
    const { ctx, page } = await open(800, 600);
    const sidebar = (await page.locator('.sidebar').boundingBox())!;
    expect(sidebar.width).toBeLessThanOrEqual(64);
    // Named for screen readers and Tab users, though only the icon shows.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Offenders', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Offenders' }).waitFor();
    const body = page.getByTestId('offenders-table').locator('.vtable-body');
    expect(await body.evaluate((b) => b.scrollWidth - b.clientWidth)).toBeLessThanOrEqual(1);
    for (const name of [/^Unban 203\.0\.113\.10$/, /^Whitelist 203\.0\.113\.10$/]) {
      const b = (await page.getByRole('button', { name }).boundingBox())!;
      expect(b.x + b.width).toBeLessThanOrEqual(800);
      expect(b.x).toBeGreaterThan(sidebar.width);
    }
    // The page itself never scrolls sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(800);
    await screenshot(page, 'layout-800x600-light-offenders-check');
    await ctx.close();
  });

  it('at 1280×800 the sidebar keeps its labels', async () => {
    const { ctx, page } = await open(1280, 800);
    expect((await page.locator('.sidebar').boundingBox())!.width).toBeGreaterThan(180);
    expect(await page.locator('.nav-label').first().isVisible()).toBe(true);
    await ctx.close();
  });

  it('a ban raises an alert saying why (scan type, ports, probes, threshold) with Unban and Whitelist, and the alert does not cover the page', async () => {
    const { ctx, page } = await open(800, 600);
    await page.evaluate(() => (window as unknown as { __fake: { simulateScan(ip: string, ports: number[]): void } }).__fake.simulateScan('198.51.100.200', [21, 23, 25, 80, 110]));
    const alert = page.getByTestId('ban-alert');
    await alert.waitFor();
    const text = await alert.innerText();
    expect(text).toContain('Banned 198.51.100.200');
    expect(text).toMatch(/SYN scan: 5 probes on 5 ports \(21, 23, 25, 80, 110\)/);
    expect(text).toMatch(/threshold: 5 probes on 3 ports within 10\u00a0min/);
    // In the flow above the screen, not over it: the screen's heading starts below the alert.
    const a = (await alert.boundingBox())!;
    const h = (await page.getByRole('heading', { level: 1 }).boundingBox())!;
    expect(h.y).toBeGreaterThanOrEqual(a.y + a.height);
    await screenshot(page, 'layout-800x600-light-ban-alert');
    await alert.getByRole('button', { name: 'Unban' }).click();
    await alert.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => (window as unknown as { __fake: { data: { active: { ip: string }[] } } }).__fake.data.active.some((b) => b.ip === '198.51.100.200'))).toBe(false);
    await ctx.close();
  });

  it('each screen opens at its top, whatever the previous one was scrolled to', async () => {
    const { ctx, page } = await open(800, 600);
    await page.locator('main').evaluate((m) => m.scrollTo({ top: 10_000 }));
    expect(await page.locator('main').evaluate((m) => m.scrollTop)).toBeGreaterThan(0);
    await openScreen(page, 'Settings');
    expect(await page.locator('main').evaluate((m) => m.scrollTop)).toBe(0);
    await ctx.close();
  });

  it('a remembered dark theme is applied before the first paint (no light flash)', async () => {
    const { ctx, page } = await open(1280, 800, 'light');
    await page.evaluate(() => localStorage.setItem('portcullis.theme', 'dark'));
    // Read the theme from a script that runs as soon as <body> exists, before the app's module.
    await ctx.addInitScript(() => {
      document.addEventListener('readystatechange', () => {
        if (document.readyState === 'interactive') (window as unknown as { __firstTheme?: string }).__firstTheme = document.documentElement.dataset.theme ?? 'none';
      });
    });
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { __firstTheme?: string }).__firstTheme)).toBe('dark');
    await ctx.close();
  });

  it('the first Tab stop is "Skip to content", which moves focus into the screen', async () => {
    const { ctx, page } = await open(1280, 800);
    await page.keyboard.press('Tab');
    const link = page.getByRole('link', { name: 'Skip to content' });
    expect(await link.evaluate((l) => l === document.activeElement)).toBe(true);
    expect(await link.isVisible()).toBe(true);
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main-content');
    await ctx.close();
  });

  it('every screen at 1280×800 and 800×600, light and dark, without page errors (screenshots)', async () => {
    for (const size of SIZES) {
      for (const scheme of ['light', 'dark'] as const) {
        const { ctx, page } = await open(size.width, size.height, scheme);
        for (const s of SCREENS) {
          await openScreen(page, s);
          await page.waitForTimeout(200);
          // Nothing makes the page itself scroll sideways.
          expect(await page.evaluate(() => document.documentElement.scrollWidth), `${s} at ${size.name}`).toBeLessThanOrEqual(size.width);
          await screenshot(page, `layout-${size.name}-${scheme}-${slug(s)}`);
        }
        await ctx.close();
      }
    }
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
