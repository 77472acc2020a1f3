/**
 * ufw's own lock, held while Portcullis edits ufw's rules files itself (ufw-batch.ts).
 *
 * Every ufw command takes /run/ufw.lock with `fcntl.lockf` (a POSIX record lock) and holds it while
 * it reads and rewrites user.rules. Without it, a `ufw` the admin runs at the same moment could read
 * the file before our swap and write it after, dropping the batch's bans from the file and the kernel.
 * Node has no lockf, and flock(1) takes a BSD lock that does not conflict with it. ufw is a python3
 * program, so python3 is wherever ufw is: a child takes the same lock the same way, says "locked",
 * and keeps it until its stdin closes. If we die, it reads EOF and exits; if it dies, the kernel
 * drops its lock (then we may race again, as before — the batch's own checks still catch a file
 * changed before the swap).
 * Never run a `ufw` command while holding it: ufw would wait for us forever.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnArgv } from '../exec.ts';
import { FirewallError } from './errors.ts';

export const UFW_LOCKFILE = '/run/ufw.lock';

/** What the child runs: ufw's create_lock (ufw/util.py), then wait for stdin to close. */
const HOLD_SCRIPT = [
  'import fcntl, sys',
  "f = open(sys.argv[1], 'w')",
  'fcntl.lockf(f, fcntl.LOCK_EX)',
  "sys.stdout.write('locked\\n')",
  'sys.stdout.flush()',
  'sys.stdin.read()',
].join('\n');

/** Takes the lock; resolves to its release (which waits for the holder to exit, so the lock is free). */
export type UfwLock = () => Promise<() => Promise<void>>;

export function ufwLock(lockfile = UFW_LOCKFILE, timeoutMs = 60_000, spawn: (args: string[]) => ChildProcess = (args) => spawnArgv('python3', args)): UfwLock {
  return () =>
    new Promise((resolve, reject) => {
      const child = spawn(['-c', HOLD_SCRIPT, lockfile]);
      const exited = new Promise<void>((done) => child.once('close', () => done()));
      let out = '';
      let err = '';
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new FirewallError('ufw', why));
      };
      const timer = setTimeout(
        () => fail(`ufw is busy: another ufw command has held ${lockfile} for ${Math.round(timeoutMs / 1000)} s; nothing was changed, try again`),
        timeoutMs,
      );
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (settled || !out.includes('locked\n')) return;
        settled = true;
        clearTimeout(timer);
        resolve(async () => {
          child.stdin?.end();
          await exited;
        });
      });
      child.once('error', (e) => fail(`cannot take ufw's lock ${lockfile}: ${e.message}`));
      // python's traceback ends with the reason ("FileNotFoundError: [Errno 2] No such file or directory: …").
      child.once('close', (code) => fail(`cannot take ufw's lock ${lockfile} (exit ${code}): ${err.trim().split('\n').at(-1) || 'no reason given'}`));
    });
}
