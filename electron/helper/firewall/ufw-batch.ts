/**
 * Many ufw-backend bans at once (restore after a crash, a bulk ban): ufw has no batch of its own, and
 * one `ufw prepend` costs 0.3–1.4 s (it forks ~30 iptables processes and reloads its user chains),
 * so 10,000 bans one by one took over an hour. Instead the deny rules are written into ufw's own
 * book of record — /etc/ufw/user.rules and user6.rules, in exactly the form `ufw prepend deny from
 * <ip> comment <tag>` writes (a `### tuple ###` line with the comment hex-encoded, then its rule) —
 * and loaded the way ufw loads them after each of its own rule changes: `iptables-restore -n` of the
 * file (ufw's _reload_user_rules; the file declares ufw's user chains, so their content is replaced
 * in one transaction), once per family for the whole batch. A full `ufw reload` (2–4 s: every chain
 * of ufw rebuilt) would cost 20 reloads for a restore of 10k.
 *
 * Why the files and not the helper's fast iptables rules (blockNow's, in one `iptables-restore
 * --noflush`) plus a ufw sync in the background: those rules are gone at ufw's next reload (any rule
 * change, a boot) until the slow sync has caught up, an hour later at 10k. Written into user.rules,
 * the bans are ufw's own rules at once: `ufw status`, `ufw show added`, a reload and a reboot all see
 * them, and the unban path (`ufw delete deny from <ip>`) is unchanged.
 *
 * Safety: the new files are checked with iptables-restore/ip6tables-restore --test before anything is
 * replaced; each file is swapped in by rename (never half-written), its previous text kept as
 * `<file>.portcullis-prev`; a file changed by someone else meanwhile (a `ufw allow` typed by hand)
 * refuses the batch; a load that fails (it changes nothing in the kernel: one transaction) puts the
 * previous files back. After the load, `ufw show added` must list every ban written (ufw parsed our
 * lines as its own), or the previous files go back and are loaded again. Every put-back runs under
 * ufw's lock and puts back only a file that still holds what Portcullis wrote: a file changed since
 * (a `ufw allow` typed between the load and the check, an editor) is someone else's, left as it is,
 * and the error says so. Only deny rules for the
 * batch's sources are added: no line of the user's is changed or removed, and a source that already
 * has a rule of its own (our deny, the user's deny, or the user's `allow from` it) is skipped, as
 * `ufw prepend` skips it.
 *
 * Many unbans at once (reconcile's stale bans after a restart, an uninstall) take the same path back:
 * the entries are taken out of the files and the files loaded once (unbanManyInUfwFiles), with the
 * same checks, lock and put-back; only entries of Portcullis's own tagged deny rules are removed.
 *
 * Interrupted: a helper killed between swapping a file in and loading it (or between putting one back
 * and loading that) leaves the kernel holding other rules than ufw's files — an unban batch's denies
 * still dropping in the kernel though no file lists them, a ban batch's listed but not in force — until
 * ufw next reloads, which may be days. So before the first file is written a marker (PENDING_LOAD_FILE,
 * beside the files, in the same namespace's /etc/ufw: whichever Portcullis comes next finds it) names
 * the files, and it is removed once they are loaded. Found at the helper's start
 * (finishInterruptedEdit) or at the next batch, the files it names are loaded as they are, under ufw's
 * lock: the kernel then holds what the files say, as after ufw's own reload (the files are ufw's book
 * of record, and what `ufw show added`, hence the caller's reconcile, reads).
 */
import { basename, join } from 'node:path';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as z from 'zod';
import { ufwLock, type UfwLock } from './ufw-lock.ts';
import { canonicalCidr, canonicalIp, type BanTarget } from '../../shared/domain.ts';
import type { Exec } from '../exec.ts';
import { FirewallError, type FirewallErrorCode } from './errors.ts';
import { DEFAULT_ETC_DIR, readOrThrow, writeAtomically } from './managed.ts';
import { UFW_DEFAULTS_FILE } from './ufw-ipv6.ts';
import { ufwConfValue } from '../../shared/ufw-conf.ts';
import { isBanTag } from './types.ts';

