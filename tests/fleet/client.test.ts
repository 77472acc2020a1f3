/**
 * The LAPI client over real HTTP (global fetch, loopback servers): it never follows a redirect,
 * which would carry the bouncer key or the login body to another origin (F5), and it stops reading
 * a reply at its size cap instead of filling memory (F6).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LapiClient, MAX_REPLY_BYTES, type FetchLike } from '../../electron/engine/fleet/client.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const client = (url: string, extra: { maxReplyBytes?: number } = {}) =>
  new LapiClient({ url, machineId: 'web1', password: 'SECRET-PW', bouncerKey: 'SECRET-KEY', userAgent: 'portcullis/test', fetch: globalThis.fetch as unknown as FetchLike, now: Date.now, ...extra });

describe('LAPI client over HTTP', () => {
  it('does not follow a redirect: the bouncer key and the login body never reach another origin (F5)', async () => {
    const seen: string[] = [];
    const other = await serve((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} key=${req.headers['x-api-key'] ?? ''} ${body}`);
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"new":[],"deleted":[]}');
      });
    });
    const lapi = await serve((req, res) => res.writeHead(307, { Location: `${other}${req.url}` }).end());
    await expect(client(lapi).stream(true)).rejects.toThrow(/LAPI/);
    await expect(client(lapi).login()).rejects.toThrow(/LAPI/);
    expect(seen).toEqual([]);
  });

  it('stops reading a reply at the size cap (F6)', async () => {
    const lapi = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"new":[');
      const chunk = `${'{"id":1,"origin":"x","scope":"Ip","type":"ban","value":"192.0.2.1","duration":"1h"},'.repeat(100)}`;
      // Far more than the cap; the client hangs up long before the end.
      let left = 2000;
      const more = (): void => {
        while (left-- > 0) if (!res.write(chunk)) return void res.once('drain', more);
        res.end('{}]}');
      };
      res.on('error', () => undefined);
      more();
    });
    await expect(client(lapi, { maxReplyBytes: 64 * 1024 }).stream(true)).rejects.toThrow(/reply larger than 64 KiB, refused/);
  });

  it('the cap holds a startup stream of 100,000 decisions with room to spare', () => {
    const decisions = Array.from({ length: 100_000 }, (_, i) => ({
      duration: '167h59m59.123456789s',
      id: 1_000_000 + i,
      origin: 'CAPI',
      scenario: 'crowdsecurity/http-probing',
      scope: 'Ip',
      type: 'ban',
      value: `203.0.${(i >> 8) & 255}.${i & 255}`,
      uuid: '2f4c9a1e-6b1d-4c3a-9f0e-1a2b3c4d5e6f',
    }));
    const bytes = Buffer.byteLength(JSON.stringify({ new: decisions, deleted: [] }));
    expect(bytes * 2).toBeLessThan(MAX_REPLY_BYTES);
  });
});
