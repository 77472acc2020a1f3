/**
 * One Portcullis per network namespace's firewall. ufw is not safe to drive concurrently: inside one
 * process the helper queues its operations, but two processes (the desktop helper and a
 * `portcullis run`, or two runs with different --state-dir) would interleave ufw commands, corrupt
 * user.rules and fight over bans and managed blocks. Whoever changes the firewall holds this lock.
 *
 * The lock is named after the network namespace's inode (`ip netns exec A …` and `ip netns exec B …`
 * never conflict): /run/portcullis/firewall-<ino>.lock, a directory holding ONE file
 * holder.<pid>.<random>.json = {pid, starttime, who, since}. starttime (field 22 of /proc/PID/stat)
 * tells a live holder from a dead one whose pid went to another process. A holder that died
 * (kill -9, reboot) leaves a stale lock that the next start takes over.
 *
 * Why a directory and not one file created with 'wx': taking over a stale FILE means deleting it by
 * name, and between judging it stale and deleting it another contender may have replaced it with
 * a fresh lock (a race of three contenders, caught by the unit test). Here every step is atomic and
 * identity-safe:
 *  - acquire: prepare a private directory with our holder file in it, then rename() it onto the
 *    lock name. rename succeeds only if the name is absent or an EMPTY directory, so the lock appears
 *    whole and exactly one contender gets it (the others get ENOTEMPTY/EEXIST);
 *  - takeover: delete the stale holder file by its unique name (never anyone else's), which leaves
 *    an empty directory = a free lock; then race for it as above;
 *  - release: delete our own holder file by its unique name, then the empty directory.
 *
 * The same kind of lock, beside a database file, keeps a second writer (a dry run included) off a
 * database another Portcullis writes: acquireStoreLock.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const DEFAULT_LOCK_DIR = '/run/portcullis';

export interface LockHolder {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot when the process started. */
  starttime: number;
  who: string;
  since: string;
}

/** Another live Portcullis holds the lock of this network namespace. */
export class FirewallLockedError extends Error {
  readonly holder: LockHolder;
  readonly path: string;
  constructor(path: string, holder: LockHolder) {
    super(`another Portcullis (${holder.who}, pid ${holder.pid}) already manages the firewall of this network namespace (since ${holder.since}; lock ${path})`);
    this.name = 'FirewallLockedError';
    this.holder = holder;
    this.path = path;
  }
}

/** A lock this process holds (the firewall lock of a network namespace, or the store lock of a database). */
export interface HeldLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Deletes our holder file (and the then empty lock); true when it was still there. Idempotent. */
  release(): boolean;
}

/** The firewall lock of a network namespace. */
export type FirewallLock = HeldLock;

export interface LockOptions {
  /** Directory of the lock files (default /run/portcullis; created 0700). */
  dir?: string;
  /** The namespace whose inode names the lock (default: ours). */
  nsPath?: string;
}

/** starttime of a running process, or null when there is none (or only its zombie: it can do nothing more). */
export function processStartTime(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses; fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  const start = Number(fields[22 - 3]);
  return Number.isSafeInteger(start) ? start : null;
}

export function isAlive(holder: LockHolder): boolean {
  return processStartTime(holder.pid) === holder.starttime;
}

export function firewallLockPath(o: LockOptions = {}): string {
  return join(o.dir ?? DEFAULT_LOCK_DIR, `firewall-${statSync(o.nsPath ?? '/proc/self/ns/net').ino}.lock`);
}

function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isSafeInteger(h.pid) && h.pid! > 0 && Number.isSafeInteger(h.starttime) && typeof h.who === 'string' && typeof h.since === 'string') {
      return { pid: h.pid!, starttime: h.starttime!, who: h.who, since: h.since };
    }
  } catch {
    /* not JSON */
  }
  return null;
}

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** What the lock holds now: each holder file with its parsed content (null: not a holder), or null when free. */
function look(path: string): { name: string; holder: LockHolder | null }[] | null {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if (code(e) === 'ENOENT') return null;
    throw e;
  }
  // Never through a symbolic link, and never into a directory of someone else's: what a stale lock's
  // takeover removes must be our own lock's files, not what a link planted in the lock's place names.
  if (st.isSymbolicLink()) throw new Error(`${path} is a symbolic link, not a Portcullis lock: remove it if you did not make it`);
  if (!st.isDirectory()) return [{ name: '', holder: null }]; // a stray file in its place
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${path} is owned by uid ${st.uid}, not by this user (uid ${uid}): not a lock of ours`);
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (e) {
    if (code(e) === 'ENOENT') return null;
    throw e;
  }
  return names.map((name) => {
    try {
      return { name, holder: parseHolder(readFileSync(join(path, name), 'utf8')) };
    } catch {
      return { name, holder: null }; // gone meanwhile, or not a file: not a live holder either way
    }
  });
}

/** The live holder of the lock, or null when it is free or stale. For messages (doctor); never to decide. */
export function lockHolder(o: LockOptions = {}): LockHolder | null {
  return look(firewallLockPath(o))?.find((e) => e.holder && isAlive(e.holder))?.holder ?? null;
}

function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (st.uid !== process.getuid?.()) throw new Error(`${dir} is owned by uid ${st.uid}, not by us`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)})`);
}

