/**
 * `portcullis serve` in a lab's firewall namespace: it protects that namespace like `run`, and its
 * UI/API is on that namespace's 127.0.0.1 only, behind the printed token. Clients run inside the
 * namespace (curl, and a node WebSocket client) because that is where its loopback is.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { canonicalIp } from '../../electron/shared/domain.ts';
import { requireSystem } from '../support/system.ts';
import { labPerTest, NODE, ROOT } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');

const WS_CLIENT = String.raw`
const WebSocket = require(process.argv[1]);
const ws = new WebSocket(process.argv[2]);
const out = [];
ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'getBans', params: {} })));
ws.on('message', (d) => { const f = JSON.parse(String(d)); out.push(f); if (f.id === 1) { console.log(JSON.stringify(f)); ws.close(); } });
ws.on('unexpected-response', (_q, r) => { console.log(JSON.stringify({ status: r.statusCode })); process.exit(0); });
ws.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); });
setTimeout(() => process.exit(3), 5000);
`;

describe.runIf(enabled)('portcullis serve in a network namespace', () => {
  const t = labPerTest();

  it('prints the tokened URL, refuses API requests without the token, and bans a scanner of its namespace', async () => {
    const { lab, cli } = await t.run(['serve', '--source', 'kmsg', '--port', '0'], { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } });
    const ready = cli.lines.find((l) => l.type === 'ready')!;
    const url = String(ready.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
    // The URL also stands on a line of its own.
    await cli.waitFor((l) => l.type === 'text' && l.text === url, 5000, 'the URL on a line of its own');
    const base = url.split('/?')[0]!;
    const token = url.split('token=')[1]!;

    const status = async (u: string, ...args: string[]) => (await lab!.exec(lab!.fwNs, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', ...args, u])).stdout;
    // The UI holds no secret and is served to anyone on loopback; the API needs the token (no cookie).
    expect(await status(url)).toBe('200');
    expect(await status(`${base}/`)).toBe('200');
    const call = ['-X', 'POST', '-H', 'Content-Type: application/json', '--data', '{"method":"getState","params":{}}'];
    expect(await status(`${base}/api/call`, ...call)).toBe('401');
    // One character changed — to one the token does not start with (a fixed 'x' was the token itself 1 time in 64).
    const wrongToken = `${token.startsWith('x') ? 'y' : 'x'}${token.slice(1)}`;
    expect(await status(`${base}/api/call`, ...call, '-H', `Authorization: Bearer ${wrongToken}`)).toBe('401');
    expect(await status(`${base}/api/call`, ...call, '-H', `Authorization: Bearer ${token}`)).toBe('200');

    const s = lab.scanner;
    await lab.probeMany(s.ns, s.fwV4, [3001, 3002, 3003, 3004, 3005, 3006, 3007], { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v4), 10_000, 'the ban');
    expect(await lab.canConnect(s.ns, s.fwV4, 22, 700)).toBe(false);

    const wsModule = path.join(ROOT, 'node_modules/ws');
    const denied = await lab.exec(lab.fwNs, [NODE, '-e', WS_CLIENT, wsModule, `${base.replace('http', 'ws')}/api/ws`]);
    expect(JSON.parse(denied.stdout.trim())).toEqual({ status: 401 });
    const ok = await lab.exec(lab.fwNs, [NODE, '-e', WS_CLIENT, wsModule, `${base.replace('http', 'ws')}/api/ws?token=${token}`]);
    const reply = JSON.parse(ok.stdout.trim()) as { id: number; reply: { ok: boolean; result: { active: { ip: string }[] } } };
    expect(reply.reply.ok).toBe(true);
    expect(reply.reply.result.active.map((b) => b.ip)).toEqual([canonicalIp(s.v4)]);

    // Only loopback: the scanner cannot reach the UI port on the firewall's link address.
    const port = Number(new URL(url).port);
    expect(await lab.probe(s.ns, s.fwV6, port, { timeoutMs: 500 })).not.toBe('open');
  });
});
