/**
 * ufw's own lock (firewall/ufw-lock.ts), for real: a python3 child takes fcntl.lockf on a temp lock
 * file as ufw's create_lock does, so it waits for a ufw that holds it, and a ufw started meanwhile
 * waits for us.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { ufwLock } from '../../electron/helper/firewall/ufw-lock.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';

const tempDir = tempDirsPerTest('pc-ufwlock-');

/** A stand-in for a running ufw: python3 holding the lock exactly as ufw/util.py create_lock does, until told to go. */
async function ufwHolding(lockfile: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn('/usr/bin/python3', ['-c', "import fcntl,sys\nf=open(sys.argv[1],'w')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('held',flush=True)\nsys.stdin.read()", lockfile], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { release: async () => (child.stdin!.end(), await closed) };
}

const settledSoon = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe.runIf(existsSync('/usr/bin/python3'))('ufwLock, with a real lockf lock', () => {
  it('waits while a ufw holds the lock, takes it once ufw lets go, and holds it against the next ufw', async () => {
    const lockfile = path.join(tempDir(), 'ufw.lock');
    const ufw = await ufwHolding(lockfile);
    const taking = ufwLock(lockfile)();
    // While ufw holds it, ours does not come (a lock that did not wait would come at once).
    expect(await settledSoon(taking, 300)).toBe(false);
    await ufw.release();
    const release = await taking;
    // Now a second ufw must wait for us.
    const next = ufwHolding(lockfile);
    expect(await settledSoon(next, 300)).toBe(false);
    await release();
    await (await next).release();
  });

  it('gives up after its timeout with a clear error, changing nothing', async () => {
    const lockfile = path.join(tempDir(), 'ufw.lock');
    const ufw = await ufwHolding(lockfile);
    await expect(ufwLock(lockfile, 200)()).rejects.toMatchObject({ code: 'ufw', message: expect.stringMatching(/^ufw is busy: another ufw command has held .*ufw\.lock/) });
    await ufw.release();
  });

  it('says why when the lock cannot be taken at all', async () => {
    const lockfile = path.join(tempDir(), 'no-such-dir', 'ufw.lock');
    await expect(ufwLock(lockfile)()).rejects.toMatchObject({ code: 'ufw', message: expect.stringMatching(/cannot take ufw's lock .*No such file or directory/) });
  });
});
