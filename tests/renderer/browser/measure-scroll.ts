/** Scroll frame times over 100k rows with the in-page fake service (no server load on the CPU). */
import { buildRenderer, launchChromium, openScreen } from './chromium.ts';
import { fakeApiScript, serveDist } from './fakePage.ts';

await buildRenderer();
const script = await fakeApiScript({ livePackets: 100_000 });
const site = await serveDist();
const browser = await launchChromium();
const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
await ctx.addInitScript({ content: script });
const page = await ctx.newPage();
await page.goto(site.url);
await openScreen(page, 'Blocked packets');
await page.waitForTimeout(3000);
const body = page.getByTestId('packets-table').locator('.vtable-body');
console.log('rows in store', await page.evaluate(() => (window as any).__portcullisStore.getState().packets.length));
for (const mode of ['jump', 'wheel'] as const) {
  const frames = await body.evaluate(async (el, mode) => {
    const times: number[] = [];
    let last = performance.now();
    for (let i = 0; i <= 60; i++) {
      el.scrollTop = mode === 'jump' ? (el.scrollHeight * i) / 60 : el.scrollTop + 120;
      await new Promise((r) => requestAnimationFrame(() => r(null)));
      const t = performance.now();
      times.push(t - last);
      last = t;
    }
    return times;
  }, mode);
  const s = frames.slice(1).sort((a, b) => a - b);
  console.log(mode, 'median', s[s.length >> 1]!.toFixed(1), 'p90', s[Math.floor(s.length * 0.9)]!.toFixed(1), 'max', s[s.length - 1]!.toFixed(1));
}
await browser.close();
site.close();
