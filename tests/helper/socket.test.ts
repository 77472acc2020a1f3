import { chmodSync, chownSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { checkSocketDir, secretsEqual, startHelperServer, type HelperServer } from '../../electron/helper/server.ts';
import { HelperClient, KMSG_RESTART_MS } from '../../electron/engine/helperclient/client.ts';
import { firewallPortOf } from '../../electron/app/helper-adapter.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { MAX_LINE_BYTES } from '../../electron/shared/helper-protocol.ts';
import { fakeDeps } from './fakes.ts';

const SECRET = 'a-per-launch-secret-0123456789';
const uid = process.getuid!();

/** Sends raw lines on a fresh connection; resolves with every line the server answered until it closed or went quiet. */
function rawExchange(path: string, lines: string[], quietMs = 150): Promise<unknown[]> {
  return new Promise((resolve) => {
    const s = connect(path);
    const out: unknown[] = [];
    let buf = '';
    let timer: ReturnType<typeof setTimeout>;
    const finish = () => {
      s.destroy();
      resolve(out);
    };
    s.on('connect', () => {
      for (const l of lines) s.write(l + '\n');
      timer = setTimeout(finish, quietMs);
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; ) {
        out.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', () => undefined);
  });
}

describe('socket directory checks', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pcx-sockdir-'));
    chmodSync(dir, 0o700);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a 0700 directory owned by the served uid', () => expect(checkSocketDir(dir, uid)).toBeNull());
  it('refuses group/other access', () => {
    chmodSync(dir, 0o755);
    expect(checkSocketDir(dir, uid)).toMatch(/accessible to other users/);
  });
  it('refuses a directory owned by someone else', () => {
    expect(checkSocketDir(dir, uid + 4242)).toMatch(/owned by uid/);
  });
  it.runIf(uid === 0)('refuses a directory the served user does not own even if root made it 0700', () => {
    chownSync(dir, 0, 0);
    expect(checkSocketDir(dir, 1000)).toMatch(/owned by uid 0/);
  });
  it('refuses symlinks and missing paths', () => {
    const link = join(dir, 'link');
    symlinkSync(dir, link);
    expect(checkSocketDir(link, uid)).toMatch(/symbolic link/);
    expect(checkSocketDir(join(dir, 'nope'), uid)).toMatch(/does not exist/);
  });
  it('the server refuses to start in an unsafe directory', async () => {
    chmodSync(dir, 0o777);
    const { deps } = fakeDeps();
    await expect(startHelperServer({ socketDir: dir, uid, secret: SECRET, dispatcher: createHelperDispatcher(deps) })).rejects.toThrow(/refusing/);
  });
  it('a symlink planted where the socket goes is neither followed nor removed: the server refuses, its target untouched', async () => {
    chmodSync(dir, 0o700);
    const victim = join(tmpdir(), `pcx-victim-${process.pid}`);
    writeFileSync(victim, 'root only\n', { mode: 0o644 });
    try {
      symlinkSync(victim, join(dir, 'helper.sock'));
      const before = statSync(victim);
      const { deps } = fakeDeps();
      await expect(startHelperServer({ socketDir: dir, uid, secret: SECRET, dispatcher: createHelperDispatcher(deps) })).rejects.toThrow();
      const after = statSync(victim);
      expect([after.uid, after.mode & 0o777, readFileSync(victim, 'utf8')]).toEqual([before.uid, 0o644, 'root only\n']);
      expect(lstatSync(join(dir, 'helper.sock')).isSymbolicLink()).toBe(true);
    } finally {
      rmSync(victim, { force: true });
    }
  });
  it.runIf(uid === 0)('a user who swaps the socket for a symlink while the helper starts gets nothing: no file changes owner or mode', async () => {
    // The race a security review won 38 times in 40 when root chmod/chown'ed the socket after
    // binding it: the user's own process replaces helper.sock with a symlink to a root file.
    const USER = 12345;
    const victim = join(tmpdir(), `pcx-race-victim-${process.pid}`);
    const attacker = String.raw`
      const fs = require('node:fs');
      const [dir, victim] = process.argv.slice(1);
      fs.symlinkSync(victim, dir + '/evil');
      const end = Date.now() + 3000;
      while (!fs.existsSync(dir + '/helper.sock') && Date.now() < end) {}
      try { fs.renameSync(dir + '/evil', dir + '/helper.sock'); } catch {}`;
    try {
      for (let round = 0; round < 12; round++) {
        const d = mkdtempSync(join(tmpdir(), 'pcx-race-'));
        chownSync(d, USER, USER);
        chmodSync(d, 0o700);
        writeFileSync(victim, 'root only\n', { mode: 0o644 });
        chownSync(victim, 0, 0);
        const child = spawn(process.execPath, ['-e', attacker, d, victim], { stdio: 'ignore' });
        await new Promise((r) => setTimeout(r, 150)); // the attacker is spinning
        const { deps } = fakeDeps();
        const s = await startHelperServer({ socketDir: d, uid: USER, secret: SECRET, dispatcher: createHelperDispatcher(deps) }).catch(() => null);
        await new Promise<void>((r) => child.on('exit', () => r()));
        await s?.close();
        const st = statSync(victim);
        expect([round, st.uid, st.mode & 0o777]).toEqual([round, 0, 0o644]);
        rmSync(d, { recursive: true, force: true });
      }
    } finally {
      rmSync(victim, { force: true });
    }
  }, 60_000);
  it('secret comparison', () => {
    expect(secretsEqual(SECRET, SECRET)).toBe(true);
    expect(secretsEqual(SECRET, SECRET + 'x')).toBe(false);
    expect(secretsEqual(SECRET, 'b' + SECRET.slice(1))).toBe(false);
  });
});

describe('helper socket server and client', () => {
  let dir: string;
  let server: HelperServer;
  let fake: ReturnType<typeof fakeDeps>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcx-sock-'));
    chmodSync(dir, 0o700);
    fake = fakeDeps();
    server = await startHelperServer({ socketDir: dir, uid, secret: SECRET, dispatcher: createHelperDispatcher(fake.deps) });
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the socket is created 0666 in the 0700 directory of the served uid, and root chmods or chowns nothing', () => {
    // The directory keeps other users out; root changing modes or owners on a path the user can swap
    // (a symlink in place of the socket) handed any file to the user, so it changes none.
    const st = lstatSync(server.socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o666);
    expect(st.uid).toBe(process.getuid!()); // created by the helper, owner unchanged
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
  });

  it('an op before hello is refused and the connection closed; nothing runs', async () => {
    const out = await rawExchange(server.socketPath, [JSON.stringify({ id: 1, op: 'enable', args: {} }), JSON.stringify({ id: 2, op: 'hello', args: { secret: SECRET } })]);
    expect(out).toEqual([{ id: 1, ok: false, error: { code: 'unauthenticated', message: 'say hello with the secret first' } }]);
    expect(fake.calls).toEqual([]);
  });

  it('a wrong secret is refused and the connection closed', async () => {
    const out = await rawExchange(server.socketPath, [JSON.stringify({ id: 1, op: 'hello', args: { secret: 'not-the-secret-at-all' } }), JSON.stringify({ id: 2, op: 'enable', args: {} })]);
    expect(out).toEqual([{ id: 1, ok: false, error: { code: 'unauthenticated', message: 'wrong secret' } }]);
    expect(fake.calls).toEqual([]);
  });

  it('after hello, ops run; invalid ones get typed errors on the same connection', async () => {
    const out = await rawExchange(server.socketPath, [
      JSON.stringify({ id: 1, op: 'hello', args: { secret: SECRET } }),
      JSON.stringify({ id: 2, op: 'ban', args: { ip: '1.2.3.4; rm -rf /', timeoutSec: 5, backend: 'ufw' } }),
      JSON.stringify({ id: 3, op: 'enable', args: {} }),
      'not json',
    ]);
    expect(out[0]).toMatchObject({ id: 1, ok: true });
    expect(out[1]).toMatchObject({ id: 2, ok: false, error: { code: 'invalid' } });
    expect(out[2]).toEqual({ id: 3, ok: true, result: { ran: ['ufw --force enable'] } });
    expect(out[3]).toMatchObject({ id: null, ok: false, error: { code: 'invalid' } });
    expect(fake.calls).toEqual([{ bin: 'ufw', args: ['--force', 'enable'] }]);
  });

  it('an oversized line is refused and the peer dropped', async () => {
    const big = JSON.stringify({ id: 1, op: 'hello', args: { secret: SECRET } }) + '\n' + 'x'.repeat(MAX_LINE_BYTES + 10);
    const out = await rawExchange(server.socketPath, [big]);
    expect(out.at(-1)).toMatchObject({ ok: false, error: { code: 'too-large' } });
    expect(fake.calls).toEqual([]);
  });

  it('a connection that never says hello is dropped, and frees the one client slot', async () => {
    await server.close();
    server = await startHelperServer({ socketDir: dir, uid, secret: SECRET, dispatcher: createHelperDispatcher(fake.deps), helloTimeoutMs: 200 });
    const silent = connect(server.socketPath);
    const closed = new Promise<string>((resolve) => {
      let got = '';
      silent.on('data', (d) => (got += String(d)));
      silent.on('close', () => resolve(got));
    });
    expect(JSON.parse((await closed).trim())).toEqual({ id: null, ok: false, error: { code: 'unauthenticated', message: 'no hello within 0.2 s' } });
    const client = new HelperClient({ socketPath: server.socketPath, secret: SECRET });
    await client.connect(); // the slot is free again
    client.close();
  });

  it('one client at a time', async () => {
    const client = new HelperClient({ socketPath: server.socketPath, secret: SECRET });
    await client.connect();
    const second = await rawExchange(server.socketPath, [JSON.stringify({ id: 1, op: 'hello', args: { secret: SECRET } })]);
    expect(second).toEqual([{ id: null, ok: false, error: { code: 'unavailable', message: 'another client is connected' } }]);
    client.close();
  });

  it('HelperClient: typed calls, typed errors, a wrong secret is refused', async () => {
    const client = new HelperClient({ socketPath: server.socketPath, secret: SECRET });
    const status = await client.call('status', {});
    expect(status.all).toHaveLength(31);
    await expect(client.call('setLogging', { level: 'loud' as never })).rejects.toMatchObject({ code: 'invalid' });
    client.close();
    await new Promise((r) => setTimeout(r, 50)); // the server sees the first client go
    const bad = new HelperClient({ socketPath: server.socketPath, secret: 'wrong-secret-wrong-secret' });
    await expect(bad.connect()).rejects.toMatchObject({ code: 'unauthenticated' });
    bad.close();
  });

  it('HelperClient reconnects after the helper restarts and resumes kmsg after the last seq it got', async () => {
    const starts: unknown[] = [];
    let emit: ((r: string[]) => void) | null = null;
    const mkDispatcher = () => {
      const f = fakeDeps();
      f.deps.openKmsg = (start, onRecords) => {
        starts.push(start);
        emit = onRecords;
        return { stop: () => undefined };
      };
      return createHelperDispatcher(f.deps);
    };
    await server.close();
    server = await startHelperServer({ socketDir: dir, uid, secret: SECRET, dispatcher: mkDispatcher() });
    const client = new HelperClient({ socketPath: server.socketPath, secret: SECRET, maxBackoffMs: 50 });
    const got: string[] = [];
    await client.streamKmsg(100, (r) => got.push(...r));
    emit!(['4,101,1,-;a', '4,102,2,-;b']);
    await new Promise((r) => setTimeout(r, 30));
    await server.close();
    server = await startHelperServer({ socketDir: dir, uid, secret: SECRET, dispatcher: mkDispatcher() });
    for (let i = 0; i < 100 && starts.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(starts).toEqual([100, 102]);
    expect(got).toEqual(['4,101,1,-;a', '4,102,2,-;b']);
    client.close();
  });
});

describe('a failed kernel-log stream', () => {
  it('is reported to the subscriber and asked for again, resumed after the last record delivered', async () => {
    vi.useFakeTimers();
    try {
      const f = fakeDeps();
      const starts: (number | null | 'now')[] = [];
      let emit: ((r: string[]) => void) | undefined;
      let fail: ((m: string) => void) | undefined;
      f.deps.openKmsg = (start, onRecords, onError) => {
        starts.push(start);
        emit = onRecords;
        fail = onError;
        return { stop() {} };
      };
      const client = new HelperClient({ inProcess: createHelperDispatcher(f.deps) });
      const got: string[] = [];
      const errors: (string | null)[] = [];
      await client.streamKmsg(100, (r) => got.push(...r), (m) => errors.push(m));
      expect(errors).toEqual([null]); // the stream runs
      emit!(['4,101,1,-;a']);
      fail!('kmsg: EIO: i/o error, read');
      expect(errors).toEqual([null, 'kmsg: EIO: i/o error, read']);
      // Before the restart nothing asks again; then once, after record 101.
      await vi.advanceTimersByTimeAsync(KMSG_RESTART_MS - 1);
      expect(starts).toEqual([100]);
      await vi.advanceTimersByTimeAsync(1);
      expect(starts).toEqual([100, 101]);
      // The restart took: said at once (a quiet host may send no record for hours).
      expect(errors).toEqual([null, 'kmsg: EIO: i/o error, read', null]);
      emit!(['4,102,2,-;b']);
      expect(got).toEqual(['4,101,1,-;a', '4,102,2,-;b']);
      client.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a kernel-log stream that fails as it starts', () => {
  it('is not said to run: the failure, arriving before the answer, stands', async () => {
    const f = fakeDeps();
    f.deps.openKmsg = (_start, _onRecords, onError) => {
      onError('kmsg: EACCES: permission denied, read');
      return { stop() {} };
    };
    const client = new HelperClient({ inProcess: createHelperDispatcher(f.deps) });
    const errors: (string | null)[] = [];
    await client.streamKmsg(100, () => undefined, (m) => errors.push(m));
    expect(errors).toEqual(['kmsg: EACCES: permission denied, read']);
    client.close();
  });
});

describe('in-process client and the FirewallPort adapter', () => {
  const portOver = (fake: ReturnType<typeof fakeDeps>, clock: ManualClock) => {
    const client = new HelperClient({ inProcess: createHelperDispatcher(fake.deps) });
    return firewallPortOf((op, args) => client.call(op, args), 'set', () => clock.now());
  };

  it('converts absolute ban ends to timeouts and back, and the helper refuses what is not an address', async () => {
    const fake = fakeDeps();
    const clock = new ManualClock(1_000_000);
    const fw = portOver(fake, clock);
    await fw.ban('203.0.113.9', 1_000_000 + 90_500, 'scan syn');
    await fw.ban('203.0.113.10', null, 'manual');
    expect(fake.fwCalls).toEqual(['set.ban 203.0.113.9 91 scan syn', 'set.ban 203.0.113.10 null manual']);
    expect(await fw.listBans()).toEqual([{ ip: '203.0.113.7', until: 1_000_000 + 60_000 }]);
    await fw.cutConnections('203.0.113.9');
    expect(fake.fwCalls.at(-1)).toBe('cut 203.0.113.9');
    await expect(fw.ban('not an ip', null, 'x')).rejects.toMatchObject({ code: 'invalid' });
  });

  it("banMany answers with the bans the backend skipped, and why, over every request of the batch", async () => {
    const fake = fakeDeps();
    const inner = fake.deps.firewall.createBanBackend;
    // The ufw backend skips a source with a rule of the user's own (ufw-batch.ts); this fake skips every .13.
    fake.deps.firewall.createBanBackend = (kind, exec, opts) => ({
      ...inner(kind, exec, opts),
      banMany: async (bans) => bans.filter((b) => b.ip.endsWith('.13')).map((b) => ({ ip: b.ip, why: 'users-rule' as const })),
    });
    const clock = new ManualClock(1_000_000);
    const fw = portOver(fake, clock);
    // 1,200 bans: three requests of MAX_BATCH at most; the skipped of each come back together.
    const bans = Array.from({ length: 1200 }, (_, i) => ({ ip: `10.${Math.floor(i / 250)}.${i % 250}.13`.replace(/\.13$/, i % 600 === 0 ? '.13' : '.14'), until: null, comment: 'manual' }));
    const skipped = await fw.banMany!(bans);
    expect(skipped).toEqual([
      { ip: '10.0.0.13', why: 'users-rule' },
      { ip: '10.2.100.13', why: 'users-rule' },
    ]);
  });
});
