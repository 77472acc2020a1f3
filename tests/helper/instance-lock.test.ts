/**
 * The per-network-namespace instance lock, on real files and real processes (a temp lock dir):
 * a fresh acquire, a refusal while a live process holds it, takeover of a stale lock (holder killed,
 * pid reused by another process, garbage), release that deletes only our own file, and a race of
 * several processes over one stale lock that exactly one wins.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireFirewallLock, acquireFirewallLockWaiting, acquireStoreLock, firewallLockPath, FirewallLockedError, lockHolder, processStartTime, StoreLockedError, storeLockPath, type FirewallLock, type LockHolder } from '../../electron/helper/instance-lock.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = existsSync(path.join(ROOT, 'node_modules/.bin/node')) ? path.join(ROOT, 'node_modules/.bin/node') : process.execPath;
const LOCK_MODULE = path.join(ROOT, 'electron/helper/instance-lock.ts');

let base: string;
let dir: string;
const children: ChildProcess[] = [];
const locks: FirewallLock[] = [];

beforeEach(() => {
  base = mkdtempSync(path.join(tmpdir(), 'pc-lock-'));
  dir = path.join(base, 'locks');
});
afterEach(() => {
  for (const l of locks.splice(0)) l.release();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

function take(who = 'portcullis run'): FirewallLock {
  const l = acquireFirewallLock(who, { dir });
  locks.push(l);
  return l;
}

async function sleeper(): Promise<ChildProcess> {
  const c = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  return c;
}

/** Puts a lock in place as another process would have left it (a directory with one holder file). */
function plant(holder: LockHolder | string): string {
  const lock = firewallLockPath({ dir });
  rmSync(lock, { recursive: true, force: true });
  mkdirSync(lock, { recursive: true, mode: 0o700 });
  const pid = typeof holder === 'string' ? 0 : holder.pid;
  writeFileSync(path.join(lock, `holder.${pid}.planted.json`), typeof holder === 'string' ? holder : JSON.stringify(holder));
  return lock;
}

/** The holder on file: the one file in the lock directory. */
function onFile(): LockHolder {
  const lock = firewallLockPath({ dir });
  const names = readdirSync(lock);
  expect(names).toHaveLength(1);
  return JSON.parse(readFileSync(path.join(lock, names[0]!), 'utf8')) as LockHolder;
}

