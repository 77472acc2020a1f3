import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  cleanupHelperSession,
  DECLINED_REASON,
  HelperSupervisor,
  keeperCommand,
  pkexecLauncher,
  prepareHelperSession,
  removeStaleSessions,
  sudoPromptLauncher,
  type HelperLink,
  type HelperRunEnd,
  type HelperSession,
  type HelperStatus,
} from '../../electron/main/elevation.ts';

const SESSION: HelperSession = { socketDir: '/run/user/1000/portcullis-abc', secret: 'x'.repeat(64), uid: 1000 };

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A fake helper world: the root side can end, connections can drop, connect can fail. */
function world(opts: { launchThrows?: string; firstConnectMaxBackoffMs?: number } = {}) {
  const runs: { end: ReturnType<typeof deferred<HelperRunEnd>> }[] = [];
  const links: (HelperLink & { drop(): void; closedByUs: boolean })[] = [];
  let connectable = true;
  const statuses: HelperStatus[] = [];
  const sleeps: number[] = [];
  const cleanups: HelperSession[] = [];
  const sup = new HelperSupervisor<HelperLink>({
    launcher: {
      launch: () => {
        if (opts.launchThrows) throw new Error(opts.launchThrows);
        const end = deferred<HelperRunEnd>();
        runs.push({ end });
        return { ended: end.promise };
      },
    },
    connect: async () => {
      if (!connectable) throw new Error('ENOENT helper.sock');
      const closed = deferred<void>();
      const link = { closed: closed.promise, closedByUs: false, close: () => { link.closedByUs = true; closed.resolve(); }, drop: () => closed.resolve() };
      links.push(link);
      return link;
    },
    prepare: async () => SESSION,
    cleanup: async (s) => void cleanups.push(s),
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((r) => setImmediate(r));
    },
    onChange: (s) => statuses.push(s),
    initialBackoffMs: 100,
    maxBackoffMs: 1000,
    ...(opts.firstConnectMaxBackoffMs !== undefined ? { firstConnectMaxBackoffMs: opts.firstConnectMaxBackoffMs } : {}),
  });
  return {
    sup, runs, links, statuses, sleeps, cleanups,
    setConnectable: (v: boolean) => (connectable = v),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 5));
async function until(cond: () => boolean) {
  for (let i = 0; i < 500 && !cond(); i++) await settle();
  expect(cond()).toBe(true);
}

