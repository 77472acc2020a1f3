/**
 * Installs and removes Portcullis's managed blocks in ufw's files, safely:
 * every new rules file is checked with `iptables-restore --test` / `ip6tables-restore --test` BEFORE
 * it replaces the old one, files are swapped by rename (never half-written), the previous content is
 * kept (in memory and as `<file>.portcullis-prev`), and when `ufw reload` fails — a bad file leaves ufw
 * half-loaded ("Firewall not enabled") — the previous files are put back and ufw reloaded again.
 *
 * Paths come from `etcDir` (default /etc/ufw) so unit tests use a temp dir and system tests the
 * private /etc/netns/<ns>/ufw of a namespace.
 */
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BINARIES, type Exec } from '../exec.ts';
import {
  BAN_NET_SET_NAMES,
  BAN_SET_NAMES,
  BEFORE_INIT_ANCHOR,
  SET_BLOCK_ANCHOR,
  banSetCreateArgs,
  beforeInitBlock,
  blockBody,
  hasBlock,
  netSetCreateArgs,
  loggingAnchor,
  perSourceLoggingRules,
  loggingViaOf,
  setBlockRules,
  withBlock,
  withoutBlock,
  type Family,
  type PerSourceLoggingOptions,
  type TextResult,
} from './blocks.ts';
import { FirewallError } from './errors.ts';
import type { LoggingVia } from '../../shared/settings.ts';

export interface ManagedOptions {
  /** ufw's configuration directory as this process sees it. Default /etc/ufw. */
  etcDir?: string;
}

export const DEFAULT_ETC_DIR = '/etc/ufw';

export interface FileEdit {
  path: string;
  /** Checked with this restore binary before swapping in; null for the shell hook. */
  check: 'iptablesRestore' | 'ip6tablesRestore' | null;
  next: string;
  prev: string;
  mode: number;
  makeExecutable?: boolean;
}

export function unwrap(r: TextResult, file: string): string {
  if (!r.ok) throw new FirewallError('bad-file', `${file}: ${r.reason}`);
  return r.text;
}

export function readOrThrow(path: string): { text: string; mode: number } {
  if (!existsSync(path)) throw new FirewallError('missing-file', `${path} does not exist — is ufw installed?`);
  return { text: readFileSync(path, 'utf8'), mode: statSync(path).mode & 0o7777 };
}

export function writeAtomically(path: string, text: string, mode: number): void {
  const tmp = `${path}.portcullis-new`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode); // writeFileSync's mode is filtered by the umask
  renameSync(tmp, path);
}

export async function ufwIsActive(exec: Exec): Promise<boolean> {
  const r = await exec('ufw', ['status']);
  return r.code === 0 && /^Status: active/m.test(r.stdout);
}

/**
 * Validates, swaps in and reloads a set of edits as one unit: either all new files are in place and
 * ufw reloaded them, or the previous files are back (and reloaded) and this throws.
 */
export async function applyEdits(exec: Exec, edits: FileEdit[]): Promise<{ reloaded: boolean }> {
  const changed = edits.filter((e) => e.next !== e.prev || (e.makeExecutable && (e.mode & 0o100) === 0));
  if (changed.length === 0) return { reloaded: false };
  for (const e of changed) {
    if (!e.check) continue;
    const r = await exec(e.check, ['--test'], { input: e.next, timeoutMs: 30_000 });
    if (r.code !== 0) {
      throw new FirewallError('rejected-rules', `the new ${e.path} would not load, nothing was changed: ${(r.stderr || r.stdout).trim()}`);
    }
  }
  const active = await ufwIsActive(exec);
  // A file written by someone else since it was read (ufw run by hand, an editor): theirs stays.
  for (const e of changed) {
    if (readFileSync(e.path, 'utf8') !== e.prev) throw new FirewallError('bad-file', `${e.path} changed while Portcullis was editing it; nothing was changed, try again`);
  }
  for (const e of changed) {
    writeFileSync(`${e.path}.portcullis-prev`, e.prev, { mode: e.mode & 0o777 });
    writeAtomically(e.path, e.next, e.makeExecutable ? e.mode | 0o100 : e.mode);
  }
  if (!active) return { reloaded: false }; // ufw reads the files when it is next enabled
  const reload = await exec('ufw', ['reload'], { timeoutMs: 120_000 });
  if (reload.code === 0 && (await ufwIsActive(exec))) return { reloaded: true };
  for (const e of changed) writeAtomically(e.path, e.prev, e.mode);
  const again = await exec('ufw', ['reload'], { timeoutMs: 120_000 });
  throw new FirewallError(
    'reload-failed',
    `ufw reload failed with the new files (${(reload.stderr || reload.stdout).trim()}); the previous files were restored` +
      (again.code === 0 ? ' and reloaded' : ` but reloading them failed too: ${(again.stderr || again.stdout).trim()}`),
  );
}

export async function createBanSets(exec: Exec): Promise<void> {
  for (const args of [banSetCreateArgs(4), banSetCreateArgs(6), netSetCreateArgs(4), netSetCreateArgs(6)]) {
    const r = await exec('ipset', ['-exist', 'create', ...args]);
    if (r.code !== 0) {
      throw new FirewallError('ipset', `cannot create the ban set ${args[0]}: ${(r.stderr || r.stdout).trim()} (a set of that name with another type may exist)`);
    }
  }
}

/**
 * The set backend's plumbing: creates the ban sets, hooks their creation into before.init (so ufw can
 * start at boot before Portcullis), and adds the DROP-if-in-set block to before.rules and before6.rules.
 */
