/**
 * The desktop elevation path for real, as root: the root-side keeper (build/helper/portcullis-helper)
 * runs the BUNDLED helper (dist/electron/helper.mjs, built here), the supervisor connects with the
 * per-launch secret, a kill -9 of the helper is survived (keeper restart + reconnect, no second
 * launch = no second password prompt), and removing the session directory stops everything.
 * Only `hello` is exchanged with the helper: nothing touches the firewall.
 * (sudo-prompt itself is replaced by a plain spawn: we are root already, and its dialog needs a desktop.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HelperSupervisor, prepareHelperSession, cleanupHelperSession, removeStaleSessions, type HelperLauncher, type HelperRunEnd } from '../../electron/main/elevation.ts';
import { connectHelperClient, type HelperClientLink } from '../../electron/main/helper-hub.ts';
import { WAITING_FOR_HOLDER } from '../../electron/helper/main.ts';
import { buildElectron, OUT_DIR } from '../../scripts/build.ts';
import { requireSystem } from '../support/system.ts';

const NODE = path.resolve('node_modules/node/bin/node');
const KEEPER = path.resolve('build/helper/portcullis-helper');

/** Pids of the processes serving this socket directory whose argv has an element ending so. */
function pidsOf(socketDir: string, program: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      // Not the keeper's short `--read-secret` run of the helper: only what serves the directory.
      if (argv.some((a) => a.endsWith(program)) && argv.includes(socketDir) && !argv.includes('--read-secret')) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}
