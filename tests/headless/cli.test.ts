import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiHandlers } from '../../electron/shared/api.ts';
import { ControlClient, controlSocketPath, serveControlSocket } from '../../electron/headless/control.ts';
import { parseIpAddr, parseIpRouteGateways } from '../../electron/app/hostinfo.ts';
import { callViaDispatcher, firewallPortOf } from '../../electron/app/helper-adapter.ts';
import { FileSettingsRepo, readInboundSessions } from '../../electron/app/adapters.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { FailingFirewall, FakeFirewall, Journal } from './fakes.ts';
import { BOOT, buildRealService, kmsg } from './real-service.ts';
import { EXIT_STORE_UNOPENABLE } from '../../electron/headless/runner.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = existsSync(path.join(ROOT, 'node_modules/.bin/node')) ? path.join(ROOT, 'node_modules/.bin/node') : process.execPath;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [path.join(ROOT, 'bin/portcullis.js'), ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'pc-cli-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('control socket', () => {
  const handlers = {
    getSettings: async () => ({ ok: 'settings' }),
    unban: async ({ ip }: { ip: string }) => {
      if (ip === '192.0.2.1') return { ok: true };
      throw new Error('not banned');
    },
  } as unknown as ApiHandlers;

  it('serves the API to a client, root-only (dir 0700, socket 0600), and refuses a second instance', async () => {
    const dir = path.join(tmp(), 'state');
    const server = await serveControlSocket(dir, handlers);
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(server.path).mode & 0o777).toBe(0o600);
      const c = new ControlClient(server.path);
      await expect(c.call('unban', { ip: '192.0.2.1' })).resolves.toEqual({ ok: true });
      await expect(c.call('unban', { ip: '192.0.2.9' })).rejects.toThrow('not banned');
      await expect(c.call('unban', { ip: 'nope' } as never)).rejects.toMatchObject({ code: 'invalid' });
      c.close();
      await expect(serveControlSocket(dir, handlers)).rejects.toThrow(/another Portcullis instance/);
    } finally {
      await server.close();
    }
  });

  it('replaces a stale socket left by a killed instance', async () => {
    const dir = path.join(tmp(), 'state');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(controlSocketPath(dir), ''); // not a live socket
    const server = await serveControlSocket(dir, handlers);
    await server.close();
  });

  it('a client without an instance gets a clear message', async () => {
    const c = new ControlClient(path.join(tmp(), 'control.sock'));
    await expect(c.call('getState', {})).rejects.toThrow(/no running Portcullis instance/);
    c.close();
  });
});