/** One planned ban: its target and the full comment (tag) ufw keeps for it. */
export interface PlannedBan {
  ip: BanTarget;
  tag: string;
}

export interface UfwFilesOptions {
  /** ufw's configuration directory as this process sees it (default /etc/ufw). */
  etcDir?: string;
  /** ufw's defaults (IPV6=), default /etc/default/ufw. */
  defaultsFile?: string;
  /** ufw's own lock, held from reading the files to loading them (default: the real one, ufw-lock.ts). */
  lock?: UfwLock;
}

/** What a put-back did, for the error's text, and the files it left as they were (someone else's edit since, or ufw's lock not had). */
type PutBack = { said: string; notPutBack: string[] };

/**
 * A batch that failed after its files were swapped in, and was put back. `notPutBack`: the files it
 * could not put back (changed since Portcullis wrote them: someone else's edit, left as it is), which
 * the user must look at — a caller that recovers from the failure (the unban batch's `ufw delete`
 * each) still has to pass the error's text on.
 */
export class UfwBatchError extends FirewallError {
  readonly notPutBack: readonly string[];
  constructor(code: FirewallErrorCode, message: string, notPutBack: readonly string[]) {
    super(code, message);
    this.notPutBack = notPutBack;
  }
}

/** Told each time a family's user chains were replaced in the kernel (a load that succeeded, the batch's or a put-back's). */
export type ChainsReplaced = (family: 4 | 6) => void;

const RULES_MARK = '### RULES ###\n';
const END_MARK = '\n### END RULES ###\n';

/** ufw keeps a rule's comment hex-encoded in its tuple line. */
const hexOf = (text: string) => Buffer.from(text, 'utf8').toString('hex');

/** What `ufw prepend deny from <ip> comment <tag>` writes into user.rules / user6.rules (ufw 0.36). */
export function ufwDenyEntry(b: PlannedBan): string {
  const v6 = b.ip.includes(':');
  return `\n### tuple ### deny any any ${v6 ? '::/0' : '0.0.0.0/0'} any ${b.ip} in comment=${hexOf(b.tag)}\n-A ${v6 ? 'ufw6' : 'ufw'}-user-input -s ${b.ip} -j DROP\n`;
}

/**
 * Sources that already have a plain `<action> from <src>` input rule in a user rules file (deny, allow,
 * reject or limit, logged or not, any comment), each with whose rule decides its traffic: the FIRST
 * such rule in the file (ufw's rule order: the kernel stops at the first match). `'ban'` when that is
 * Portcullis's own deny (what `ufw show added` lists as `deny from <src> comment 'portcullis-ban…'`),
 * `'user'` for any other. `ufw prepend deny from <src>` skips such a source ("Skipping inserting
 * existing rule": ufw's UFWRule.match counts a rule that differs only by action, log type or comment
 * as the same rule), so a user's own `ufw allow from <src>` is never overridden by a ban. Route rules
 * (`route:…`) are another rule to ufw and do not count.
 */