describe('firewall instance lock', () => {
  it('is named after the network namespace inode', () => {
    const ino = statSync('/proc/self/ns/net').ino;
    expect(firewallLockPath({ dir })).toBe(path.join(dir, `firewall-${ino}.lock`));
    expect(firewallLockPath()).toBe(`/run/portcullis/firewall-${ino}.lock`);
    // Another namespace (here: any other inode) is another lock.
    expect(firewallLockPath({ dir, nsPath: base })).not.toBe(firewallLockPath({ dir }));
  });

  it('a fresh acquire creates the directory 0700 and a holder file naming us', () => {
    const l = take('desktop helper');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const h = onFile();
    expect(h).toEqual({ pid: process.pid, starttime: processStartTime(process.pid), who: 'desktop helper', since: l.holder.since });
    expect(Number.isNaN(Date.parse(h.since))).toBe(false);
    // Nothing else is left in the directory (the private name used to create it is gone).
    expect(readdirSync(dir)).toEqual([path.basename(l.path)]);
    expect(readdirSync(l.path)).toEqual([expect.stringMatching(new RegExp(`^holder\\.${process.pid}\\.[0-9a-f]+\\.json$`))]);
    expect(lockHolder({ dir })).toEqual(h);
  });

  it('refuses while a live process holds it, naming who and its pid', async () => {
    const c = await sleeper();
    const holder = { pid: c.pid!, starttime: processStartTime(c.pid!)!, who: 'portcullis run', since: '2025-01-01T00:00:00.000Z' };
    plant(holder);
    let err: unknown;
    try {
      take('portcullis serve');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FirewallLockedError);
    expect((err as FirewallLockedError).holder).toEqual(holder);
    expect((err as Error).message).toContain(`another Portcullis (portcullis run, pid ${c.pid}) already manages the firewall of this network namespace`);
    expect(onFile()).toEqual(holder); // untouched
  });

  it('a second acquire in the same live process is refused too', () => {
    take('portcullis run');
    expect(() => take('portcullis doctor')).toThrow(new RegExp(`\\(portcullis run, pid ${process.pid}\\)`));
  });

  it('takes over a lock whose holder was killed (kill -9)', async () => {
    const c = await sleeper();
    plant({ pid: c.pid!, starttime: processStartTime(c.pid!)!, who: 'portcullis run', since: '2025-01-01T00:00:00.000Z' });
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
    expect(lockHolder({ dir })).toBeNull();
    const l = take();
    expect(onFile()).toEqual(l.holder);
    expect(l.holder.pid).toBe(process.pid);
  });

  it('takes over a lock whose pid now belongs to another process (wrong starttime)', async () => {
    const c = await sleeper();
    plant({ pid: c.pid!, starttime: processStartTime(c.pid!)! - 1, who: 'portcullis run', since: '2025-01-01T00:00:00.000Z' });
    const l = take();
    expect(onFile().pid).toBe(process.pid);
    expect(l.release()).toBe(true);
  });

  it('takes over a lock that is not a lock (garbage, empty file, empty directory, a plain file)', () => {
    plant('{"pid": "x"');
    take().release();
    plant('');
    take().release();
    mkdirSync(firewallLockPath({ dir }));
    take().release();
    writeFileSync(firewallLockPath({ dir }), 'junk');
    expect(take().holder.pid).toBe(process.pid);
    expect(onFile().pid).toBe(process.pid);
  });

  it('release deletes the lock only while it is still ours, once', () => {
    const l = take();
    expect(l.release()).toBe(true);
    expect(existsSync(l.path)).toBe(false);
    expect(l.release()).toBe(false);

    const l2 = take();
    // Someone else's lock in its place (e.g. taken over by a process that judged us dead).
    const other = { pid: 1, starttime: processStartTime(1) ?? 0, who: 'desktop helper', since: '2025-01-01T00:00:00.000Z' };
    plant(other);
    expect(l2.release()).toBe(false);
    expect(onFile()).toEqual(other);
  });

  it('is released at process exit, and a kill -9 leaves a stale lock the next start takes over', async () => {
    const child = (code: string): Promise<{ out: string; code: number | null; signal: string | null }> =>
      new Promise((resolve) => {
        const c = spawn(NODE, ['--input-type=module', '-e', `import { acquireFirewallLock } from ${JSON.stringify(LOCK_MODULE)};\n${code}`], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(c);
        let out = '';
        c.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('held') && code.includes('KILLME')) c.kill('SIGKILL');
        });
        c.on('exit', (code, signal) => resolve({ out, code, signal }));
      });
    const clean = await child(`acquireFirewallLock('portcullis run', { dir: ${JSON.stringify(dir)} }); console.log('held'); process.exit(0);`);
    expect(clean).toMatchObject({ out: 'held\n', code: 0 });
    expect(existsSync(firewallLockPath({ dir }))).toBe(false);

    const killed = await child(`acquireFirewallLock('portcullis run', { dir: ${JSON.stringify(dir)} }); console.log('held'); setInterval(() => {}, 1000); // KILLME`);
    expect(killed.signal).toBe('SIGKILL');
    expect(readdirSync(firewallLockPath({ dir }))).toHaveLength(1); // the dead holder's file
    expect(lockHolder({ dir })).toBeNull();
    expect(take().holder.pid).toBe(process.pid);
  });

  it('sweeps stale locks of other namespaces and leftovers of killed starts; live ones stay', async () => {
    const c = await sleeper();
    const live = { pid: c.pid!, starttime: processStartTime(c.pid!)!, who: 'portcullis run', since: '2025-01-01T00:00:00.000Z' };
    const dead = { pid: 999_999_999, starttime: 1, who: 'portcullis run', since: '2025-01-01T00:00:00.000Z' };
    mkdirSync(dir, { mode: 0o700 });
    const plantAt = (name: string, holder: LockHolder) => {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, `holder.${holder.pid}.x.json`), JSON.stringify(holder));
    };
    plantAt('firewall-1.lock', dead); // a namespace whose instance was killed (maybe gone too)
    plantAt('firewall-2.lock', live); // another namespace, protected right now
    mkdirSync(path.join(dir, 'firewall-3.lock')); // released, empty
    mkdirSync(path.join(dir, `firewall-4.lock.999999999.abcdef.new`)); // a start killed half-way
    mkdirSync(path.join(dir, `firewall-4.lock.${c.pid}.abcdef.new`)); // a start still running
    const l = take();
    expect(readdirSync(dir).sort()).toEqual([path.basename(l.path), 'firewall-2.lock', `firewall-4.lock.${c.pid}.abcdef.new`].sort());
    expect(readdirSync(path.join(dir, 'firewall-2.lock'))).toHaveLength(1);
  });

  it('refuses a lock directory others can write to', () => {
    take().release();
    chmodSync(dir, 0o777);
    expect(() => take()).toThrow(/writable by others/);
  });

  it('several processes racing for one stale lock: exactly one wins, the others name the winner', async () => {
    const CONTENDERS = 6;
    for (let round = 0; round < 4; round++) {
      // Round 0: no lock at all; then a stale lock left by a dead process.
      if (round > 0) plant({ pid: 999_999_999, starttime: 1, who: 'portcullis run', since: '2025-01-01T00:00:00.000Z' });
      const startAt = Date.now() + 700;
      const script = `
        import { acquireFirewallLock } from ${JSON.stringify(LOCK_MODULE)};
        while (Date.now() < ${startAt}) {}
        try {
          const l = acquireFirewallLock('contender', { dir: ${JSON.stringify(dir)} });
          console.log(JSON.stringify({ won: l.holder.pid }));
        } catch (e) {
          console.log(JSON.stringify({ lost: e.holder?.pid ?? null, error: e.message }));
        }
        process.stdin.resume(); // stay alive (holding, or not) until the test closes stdin
        process.stdin.on('end', () => process.exit(0));`;
      const procs = Array.from({ length: CONTENDERS }, () => {
        const c = spawn(NODE, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
        children.push(c);
        return c;
      });
      const results = await Promise.all(
        procs.map(
          (c) =>
            new Promise<{ won?: number; lost?: number | null; error?: string }>((resolve, reject) => {
              let out = '';
              c.stdout!.on('data', (d: Buffer) => {
                out += d.toString();
                if (out.includes('\n')) resolve(JSON.parse(out));
              });
              c.on('exit', () => reject(new Error(`contender exited early: ${out}`)));
            }),
        ),
      );
      const winners = results.filter((r) => r.won !== undefined);
      expect(winners, JSON.stringify(results)).toHaveLength(1);
      const winner = winners[0]!.won!;
      for (const r of results.filter((r) => r.won === undefined)) expect(r, JSON.stringify(results)).toMatchObject({ lost: winner });
      expect(onFile().pid).toBe(winner);
      expect(readdirSync(dir)).toEqual([path.basename(firewallLockPath({ dir }))]);
      await Promise.all(
        procs.map((c) => {
          const exited = new Promise((r) => c.once('exit', r));
          c.stdin!.end();
          return exited;
        }),
      );
      expect(existsSync(firewallLockPath({ dir }))).toBe(false); // the winner released it at exit
    }
  });

  describe('waiting for a holder that is stopping (a crashed app\'s desktop helper)', () => {
    const desktop = async () => {
      const c = await sleeper();
      const holder = { pid: c.pid!, starttime: processStartTime(c.pid!)!, who: 'desktop helper', since: '2025-01-01T00:00:00.000Z' };
      plant(holder);
      return { c, holder };
    };
    const waiting = (waitMs: number, heard: LockHolder[]) =>
      acquireFirewallLockWaiting('desktop helper', { dir, waitFor: 'desktop helper', waitMs, onWait: (h) => heard.push(h) }).then((l) => {
        locks.push(l);
        return l;
      });

    it('takes the lock once that holder is gone, and says once that it waits', async () => {
      const { c, holder } = await desktop();
      const heard: LockHolder[] = [];
      const taking = waiting(10_000, heard);
      await new Promise((r) => setTimeout(r, 400));
      expect(heard).toEqual([holder]); // told once, though it checked several times
      expect(onFile()).toEqual(holder); // still theirs
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
      const l = await taking;
      expect(l.holder.pid).toBe(process.pid);
      expect(onFile()).toEqual(l.holder);
    });

    it('gives up after its time, refusing with the holder named, when that holder stays', async () => {
      const { holder } = await desktop();
      const heard: LockHolder[] = [];
      const err = await waiting(300, heard).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FirewallLockedError);
      expect((err as FirewallLockedError).holder).toEqual(holder);
      expect(heard).toEqual([holder]);
      expect(onFile()).toEqual(holder);
    });

    it('refuses any other holder at once, without waiting', async () => {
      const c = await sleeper();
      const holder = { pid: c.pid!, starttime: processStartTime(c.pid!)!, who: 'portcullis run', since: '2025-01-01T00:00:00.000Z' };
      plant(holder);
      const heard: LockHolder[] = [];
      const err = await waiting(60_000, heard).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FirewallLockedError);
      expect((err as FirewallLockedError).holder).toEqual(holder);
      expect(heard).toEqual([]);
    });
  });
});

