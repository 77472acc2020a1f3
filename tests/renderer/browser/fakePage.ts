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

export async function fakeApiScript(): Promise<string> {
  const r = await build({
    stdin: {
      contents: `
        import './renderer/zodConfig.ts';
        import { createFakeApi } from './tests/renderer/fakeApi.ts';
        const api = createFakeApi({ packets: 3000 });
        for (let i = 0; i < 12; i++) api.simulateScan('203.0.113.' + (10 + i), [21, 22, 23, 25, 80, 110, 139, 443, 445, 3389].slice(0, 3 + (i % 8)), i % 3 === 0);
        api.simulateScan('2001:db8:feed::7', [22, 80, 443, 8080, 8443], true);
        window.portcullis = api;
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