export function sourcesWithRule(text: string): Map<string, 'ban' | 'user'> {
  const out = new Map<string, 'ban' | 'user'>();
  for (const m of text.matchAll(/^### tuple ### (allow|deny|reject|limit)((?:_log|_log-all)?) any any (?:0\.0\.0\.0\/0|::\/0) any (\S+) in(?: comment=([0-9a-f]*))?$/gm)) {
    const src = m[3]!;
    const c = src.includes('/') ? canonicalCidr(src) : canonicalIp(src);
    const comment = Buffer.from(m[4] ?? '', 'hex').toString('utf8');
    const ours = m[1] === 'deny' && m[2] === '' && isBanTag(comment);
    // A source with both: the first decides. The user's `allow from` above our deny lets it in, and
    // calling it banned would be a lie; our deny above the user's rule blocks it.
    if (!out.has(c ?? src)) out.set(c ?? src, ours ? 'ban' : 'user');
  }
  return out;
}

/** Where ufw's rules are in a user rules file: after its "### RULES ###" line (head), up to "\n### END RULES ###" (end). */
function rulesSection(text: string): { ok: true; head: number; end: number } | { ok: false; reason: string } {
  const at = text.indexOf(RULES_MARK);
  if (at < 0 || text.indexOf(RULES_MARK, at + 1) >= 0 || (at > 0 && text[at - 1] !== '\n')) return { ok: false, reason: 'does not hold ufw\'s "### RULES ###" line exactly once' };
  const end = text.indexOf(END_MARK, at);
  if (end < 0) return { ok: false, reason: 'has no "### END RULES ###" after "### RULES ###"' };
  return { ok: true, head: at + RULES_MARK.length, end };
}

/**
 * The file's text with deny entries for `bans` at the top of its rules (where `ufw prepend` puts them:
 * before every allow rule), those whose source already has a rule of its own left out (sourcesWithRule):
 * `skipped` names those whose rule is the user's (nothing of ours blocks them). Refused (reason) when
 * the file does not have ufw's markers exactly once: not a file this code understands.
 */
export function withDenyEntries(
  text: string,
  bans: readonly PlannedBan[],
): { ok: true; text: string; added: PlannedBan[]; skipped: PlannedBan[] } | { ok: false; reason: string } {
  const section = rulesSection(text);
  if (!section.ok) return section;
  const { head, end } = section;
  const have = sourcesWithRule(text);
  const added: PlannedBan[] = [];
  const skipped: PlannedBan[] = [];
  for (const b of bans) {
    const rule = have.get(b.ip);
    if (rule === 'user') skipped.push(b);
    if (rule) continue;
    have.set(b.ip, 'ban');
    added.push(b);
  }
  return { ok: true, text: text.slice(0, head) + added.map(ufwDenyEntry).join('') + text.slice(head), added, skipped };
}

function confSaysYes(file: string, key: string): boolean {
  try {
    return ufwConfValue(readFileSync(file, 'utf8'), key) === 'yes';
  } catch {
    return false;
  }
}

/** IPV6=yes in ufw's defaults (ufw then loads user6.rules); unreadable counts as no. */
const ufwFiltersIpv6 = (defaultsFile: string): boolean => confSaysYes(defaultsFile, 'IPV6');

/**
 * ufw's own test before it loads its user rules after a change (backend.is_enabled: ENABLED=yes in
 * ufw.conf), not `ufw status`, which lists every rule (0.1–0.6 s per batch at 10k).
 */
const ufwEnabled = (dir: string): boolean => confSaysYes(join(dir, 'ufw.conf'), 'ENABLED');

/** ufw's user rules files, and the restore binary each is loaded with. */
type RulesFile = 'user.rules' | 'user6.rules';
const RESTORE_OF = { 'user.rules': 'iptablesRestore', 'user6.rules': 'ip6tablesRestore' } as const;

interface RulesEdit {
  file: RulesFile;
  path: string;
  prev: string;
  next: string;
  mode: number;
}

/**
 * The marker of files swapped in (or put back) but not yet loaded, in ufw's directory (see
 * "Interrupted" at the top). Its text is read back by a later helper: decoded, never trusted.
 */
export const PENDING_LOAD_FILE = 'portcullis-pending-load.json';
const PendingLoadSchema = z.object({ files: z.array(z.enum(['user.rules', 'user6.rules'])).min(1).max(2) }).strict();

/** Written before the first of `files` is, so a helper killed before they are loaded leaves word of it. */
function markPending(dir: string, files: readonly RulesFile[]): void {
  writeAtomically(join(dir, PENDING_LOAD_FILE), `${JSON.stringify({ files: [...new Set(files)] })}\n`, 0o600);
}

function clearPending(dir: string): void {
  rmSync(join(dir, PENDING_LOAD_FILE), { force: true });
}

/**
 * Under ufw's lock: loads the files an interrupted edit left unloaded (its marker names them) as ufw
 * would (only while ufw is enabled; user6.rules only with IPV6=yes), then removes the marker. Returns
 * the files loaded; none when there is no marker. A load that fails throws and keeps the marker.
 */
async function loadPending(exec: Exec, dir: string, defaultsFile: string, replaced?: ChainsReplaced): Promise<RulesFile[]> {
  let text: string;
  try {
    text = readFileSync(join(dir, PENDING_LOAD_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let files: RulesFile[];
  try {
    files = PendingLoadSchema.parse(JSON.parse(text)).files;
  } catch {
    files = ['user.rules', 'user6.rules']; // a marker cut short: loading a file that needs none changes nothing
  }
  const toLoad = ufwEnabled(dir) ? files.filter((f) => f === 'user.rules' || ufwFiltersIpv6(defaultsFile)) : [];
  const failed: string[] = [];
  for (const f of toLoad) {
    const path = join(dir, f);
    const why = await loadUserRules(exec, f, readOrThrow(path).text, replaced);
    if (why) failed.push(`${path}: ${why}`);
  }
  if (failed.length) {
    throw new FirewallError('reload-failed', `ufw's rules files were left unloaded by an interrupted edit of Portcullis's, and loading them failed (${failed.join('; ')}): run ufw reload`);
  }
  clearPending(dir);
  return toLoad;
}

/**
 * At the helper's start: loads ufw's user rules files an earlier helper swapped in (or put back) and
 * was stopped before loading (see "Interrupted" at the top), under ufw's lock. Null when there was
 * nothing to finish (no marker: ufw's lock is not even taken); else the files loaded (none while ufw
 * is disabled: it loads them itself when enabled). Throws when their load fails (the marker stays).
 */
export async function finishInterruptedEdit(exec: Exec, opts: UfwFilesOptions = {}, replaced?: ChainsReplaced): Promise<{ loaded: string[] } | null> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  if (!existsSync(join(dir, PENDING_LOAD_FILE))) return null;
  const release = await (opts.lock ?? ufwLock())();
  try {
    return { loaded: (await loadPending(exec, dir, opts.defaultsFile ?? UFW_DEFAULTS_FILE, replaced)).map((f) => join(dir, f)) };
  } finally {
    await release();
  }
}

/** Loads a user rules file's text into the kernel as ufw does after a rule change (its user chains, one transaction). */
async function loadUserRules(exec: Exec, file: RulesFile, text: string, replaced?: ChainsReplaced): Promise<string | null> {
  const r = await exec(RESTORE_OF[file], ['-n'], { input: text, timeoutMs: 120_000 });
  if (r.code === 0) replaced?.(file === 'user.rules' ? 4 : 6);
  return r.code === 0 ? null : (r.stderr || r.stdout).trim() || `exit code ${r.code}`;
}

/** A file's text now; null when it cannot be read. */
function textNow(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Under ufw's lock (the caller holds it): puts the previous files back, and into the kernel for those
 * already loaded — each only if it still holds what Portcullis wrote. One that changed since is
 * someone else's edit (ufw run by hand between our lock and this one, an editor): putting ours back
 * would undo theirs — a `ufw allow` lost can lock an admin out — so it is left as it is. Returns what
 * happened, for the caller's error text, and the files left as they are (UfwBatchError.notPutBack).
 */
async function putBack(exec: Exec, dir: string, edits: readonly RulesEdit[], loaded: readonly RulesEdit[], replaced?: ChainsReplaced): Promise<PutBack> {
  const mine = edits.filter((e) => textNow(e.path) === e.next);
  const theirs = edits.filter((e) => !mine.includes(e));
  // Marked before the first write: a file written back but not loaded is what an interrupted edit leaves.
  if (mine.some((e) => loaded.includes(e))) markPending(dir, mine.map((e) => e.file));
  for (const e of mine) writeAtomically(e.path, e.prev, e.mode);
  const failed: string[] = [];
  for (const e of loaded) {
    if (!mine.includes(e)) continue;
    const why = await loadUserRules(exec, e.file, e.prev, replaced);
    if (why) failed.push(`${e.path}: ${why}`);
  }
  // A load that failed leaves the marker: the next start or batch loads the files again.
  if (failed.length === 0) clearPending(dir);
  const said: string[] = [];
  if (mine.length) {
    const what = mine.length === edits.length ? 'the previous files were' : `the previous ${mine.map((e) => basename(e.path)).join(' and ')} was`;
    said.push(`${what} put back${failed.length ? ` but loading them failed too (${failed.join('; ')}): run ufw reload` : ''}`);
  }
  if (theirs.length) {
    said.push(`${theirs.map((e) => e.path).join(' and ')} changed since Portcullis wrote ${theirs.length > 1 ? 'them' : 'it'} (someone else's edit: a ufw command or an editor), so ${theirs.length > 1 ? 'they were' : 'it was'} not put back; check ufw show added`);
  }
  return { said: said.join('; '), notPutBack: theirs.map((e) => e.path) };
}

/** putBack after the batch's lock was let go (the caller's `ufw show added` takes it too): under the lock again. */
async function putBackLocked(exec: Exec, opts: UfwFilesOptions, edits: readonly RulesEdit[], loaded: readonly RulesEdit[], replaced?: ChainsReplaced): Promise<PutBack> {
  let release: () => Promise<void>;
  try {
    release = await (opts.lock ?? ufwLock())();
  } catch (e) {
    return { said: `the previous files could not be put back (${(e as Error).message}): the new ones stay`, notPutBack: edits.map((e) => e.path) };
  }
  try {
    return await putBack(exec, opts.etcDir ?? DEFAULT_ETC_DIR, edits, loaded, replaced);
  } finally {
    await release();
  }
}

/**
 * Writes the bans into ufw's user rules files and loads them (see the top of this file).
 * Returns what it did not take: IPv6 bans while ufw has IPV6=no (the caller sends those through
 * `ufw prepend`, which answers as ufw does), and `skipped`, the sources with a rule of the user's own
 * (ufw would skip them too; nothing of ours blocks them, and the caller must not call them banned).
 */
export async function banManyInUfwFiles(
  exec: Exec,
  bans: readonly PlannedBan[],
  listTagged: () => Promise<{ ip: BanTarget }[]>,
  opts: UfwFilesOptions = {},
  replaced?: ChainsReplaced,
): Promise<{ added: number; loaded: boolean; notTaken: PlannedBan[]; skipped: PlannedBan[] }> {
  const families = byFamily(bans, (b) => b.ip, opts);
  const notTaken = families.notTaken;
  const added: PlannedBan[] = [];
  const skipped: PlannedBan[] = [];
  const edit = (family: readonly PlannedBan[]) => (text: string) => {
    const next = withDenyEntries(text, family);
    if (!next.ok) return next;
    skipped.push(...next.skipped);
    added.push(...next.added);
    return { ok: true as const, text: next.text, changed: next.added.length > 0 };
  };
  const r = await editUserRules(exec, opts, families, edit, replaced);
  if (!r) return { added: 0, loaded: false, notTaken, skipped };
  // ufw must read every line written as its own rule; if not, nothing of this batch stays.
  const listed = new Set((await listTagged().catch(() => [])).map((t) => t.ip));
  const missing = added.filter((b) => !listed.has(b.ip));
  if (missing.length > 0) {
    const back = await putBackLocked(exec, opts, r.edits, r.loaded, replaced);
    throw new UfwBatchError('ufw', `ufw did not list ${missing.length} of the ${added.length} bans written to its rules files (e.g. ${missing[0]!.ip}); ${back.said}`, back.notPutBack);
  }
  return { added: added.length, loaded: r.active, notTaken, skipped };
}

/**
 * The file's text without Portcullis's deny entries for `ips` (what ufwDenyEntry, or `ufw prepend deny
 * from <ip> comment <tag>`, wrote: the tuple line of a plain deny with our tag, then its rule lines):
 * what `ufw delete deny from <ip>` leaves, since ufw writes the file again from its rules, each entry
 * as one blank line, its tuple line and its rule lines. `removed` names the entries taken out;
 * `leftOver` the sources whose entry has another shape (a rule line this code does not expect): the
 * caller leaves those to `ufw delete`. A rule of the user's (another action, logged, without our tag)
 * is never touched. Refused (reason) when the file does not have ufw's markers exactly once.
 */
export function withoutDenyEntries(
  text: string,
  ips: readonly BanTarget[],
): { ok: true; text: string; removed: BanTarget[]; leftOver: BanTarget[] } | { ok: false; reason: string } {
  const section = rulesSection(text);
  if (!section.ok) return section;
  const { head, end } = section;
  const wanted = new Set<string>(ips);
  const removed: BanTarget[] = [];
  const leftOver: BanTarget[] = [];
  // Each entry: "\n### tuple ### …\n" then its rule lines ("-A …\n"), up to the next blank line.
  const rules = text.slice(head, end).replace(
    /\n### tuple ### deny any any (?:0\.0\.0\.0\/0|::\/0) any (\S+) in comment=([0-9a-f]*)\n((?:-A [^\n]*\n)*)/g,
    (entry, src: string, hex: string, lines: string) => {
      const c = (src.includes('/') ? canonicalCidr(src) : canonicalIp(src)) ?? src;
      if (!wanted.has(c) || !isBanTag(Buffer.from(hex, 'hex').toString('utf8'))) return entry;
      wanted.delete(c); // ufw keeps one `deny from <src>`: a second one would not be ours to guess at
      if (lines !== `-A ${src.includes(':') ? 'ufw6' : 'ufw'}-user-input -s ${src} -j DROP\n`) {
        leftOver.push(c as BanTarget);
        return entry;
      }
      removed.push(c as BanTarget);
      return '';
    },
  );
  // Listed by `ufw show added` but no entry of this shape here: left to `ufw delete`, never dropped.
  for (const c of wanted) leftOver.push(c as BanTarget);
  return { ok: true, text: text.slice(0, head) + rules + text.slice(end), removed, leftOver };
}

/**
 * Removes Portcullis's deny rules for `ips` from ufw's user rules files and loads them once per family
 * (the reverse of banManyInUfwFiles, with its checks, lock and put-back): N unbans cost what one
 * `ufw delete` costs, where one `ufw delete` each took 0.23–1.4 s (a restart's stale bans, an
 * uninstall of thousands). Returns the sources it left to the caller (`ufw delete deny from <ip>`):
 * IPv6 while ufw has IPV6=no, and entries of a shape it does not expect. Sources without a rule of
 * ours in the files are not touched.
 */
export async function unbanManyInUfwFiles(
  exec: Exec,
  ips: readonly BanTarget[],
  listTagged: () => Promise<{ ip: BanTarget }[]>,
  opts: UfwFilesOptions = {},
  replaced?: ChainsReplaced,
): Promise<{ removed: number; loaded: boolean; notTaken: BanTarget[] }> {
  const families = byFamily(ips, (ip) => ip, opts);
  const notTaken = families.notTaken;
  const removed: BanTarget[] = [];
  const edit = (family: readonly BanTarget[]) => (text: string) => {
    const next = withoutDenyEntries(text, family);
    if (!next.ok) return next;
    removed.push(...next.removed);
    notTaken.push(...next.leftOver);
    return { ok: true as const, text: next.text, changed: next.removed.length > 0 };
  };
  const r = await editUserRules(exec, opts, families, edit, replaced);
  if (!r) return { removed: 0, loaded: false, notTaken };
  // ufw must no longer list any of them (it read the files as its own); if it does, nothing of this batch stays.
  const listed = await listTagged().catch(() => null);
  const still = listed === null ? removed : removed.filter((ip) => listed.some((t) => t.ip === ip));
  if (still.length > 0) {
    const back = await putBackLocked(exec, opts, r.edits, r.loaded, replaced);
    throw new UfwBatchError('ufw', `ufw still lists ${still.length} of the ${removed.length} bans taken out of its rules files (e.g. ${still[0]}); ${back.said}`, back.notPutBack);
  }
  return { removed: removed.length, loaded: r.active, notTaken };
}

/**
 * Entries by the family of their address, for user.rules and user6.rules; IPv6 ones while ufw has
 * IPV6=no go to notTaken (ufw answers for them itself, one `ufw` run each).
 */
function byFamily<T>(items: readonly T[], ipOf: (t: T) => string, opts: UfwFilesOptions): { v4: T[]; v6: T[]; notTaken: T[] } {
  const v6ok = ufwFiltersIpv6(opts.defaultsFile ?? UFW_DEFAULTS_FILE);
  const v6 = items.filter((t) => ipOf(t).includes(':'));
  return { v4: items.filter((t) => !ipOf(t).includes(':')), v6: v6ok ? v6 : [], notTaken: v6ok ? [] : v6 };
}

/** One family's change of its user rules file: the new text (changed: false = nothing to write), or why the file is refused. */
type UserRulesEdit = (text: string) => { ok: true; text: string; changed: boolean } | { ok: false; reason: string };

/**
 * Edits user.rules/user6.rules (`edit(v4)`/`edit(v6)`, a family with no entries is not read) under
 * ufw's lock and loads them (writeAndLoad); null when neither file changed. The lock is released
 * before it returns: the caller's `ufw show added` takes it too (a put-back after it takes the lock
 * again: putBackLocked). Files an interrupted edit left unloaded are loaded first (loadPending).
 */
async function editUserRules<T>(
  exec: Exec,
  opts: UfwFilesOptions,
  family: { v4: readonly T[]; v6: readonly T[] },
  edit: (entries: readonly T[]) => UserRulesEdit,
  replaced?: ChainsReplaced,
): Promise<{ edits: RulesEdit[]; active: boolean; loaded: RulesEdit[] } | null> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  // ufw's lock from the read to the load, so a ufw run by hand meanwhile either finishes before we
  // read or starts after we loaded (it then reads our files).
  const release = await (opts.lock ?? ufwLock())();
  try {
    await loadPending(exec, dir, opts.defaultsFile ?? UFW_DEFAULTS_FILE, replaced);
    const files: [RulesFile, UserRulesEdit | null][] = [
      ['user.rules', family.v4.length ? edit(family.v4) : null],
      ['user6.rules', family.v6.length ? edit(family.v6) : null],
    ];
    const r = await writeAndLoad(exec, dir, files, replaced);
    return r.edits.length ? r : null;
  } finally {
    await release();
  }
}

/** The part under ufw's lock: check, swap in and load the files (each step's failure puts back what it changed). */
async function writeAndLoad(
  exec: Exec,
  dir: string,
  files: readonly [file: RulesFile, edit: UserRulesEdit | null][],
  replaced?: ChainsReplaced,
): Promise<{ edits: RulesEdit[]; active: boolean; loaded: RulesEdit[] }> {
  const edits: RulesEdit[] = [];
  for (const [file, edit] of files) {
    if (!edit) continue;
    const path = join(dir, file);
    const cur = readOrThrow(path);
    const next = edit(cur.text);
    if (!next.ok) throw new FirewallError('bad-file', `${path} ${next.reason}; nothing was changed`);
    if (!next.changed) continue;
    edits.push({ file, path, prev: cur.text, next: next.text, mode: cur.mode });
  }
  if (edits.length === 0) return { edits, active: false, loaded: [] };
  for (const e of edits) {
    const r = await exec(RESTORE_OF[e.file], ['--test'], { input: e.next, timeoutMs: 120_000 });
    if (r.code !== 0) throw new FirewallError('rejected-rules', `the new ${e.path} would not load, nothing was changed: ${(r.stderr || r.stdout).trim()}`);
  }
  const active = ufwEnabled(dir);
  // A file written by someone else since it was read (ufw run by hand, an editor): theirs stays.
  for (const e of edits) {
    if (readFileSync(e.path, 'utf8') !== e.prev) throw new FirewallError('bad-file', `${e.path} changed while Portcullis was editing it; nothing was changed, try again`);
  }
  // Disabled, ufw loads nothing now (it loads the files when enabled): nothing can be left unloaded.
  if (active) markPending(dir, edits.map((e) => e.file));
  for (const e of edits) {
    writeFileSync(`${e.path}.portcullis-prev`, e.prev, { mode: e.mode & 0o777 });
    writeAtomically(e.path, e.next, e.mode);
  }
  const loaded: RulesEdit[] = [];
  if (active) {
    for (const e of edits) {
      const why = await loadUserRules(exec, e.file, e.next, replaced);
      if (why) {
        const back = await putBack(exec, dir, edits, loaded, replaced);
        throw new UfwBatchError('reload-failed', `loading the new ${e.path} failed (${why}); ${back.said}`, back.notPutBack);
      }
      loaded.push(e);
    }
    clearPending(dir);
  }
  return { edits, active, loaded };
}