describe('helper supervisor', () => {
  it('starts the helper once and connects; a second start() prompts no more', async () => {
    const w = world();
    void w.sup.start();
    await until(() => w.sup.status().connected);
    void w.sup.start();
    await settle();
    expect(w.sup.launchCount).toBe(1);
    expect(w.statuses.map((s) => s.phase)).toEqual(['prompting', 'connected']);
  });

  it('declined prompt: read-only with the reason, no more prompts, no connection', async () => {
    const w = world();
    w.setConnectable(false);
    const done = w.sup.start();
    await until(() => w.sleeps.length >= 2);
    w.runs[0]!.end.resolve({ declined: true, message: 'User did not grant permission.' });
    await done;
    expect(w.sup.status()).toEqual({ phase: 'read-only', connected: false, readOnlyReason: DECLINED_REASON });
    expect(w.sup.link()).toBeNull();
    expect(w.sup.launchCount).toBe(1);
  });

  it('a launch that cannot even start ends read-only with the reason, not "waiting for the password" for ever', async () => {
    const w = world({ launchThrows: "the path /home/o'neil/… cannot be quoted for the launcher" });
    await w.sup.start();
    expect(w.sup.status()).toEqual({ phase: 'read-only', connected: false, readOnlyReason: "the root helper could not be started: the path /home/o'neil/… cannot be quoted for the launcher" });
    expect(w.statuses.map((s) => s.phase)).toEqual(['prompting', 'read-only']);
  });

  it('a dropped connection (helper restarted by the keeper) reconnects with backoff, without a new prompt', async () => {
    const w = world();
    void w.sup.start();
    await until(() => w.sup.status().connected);
    w.setConnectable(false);
    w.links[0]!.drop();
    await until(() => w.sleeps.length >= 5);
    expect(w.sup.status().phase).toBe('reconnecting');
    expect(w.sup.status().readOnlyReason).toMatch(/reconnecting/);
    w.setConnectable(true);
    await until(() => w.sup.status().connected);
    expect(w.links).toHaveLength(2);
    expect(w.sup.link()).toBe(w.links[1]);
    expect(w.sup.launchCount).toBe(1);
    // Exponential backoff, capped.
    expect(w.sleeps.slice(0, 5)).toEqual([100, 200, 400, 800, 1000]);
  });

  it('until the launched helper is first reached, tries are at most firstConnectMaxBackoffMs apart (its start may take seconds)', async () => {
    const w = world({ firstConnectMaxBackoffMs: 300 });
    w.setConnectable(false);
    void w.sup.start();
    await until(() => w.sleeps.length >= 5);
    expect(w.sleeps.slice(0, 5)).toEqual([100, 200, 300, 300, 300]);
    w.setConnectable(true);
    await until(() => w.sup.status().connected);
  });

  it('the root side giving up: read-only with its message; retry() prompts again and reconnects', async () => {
    const w = world();
    void w.sup.start();
    await until(() => w.sup.status().connected);
    w.runs[0]!.end.resolve({ declined: false, message: 'the helper failed 5 times in a row' });
    await until(() => w.sup.status().phase === 'read-only');
    expect(w.sup.status().readOnlyReason).toMatch(/the helper failed 5 times in a row/);
    expect(w.links[0]!.closedByUs).toBe(true);
    expect(w.sup.link()).toBeNull();
    await settle();
    expect(w.sup.launchCount).toBe(1); // no prompt on its own
    void w.sup.retry();
    await until(() => w.sup.status().connected);
    expect(w.sup.launchCount).toBe(2);
  });

  it("retry() answers with the attempt's outcome: once connected (the session goes on), or read-only when the prompt is declined", async () => {
    const w = world();
    void w.sup.start();
    await until(() => w.sup.status().connected);
    w.runs[0]!.end.resolve({ declined: false, message: 'stopped' });
    await until(() => w.sup.status().phase === 'read-only');
    // The Doctor's "Connect helper" fix awaits this: it waited for the whole session before, for ever.
    let answered = false;
    const connected = w.sup.retry().then(() => (answered = true));
    await until(() => w.sup.status().connected);
    await connected;
    expect(answered).toBe(true);
    expect(w.links.at(-1)!.closedByUs).toBe(false); // the session is still running
    // A connected helper: retry() answers at once, without a prompt.
    await w.sup.retry();
    expect(w.sup.launchCount).toBe(2);
    // Declined: read-only is the outcome (the helper never comes up to be reached).
    w.runs[1]!.end.resolve({ declined: false, message: 'stopped again' });
    await until(() => w.sup.status().phase === 'read-only');
    w.setConnectable(false);
    const declined = w.sup.retry();
    await until(() => w.runs.length === 3);
    w.runs[2]!.end.resolve({ declined: true, message: 'dismissed' });
    await declined;
    expect(w.sup.status().phase).toBe('read-only');
  });

  it('retry() while the helper is still running only reconnects', async () => {
    const w = world();
    void w.sup.start();
    await until(() => w.sup.status().connected);
    void w.sup.retry();
    await settle();
    expect(w.sup.launchCount).toBe(1);
  });

  it('stop() closes the link and removes the session directory (the keeper then stops the helper)', async () => {
    const w = world();
    void w.sup.start();
    await until(() => w.sup.status().connected);
    await w.sup.stop();
    expect(w.links[0]!.closedByUs).toBe(true);
    expect(w.cleanups).toEqual([SESSION]);
    expect(w.sup.status().phase).toBe('stopped');
  });
});