describe('store lock (one writer per database)', () => {
  /** A child process that takes the store lock of `db` and holds it until killed; resolves once it holds it. */
  async function holder(db: string): Promise<ChildProcess> {
    const c = spawn(NODE, ['--input-type=module', '-e', `import { acquireStoreLock } from ${JSON.stringify(LOCK_MODULE)};\nacquireStoreLock(${JSON.stringify(db)}, 'portcullis run --dry-run'); console.log('held'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    await new Promise<void>((resolve, reject) => {
      c.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      c.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    return c;
  }

  it("refuses a second writer while the first lives, under any name of the file, and takes over once it is killed", async () => {
    const state = path.join(base, 'state');
    mkdirSync(state, { mode: 0o700 });
    const db = path.join(state, 'portcullis.db');
    const c = await holder(db);
    let refusal: unknown;
    try {
      acquireStoreLock(db, 'portcullis run');
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toBeInstanceOf(StoreLockedError);
    expect((refusal as StoreLockedError).holder.pid).toBe(c.pid);
    expect((refusal as StoreLockedError).message).toContain(`portcullis run --dry-run, pid ${c.pid}) is writing the database ${db}`);
    // The same file by a relative path and through a symbolic link to its directory: the same lock.
    symlinkSync(state, path.join(base, 'link'));
    expect(() => acquireStoreLock(path.join(base, 'link', 'portcullis.db'), 'portcullis run')).toThrow(StoreLockedError);
    expect(() => acquireStoreLock(path.relative(process.cwd(), db), 'portcullis run')).toThrow(StoreLockedError);
    // Another database in the same directory is another lock.
    const other = acquireStoreLock(path.join(state, 'other.db'), 'portcullis run');
    expect(other.release()).toBe(true);

    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
    const mine = acquireStoreLock(db, 'portcullis run');
    expect(mine.path).toBe(storeLockPath(db));
    expect(mine.holder.pid).toBe(process.pid);
    expect(mine.release()).toBe(true);
    expect(existsSync(storeLockPath(db))).toBe(false);
  });

  it('never goes through a link planted in the lock\'s place, and refuses a database directory others can write or own', () => {
    const state = path.join(base, 'state');
    const victim = path.join(base, 'victim');
    mkdirSync(state, { mode: 0o700 });
    mkdirSync(path.join(victim, 'sub'), { recursive: true });
    writeFileSync(path.join(victim, 'keep.txt'), 'mine');
    symlinkSync(victim, storeLockPath(path.join(state, 'x.db')));
    expect(() => acquireStoreLock(path.join(state, 'x.db'), 'portcullis run')).toThrow(/is a symbolic link, not a Portcullis lock/);
    // What the link names is untouched (a stale-lock takeover emptied it before).
    expect(readdirSync(victim).sort()).toEqual(['keep.txt', 'sub']);

    const shared = path.join(base, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777); // as /tmp
    expect(() => acquireStoreLock(path.join(shared, 'p.db'), 'portcullis run')).toThrow(/writable by others \(mode 1777\)/);
    expect(existsSync(storeLockPath(path.join(shared, 'p.db')))).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)("refuses a lock directory someone else owns (root: another user's directory in its place)", () => {
    const state = path.join(base, 'state');
    mkdirSync(state, { mode: 0o700 });
    const lock = storeLockPath(path.join(state, 'x.db'));
    mkdirSync(lock);
    writeFileSync(path.join(lock, 'theirs'), 'not a holder');
    chownSync(lock, 65534, 65534);
    expect(() => acquireStoreLock(path.join(state, 'x.db'), 'portcullis run')).toThrow(/owned by uid 65534.*not a lock of ours/);
    expect(readdirSync(lock)).toEqual(['theirs']);
  });

  it('sweeps the leftovers of starts killed half-way beside the database; a live start keeps its own', async () => {
    const c = await sleeper();
    const db = path.join(base, 'portcullis.db');
    const dead = `${storeLockPath(db)}.999999999.00aa11bb22cc.new`;
    const live = `${storeLockPath(db)}.${c.pid}.00aa11bb22cc.new`;
    const unrelated = path.join(base, 'portcullis.db.lockfile.999999999.00aa11bb22cc.new');
    for (const d of [dead, live, unrelated]) mkdirSync(d);
    const l = acquireStoreLock(db, 'portcullis run');
    l.release();
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(unrelated)).toBe(true);
  });
});
