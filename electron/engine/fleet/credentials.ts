/**
 * The fleet link's machine credentials: given inline in the settings, or read (as root) from the
 * YAML file `cscli machines add -f` writes, under CREDENTIALS_DIR only.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { CREDENTIALS_DIR, type CrowdsecSettings } from '../../shared/fleet.ts';

/** A credentials file is a few lines; anything bigger is not one. */
export const CREDENTIALS_MAX_BYTES = 64 * 1024;

/**
 * Reads a credentials file as root without being led astray: only in `dir`, not through a final
 * symlink (O_NOFOLLOW), never blocking on a FIFO (O_NONBLOCK), a regular file of at most 64 KiB
 * (/dev/zero would fill memory).
 */
export function readCredentialsFile(p: string, dir: string = CREDENTIALS_DIR): string {
  if (!p.startsWith(dir) || p.split('/').includes('..')) throw new Error(`not in ${dir}`);
  const fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > CREDENTIALS_MAX_BYTES) throw new Error(`larger than ${CREDENTIALS_MAX_BYTES / 1024} KiB`);
    const buf = Buffer.alloc(CREDENTIALS_MAX_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > CREDENTIALS_MAX_BYTES) throw new Error(`larger than ${CREDENTIALS_MAX_BYTES / 1024} KiB`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The machine credentials: given inline, or read from the YAML `cscli machines add -f` writes. */
export function machineCredentials(s: CrowdsecSettings, read: (p: string) => string = (p) => readCredentialsFile(p)): { machineId: string | null; password: string | null; error: string | null } {
  if (s.credentialsFile === undefined) return { machineId: s.machineId ?? null, password: s.password ?? null, error: null };
  let text: string;
  try {
    text = read(s.credentialsFile);
  } catch (e) {
    return { machineId: null, password: null, error: `cannot read credentialsFile ${s.credentialsFile}: ${(e as Error).message}` };
  }
  const field = (k: string) => {
    const m = new RegExp(`^\\s*${k}\\s*:\\s*(.*?)\\s*$`, 'm').exec(text);
    return m ? m[1]!.replace(/^(['"])(.*)\1$/, '$2') : null;
  };
  const login = field('login');
  const password = field('password');
  if (!login || !password) return { machineId: null, password: null, error: `${s.credentialsFile} has no login and password (expected the file \`cscli machines add -f\` writes)` };
  return { machineId: s.machineId ?? login, password, error: null };
}