describe('CLI arguments', () => {
  it('refuses bad options with the reason and exit code 2', async () => {
    expect(await cli(['run', '--backend', 'iptables'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--backend is ufw or set') });
    expect(await cli(['run', '--source', 'file:relative.log'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--source is auto') });
    expect(await cli(['run', '--bogus'])).toMatchObject({ code: 2 });
    expect(await cli(['serve', '--port', '70000'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--port') });
    expect(await cli(['ban', '1.2.3.4;rm'])).toMatchObject({ code: 2, stderr: expect.stringContaining('not an IPv4 or IPv6 address') });
    expect(await cli(['ban', '192.0.2.1', '--duration', '-5'])).toMatchObject({ code: 2 });
    expect(await cli(['unban'])).toMatchObject({ code: 2 });
  });

  it('ban --from FILE: the whole list in banMany calls; a bad line refuses the file and sends nothing', async () => {
    const state = tmp();
    const calls: unknown[] = [];
    const handlers = {
      banMany: async (p: { ips: string[] }) => {
        calls.push(p);
        return { banned: p.ips.length - 1, refused: [{ ip: p.ips[0], reason: 'whitelisted' }] };
      },
    } as unknown as ApiHandlers;
    const server = await serveControlSocket(state, handlers);
    try {
      const list = path.join(state, 'list.txt');
      writeFileSync(list, '# blocklist\n192.0.2.1\n2001:DB8::7 # v6\n\n198.51.100.3\n');
      const ok = await cli(['ban', '--from', list, '--duration', '2h', '--state-dir', state]);
      expect(calls).toEqual([{ ips: ['192.0.2.1', '2001:db8::7', '198.51.100.3'], durationSec: 7200 }]);
      expect(ok.stdout).toContain('banned 2 of 3 addresses');
      expect(ok.stdout).toContain('not banned: 192.0.2.1: whitelisted');
      expect(ok.code).toBe(1); // something was refused
      writeFileSync(list, '192.0.2.1\n192.0.2.999\n');
      const bad = await cli(['ban', '--from', list, '--state-dir', state]);
      expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('line 2: "192.0.2.999" is not an IPv4 or IPv6 address') });
      expect(await cli(['ban', '192.0.2.1', '--from', list, '--state-dir', state])).toMatchObject({ code: 2 });
      expect(calls).toHaveLength(1);
    } finally {
      await server.close();
    }
  }, 90_000); // three CLI starts

  it('ban --duration beyond the bound of every ban is refused with the reason before any instance is asked, one address or a list', async () => {
    // No instance runs here: a CLI that sent the ban would fail with exit 1 (no running instance), not 2.
    const state = tmp();
    const list = path.join(state, 'list.txt');
    writeFileSync(list, '192.0.2.1\n');
    const bulk = await cli(['ban', '--from', list, '--duration', '115740741d', '--state-dir', state]);
    expect(bulk).toMatchObject({ code: 2, stderr: expect.stringContaining('--duration 115740741d: a ban lasts at most 3,650 days') });
    const one = await cli(['ban', '192.0.2.1', '--duration', '3651d', '--state-dir', state]);
    expect(one).toMatchObject({ code: 2, stderr: expect.stringContaining('--duration 3651d: a ban lasts at most 3,650 days') });
  }, 60_000);

  it('ban and unban exit 1 with the firewall\'s reason when its call fails (they printed success), and the failed unban leaves the ban active', async () => {
    const state = tmp();
    const fw = new FailingFirewall(new Journal());
    const t = buildRealService({ dbFile: path.join(tmp(), 'db.sqlite'), clock: new ManualClock(BOOT + 10_000), firewall: fw });
    await t.service.start();
    const server = await serveControlSocket(state, t.service.handlers());
    try {
      fw.failBan = true;
      const ban = await cli(['ban', '198.51.100.8', '--state-dir', state]);
      expect(ban).toMatchObject({ code: 1, stderr: expect.stringContaining('198.51.100.8 is not banned in the firewall: ERROR: Could not update running firewall') });
      expect(ban.stdout).toBe('');
      fw.failBan = false;
      await t.call('ban', { ip: '198.51.100.9' });
      fw.failUnban = true;
      const unban = await cli(['unban', '198.51.100.9', '--state-dir', state]);
      expect(unban).toMatchObject({ code: 1, stderr: expect.stringContaining('the firewall did not lift the ban of 198.51.100.9: ERROR: Could not delete rule') });
      expect(fw.bans.has('198.51.100.9')).toBe(true);
      expect(t.raw.activeBans(t.clock.now()).map((b) => b.ip)).toContain('198.51.100.9');
    } finally {
      await server.close();
      await t.service.stop();
    }
  }, 60_000);

  it('status names the ban backend in use, and a switched ban.backend only as what the next start brings', async () => {
    const state = tmp();
    const t = buildRealService({ dbFile: path.join(tmp(), 'db.sqlite'), clock: new ManualClock(BOOT + 10_000), firewall: new FakeFirewall(new Journal()) });
    await t.service.start();
    const server = await serveControlSocket(state, t.service.handlers());
    try {
      await t.call('updateSettings', { patch: { ban: { backend: 'ufw' } } });
      const r = await cli(['status', '--state-dir', state]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^backend {6}set \(ufw after the next start: ban\.backend was changed\)$/m);
      const json = await cli(['status', '--json', '--state-dir', state]);
      expect(JSON.parse(json.stdout)).toMatchObject({ backend: 'set', backendAfterRestart: 'ufw' });
    } finally {
      await server.close();
      await t.service.stop();
    }
  }, 60_000);

  it('status says when the database cannot be written: since when, why, what waits and what to do — and that scanners are still banned', async () => {
    const state = tmp();
    const dbFile = path.join(tmp(), 'db.sqlite');
    const clock = new ManualClock(BOOT + 10_000);
    const t = buildRealService({ dbFile, clock, firewall: new FakeFirewall(new Journal()) });
    await t.service.start();
    const server = await serveControlSocket(state, t.service.handlers());
    try {
      const ok = await cli(['status', '--state-dir', state]);
      expect(ok.stdout).toMatch(/^database {5}written$/m);
      // A full disk, as SQLite's page limit gives it (store-full.test.ts).
      const db = (t.raw as unknown as { db: DatabaseSync }).db;
      const { page_count } = db.prepare('PRAGMA page_count').get() as { page_count: number };
      db.exec(`PRAGMA max_page_count = ${page_count}`);
      t.source.push(...Array.from({ length: 50 }, (_, i) => kmsg(`198.18.0.${i}`, 1000 + i, 5000 + i)));
      await t.service.tick();
      const r = await cli(['status', '--state-dir', state]);
      expect(r.code).toBe(0);
      const since = new Date(clock.now()).toISOString().replace('.000Z', 'Z');
      expect(r.stdout).toContain(
        `database     CANNOT BE WRITTEN since ${since}: database or disk is full — scanners are still banned, but the history is not saved, 50 blocked packets wait in memory. Free disk space or inodes on the file system of ${dbFile} (df -h ${dbFile}; df -i ${dbFile}): it writes again by itself once there is room\n`,
      );
      const json = await cli(['status', '--json', '--state-dir', state]);
      expect(JSON.parse(json.stdout).store).toEqual({ ok: false, since: clock.now(), error: 'database or disk is full', path: dbFile, pendingPackets: 50 });
      db.exec('PRAGMA max_page_count = 1073741823');
    } finally {
      await server.close();
      await t.service.stop();
    }
  }, 60_000);

  it('bans --history says when and why each ban ended, a ban the firewall refused for the user\'s rule included', async () => {
    const state = tmp();
    const reason = { kind: 'scan' as const, scanType: 'SYN' as const, ports: [21, 23, 25], hits: 5, firstSeen: 0, lastSeen: 0 };
    const at = Date.UTC(2026, 11, 6, 12, 0, 0);
    const handlers = {
      getBans: async () => ({
        active: [],
        history: [
          { ip: '198.51.100.7', at, until: at + 3_600_000, strikes: 1, reason, ended: { at, why: 'refused-users-rule' } },
          { ip: '203.0.113.5', at, until: at + 3_600_000, strikes: 1, reason, ended: { at: at + 60_000, why: 'manual' } },
        ],
      }),
    } as unknown as ApiHandlers;
    const server = await serveControlSocket(state, handlers);
    try {
      const r = await cli(['bans', '--history', '--state-dir', state]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('198.51.100.7');
      expect(r.stdout).toMatch(/198\.51\.100\.7 .*; ended 2026-12-06T12:00:00Z \(not banned: the firewall refused it, a rule of yours for this source decides its traffic\)/);
      expect(r.stdout).toMatch(/203\.0\.113\.5 .*; ended 2026-12-06T12:01:00Z \(lifted\)/);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('status without a running instance says so (exit 1)', async () => {
    const r = await cli(['status', '--state-dir', tmp()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no running Portcullis instance/);
  });

  it('refuses to start with an invalid config, naming the field', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'c.json'), JSON.stringify({ ban: { bantimeSec: 0 } }));
    const r = await cli(['run', '--dry-run', '--source', 'file:/dev/null', '--config', path.join(d, 'c.json'), '--state-dir', path.join(d, 's')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ban.bantimeSec');
  });

  it('run --dry-run next to a live instance of the same state directory is refused before it opens the database or reads the log', async () => {
    const d = tmp();
    const state = path.join(d, 'state');
    const live = await serveControlSocket(state, {} as ApiHandlers); // the service, running
    try {
      // A scan the dry run would detect (and, before, store as a ban in the service's database).
      const scan = [20, 21, 22, 23, 24].map(
        (p, i) => `Dec  7 08:17:3${i} myhost kernel: [41012.178430] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=203.0.113.90 DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=49 ID=${1000 + i} PROTO=TCP SPT=41234 DPT=${p} WINDOW=1024 RES=0x00 SYN URGP=0`,
      );
      writeFileSync(path.join(d, 'scan.log'), scan.join('\n') + '\n');
      writeFileSync(path.join(d, 'c.json'), JSON.stringify({ detection: { requireKernelTrust: false } }));
      const r = await cli(['run', '--dry-run', '--source', `file:${path.join(d, 'scan.log')}`, '--from-start', '--config', path.join(d, 'c.json'), '--state-dir', state]);
      expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('another Portcullis instance is running') });
      expect(r.stdout).not.toContain('BAN');
      expect(existsSync(path.join(state, 'portcullis.db'))).toBe(false);
      // A state directory of its own, but --db naming the live instance's database: refused too.
      const viaDb = await cli(['run', '--dry-run', '--source', `file:${path.join(d, 'scan.log')}`, '--from-start', '--config', path.join(d, 'c.json'), '--state-dir', path.join(d, 'other'), '--db', path.join(state, 'portcullis.db')]);
      expect(viaDb).toMatchObject({ code: 1, stderr: expect.stringContaining('another Portcullis instance is running') });
      expect(viaDb.stdout).not.toContain('BAN');
      expect(existsSync(path.join(state, 'portcullis.db'))).toBe(false);
    } finally {
      await live.close();
    }
  }, 30_000);

  it("a state directory's own start is refused while a --db run of another directory already writes its database", async () => {
    const d = tmp();
    const state = path.join(d, 'state');
    writeFileSync(path.join(d, 'scan.log'), '');
    writeFileSync(path.join(d, 'c.json'), '{}');
    const db = path.join(state, 'portcullis.db');
    mkdirSync(state, { mode: 0o700 });
    // The --db run first: it answers on ITS state directory's socket, not on `state`'s.
    const first = spawn(NODE, [path.join(ROOT, 'bin/portcullis.js'), 'run', '--dry-run', '--source', `file:${path.join(d, 'scan.log')}`, '--config', path.join(d, 'c.json'), '--state-dir', path.join(d, 'other'), '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        first.stdout!.on('data', (b: Buffer) => (out += b.toString()).includes('protecting') && resolve());
        first.once('exit', (code) => reject(new Error(`the --db run exited ${code}`)));
      });
      const second = await cli(['run', '--dry-run', '--source', `file:${path.join(d, 'scan.log')}`, '--config', path.join(d, 'c.json'), '--state-dir', state]);
      expect(second).toMatchObject({ code: 1, stderr: expect.stringContaining(`(portcullis run --dry-run, pid ${first.pid}) is writing the database ${db}`) });
      expect(second.stdout).not.toContain('protecting');
    } finally {
      first.kill('SIGTERM');
      await new Promise((r) => (first.exitCode === null ? first.once('exit', r) : r(null)));
    }
    // Stopped, it let go of the database's lock.
    expect(existsSync(`${db}.lock`)).toBe(false);
  }, 30_000);

  it("run from a syslog file keeps every source it saw (a file's local-time stamps go back an hour when DST ends: forgetting quiet sources could change a decision)", async () => {
    const d = tmp();
    const state = path.join(d, 'state');
    // Two hours of single probes, one every 36 s from a new source: with forgetting, only the last
    // ~11-21 minutes' sources (20-35) would still be watched.
    const stamp = (s: number) => `Dec  7 ${String(8 + Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    const lines = Array.from({ length: 200 }, (_, i) => `${stamp(i * 36)} myhost kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=198.51.100.${i + 1} DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=49 ID=${1000 + i} PROTO=TCP SPT=41234 DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0`);
    writeFileSync(path.join(d, 'day.log'), lines.join('\n') + '\n');
    writeFileSync(path.join(d, 'c.json'), JSON.stringify({ detection: { requireKernelTrust: false } }));
    const run = spawn(NODE, [path.join(ROOT, 'bin/portcullis.js'), 'run', '--dry-run', '--source', `file:${path.join(d, 'day.log')}`, '--from-start', '--config', path.join(d, 'c.json'), '--state-dir', state], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        run.stdout!.on('data', (b: Buffer) => (out += b.toString()).includes('protecting') && resolve());
        run.once('exit', (code) => reject(new Error(`the run exited ${code}`)));
      });
      let watched = -1;
      for (let i = 0; i < 100 && watched < 200; i++) {
        const r = await cli(['status', '--json', '--state-dir', state]);
        if (r.code === 0) watched = (JSON.parse(r.stdout) as { counts: { scanners: number } }).counts.scanners;
        if (watched < 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(watched).toBe(200);
    } finally {
      run.kill('SIGTERM');
      await new Promise((r) => (run.exitCode === null ? run.once('exit', r) : r(null)));
    }
  }, 60_000);

  it('a database that cannot be opened ends the start with its own exit code (the unit does not restart it) and names the file', async () => {
    const d = tmp();
    const db = path.join(d, 'broken.db');
    writeFileSync(db, 'hello this is not sqlite'.repeat(200));
    writeFileSync(path.join(d, 'empty.log'), '');
    writeFileSync(path.join(d, 'c.json'), '{}');
    const r = await cli(['run', '--dry-run', '--source', `file:${path.join(d, 'empty.log')}`, '--from-start', '--config', path.join(d, 'c.json'), '--state-dir', path.join(d, 'state'), '--db', db]);
    expect(r.code).toBe(EXIT_STORE_UNOPENABLE);
    expect(r.stderr).toContain(`portcullis run: cannot open the database ${db}: file is not a database. If the file is damaged or not Portcullis's, move it aside`);
  }, 30_000);

  it('help lists every command', async () => {
    const r = await cli(['--help']);
    for (const c of ['run', 'serve', 'status', 'bans', 'ban', 'unban', 'doctor', 'replay']) expect(r.stdout).toContain(`  ${c}`);
  });
});

describe('host information', () => {
  it('reads addresses, interfaces and default gateways from ip -j output', () => {
    const addr = JSON.stringify([
      { ifname: 'lo', link_type: 'loopback', address: '00:00:00:00:00:00', addr_info: [{ local: '127.0.0.1' }, { local: '::1' }] },
      { ifname: 'eth0', link_type: 'ether', address: '52:54:00:AB:cd:01', addr_info: [{ local: '192.0.2.2' }, { local: 'fd00:0:0::2' }] },
      { ifname: 'wg0', link_type: 'none', addr_info: [{ local: '10.8.0.1' }] },
      { ifname: 'odd0', link_type: 'ether', address: '01:00:5e:00:00:01', addr_info: [] },
    ]);
    // Ethernet addresses only for Ethernet links with a unicast address, in the kernel's lower case.
    expect(parseIpAddr(addr)).toEqual({
      addresses: ['127.0.0.1', '::1', '192.0.2.2', 'fd00::2', '10.8.0.1'],
      interfaces: ['lo', 'eth0', 'wg0', 'odd0'],
      macs: { eth0: '52:54:00:ab:cd:01' },
    });
    expect(parseIpAddr('not json')).toEqual({ addresses: [], interfaces: [], macs: {} });
    const routes = JSON.stringify([{ dst: 'default', gateway: '192.0.2.1' }, { dst: '192.0.2.0/24' }, { dst: 'default', nexthops: [{ gateway: 'fe80::1' }] }]);
    expect(parseIpRouteGateways(routes)).toEqual(['192.0.2.1', 'fe80::1']);
  });

  it('finds established inbound sessions in /proc/net/tcp format', () => {
    const d = tmp();
    writeFileSync(
      path.join(d, 'tcp'),
      [
        '  sl  local_address rem_address   st tx_queue rx_queue',
        '   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0',
        '   1: 0202000A:0016 3200020A:C350 01 00000000:00000000 00:00000000 00000000     0',
        '   2: 0202000A:D000 0100000A:0050 01 00000000:00000000 00:00000000 00000000     0',
      ].join('\n'),
    );
    expect(readInboundSessions(d)).toEqual([{ localPort: 22, remote: '10.2.0.50' }]);
  });
});

describe('helper adapter', () => {
  it('turns ban end times into timeouts (rounded up) and back, and surfaces helper errors', async () => {
    const calls: unknown[] = [];
    const handle = async (req: unknown) => {
      calls.push(req);
      const r = req as { id: number; op: string };
      if (r.op === 'listBans') return { id: r.id, ok: true, result: { bans: [{ ip: '192.0.2.9', expiresInSec: 10 }, { ip: '192.0.2.8', expiresInSec: null }] } };
      if (r.op === 'unban') return { id: r.id, ok: false, error: { code: 'failed', message: 'ufw said no' } };
      return { id: r.id, ok: true, result: { ok: true } };
    };
    const fw = firewallPortOf(callViaDispatcher(handle), 'set', () => 1_000_000);
    await fw.ban('192.0.2.9', 1_000_000 + 1500, 'scan SYN');
    expect(calls[0]).toMatchObject({ op: 'ban', args: { ip: '192.0.2.9', timeoutSec: 2, backend: 'set', comment: 'scan SYN' } });
    await fw.ban('192.0.2.9', null, 'manual');
    expect(calls[1]).toMatchObject({ args: { timeoutSec: null } });
    expect(await fw.listBans()).toEqual([
      { ip: '192.0.2.9', until: 1_010_000 },
      { ip: '192.0.2.8', until: null },
    ]);
    await expect(fw.unban('192.0.2.9')).rejects.toThrow(/ufw said no/);
  });
});

describe('settings file', () => {
  it('saves atomically and refuses unreadable JSON with the file name', () => {
    const d = tmp();
    const f = path.join(d, 'c.json');
    const repo = new FileSettingsRepo(f);
    expect(repo.load()).toBeUndefined();
    writeFileSync(f, '{ nope');
    expect(() => repo.load()).toThrow(/c\.json is not valid JSON/);
  });
});