export async function installSetBlock(exec: Exec, opts: ManagedOptions = {}): Promise<void> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  await createBanSets(exec); // before the --test: the rules reference the sets
  const init = readOrThrow(join(dir, 'before.init'));
  const edits: FileEdit[] = [
    {
      path: join(dir, 'before.init'),
      check: null,
      prev: init.text,
      next: unwrap(withBlock(init.text, beforeInitBlock(BINARIES.ipset), BEFORE_INIT_ANCHOR, '    '), 'before.init'),
      mode: init.mode,
      makeExecutable: true, // ufw runs before.init only when it is executable
    },
  ];
  for (const [file, family, check] of [
    ['before.rules', 4, 'iptablesRestore'],
    ['before6.rules', 6, 'ip6tablesRestore'],
  ] as const) {
    const cur = readOrThrow(join(dir, file));
    edits.push({ path: join(dir, file), check, prev: cur.text, next: unwrap(withBlock(cur.text, setBlockRules(family), SET_BLOCK_ANCHOR), file), mode: cur.mode });
  }
  await applyEdits(exec, edits);
}

/** Removes the set block and the before.init hook, then destroys the sets (and the bans in them). */
export async function removeSetBlock(exec: Exec, opts: ManagedOptions = {}): Promise<void> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  const edits: FileEdit[] = [];
  for (const [file, check] of [
    ['before.rules', 'iptablesRestore'],
    ['before6.rules', 'ip6tablesRestore'],
    ['before.init', null],
  ] as const) {
    const cur = readOrThrow(join(dir, file));
    edits.push({ path: join(dir, file), check, prev: cur.text, next: unwrap(withoutBlock(cur.text), file), mode: cur.mode });
  }
  await applyEdits(exec, edits);
  for (const name of [...Object.values(BAN_SET_NAMES), ...Object.values(BAN_NET_SET_NAMES)]) {
    // Fails harmlessly when the set is absent, or still referenced because ufw is not reloaded yet.
    await exec('ipset', ['destroy', name]);
  }
}

export async function installPerSourceLogging(exec: Exec, opts: ManagedOptions & PerSourceLoggingOptions = {}): Promise<void> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  const edits: FileEdit[] = [];
  for (const [file, family, check] of [
    ['after.rules', 4, 'iptablesRestore'],
    ['after6.rules', 6, 'ip6tablesRestore'],
  ] as const) {
    const rules = perSourceLoggingRules(family, opts);
    if (!rules.ok) throw new FirewallError('bad-option', rules.reason);
    const cur = readOrThrow(join(dir, file));
    edits.push({ path: join(dir, file), check, prev: cur.text, next: unwrap(withBlock(cur.text, rules.rules, loggingAnchor(family)), file), mode: cur.mode });
  }
  await applyEdits(exec, edits);
}

export async function removePerSourceLogging(exec: Exec, opts: ManagedOptions = {}): Promise<void> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  const edits: FileEdit[] = [];
  for (const [file, check] of [
    ['after.rules', 'iptablesRestore'],
    ['after6.rules', 'ip6tablesRestore'],
  ] as const) {
    const cur = readOrThrow(join(dir, file));
    edits.push({ path: join(dir, file), check, prev: cur.text, next: unwrap(withoutBlock(cur.text), file), mode: cur.mode });
  }
  await applyEdits(exec, edits);
}

/** `body`: the block must hold exactly these lines (an older block, e.g. without the prefix-ban set's rule, is not installed). */
function fileHasBlock(path: string, body?: readonly string[]): boolean {
  try {
    const text = readFileSync(path, 'utf8');
    if (body === undefined) return hasBlock(text);
    const cur = blockBody(text);
    return cur !== null && cur.length === body.length && cur.every((l, i) => l === body[i]);
  } catch {
    return false;
  }
}

/** How the per-source logging block in `path` logs (null: no block, or none that logs). */
function loggingViaIn(path: string): LoggingVia | null {
  try {
    const body = blockBody(readFileSync(path, 'utf8'));
    return body === null ? null : loggingViaOf(body);
  } catch {
    return null;
  }
}

/** Which managed blocks are present in ufw's files (both families must carry them). */
export async function managedBlocksStatus(opts: ManagedOptions = {}): Promise<{
  setBlock: boolean;
  perSourceLogging: boolean;
  perSourceLoggingVia: LoggingVia | null;
  perSourceLoggingByFamily: { v4: LoggingVia | null; v6: LoggingVia | null };
}> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  const via4 = loggingViaIn(join(dir, 'after.rules'));
  const via6 = loggingViaIn(join(dir, 'after6.rules'));
  return {
    // LOG or NFLOG: the same in both files, else it is reinstalled (null, as a half-installed block).
    perSourceLoggingVia: via4 !== null && via4 === via6 ? via4 : null,
    perSourceLoggingByFamily: { v4: via4, v6: via6 },
    // The rules as this version writes them: after an upgrade that added a set, the block is installed again.
    setBlock: fileHasBlock(join(dir, 'before.rules'), setBlockRules(4)) && fileHasBlock(join(dir, 'before6.rules'), setBlockRules(6)) && fileHasBlock(join(dir, 'before.init'), beforeInitBlock(BINARIES.ipset)),
    perSourceLogging: fileHasBlock(join(dir, 'after.rules')) && fileHasBlock(join(dir, 'after6.rules')),
  };
}
