/** Measures, in Chromium under the page CSP, what one live batch of packet rows costs the page. */
import { build } from 'esbuild';
import { ROOT, buildRenderer, launchChromium } from './chromium.ts';
import { serveDist } from './fakePage.ts';

const bundle = await build({
  stdin: {
    contents: `
      import './renderer/zodConfig.ts';
      import { ApiEventSchema } from './electron/shared/api.ts';
      import { createAppStore } from './renderer/store/store.ts';
      import { selectFilteredPackets } from './renderer/store/selectors.ts';
      window.measure = (n) => {
        const rows = Array.from({ length: n }, (_, i) => ({ id: i + 1, time: Date.now(), src: '198.51.100.' + (i % 250), dst: '10.0.0.2', proto: 'TCP', spt: 40000, dpt: (i % 1000) + 1, prefix: 'UFW BLOCK', in: 'eth0', flags: 'SYN' }));
        const json = JSON.stringify({ events: [{ type: 'packets', rows }] });
        let t = performance.now();
        const raw = JSON.parse(json);
        const tJson = performance.now() - t;
        t = performance.now();
        const ev = ApiEventSchema.parse(raw.events[0]);
        const tZod = performance.now() - t;
        const store = createAppStore({ api: { call: async () => { throw new Error('x'); }, onEvents: () => () => {} }, setInterval: () => 0, clearInterval: () => {} });
        store.getState().applyEvents([{ type: 'packets', rows: Array.from({ length: 100000 }, (_, i) => ({ ...rows[0], id: -100000 + i })) }]);
        selectFilteredPackets(store.getState());
        t = performance.now();
        store.getState().applyEvents([ev]);
        selectFilteredPackets(store.getState());
        const tApply = performance.now() - t;
        return { n, tJson, tZod, tApply };
      };
    `,
    resolveDir: ROOT,
    loader: 'ts',
  },
  bundle: true, format: 'iife', write: false, platform: 'browser',
});
await buildRenderer();
const site = await serveDist();
const browser = await launchChromium();
const page = await browser.newPage();
await page.goto(site.url);
await page.addScriptTag({ content: bundle.outputFiles[0]!.text }).catch(async () => {
  // The page CSP forbids inline scripts: evaluate instead (same zod state: jitless).
  await page.evaluate(bundle.outputFiles[0]!.text);
});
for (const n of [1000, 5000, 10000]) console.log(JSON.stringify(await page.evaluate((n) => (window as any).measure(n), n)));
await browser.close();
site.close();