/** Removes stale holders by their own names (never a lock taken meanwhile), leaving the lock free. */
function removeStale(path: string, entries: { name: string }[]): void {
  for (const { name } of entries) {
    try {
      if (name === '') unlinkSync(path); // a stray file: fails (EISDIR) if a lock directory replaced it
      else rmSync(join(path, name), { recursive: true, force: true });
    } catch {
      /* someone else cleaned it up, or a real lock is there now: the next attempt will see */
    }
  }
}

/**
 * Locks of other namespaces whose holders died (kill -9; the namespace may be gone too) and private
 * directories of starts killed half-way: removed, the same identity-safe way, so /run/portcullis
 * does not fill up with them. A live holder's lock, or a start still running, is left alone.
 */
function sweep(dir: string, self: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const leftover = /^firewall-\d+\.lock\.(\d+)\.[0-9a-f]+\.new$/.exec(name);
    if (leftover) {
      if (processStartTime(Number(leftover[1])) === null) rmSync(p, { recursive: true, force: true });
    } else if (/^firewall-\d+\.lock$/.test(name) && p !== self) {
      const entries = look(p);
      if (!entries || entries.some((e) => e.holder && isAlive(e.holder))) continue;
      removeStale(p, entries);
      try {
        rmdirSync(p); // only while empty: a lock renamed in meanwhile stays
      } catch {
        /* not empty, or gone */
      }
    }
  }
}

/**
 * acquireFirewallLock, except that a live holder who is `waitFor` gets `waitMs` (monotonic clock) to
 * let go of the lock, checked every 100 ms, and `onWait` hears of it once. Other holders are refused
 * at once. Why: the desktop helper of a crashed app is stopped by its keeper once the next launch
 * removes its session directory, which takes a second or more (helper/main.ts).
 */
