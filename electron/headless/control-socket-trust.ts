/**
 * Whether a state directory and its control socket can be trusted, checked by both ends: the runner
 * before it makes the directory (control.ts), the CLI before it connects (control-client.ts). Small
 * on purpose (node:fs and node:path only): `portcullis status` loads it.
 *
 * The server knows who its peer is (peer-identity.ts); the client must know who its server is. A
 * local user who made the socket path first — a state directory others can write, or a parent
 * they could swap — would receive the admin's `ban`, `unban` and settings calls and answer with
 * lies. So before connecting the client asks, without following any link: is it a socket, owned
 * like its directory by root (or by the user running the CLI, whose own `run --dry-run` made it),
 * in a directory nobody else can write, under parents nobody else can swap? With all that true no
 * one else can replace the socket between this check and the connect.
 */
import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

const modeText = (st: Stats): string => (st.mode & 0o7777).toString(8).padStart(4, '0');

/** Throws unless directory `at` (a parent of the state directory) is root's or this user's, and others cannot rename what is in it. */
function refuseUnsafeParent(at: string, st: Stats, uid: number | undefined): void {
  if (st.uid !== 0 && st.uid !== uid) throw new Error(`${at} (a parent of the state directory) is owned by uid ${st.uid}, not root or this user: it could swap the state directory; refusing to use it`);
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)
    throw new Error(`${at} (a parent of the state directory) has mode ${modeText(st)}: writable by others without the sticky bit, so they could swap the state directory; refusing to use it`);
}

/**
 * Refuses a state directory under a parent that someone else could swap: each directory from / down
 * to the parent (symlinks resolved) must belong to root or to this user, and must not be writable by
 * group or others unless it is sticky (as /tmp: there others cannot rename or delete our directory).
 * Checking the last component alone let the owner of a parent replace the whole state directory.
 */
export function refuseUnsafeParents(parent: string): void {
  const uid = process.getuid?.();
  for (let at = realpathSync(parent); ; at = path.dirname(at)) {
    refuseUnsafeParent(at, statSync(at), uid);
    if (path.dirname(at) === at) return;
  }
}

/**
 * refuseUnsafeParents, and the same of each directory on the path as written: a link among the
 * parents lives in a directory of that path, whose owner could point it elsewhere (the resolved
 * path alone never shows that directory). The link itself must be root's or this user's too: in a
 * sticky directory (/tmp) no one else can rename it, but its owner can point it anywhere.
 */
function refuseUnsafeParentsAsWritten(parent: string): void {
  refuseUnsafeParents(parent);
  const uid = process.getuid?.();
  for (let at = path.resolve(parent); ; at = path.dirname(at)) {
    const link = lstatSync(at);
    if (link.isSymbolicLink() && link.uid !== 0 && link.uid !== uid)
      throw new Error(`${at} (a link on the path to the state directory) is owned by uid ${link.uid}, not root or this user: it could point it elsewhere; refusing to use it`);
    refuseUnsafeParent(at, statSync(at), uid);
    if (path.dirname(at) === at) return;
  }
}

export function noInstanceError(sockPath: string): Error {
  return new Error(`no running Portcullis instance (no control socket at ${sockPath}); start one with \`portcullis run\``);
}

export function permissionDeniedError(sockPath: string): Error {
  return new Error(`permission denied on ${sockPath}: the control socket is root-only (use sudo)`);
}

function lstatOrExplain(p: string, sockPath: string): Stats {
  try {
    return lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw noInstanceError(sockPath);
    if (code === 'EACCES') throw permissionDeniedError(sockPath);
    throw e;
  }
}

/**
 * Throws, saying why, unless `sockPath` is a control socket only its runner could have made (see
 * the top of this file). A missing socket or directory gives the usual "no running instance".
 */
export function checkControlSocket(sockPath: string): void {
  const abs = path.resolve(sockPath);
  const dir = path.dirname(abs);
  const me = process.getuid?.();
  const whoMayOwn = me === 0 || me === undefined ? 'root' : `root or you (uid ${me})`;
  const refuse = (why: string): never => {
    throw new Error(`${why}: it may not be Portcullis's; refusing to talk to it`);
  };
  const d = lstatOrExplain(dir, abs);
  if (d.isSymbolicLink()) refuse(`${dir} (the state directory) is a symbolic link`);
  if (!d.isDirectory()) refuse(`${dir} (the state directory) is not a directory`);
  if (d.uid !== 0 && d.uid !== me) refuse(`${dir} (the state directory) is owned by uid ${d.uid}, not ${whoMayOwn}`);
  if ((d.mode & 0o022) !== 0) refuse(`${dir} (the state directory) has mode ${modeText(d)}: others could have put a socket there first`);
  refuseUnsafeParentsAsWritten(path.dirname(dir));
  const s = lstatOrExplain(abs, abs);
  if (s.isSymbolicLink()) refuse(`${abs} is a symbolic link`);
  if (!s.isSocket()) refuse(`${abs} is not a socket`);
  if (s.uid !== d.uid) refuse(`${abs} is owned by uid ${s.uid}, not by uid ${d.uid} like its state directory`);
}