describe('elevated command line', () => {
  const paths = { keeper: '/opt/Portcullis/resources/helper/portcullis-helper', node: '/opt/Portcullis/portcullis', entry: '/opt/Portcullis/resources/helper/helper.mjs' };

  it('quotes every path and carries no secret', () => {
    const cmd = keeperCommand(paths, SESSION);
    expect(cmd).toBe(
      "PORTCULLIS_HELPER_NODE='/opt/Portcullis/portcullis' PORTCULLIS_HELPER_ENTRY='/opt/Portcullis/resources/helper/helper.mjs' /bin/sh '/opt/Portcullis/resources/helper/portcullis-helper' --socket-dir '/run/user/1000/portcullis-abc' --uid 1000",
    );
    expect(cmd).not.toContain(SESSION.secret);
  });

  it.each(["/home/o'brien/app", '/tmp/$(reboot)', '/tmp/`id`', '/tmp/a"b', '/tmp/a\\b', '/tmp/a\nb'])('refuses a path that could escape the quoting: %j', (bad) => {
    expect(() => keeperCommand({ ...paths, entry: bad }, SESSION)).toThrow(/refusing/);
    expect(() => keeperCommand(paths, { ...SESSION, socketDir: bad })).toThrow(/refusing/);
  });

  it('sudo-prompt: a dismissed dialog is "declined", other failures carry stderr', async () => {
    const denied = sudoPromptLauncher((_c, _o, cb) => cb(new Error('User did not grant permission.')), paths).launch(SESSION);
    await expect(denied.ended).resolves.toEqual({ declined: true, message: 'User did not grant permission.' });
    const failed = sudoPromptLauncher((_c, _o, cb) => cb(new Error('Command failed'), '', 'portcullis-helper: giving up\n'), paths).launch(SESSION);
    await expect(failed.ended).resolves.toEqual({ declined: false, message: 'portcullis-helper: giving up' });
    const exec = vi.fn();
    sudoPromptLauncher(exec, paths).launch(SESSION);
    expect(exec.mock.calls[0]![1]).toEqual({ name: 'Portcullis' });
  });

  it('pkexec: only its own refusal is "declined"; the keeper exiting 126/127 (not found, not executable) is a failure with its message', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'pc-pkexec-'));
    try {
      // A stand-in for /usr/bin/pkexec: says and exits what the case asks, as the real one does.
      const fake = path.join(base, 'pkexec');
      writeFileSync(fake, '#!/bin/sh\nprintf "%b" "$FAKE_SAYS" >&2\nexit "$FAKE_CODE"\n', { mode: 0o755 });
      const end = async (code: number, says: string) => {
        process.env.FAKE_CODE = String(code);
        process.env.FAKE_SAYS = says;
        try {
          return await pkexecLauncher('/opt/Portcullis/resources/helper/portcullis-helper', fake).launch(SESSION).ended;
        } finally {
          delete process.env.FAKE_CODE;
          delete process.env.FAKE_SAYS;
        }
      };
      await expect(end(126, 'Error executing command as another user: Request dismissed\n')).resolves.toEqual({ declined: true, message: 'Request dismissed' });
      await expect(end(127, 'Error executing command as another user: Not authorized\n\nThis incident has been reported.\n')).resolves.toEqual({ declined: true, message: 'Not authorized' });
      await expect(end(127, '/opt/Portcullis/resources/helper/portcullis-helper: 12: /opt/Portcullis/portcullis: not found\n')).resolves.toEqual({
        declined: false,
        message: '/opt/Portcullis/resources/helper/portcullis-helper: 12: /opt/Portcullis/portcullis: not found',
      });
      await expect(end(126, 'portcullis-helper: 12: /opt/Portcullis/portcullis: Permission denied\n')).resolves.toMatchObject({ declined: false });
      await expect(end(1, 'portcullis-helper: giving up after 5 failures\n')).resolves.toEqual({ declined: false, message: 'portcullis-helper: giving up after 5 failures' });
      await expect(end(0, '')).resolves.toEqual({ declined: false, message: 'the helper exited' });
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('removeStaleSessions removes our own session directories only: not a symlink, a file, another name or another uid', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'pc-stale-'));
    try {
      const uid = process.getuid!();
      const stale = await prepareHelperSession(base, uid);
      const target = path.join(base, 'elsewhere');
      mkdirSync(target);
      writeFileSync(path.join(target, 'keep'), 'x');
      const { symlinkSync, chownSync } = await import('node:fs');
      symlinkSync(target, path.join(base, 'portcullis-link'));
      writeFileSync(path.join(base, 'portcullis-file'), 'x');
      mkdirSync(path.join(base, 'other-dir'));
      let foreign = false;
      if (uid === 0) {
        mkdirSync(path.join(base, 'portcullis-foreign'));
        chownSync(path.join(base, 'portcullis-foreign'), 12345, 12345);
        foreign = true;
      }
      expect(await removeStaleSessions(base, uid)).toBe(1);
      expect(existsSync(stale.socketDir)).toBe(false);
      expect(existsSync(path.join(target, 'keep'))).toBe(true);
      expect(existsSync(path.join(base, 'portcullis-link'))).toBe(true);
      expect(existsSync(path.join(base, 'portcullis-file'))).toBe(true);
      expect(existsSync(path.join(base, 'other-dir'))).toBe(true);
      if (foreign) expect(existsSync(path.join(base, 'portcullis-foreign'))).toBe(true);
      expect(await removeStaleSessions(path.join(base, 'missing'), uid)).toBe(0);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('prepareHelperSession makes a private directory and a 0600 secret file', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'pc-elev-'));
    try {
      const s = await prepareHelperSession(base, 1000);
      expect(statSync(s.socketDir).mode & 0o777).toBe(0o700);
      const secretFile = path.join(s.socketDir, 'secret');
      expect(statSync(secretFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(secretFile, 'utf8')).toBe(s.secret + '\n');
      expect(s.secret).toMatch(/^[0-9a-f]{64}$/);
      // A relaunch reuses the directory with a new secret.
      const again = await prepareHelperSession(base, 1000, s);
      expect(again.socketDir).toBe(s.socketDir);
      expect(again.secret).not.toBe(s.secret);
      expect(readFileSync(secretFile, 'utf8')).toBe(again.secret + '\n');
      await cleanupHelperSession(s);
      expect(existsSync(s.socketDir)).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('root-side keeper script (build/helper/portcullis-helper), run for real with a fake helper', () => {
  const KEEPER = path.resolve('build/helper/portcullis-helper');
  const uid = process.getuid!();

  function runKeeper(dir: string, fakeHelper: string, env: Record<string, string> = {}) {
    return new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('/bin/sh', [KEEPER, '--socket-dir', dir, '--uid', String(uid)], {
        env: { PORTCULLIS_HELPER_NODE: '/bin/sh', PORTCULLIS_HELPER_ENTRY: fakeHelper, PORTCULLIS_HELPER_RESTART_DELAY: '0', LOG: path.join(dir, '..', 'runs.log'), ...env },
      }, (err, _out, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr: String(stderr) }));
    });
  }

  function lab(script: string) {
    const base = mkdtempSync(path.join(tmpdir(), 'pc-keeper-'));
    const dir = path.join(base, 'sock');
    rmSync(dir, { force: true });
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(path.join(dir, 'secret'), 's3cret-value-0123456789\n', { mode: 0o600 });
    const fake = path.join(base, 'fake-helper.sh');
    // Like the real helper's --read-secret (the keeper's one read of the file, O_NOFOLLOW in the real one): print it, delete it.
    writeFileSync(fake, `if [ "$1" = --read-secret ]; then echo "read-secret $*" >> "$LOG"; cat "$3/secret" && rm "$3/secret"; exit $?; fi\n${script}`);
    return { base, dir, fake, log: () => (existsSync(path.join(base, 'runs.log')) ? readFileSync(path.join(base, 'runs.log'), 'utf8').trim().split('\n') : []) };
  }

  it('keeps the secret off argv (read once through the helper, then the environment) and restarts a crashed helper', async () => {
    // Like the real helper: takes the secret file if there is one (and deletes it), else the environment. Fails twice, then exits 0.
    const l = lab('f="$2/secret"; if [ -f "$f" ]; then s=$(cat "$f"); rm "$f"; from=file; else s=$PORTCULLIS_HELPER_SECRET; from=env; fi; echo "$from=$s args=$*" >> "$LOG"; [ "$(wc -l < "$LOG")" -ge 4 ] && exit 0; exit 1\n');
    try {
      const r = await runKeeper(l.dir, l.fake);
      expect(r.code).toBe(0);
      const runs = l.log();
      expect(runs).toHaveLength(4);
      // The keeper never reads the file itself (a symlink swapped in could make root read any file):
      // the helper's --read-secret does, once; every helper then gets it in the environment.
      expect(runs[0]).toBe(`read-secret --read-secret --socket-dir ${l.dir} --uid ${uid}`);
      expect(existsSync(path.join(l.dir, 'secret'))).toBe(false);
      expect(runs[1]).toBe(`env=s3cret-value-0123456789 args=--socket-dir ${l.dir} --uid ${uid}`);
      expect(runs[2]).toBe(runs[1]);
      expect(runs[3]).toBe(runs[1]);
      expect(r.stderr).toMatch(/exited with code 1; restarting/);
    } finally {
      rmSync(l.base, { recursive: true, force: true });
    }
  });

  it('gives up after MAX_FAILS consecutive failures with a message (the app then goes read-only)', async () => {
    const l = lab('echo run >> "$LOG"; exit 3\n');
    try {
      const r = await runKeeper(l.dir, l.fake, { PORTCULLIS_HELPER_MAX_FAILS: '3' });
      expect(r.code).toBe(3);
      expect(l.log().filter((x) => x === 'run')).toHaveLength(3);
      expect(r.stderr).toMatch(/failed 3 times in a row \(last exit code 3\); giving up/);
    } finally {
      rmSync(l.base, { recursive: true, force: true });
    }
  });

  it('stops the helper when the app removes its socket directory', async () => {
    const l = lab('echo started >> "$LOG"; trap "echo stopped >> \\"$LOG\\"; exit 0" TERM; while :; do sleep 0.2; done\n');
    try {
      const done = runKeeper(l.dir, l.fake);
      await until(() => l.log().includes('started'));
      rmSync(l.dir, { recursive: true, force: true });
      const r = await done;
      expect(r.code).toBe(0);
      await until(() => l.log().includes('stopped'));
    } finally {
      rmSync(l.base, { recursive: true, force: true });
    }
  });

  it('refuses a socket directory owned by another uid', async () => {
    const l = lab('exit 0\n');
    try {
      const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile('/bin/sh', [KEEPER, '--socket-dir', l.dir, '--uid', String(uid + 4242)], (err, _o, stderr) => resolve({ code: err ? 1 : 0, stderr: String(stderr) })),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/not owned by uid/);
    } finally {
      rmSync(l.base, { recursive: true, force: true });
    }
  });
});
