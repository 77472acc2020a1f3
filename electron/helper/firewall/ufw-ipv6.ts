/**
 * The Doctor's `enable-ufw-ipv6` fix: `IPV6=yes` in /etc/default/ufw, then `ufw reload` while ufw is
 * active. With IPV6=no ufw loads no IPv6 rules at all, so IPv6 scanners are never logged or banned.
 *
 * It edits ONLY the value of that one key (every other byte of the file stays as it was: comments,
 * quotes, spacing, the other keys), refuses a file that is missing or not a regular file (a symlink
 * could point anywhere), swaps the new text in by rename (never half-written, same mode and owner),
 * refuses when the file changed while it was being edited, and puts the old text back (and reloads
 * again) when ufw's reload fails with the new one.
 */
import { chmodSync, chownSync, closeSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Exec } from '../exec.ts';
import { FirewallError } from './errors.ts';
import { ufwIsActive } from './managed.ts';
import { ufwConfValue } from '../../shared/ufw-conf.ts';

export const UFW_DEFAULTS_FILE = '/etc/default/ufw';

/** An active `IPV6=…` line (ufw's parser reads KEY=value; the value may be quoted). */
const IPV6_LINE = /^(\s*IPV6\s*=\s*)("?)([^"\s#]*)("?)([ \t]*)$/gm;

/**
 * The file's text with every active IPV6= line set to yes, nothing else changed; `changed` false when
 * it already says yes. Refused (reason) when the file has no IPV6= line: ufw's own default is then in
 * force, and adding a key is not this fix's to do.
 */
export function withIpv6Yes(text: string): { ok: true; text: string; changed: boolean } | { ok: false; reason: string } {
  let found = false;
  const next = text.replace(IPV6_LINE, (_all, head: string, q1: string, _value: string, q2: string, tail: string) => {
    found = true;
    return `${head}${q1}yes${q2}${tail}`;
  });
  if (!found) return { ok: false, reason: 'has no IPV6= line (ufw then loads no IPv6 rules; adding the key is left to you); nothing was changed' };
  // An indented line or spaces around = are not read by ufw (shared/ufw-conf.ts): such an edit would
  // report success while ufw still loads no IPv6 rules.
  if (ufwConfValue(next, 'IPV6') !== 'yes') return { ok: false, reason: 'has no IPV6= line ufw reads (KEY=value from the first column, no spaces around =); nothing was changed' };
  return { ok: true, text: next, changed: next !== text };
}

/** Writes `text` over `path` by rename, keeping its mode and owner; refuses if the file changed since `expected` was read. */
function replaceFile(path: string, expected: string, text: string): void {
  const st = lstatSync(path);
  const tmp = `${path}.portcullis-new`;
  const fd = openSync(tmp, 'w', st.mode & 0o7777);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, st.mode & 0o7777); // the open's mode is filtered by the umask
    chownSync(tmp, st.uid, st.gid);
    // Someone (ufw, an editor) wrote the file meanwhile: theirs stays, ours is dropped.
    if (readFileSync(path, 'utf8') !== expected) throw new FirewallError('bad-file', `${path} changed while it was being edited; nothing was changed, run the fix again`);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Sets IPV6=yes in ufw's defaults file and reloads ufw (when active); on a failed reload the old file is put back. */
export async function enableUfwIpv6(exec: Exec, opts: { defaultsFile?: string } = {}): Promise<{ changed: boolean; reloaded: boolean }> {
  const path = opts.defaultsFile ?? UFW_DEFAULTS_FILE;
  let st;
  try {
    st = lstatSync(path);
  } catch {
    throw new FirewallError('missing-file', `${path} does not exist — is ufw installed?`);
  }
  if (!st.isFile()) throw new FirewallError('bad-file', `${path} is not a regular file (a symlink or a directory): not editing it`);
  const prev = readFileSync(path, 'utf8');
  const edit = withIpv6Yes(prev);
  if (!edit.ok) throw new FirewallError('bad-file', `${path} ${edit.reason}`);
  if (!edit.changed) return { changed: false, reloaded: false };
  const active = await ufwIsActive(exec);
  replaceFile(path, prev, edit.text);
  if (!active) return { changed: true, reloaded: false }; // ufw reads it when it is next enabled
  const reload = await exec('ufw', ['reload'], { timeoutMs: 120_000 });
  if (reload.code === 0 && (await ufwIsActive(exec))) return { changed: true, reloaded: true };
  replaceFile(path, edit.text, prev);
  const again = await exec('ufw', ['reload'], { timeoutMs: 120_000 });
  throw new FirewallError(
    'reload-failed',
    `ufw reload failed with IPV6=yes (${(reload.stderr || reload.stdout).trim()}); ${path} was put back` +
      (again.code === 0 ? ' and reloaded' : ` but reloading it failed too: ${(again.stderr || again.stdout).trim()}`),
  );
}
