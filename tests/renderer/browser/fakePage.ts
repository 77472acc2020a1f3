/**
 * In-page fake service for looking at the UI without `portcullis serve`: bundled with esbuild into
 * a script that sets window.portcullis before the app starts. A development aid only; the system
 * tests drive the real serve.
 */
import http from 'node:http';
import { readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { DIST, ROOT } from './chromium.ts';

export async function fakeApiScript(opts: { livePackets?: number } = {}): Promise<string> {
  const r = await build({
    stdin: {
      contents: `
        import './renderer/zodConfig.ts';
        import { createFakeApi } from './tests/renderer/fakeApi.ts';
        const api = createFakeApi({ packets: 3000 });
        for (let i = 0; i < 12; i++) api.simulateScan('203.0.113.' + (10 + i), [21, 22, 23, 25, 80, 110, 139, 443, 445, 3389].slice(0, 3 + (i % 8)), i % 3 === 0);
        api.simulateScan('2001:db8:feed::7', [22, 80, 443, 8080, 8443], true);
        window.portcullis = api;
        // Extra rows delivered as live event batches once the page listens (like a busy log).
        const live = ${opts.livePackets ?? 0};
        if (live > 0) setTimeout(() => {
          for (let start = 0; start < live; start += 10000) {
            const rows = [];
            for (let i = start; i < Math.min(live, start + 10000); i++) rows.push({ id: 1e6 + i, time: Date.now() - (live - i) * 10, src: '198.51.' + ((i >> 8) & 255) + '.' + (i & 255), dst: '10.0.0.2', proto: i % 5 ? 'TCP' : 'UDP', spt: 40000 + (i % 20000), dpt: (i % 1000) + 1, prefix: 'UFW BLOCK', in: 'eth0', flags: i % 5 ? 'SYN' : '' });
            api.emit([{ type: 'packets', rows }]);
          }
        }, 1000);
        window.__fake = api;
      `,
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    write: false,
    platform: 'browser',
  });
  return r.outputFiles[0]!.text;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Serves renderer/dist on 127.0.0.1 (module scripts do not load from file:// in Chromium). */
export function serveDist(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    let file = path.join(DIST, path.normalize(p));
    if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) file = path.join(DIST, 'index.html');
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.close() });
    }),
  );
}
