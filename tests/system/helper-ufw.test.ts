/**
 * The real helper process (electron/helper/main.ts) inside a network namespace with its own ufw,
 * driven over its Unix socket by the real HelperClient: status parses real ufw, rule add/insert/
 * move/delete, default policy and logging level land in ufw, hostile requests change nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HelperClient } from '../../electron/engine/helperclient/client.ts';
import { parseUfwStatus } from '../../electron/helper/ufw-status.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const SECRET = 'system-test-secret-' + Math.random().toString(36).slice(2);

describe.runIf(requireSystem('root', 'netns', 'ufw'))('helper + real ufw in a network namespace', () => {
  let lab: Lab;
  let dir: string;
  let helper: ChildProcess;
  let client: HelperClient;
  let hostDefaults: string;
  const numbered = async () => parseUfwStatus(await lab.ufw('status', 'numbered')).rules;

  beforeAll(async () => {
    hostDefaults = readFileSync('/etc/default/ufw', 'utf8');
    lab = await createLab({ scanners: 1, ufw: true, listen: false, kernelLog: false });
    // `ufw default …` writes /etc/default/ufw: give the namespace its own copy so the host's is never touched.
    if (!existsSync(`/etc/netns/${lab.fwNs}/default`)) cpSync('/etc/default', `/etc/netns/${lab.fwNs}/default`, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'pcx-helper-'));
    chmodSync(dir, 0o700);
    writeFileSync(join(dir, 'secret'), SECRET, { mode: 0o600 });
    helper = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, NODE, join(ROOT, 'electron/helper/main.ts'), '--socket-dir', dir, '--uid', '0', '--audit-log', join(dir, 'audit.log')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      helper.stderr!.on('data', (d) => (err += d));
      helper.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
      helper.on('exit', (code) => reject(new Error(`helper exited ${code}: ${err}`)));
    });
    client = new HelperClient({ socketPath: join(dir, 'helper.sock'), secret: SECRET });
    await client.connect();
  });

  afterAll(async () => {
    client?.close();
    if (helper && helper.exitCode === null) {
      const exited = new Promise((r) => helper.once('exit', r));
      helper.kill('SIGTERM');
      await exited;
    }
    await lab?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the secret file was consumed (not left on disk)', () => {
    expect(existsSync(join(dir, 'secret'))).toBe(false);
  });

  it('status parses the real ufw: enabled, defaults, logging, the allow 22/tcp rule (v4 and v6), app profiles', async () => {
    const s = await client.call('status', {});
    expect(s.installed).toBe(true);
    expect(s.enabled).toBe(true);
    expect(s.defaults.incoming).toBe('deny');
    // A fresh namespace forwards nothing: ufw says the routed policy is disabled, and so does the helper.
    expect(await lab.ufw('status', 'verbose')).toContain('disabled (routed)');
    expect(s.defaults.routed).toBe('disabled');
    expect(s.logging).toBe('low');
    expect(s.rules.map((r) => [r.port, r.proto, r.action, r.v6])).toEqual([['22', 'tcp', 'allow', false], ['22', 'tcp', 'allow', true]]);
    expect(s.appProfiles.length).toBeGreaterThan(0);
  });

  it('add, insert, move and delete rules; each shows in `ufw status numbered`', async () => {
    await client.call('addRule', { rule: { action: 'allow', port: '8080', proto: 'tcp', comment: 'web test' } });
    let rules = await numbered();
    expect(rules.find((r) => r.port === '8080' && !r.v6)).toMatchObject({ number: 2, comment: 'web test' });

    await client.call('insertRule', { position: 1, rule: { action: 'deny', from: '10.99.0.0/16', comment: 'lab deny' } });
    rules = await numbered();
    expect(rules[0]).toMatchObject({ number: 1, action: 'deny', from: '10.99.0.0/16', comment: 'lab deny' });

    // Move the deny from 1 to the end of the IPv4 rules (3), saying which rule it is (all of it, as shown).
    const { number: _n1, ...deny } = rules[0]!;
    await client.call('moveRule', { number: 1, to: 3, expect: deny });
    rules = await numbered();
    expect(rules.filter((r) => !r.v6).map((r) => r.port || r.from)).toEqual(['22', '8080', '10.99.0.0/16']);

    // A v6 rule at position 1 (ufw's `insert 1` fails for IPv6; the helper prepends).
    await client.call('insertRule', { position: 1, rule: { action: 'deny', from: '2001:db8::99' } });
    rules = await numbered();
    const v4Count = rules.filter((r) => !r.v6).length;
    expect(rules[v4Count]).toMatchObject({ v6: true, action: 'deny', from: '2001:db8::99' });

    // Delete the 8080 rule as the client saw it, after its number shifted under it.
    const seen = rules.find((r) => r.port === '8080' && !r.v6)!;
    await client.call('insertRule', { position: 1, rule: { action: 'allow', port: '9000', proto: 'udp' } });
    const { number: _n2, ...seenRule } = seen;
    await client.call('deleteRule', { number: seen.number, expect: seenRule });
    rules = await numbered();
    expect(rules.some((r) => r.port === '8080' && !r.v6)).toBe(false);
    expect(rules.some((r) => r.port === '8080' && r.v6)).toBe(true);
    expect(rules.some((r) => r.port === '9000' && !r.v6)).toBe(true);

    // A forwarded-traffic rule with and without an interface (ufw refused the second as `route allow in from …`).
    await client.call('addRule', { rule: { action: 'allow', direction: 'fwd', port: '8443', proto: 'tcp' } });
    await client.call('addRule', { rule: { action: 'allow', direction: 'fwd', iface: lab.scanner.fwIface, port: '8444', proto: 'tcp' } });
    const routes = await lab.ufw('show', 'added');
    expect(routes).toContain('ufw route allow 8443/tcp');
    expect(routes).toContain(`ufw route allow in on ${lab.scanner.fwIface} to any port 8444 proto tcp`);
  });

  it('default policy and logging level change in ufw (and only in the namespace)', async () => {
    await client.call('setDefault', { direction: 'incoming', policy: 'reject' });
    await client.call('setLogging', { level: 'medium' });
    const verbose = parseUfwStatus(await lab.ufw('status', 'verbose'));
    expect(verbose.defaults?.incoming).toBe('reject');
    expect(verbose.logging).toBe('medium');
    const s = await client.call('status', {});
    expect(s.defaults.incoming).toBe('reject');
    expect(s.logging).toBe('medium');
    expect(readFileSync('/etc/default/ufw', 'utf8')).toBe(hostDefaults);
  });

  it('previewRule shows the exact command and changes nothing', async () => {
    const before = await lab.ufw('status', 'numbered');
    const p = await client.call('previewRule', { op: { kind: 'add', rule: { action: 'allow', port: '443', proto: 'tcp', comment: 'https' } } });
    expect(p.commands).toEqual(["ufw allow in proto tcp from any to any port 443 comment 'https'"]);
    expect(await lab.ufw('status', 'numbered')).toBe(before);
  });

  it('moving rule 3 to 1 and back: previewRule shows the delete + insert (it said "there is no rule 3"), ufw status numbered agrees', async () => {
    const v4 = async () => (await numbered()).filter((r) => !r.v6);
    const before = await v4();
    expect(before.length).toBeGreaterThanOrEqual(3);
    const third = before[2]!;
    const { number: _n, ...seen } = third;
    const unchanged = await lab.ufw('status', 'numbered');
    const p = await client.call('previewRule', { op: { kind: 'move', number: 3, to: 1, expect: seen } });
    expect(p.commands[0]).toBe('ufw --force delete 3');
    expect(p.commands[1]).toMatch(/^ufw prepend /);
    expect(await lab.ufw('status', 'numbered')).toBe(unchanged);

    await client.call('moveRule', { number: 3, to: 1, expect: seen });
    const moved = await v4();
    expect(moved[0]).toMatchObject({ ...seen, number: 1 });
    expect(moved.slice(1).map((r) => r.port || r.from)).toEqual([before[0]!, before[1]!, ...before.slice(3)].map((r) => r.port || r.from));

    const p2 = await client.call('previewRule', { op: { kind: 'move', number: 1, to: 3, expect: seen } });
    expect(p2.commands).toEqual(['ufw --force delete 1', expect.stringMatching(/^ufw insert 3 /)]);
    await client.call('moveRule', { number: 1, to: 3, expect: seen });
    expect((await v4()).map((r) => ({ ...r }))).toEqual(before);
  });

  it('hostile requests are refused by the real helper and ufw is unchanged', async () => {
    const before = await lab.ufw('status', 'numbered');
    const bad = [
      { op: 'addRule', args: { rule: { action: 'allow', port: '22', proto: 'tcp', comment: "x'; ufw disable; '" } } },
      { op: 'addRule', args: { rule: { action: 'allow', port: '0', proto: 'tcp' } } },
      { op: 'setLogging', args: { level: '--force' } },
      { op: 'deleteRule', args: { number: 1, extra: true } },
      { op: 'reset', args: {} },
    ] as const;
    for (const b of bad) await expect(client.call(b.op as never, b.args as never)).rejects.toMatchObject({ code: expect.stringMatching(/invalid|unknown-op/) });
    expect(await lab.ufw('status', 'numbered')).toBe(before);
  });

  it('a second peer without the secret gets nothing', async () => {
    const answer = await new Promise<string>((resolve) => {
      const s = connect(join(dir, 'helper.sock'));
      let out = '';
      s.on('connect', () => s.write(JSON.stringify({ id: 1, op: 'disable', args: {} }) + '\n'));
      s.on('data', (d) => (out += d));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
    expect(answer).toMatch(/another client is connected|unauthenticated/);
    expect((await client.call('status', {})).enabled).toBe(true);
  });

  it('every change is in the audit log with its argv', async () => {
    // The helper answers a change once it is in force and writes its entry right behind (ops.ts): wait for the last.
    const read = () => readFileSync(join(dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (let i = 0; i < 100 && read().length < 12; i++) await new Promise((r) => setTimeout(r, 50));
    const entries = read();
    expect(entries.map((e) => e.op)).toEqual(['addRule', 'insertRule', 'moveRule', 'insertRule', 'insertRule', 'deleteRule', 'addRule', 'addRule', 'setDefault', 'setLogging', 'moveRule', 'moveRule']);
    expect(entries.every((e) => e.result === 'ok' && e.who === 'uid 0 over socket')).toBe(true);
    // The move: numbers re-read, delete, then the deny re-added at the end of the IPv4 rules (an append).
    expect(entries[2].argv.map((a: string[]) => a.slice(0, 3))).toEqual([['/usr/sbin/ufw', 'status', 'numbered'], ['/usr/sbin/ufw', '--force', 'delete'], ['/usr/sbin/ufw', 'deny', 'in']]);
  });
});
