/**
 * Where `portcullis serve` puts the UI's address, which carries the API token (root's whole API:
 * ufw rules, disabling ufw, bans). On a terminal it is printed on a line of its own. Under systemd
 * stdout is the journal, which members of adm and systemd-journal read: there the address goes
 * into a file only root can read, in the state directory, and the line says where.
 */
import { fstatSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SERVE_URL_FILE = 'serve-url';

/**
 * Is fd 1 systemd's journal stream? systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it
 * connected; a program started from such a unit with its output redirected elsewhere inherits the
 * variable, so the stream itself is compared.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, stdoutStat: () => { dev: number; ino: number } = () => fstatSync(1)): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = stdoutStat();
    return st.dev === Number(m[1]) && st.ino === Number(m[2]);
  } catch {
    return false;
  }
}

/**
 * Announces the UI's address: the line to print (the address itself, or where the root-only file
 * holding it is). Never throws (the service and the web server run already): a file that cannot be
 * written is said instead, and the address is still not printed into the journal.
 */
export function announceServeUrl(url: string, stateDir: string, toJournal: boolean): string {
  const file = path.join(stateDir, SERVE_URL_FILE);
  try {
    // Written anew (not over a file that may have other modes), root only; on a terminal, an earlier
    // run's file (its token no longer valid) is removed.
    rmSync(file, { force: true });
    if (!toJournal) return url;
    writeFileSync(file, url + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if (!toJournal) return url;
    return `portcullis: the UI's address carries the API token and is not printed into the journal, but ${file} could not be written: ${(e as Error).message}`;
  }
  return `portcullis: the UI's address (it carries the API token) is in ${file}, readable by root only — not printed into the journal`;
}