/** Pids of helper processes serving this socket directory. */
const helperPids = (socketDir: string) => pidsOf(socketDir, 'helper.mjs');
/** Pids of the keeper (a shell running build/helper/portcullis-helper) of this socket directory. */
const keeperPids = (socketDir: string) => pidsOf(socketDir, 'helper/portcullis-helper');

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The keeper started as the app's launcher starts it (sudo-prompt replaced by a plain spawn), inside
 * `wrap` (a network namespace: the helper takes the firewall lock of the namespace it runs in, and
 * these tests must neither wait for nor block a Portcullis protecting the host's). Exit codes go to `exits`.
 */
function keeperLauncher(wrap: string[], exits: number[], stderrOf: string[] = []): HelperLauncher {
  return {
    launch(session) {
      const child = spawn(wrap[0]!, [...wrap.slice(1), '/bin/sh', KEEPER, '--socket-dir', session.socketDir, '--uid', String(session.uid)], {
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', PORTCULLIS_HELPER_NODE: NODE, PORTCULLIS_HELPER_ENTRY: path.join(OUT_DIR, 'helper.mjs'), PORTCULLIS_HELPER_RESTART_DELAY: '0' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      const run = stderrOf.push('') - 1;
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        stderrOf[run] = stderr;
      });
      const ended = new Promise<HelperRunEnd>((resolve) =>
        child.on('exit', (code) => {
          exits.push(code ?? -1);
          resolve({ declined: false, message: stderr.trim().split('\n').at(-1) ?? `exit ${code}` });
        }),
      );
      return { ended };
    },
  };
}

/** A supervisor as the app makes one, with sessions under `base`. */
function supervisorOf(launcher: HelperLauncher, base: string, onPhase: (phase: string) => void = () => undefined): HelperSupervisor<HelperClientLink> {
  return new HelperSupervisor<HelperClientLink>({
    launcher,
    connect: (s) => connectHelperClient(s, () => undefined),
    prepare: (prev) => prepareHelperSession(base, 0, prev),
    cleanup: cleanupHelperSession,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    onChange: (s) => onPhase(s.phase),
    initialBackoffMs: 50,
    maxBackoffMs: 500,
  });
}

describe.runIf(requireSystem('root'))('desktop helper: keeper + bundled helper + supervisor, for real', () => {
  let base = '';
  beforeAll(async () => {
    await buildElectron(() => undefined);
    base = mkdtempSync(path.join(tmpdir(), 'pc-desktop-helper-'));
  });
  afterAll(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('connects with the secret, survives kill -9 of the helper without a new launch, stops when the app quits', async () => {
    const keeperExits: number[] = [];
    const phases: string[] = [];
    const sup = supervisorOf(keeperLauncher(['/usr/bin/unshare', '--net'], keeperExits), base, (p) => phases.push(p));
    void sup.start();
    await until(() => sup.status().connected);
    const dir = (sup as unknown as { session: { socketDir: string } }).session.socketDir;
    // The helper took the secret file and deleted it: the secret is nowhere on disk any more.
    expect(existsSync(path.join(dir, 'secret'))).toBe(false);
    const [first] = helperPids(dir);
    expect(first).toBeGreaterThan(0);
    const argv = readFileSync(`/proc/${first}/cmdline`, 'utf8');
    expect(argv).not.toContain((sup as unknown as { session: { secret: string } }).session.secret);

    process.kill(first!, 'SIGKILL');
    await until(() => !sup.status().connected);
    await until(() => sup.status().connected);
    const [second] = helperPids(dir);
    expect(second).not.toBe(first);
    expect(sup.launchCount).toBe(1);
    expect(phases).toContain('reconnecting');
    // The restarted helper (secret from the keeper's environment) really authenticates us.
    await expect(sup.link()!.client.call('hello', { secret: (sup as unknown as { session: { secret: string } }).session.secret })).resolves.toMatchObject({ pid: second });

    await sup.stop();
    await until(() => keeperExits.length === 1);
    expect(keeperExits[0]).toBe(0);
    await until(() => helperPids(dir).length === 0);
  });

  it('after a crash of the app, the next launch removes its session directory: the old helper stops and the new one gets the firewall lock', async () => {
    // Both runs in ONE network namespace of their own, so their helpers want the same firewall lock.
    const ns = `pc-relaunch-${process.pid}`;
    expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
    let oldDir = '';
    try {
      const ends: number[] = [];
      const stderrs: string[] = [];
      const launcher = keeperLauncher(['ip', 'netns', 'exec', ns], ends, stderrs);
      const supervisor = () => supervisorOf(launcher, base);
      // The first run connects; then the app "crashes": nothing stops it, its directory stays.
      const crashed = supervisor();
      void crashed.start();
      await until(() => crashed.status().connected);
      oldDir = (crashed as unknown as { session: { socketDir: string } }).session.socketDir;
      const [oldHelper] = helperPids(oldDir);
      expect(oldHelper).toBeGreaterThan(0);
      (crashed as unknown as { linkNow: HelperClientLink | null }).linkNow?.close();

      // The relaunch, as the app does it: stale directories first, then at once its own helper, which
      // waits for the old one (its keeper looks every second, then stops it) to let go of the lock.
      // The old keeper is held (SIGSTOP) meanwhile — a machine too busy to run it for seconds — so
      // the new helper surely finds the lock held: it must wait, not give up (exit 69, read-only).
      const [oldKeeper] = keeperPids(oldDir);
      expect(oldKeeper).toBeGreaterThan(0);
      process.kill(oldKeeper!, 'SIGSTOP');
      expect(await removeStaleSessions(base, 0)).toBe(1);
      const next = supervisor();
      void next.start();
      // The new helper says it waits (its keeper's stderr, the second launch's), and keeps waiting.
      await until(() => (stderrs[1] ?? '').includes(`${WAITING_FOR_HOLDER} (pid ${oldHelper})`));
      await new Promise((r) => setTimeout(r, 1000));
      const newDir = (next as unknown as { session: { socketDir: string } }).session.socketDir;
      expect(next.status().connected).toBe(false);
      expect(next.status().phase).not.toBe('read-only');
      expect(helperPids(newDir)).toHaveLength(1);
      expect(helperPids(oldDir)).toEqual([oldHelper]);
      process.kill(oldKeeper!, 'SIGCONT');
      await until(() => next.status().connected);
      expect(helperPids(oldDir)).toEqual([]);
      expect(next.status().readOnlyReason).toBeUndefined();
      await until(() => ends.length === 1);
      expect(ends).toEqual([0]); // the old keeper stopped cleanly; the new one runs
      await next.stop();
      await until(() => ends.length === 2);
    } finally {
      // Whatever happened, no helper of this test outlives it.
      if (oldDir) rmSync(oldDir, { recursive: true, force: true });
      for (const pid of oldDir ? [...keeperPids(oldDir), ...helperPids(oldDir)] : []) {
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});