export async function acquireFirewallLockWaiting(who: string, o: LockOptions & { waitFor: string; waitMs: number; onWait?: (holder: LockHolder) => void }): Promise<FirewallLock> {
  const end = performance.now() + o.waitMs;
  let told = false;
  for (;;) {
    try {
      return acquireFirewallLock(who, o);
    } catch (e) {
      if (!(e instanceof FirewallLockedError) || e.holder.who !== o.waitFor || performance.now() >= end) throw e;
      if (!told) o.onWait?.(e.holder);
      told = true;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Takes the firewall lock of this network namespace for `who` (e.g. "portcullis run"), or throws
 * FirewallLockedError naming the live holder. Released by release() or at process exit.
 */
export function acquireFirewallLock(who: string, o: LockOptions = {}): FirewallLock {
  const dir = o.dir ?? DEFAULT_LOCK_DIR;
  prepareDir(dir);
  const path = firewallLockPath(o);
  sweep(dir, path);
  return takeLockAt(path, who, (holder) => new FirewallLockedError(path, holder));
}

/** Another live Portcullis writes this database (a run or serve, dry run included). */
export class StoreLockedError extends Error {
  readonly holder: LockHolder;
  readonly path: string;
  constructor(dbPath: string, path: string, holder: LockHolder) {
    super(`another Portcullis (${holder.who}, pid ${holder.pid}) is writing the database ${dbPath} (since ${holder.since}; lock ${path})`);
    this.name = 'StoreLockedError';
    this.holder = holder;
    this.path = path;
  }
}

/** The store lock of a database file: a directory beside it (portcullis.db → portcullis.db.lock). */
export function storeLockPath(dbPath: string): string {
  return `${dbPath}.lock`;
}

/**
 * One writer per database, dry runs included (they take no firewall lock): takes the lock beside
 * `dbPath` for `who`, or throws StoreLockedError naming the live writer. Why a lock and not only the
 * control-socket check: that check asks a state directory, so two starts at the same moment both
 * passed it, and a `--db` naming another state directory's database was refused only while that
 * directory's own instance ran first, not when it started second. Two writers of one database
 * fight over its log position and its bans (the second's restart applies the first's dry-run bans).
 * The same atomic, identity-safe steps as the firewall lock; a writer killed with -9 leaves a
 * stale lock that the next start takes over.
 */
export function acquireStoreLock(dbPath: string, who: string): HeldLock {
  // Beside the file itself, however it is named (a relative path, a symbolic link to it or to its directory).
  const path = storeLockPath(realFile(dbPath));
  refuseSharedDir(dirname(path));
  sweepStarts(dirname(path), basename(path));
  return takeLockAt(path, who, (holder) => new StoreLockedError(dbPath, path, holder));
}

/**
 * The database's directory must be this user's and writable by no one else (as a state directory):
 * in /tmp, another local user could plant a symbolic link where the lock, the database or its
 * journal is written, and a root Portcullis would write (or, taking over a "stale" lock, delete)
 * through it.
 */
function refuseSharedDir(dir: string): void {
  const st = statSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`the database's directory ${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}): use a directory of your own`);
  if ((st.mode & 0o022) !== 0)
    throw new Error(`the database's directory ${dir} is writable by others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}): a link planted there could redirect what Portcullis writes; use a directory of your own`);
}

/** `file`'s real path: the real path of its directory (which must exist) joined to its own name, or its real path when it is a symbolic link. */
function realFile(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return join(realpathSync(dirname(file)), basename(file)); // not there yet: the store creates it
  }
}

/** Private directories of starts killed half-way (`<lock>.<pid>.<hex>.new`) beside a store lock: removed when their pid is gone. */
function sweepStarts(dir: string, lockName: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no directory yet: the database's open will say why
  }
  for (const name of names) {
    if (!name.startsWith(lockName + '.')) continue;
    const leftover = /^\.(\d+)\.[0-9a-f]+\.new$/.exec(name.slice(lockName.length));
    if (leftover && processStartTime(Number(leftover[1])) === null) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/**
 * The lock at `path` for `who`: prepares a private directory with our holder file, renames it onto
 * `path` (exactly one contender wins), takes over a stale lock, and throws `refuse(holder)` for a live one.
 */
function takeLockAt(path: string, who: string, refuse: (holder: LockHolder) => Error): HeldLock {
  const starttime = processStartTime(process.pid);
  if (starttime === null) throw new Error(`cannot read /proc/${process.pid}/stat`);
  const me: LockHolder = { pid: process.pid, starttime, who, since: new Date().toISOString() };
  // Six bytes of /dev/urandom, not node:crypto: the service loads nothing else of it, and loading it
  // cost ~1.2 MB of resident memory for good (idle bench).
  const rand = urandomHex(6);
  const mine = `${path}.${process.pid}.${rand}.new`;
  const holderFile = `holder.${process.pid}.${rand}.json`;
  mkdirSync(mine, { mode: 0o755 });
  try {
    writeFileSync(join(mine, holderFile), JSON.stringify(me) + '\n', { flag: 'wx', mode: 0o644 });
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        renameSync(mine, path); // only onto nothing or an empty directory: exactly one contender wins
        return ownLock(path, holderFile, me);
      } catch (e) {
        if (code(e) !== 'ENOTEMPTY' && code(e) !== 'EEXIST' && code(e) !== 'ENOTDIR') throw e;
      }
      const entries = look(path);
      if (!entries) continue; // released meanwhile: try again
      const live = entries.find((e) => e.holder && isAlive(e.holder));
      if (live) throw refuse(live.holder!);
      removeStale(path, entries); // dead holder, pid reused, or garbage
    }
    throw new Error(`${path}: could not take the lock (it keeps changing hands)`);
  } finally {
    rmSync(mine, { recursive: true, force: true });
  }
}

function ownLock(path: string, holderFile: string, holder: LockHolder): HeldLock {
  let held = true;
  const release = (): boolean => {
    if (!held) return false;
    held = false;
    process.removeListener('exit', release);
    try {
      unlinkSync(join(path, holderFile)); // our unique name: never someone else's lock
    } catch {
      return false;
    }
    try {
      rmdirSync(path);
    } catch {
      /* a contender already took the free lock */
    }
    return true;
  };
  process.on('exit', release);
  return { path, holder, release };
}

/** `n` random bytes as hex, read from /dev/urandom. */
function urandomHex(n: number): string {
  const fd = openSync('/dev/urandom', 'r');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, null);
    return b.toString('hex');
  } finally {
    closeSync(fd);
  }
}
