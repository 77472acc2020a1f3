/**
 * One Portcullis per network namespace changes its firewall (ufw is not safe to drive concurrently).
 * In a lab namespace, for real: a second `portcullis run` (another --state-dir) exits 1 naming the
 * first, which keeps running; the desktop helper (alone, and under its keeper) refuses at once with
 * the same message; `doctor --fix` refuses, a dry run watches alongside; another namespace is another
 * lock; after kill -9 of the holder a new run takes the stale lock over; a clean stop releases it.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../electron/shared/api.ts';
import { controlSocketPath } from '../../electron/headless/control.ts';
import { firewallLockPath, lockHolder } from '../../electron/helper/instance-lock.ts';
import { requireSystem } from '../support/system.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { cliOnce, NODE, removeDir, ROOT, startCli, tempStateDir, until, type RunningCli } from './runner-support.ts';

const RUN = ['run', '--source', 'kmsg', '--backend', 'ufw'];
const MESSAGE = (pid: number) => `another Portcullis (portcullis run, pid ${pid}) already manages the firewall of this network namespace`;

/** The helper (or its keeper) in the lab's firewall namespace: exit code and stderr. */
function helperIn(lab: Lab, viaKeeper: boolean): Promise<{ code: number | null; stderr: string; ms: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pc-lock-helper-'));
  chmodSync(dir, 0o700);
  writeFileSync(path.join(dir, 'secret'), 'a-per-launch-secret-0123456789', { mode: 0o600 });
  const entry = path.join(ROOT, 'electron/helper/main.ts');
  const argv = viaKeeper ? ['/bin/sh', path.join(ROOT, 'build/helper/portcullis-helper')] : [NODE, entry];
  const child = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, ...argv, '--socket-dir', dir, '--uid', '0'], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', PORTCULLIS_HELPER_NODE: NODE, PORTCULLIS_HELPER_ENTRY: entry, PORTCULLIS_HELPER_RESTART_DELAY: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const t0 = Date.now();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stderr, ms: Date.now() - t0 });
    }),
  );
}

