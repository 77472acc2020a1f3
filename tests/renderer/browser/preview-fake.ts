/**
 * Screenshots of every screen, light and dark, against the in-page fake service:
 *   ./node_modules/.bin/node tests/renderer/browser/preview-fake.ts
 * Writes test-artifacts/screenshots/fake-<theme>-<screen>.png.
 */
import { SCREENS, buildRenderer, launchChromium, openScreen, screenshot, slug } from './chromium.ts';
import { fakeApiScript, serveDist } from './fakePage.ts';

await buildRenderer();
const script = await fakeApiScript();
const site = await serveDist();
const browser = await launchChromium();
try {
  for (const scheme of ['light', 'dark'] as const) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
    await ctx.addInitScript({ content: script });
    const page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && console.log('console:', m.text()));
    page.on('pageerror', (e) => console.log('pageerror:', e.message));
    await page.goto(site.url);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.waitForTimeout(500);
    for (const s of SCREENS) {
      await openScreen(page, s);
      if (s === 'Offenders') await page.getByRole('button', { name: 'Details of 203.0.113.10' }).click();
      if (s === 'Rules') {
        await page.getByRole('button', { name: 'Delete rule 1' }).click();
        await page.getByTestId('rule-preview').waitFor();
      }
      await page.waitForTimeout(300);
      console.log(await screenshot(page, `fake-${scheme}-${slug(s)}`));
    }
    await ctx.close();
  }
} finally {
  await browser.close();
  site.close();
}
