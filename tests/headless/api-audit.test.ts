/**
 * Issue 9 item 7: every state-changing call, from every transport, lands in the audit log with the
 * transport and the client's identity (the kernel's word: peer uid/pid on the control socket, the
 * loopback socket's owner uid over HTTP and WebSocket).
 */
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { auditedHandlers, CHANGING_METHODS, redactSecrets } from '../../electron/app/api-audit.ts';
import { REDACTED } from '../../electron/shared/fleet.ts';
import { ControlClient, serveControlSocket } from '../../electron/headless/control.ts';
import { startWebServer } from '../../electron/headless/http.ts';
import { memoryAuditLog } from '../../electron/helper/audit.ts';
import { API, type ApiHandlers, type ApiMethod } from '../../electron/shared/api.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';

const tempDir = tempDirsPerTest('pc-audit-');

/** Handlers that answer every method; `ban` of 192.0.2.66 is refused. */
function fakeHandlers(): ApiHandlers {
  const out: Record<string, (p: unknown) => Promise<unknown>> = {};
  for (const m of Object.keys(API)) out[m] = async (p) => ({ method: m, p });
  out.ban = async (p) => {
    if ((p as { ip: string }).ip === '192.0.2.66') throw Object.assign(new Error('whitelisted'), { code: 'invalid' });
    return { ip: (p as { ip: string }).ip };
  };
  out.setProtection = async () => ({ protection: 'off' });
  out.unban = async () => ({ ok: true });
  return out as unknown as ApiHandlers;
}

const uid = process.getuid!();

describe('api audit', () => {
  it('records changing calls (ok and refused) with transport and client, never reads', async () => {
    const audit = memoryAuditLog();
    const h = auditedHandlers(fakeHandlers(), audit, () => ({ transport: 'ipc', client: 'uid 1000 pid 7 (window)' }));
    await h.getState({} as never);
    await h.setProtection({ enabled: false });
    await expect(h.ban({ ip: '192.0.2.66' } as never)).rejects.toThrow('whitelisted');
    expect(audit.entries.map((e) => [e.op, e.transport, e.client, e.result, e.error?.code])).toEqual([
      ['api.setProtection', 'ipc', 'uid 1000 pid 7 (window)', 'ok', undefined],
      ['api.ban', 'ipc', 'uid 1000 pid 7 (window)', 'error', 'invalid'],
    ]);
    expect(audit.entries[0]).toMatchObject({ who: 'ipc uid 1000 pid 7 (window)', args: { enabled: false } });
    // The list names every API method that is not a read.
    const reads = (Object.keys(API) as ApiMethod[]).filter((m) => !CHANGING_METHODS.has(m));
    expect(reads.every((m) => /^(get|test|preview)/.test(m))).toBe(true);
  });

  it('keeps no fleet secret in the audit log (F3): updateSettings patch and testFleet args are redacted', async () => {
    const audit = memoryAuditLog();
    const h = auditedHandlers(fakeHandlers(), audit, () => ({ transport: 'http', client: '127.0.0.1:5000 uid 0' }));
    const crowdsec = { url: 'http://10.0.0.5:8080', machineId: 'web1', password: 'REAL-PW', bouncerKey: 'REAL-KEY' };
    const patch = { fleet: { crowdsec } };
    await h.updateSettings({ patch } as never);
    expect(JSON.stringify(audit.entries)).not.toMatch(/REAL-PW|REAL-KEY/);
    expect(audit.entries[0]!.args).toEqual({ patch: { fleet: { crowdsec: { ...crowdsec, password: REDACTED, bouncerKey: REDACTED } } } });
    // The call itself still gets the real values.
    expect(patch.fleet.crowdsec.password).toBe('REAL-PW');
    expect(redactSecrets({ crowdsec })).toEqual({ crowdsec: { ...crowdsec, password: REDACTED, bouncerKey: REDACTED } });
  });

  it('control socket: the peer uid and pid come from the kernel (ss / sock_diag), not from the client', async () => {
    const dir = tempDir();
    const audit = memoryAuditLog();
    const server = await serveControlSocket(path.join(dir, 'state'), fakeHandlers(), audit);
    try {
      const c = new ControlClient(server.path);
      await c.call('getState', {}).catch(() => undefined); // a read (the fake's answer is no valid state): not audited
      await expect(c.call('unban', { ip: '192.0.2.1' } as never)).resolves.toEqual({ ok: true });
      c.close();
    } finally {
      await server.close();
    }
    expect(audit.entries).toHaveLength(1);
    // The client is this very process.
    expect(audit.entries[0]).toMatchObject({ op: 'api.unban', transport: 'control-socket', client: expect.stringContaining(`uid ${uid} pid ${process.pid} `) });
  });

  it('HTTP and WebSocket: the loopback socket owner uid and address', async () => {
    const audit = memoryAuditLog();
    const web = await startWebServer({ handlers: fakeHandlers(), onEvents: () => () => undefined, staticDir: null, port: 0, audit });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: web.port, path: '/api/call', method: 'POST', headers: { Authorization: `Bearer ${web.token}`, 'Content-Type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve());
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ method: 'setProtection', params: { enabled: false } }));
      });
      const ws = new WebSocket(`ws://127.0.0.1:${web.port}/api/ws`, ['portcullis', `portcullis-token.${web.token}`]);
      await new Promise((r) => ws.once('open', r));
      const reply = new Promise((r) => ws.once('message', r));
      ws.send(JSON.stringify({ id: 1, method: 'whitelistAdd', params: { cidr: '192.0.2.0/24' } }));
      await reply;
      ws.close();
    } finally {
      await web.close();
    }
    expect(audit.entries.map((e) => [e.op, e.transport])).toEqual([
      ['api.setProtection', 'http'],
      ['api.whitelistAdd', 'websocket'],
    ]);
    for (const e of audit.entries) expect(e.client).toMatch(new RegExp(`^127\\.0\\.0\\.1:\\d+ uid ${uid}$`));
  });
});
