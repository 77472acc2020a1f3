/**
 * Reading the per-launch secret as root from a directory the USER owns (their runtime dir), so the
 * user can swap what is there at any moment. Checking a path (lstat) and then reading it again by
 * path lets a symlink swapped in between make root read any file (/etc/shadow) into the secret.
 * So: one open with O_NOFOLLOW (a symlink fails with ELOOP) and O_NONBLOCK (a FIFO cannot hang us),
 * then every check on that descriptor (fstat: regular file, owned by the user, mode 0600 or
 * stricter, a sane size), then read through it. A hard link to a root file fails the owner check.
 * The directory itself is pinned first, as server.ts does for its own: opened once with O_DIRECTORY
 * | O_NOFOLLOW, checked on that descriptor (the user's, mode 700), and the file is opened and
 * unlinked through /proc/self/fd/N/secret, so swapping the directory (or a parent) for a symlink
 * between steps cannot make root read or delete a file elsewhere.
 */
import { closeSync, constants, fstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { checkDirStat } from './server.ts';

export const SECRET_FILE = 'secret';
export const MIN_SECRET_BYTES = 16;
export const MAX_SECRET_BYTES = 512;

export type SecretRead = { ok: true; secret: string } | { ok: false; missing: boolean; reason: string };

/** Reads and deletes DIR/secret, which must be a regular file owned by `uid` with mode 0600 (or stricter). */
export function readSecretFile(dir: string, uid: number): SecretRead {
  const file = join(dir, SECRET_FILE);
  let dirFd: number;
  try {
    dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') return { ok: false, missing: false, reason: `${dir} is a symbolic link or not a directory: refusing to follow it` };
    return { ok: false, missing: false, reason: `cannot open ${dir}: ${(e as Error).message}` };
  }
  try {
    const problem = checkDirStat(dir, fstatSync(dirFd), uid);
    if (problem) return { ok: false, missing: false, reason: problem };
    return readPinned(`/proc/self/fd/${dirFd}/${SECRET_FILE}`, file, uid);
  } finally {
    closeSync(dirFd);
  }
}

/** Reads and unlinks `pinned` (the file through the pinned directory); `file` is its name in messages. */
function readPinned(pinned: string, file: string, uid: number): SecretRead {
  let fd: number;
  try {
    fd = openSync(pinned, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, missing: true, reason: `no secret file ${file}` };
    if (code === 'ELOOP') return { ok: false, missing: false, reason: `${file} is a symbolic link: refusing to follow it` };
    return { ok: false, missing: false, reason: `${file}: ${(e as Error).message}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, missing: false, reason: `${file} is not a regular file` };
    if (st.uid !== uid) return { ok: false, missing: false, reason: `${file} is owned by uid ${st.uid}, not ${uid}` };
    if ((st.mode & 0o077) !== 0) return { ok: false, missing: false, reason: `${file} has mode ${(st.mode & 0o777).toString(8)}: it must be 600` };
    if (st.size < MIN_SECRET_BYTES || st.size > MAX_SECRET_BYTES) return { ok: false, missing: false, reason: `${file} holds ${st.size} bytes, not ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES}` };
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    const secret = buf.subarray(0, got).toString('utf8').trim();
    if (secret.length < MIN_SECRET_BYTES) return { ok: false, missing: false, reason: `${file} holds a secret shorter than ${MIN_SECRET_BYTES} characters` };
    try {
      unlinkSync(pinned);
    } catch {
      /* already gone: the secret was read all the same */
    }
    return { ok: true, secret };
  } finally {
    closeSync(fd);
  }
}