describe.runIf(requireSystem('root', 'netns', 'ufw'))('one Portcullis per network namespace', () => {
  let lab: Lab;
  let other: Lab | null = null;
  const clis: RunningCli[] = [];
  const dirs: string[] = [];
  const stateDir = (): string => {
    const d = tempStateDir();
    dirs.push(d);
    return d;
  };
  const lockOf = (l: Lab) => ({ nsPath: `/run/netns/${l.fwNs}` });

  beforeAll(async () => {
    lab = await createLab({ listen: false });
  });
  afterAll(async () => {
    for (const c of clis.splice(0)) await c.stop('SIGKILL');
    // Stale locks of the namespaces about to go (kill -9 above): not left behind in /run/portcullis.
    for (const l of [lab, other]) if (l) rmSync(firewallLockPath(lockOf(l)), { recursive: true, force: true });
    await lab?.cleanup();
    await other?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  it('a second run exits 1 naming the first, which keeps running; kill -9 of the first lets a new run take over', async () => {
    const firstDir = stateDir();
    const first = await startCli(lab, RUN, firstDir);
    clis.push(first);
    const pid = first.child.pid!;
    expect(lockHolder(lockOf(lab))).toMatchObject({ pid, who: 'portcullis run' });

    const secondDir = stateDir();
    const refused = await cliOnce(lab, [...RUN, '--state-dir', secondDir]);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(`portcullis run: ${MESSAGE(pid)}`);
    // Refused before it touched anything: not even a control socket in its state directory.
    expect(existsSync(controlSocketPath(secondDir))).toBe(false);
    // The first one is unharmed: alive, answering, still holding the lock.
    expect(first.child.exitCode).toBeNull();
    const status = await cliOnce(lab, ['status', '--state-dir', firstDir]);
    expect(status.code, status.stderr).toBe(0);
    expect(lockHolder(lockOf(lab))).toMatchObject({ pid });

    await first.stop('SIGKILL');
    expect(existsSync(firewallLockPath(lockOf(lab)))).toBe(true); // stale: nobody released it
    expect(lockHolder(lockOf(lab))).toBeNull();
    const third = await startCli(lab, RUN, secondDir);
    clis.push(third);
    expect(lockHolder(lockOf(lab))).toMatchObject({ pid: third.child.pid, who: 'portcullis run' });
  });

  it('the desktop helper refuses with the message (exit 69), and its keeper gives up at once instead of retrying', async () => {
    const holder = lockHolder(lockOf(lab))!;
    expect(holder).not.toBeNull();
    const alone = await helperIn(lab, false);
    expect(alone.code).toBe(69);
    expect(alone.stderr).toContain(`portcullis-helper: ${MESSAGE(holder.pid)}`);

    const kept = await helperIn(lab, true);
    expect(kept.code).toBe(69);
    expect(kept.stderr.trim().split('\n').at(-1)).toContain(MESSAGE(holder.pid)); // what the app shows
    expect(kept.stderr).not.toMatch(/restarting/);
    // At once: a `portcullis run` holder is not waited for (a desktop helper holder would be, 10 s).
    expect(alone.ms).toBeLessThan(5_000);
    expect(kept.ms).toBeLessThan(5_000);
  });

  it('doctor --fix refuses (checks still work and name the holder); a dry run watches alongside', async () => {
    const holder = lockHolder(lockOf(lab))!;
    const elsewhere = stateDir();
    const fix = await cliOnce(lab, ['doctor', '--fix', 'logging-low', '--state-dir', elsewhere]);
    expect(fix.code).toBe(1);
    expect(fix.stderr).toContain(MESSAGE(holder.pid));

    const doc = await cliOnce(lab, ['doctor', '--json', '--state-dir', elsewhere]);
    const checks = JSON.parse(doc.stdout) as DoctorCheck[];
    expect(checks.find((c) => c.id === 'instance')?.detail).toContain(`portcullis run (pid ${holder.pid}) protects this network namespace`);

    const dry = await startCli(lab, ['run', '--dry-run', '--source', 'kmsg'], stateDir());
    clis.push(dry);
    expect(dry.lines.find((l) => l.type === 'ready')).toMatchObject({ dryRun: true });
    expect(lockHolder(lockOf(lab))).toMatchObject({ pid: holder.pid }); // the dry run took nothing
    await dry.stop('SIGKILL');
    expect(lockHolder(lockOf(lab))).toMatchObject({ pid: holder.pid }); // and its end released nothing
  });

  it('another network namespace is another lock; a clean stop releases it', async () => {
    other = await createLab({ listen: false, kernelLog: false });
    const there = await startCli(other, RUN, stateDir());
    clis.push(there);
    expect(lockHolder(lockOf(other))).toMatchObject({ pid: there.child.pid });
    expect(firewallLockPath(lockOf(other))).not.toBe(firewallLockPath(lockOf(lab)));

    // SIGTERM: the runner closes, releases its lock and EXITS — even on a quiet kernel log, where its
    // /dev/kmsg read would stay parked on a libuv thread until the next record (the source wakes it).
    const running = clis.filter((c) => c.child.exitCode === null && c.child.signalCode === null);
    for (const c of running) c.child.kill('SIGTERM');
    await until(() => !existsSync(firewallLockPath(lockOf(lab))) && !existsSync(firewallLockPath(lockOf(other!))), 15_000, 'both locks released');
    await until(() => running.every((c) => c.child.exitCode !== null || c.child.signalCode !== null), 5_000, 'the runners exited');
    expect(running.map((c) => c.child.exitCode)).toEqual(running.map(() => 0));
    expect(existsSync(firewallLockPath(lockOf(lab)))).toBe(false);
    expect(existsSync(firewallLockPath(lockOf(other)))).toBe(false);
  });
});
