/**
 * Installs and removes the forward block (forward-blocks.ts says what it holds and why), the same way
 * as the other managed blocks (managed.ts: `--test` first, swap by rename, roll back on a failed
 * reload), plus what ufw's files cannot hold: the jumps from Docker's DOCKER-USER chain, kept by argv
 * (`iptables -I/-C/-D`), and our chains left in the kernel once the block is gone.
 *
 * DOCKER-USER is dockerd's: it exists only while Docker runs, and starts empty at every boot. The
 * jumps are added when it exists and ufw has loaded our chains; `forwardBlockStatus` says when they are
 * missing (Docker started after Portcullis), installing again (`doctor --fix install-forward-block`,
 * idempotent) adds them, and so does `repairForwardJumps`, the service's periodic check.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BINARIES, type Exec } from '../exec.ts';
import { BAN_NET_SET_NAMES, BAN_SET_NAMES, BEFORE_INIT_ANCHOR, beforeInitBlock, blockBody, hasBlock, loggingViaOf, withBlock, withoutBlock, type Family, type PerSourceLoggingOptions } from './blocks.ts';
import type { LoggingVia } from '../../shared/settings.ts';
import { FirewallError } from './errors.ts';
import {
  DOCKER_JUMPS,
  forwardAfterAnchor,
  FORWARD_BEFORE_ANCHOR,
  FORWARD_BLOCK_NAME,
  FORWARD_CHAIN,
  FORWARD_CHAINS,
  chainDeleteArgv,
  chainExistsArgv,
  chainFlushArgv,
  dockerJumpCheckArgv,
  dockerJumpDeleteArgv,
  dockerJumpInsertArgv,
  dockerUserExistsArgv,
  forwardAfterRules,
  forwardBeforeRules,
  iptablesOf,
} from './forward-blocks.ts';
import { parseUfwDefaults } from '../ufw-status.ts';
import { applyEdits, createBanSets, DEFAULT_ETC_DIR, readOrThrow, ufwIsActive, unwrap, type FileEdit, type ManagedOptions } from './managed.ts';
import { syncUfwBansToSets } from './forward-mirror.ts';

const FAMILIES: Family[] = [4, 6];
const FILES = {
  before: { 4: 'before.rules', 6: 'before6.rules' },
  after: { 4: 'after.rules', 6: 'after6.rules' },
} as const;
const CHECK = { 4: 'iptablesRestore', 6: 'ip6tablesRestore' } as const;

/** State of DOCKER-USER for one family: no such chain (no Docker), both jumps in it, or some missing. */
export type DockerUserState = 'absent' | 'jumped' | 'missing-jump';

export interface ForwardBlockStatus {
  /** The block is in all five files. */
  installed: boolean;
  /** after.rules' part logs routed connections (it does not when ufw's routed policy was allow at install). */
  logsRouted: boolean;
  /**
   * How the block logs: LOG, or NFLOG for the nflog source — the same in all four rules files
   * (IPv4 and IPv6, before and after); null when not installed or mixed (installing again fixes it).
   */
  via: LoggingVia | null;
  /** ufw has loaded our chains (per family): false while ufw is off, or before a reload. */
  loaded: Record<'v4' | 'v6', boolean>;
  dockerUser: Record<'v4' | 'v6', DockerUserState>;
}

function fileHasForward(path: string): boolean {
  try {
    return hasBlock(readFileSync(path, 'utf8'), FORWARD_BLOCK_NAME);
  } catch {
    return false;
  }
}

/** Is the forward block in ufw's files (all five)? Cheap: reads files, runs nothing. */
export function forwardBlockInstalled(opts: ManagedOptions = {}): boolean {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  return ['before.init', ...Object.values(FILES.before), ...Object.values(FILES.after)].every((f) => fileHasForward(join(dir, f)));
}

async function dockerUserState(exec: Exec, family: Family): Promise<DockerUserState> {
  const bin = iptablesOf(family);
  if ((await exec(bin, dockerUserExistsArgv())).code !== 0) return 'absent';
  for (const target of DOCKER_JUMPS) if ((await exec(bin, dockerJumpCheckArgv(target))).code !== 0) return 'missing-jump';
  return 'jumped';
}

/**
 * Puts both jumps first in DOCKER-USER, in order, where the chain exists and our chains are loaded.
 * Resolves with whether it added them (false: nothing to join, nothing to jump to, or both there).
 */
async function ensureDockerJumps(exec: Exec, family: Family): Promise<boolean> {
  const bin = iptablesOf(family);
  if ((await exec(bin, dockerUserExistsArgv())).code !== 0) return false; // no Docker: nothing to join
  if ((await exec(bin, chainExistsArgv(FORWARD_CHAIN))).code !== 0) return false; // ufw off: nothing to jump to yet
  if ((await dockerUserState(exec, family)) === 'jumped') return false;
  await removeDockerJumps(exec, family); // a half set (one jump, or out of order): start clean
  for (const [i, target] of DOCKER_JUMPS.entries()) {
    const r = await exec(bin, dockerJumpInsertArgv(target, i + 1));
    if (r.code !== 0) throw new FirewallError('iptables', `cannot add the jump to ${target} in DOCKER-USER: ${(r.stderr || r.stdout).trim()}`);
  }
  return true;
}

/**
 * The service's periodic check (every status refresh, ~30 s): while the forward block is installed,
 * puts back DOCKER-USER's jumps that went missing — dockerd creates the chain empty at each start
 * (a Docker restart, a boot where Docker came up after Portcullis), and a `ufw reload` whose rules
 * declare the chain (the ufw-docker recipe's `:DOCKER-USER - [0:0]` in after.rules) flushes it.
 * Without them banned sources reach published container ports, and nothing else noticed.
 *
 * Cheap when all is well: the files are read (no process), then one `iptables -C` per family for the
 * drop jump, the one bans depend on (dockerd and a reload take both jumps at once). Only when it is
 * not there does it look further (no chain: no Docker; our chains not loaded: ufw off) and add both.
 * Resolves with the families it repaired.
 */
export async function repairForwardJumps(exec: Exec, opts: ManagedOptions = {}): Promise<{ repaired: ('v4' | 'v6')[] }> {
  const repaired: ('v4' | 'v6')[] = [];
  if (!forwardBlockInstalled(opts)) return { repaired };
  for (const family of FAMILIES) {
    if ((await exec(iptablesOf(family), dockerJumpCheckArgv(DOCKER_JUMPS[0]))).code === 0) continue;
    if (await ensureDockerJumps(exec, family)) repaired.push(family === 4 ? 'v4' : 'v6');
  }
  return { repaired };
}

/** Deletes every copy of our jumps from DOCKER-USER (bounded: a copy per try). */
async function removeDockerJumps(exec: Exec, family: Family): Promise<void> {
  const bin = iptablesOf(family);
  for (const target of DOCKER_JUMPS) {
    for (let i = 0; i < 16; i++) {
      if ((await exec(bin, dockerJumpCheckArgv(target))).code !== 0) break;
      const r = await exec(bin, dockerJumpDeleteArgv(target));
      if (r.code !== 0) throw new FirewallError('iptables', `cannot remove the jump to ${target} from DOCKER-USER: ${(r.stderr || r.stdout).trim()}`);
    }
  }
}

function edits(dir: string, next: (text: string, file: string, family: Family | null, part: 'init' | 'before' | 'after') => string): FileEdit[] {
  const out: FileEdit[] = [];
  const init = readOrThrow(join(dir, 'before.init'));
  out.push({ path: join(dir, 'before.init'), check: null, prev: init.text, next: next(init.text, 'before.init', null, 'init'), mode: init.mode, makeExecutable: true });
  for (const part of ['before', 'after'] as const) {
    for (const family of FAMILIES) {
      const file = FILES[part][family];
      const cur = readOrThrow(join(dir, file));
      out.push({ path: join(dir, file), check: CHECK[family], prev: cur.text, next: next(cur.text, file, family, part), mode: cur.mode });
    }
  }
  return out;
}

/**
 * Installs (or refreshes) the forward block: the ban sets, the blocks in before.init, before(6).rules
 * and after(6).rules, ufw reloaded; then the DOCKER-USER jumps where that chain exists, and the ufw
 * backend's current bans copied into the sets. Idempotent: installing again only re-adds what is missing.
 */
export async function installForwardBlock(
  exec: Exec,
  opts: ManagedOptions & PerSourceLoggingOptions & { now?: () => number; /** Default /etc/default/ufw. */ defaultsFile?: string } = {},
): Promise<void> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  const logRouted = routedPolicy(opts.defaultsFile) !== 'allow';
  await createBanSets(exec); // before the --test: the rules reference the sets
  const fileEdits = edits(dir, (text, file, family, part) => {
    if (part === 'init') return unwrap(withBlock(text, beforeInitBlock(BINARIES.ipset), BEFORE_INIT_ANCHOR, '    ', FORWARD_BLOCK_NAME), file);
    const rules = part === 'before' ? forwardBeforeRules(family!, opts) : forwardAfterRules(family!, { ...opts, logRouted });
    if (!rules.ok) throw new FirewallError('bad-option', rules.reason);
    const anchor = part === 'before' ? FORWARD_BEFORE_ANCHOR : forwardAfterAnchor(family!);
    return unwrap(withBlock(text, rules.rules, anchor, '', FORWARD_BLOCK_NAME), file);
  });
  await applyEdits(exec, fileEdits);
  if (await ufwIsActive(exec)) for (const family of FAMILIES) await ensureDockerJumps(exec, family);
  await syncUfwBansToSets(exec, opts.now ?? Date.now);
}

/**
 * Removes the forward block: the DOCKER-USER jumps, the blocks (ufw reloaded), then our chains, which
 * ufw's reload leaves behind (they are not ufw's). The sets are destroyed unless the set block still
 * uses them (ipset refuses to destroy a set a rule matches: that failure is harmless).
 */
export async function removeForwardBlock(exec: Exec, opts: ManagedOptions = {}): Promise<void> {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  for (const family of FAMILIES) await removeDockerJumps(exec, family);
  await applyEdits(exec, edits(dir, (text, file) => unwrap(withoutBlock(text, FORWARD_BLOCK_NAME), file)));
  for (const family of FAMILIES) {
    const bin = iptablesOf(family);
    for (const chain of FORWARD_CHAINS) {
      if ((await exec(bin, chainExistsArgv(chain))).code !== 0) continue;
      await exec(bin, chainFlushArgv(chain));
      const r = await exec(bin, chainDeleteArgv(chain));
      if (r.code !== 0) throw new FirewallError('iptables', `cannot delete the chain ${chain}: ${(r.stderr || r.stdout).trim()} (is something else jumping to it?)`);
    }
  }
  const setBlockInstalled = existsSync(join(dir, 'before.rules')) && hasBlock(readFileSync(join(dir, 'before.rules'), 'utf8'));
  if (!setBlockInstalled) for (const name of [...Object.values(BAN_SET_NAMES), ...Object.values(BAN_NET_SET_NAMES)]) await exec('ipset', ['destroy', name]);
}

/** ufw's routed policy as /etc/default/ufw says ('allow', 'deny', 'reject'; '' when unreadable). */
export function routedPolicy(defaultsFile = '/etc/default/ufw'): string {
  try {
    return parseUfwDefaults(readFileSync(defaultsFile, 'utf8')).routed;
  } catch {
    return '';
  }
}

/** The forward block's lines in one of ufw's files (null: not there, or unreadable). */
function forwardBodyIn(opts: ManagedOptions): (file: string) => string[] | null {
  const dir = opts.etcDir ?? DEFAULT_ETC_DIR;
  return (file) => {
    try {
      return blockBody(readFileSync(join(dir, file), 'utf8'), FORWARD_BLOCK_NAME);
    } catch {
      return null;
    }
  };
}

/**
 * How the forward block's rules files log (forwardLoggingVia over them); null when they hold no
 * block or disagree. Whether it is installed whole is forwardBlockInstalled's question: the caller
 * has asked it already.
 */
export function forwardBlockVia(opts: ManagedOptions = {}): LoggingVia | null {
  return forwardLoggingVia(forwardBodyIn(opts));
}

export async function forwardBlockStatus(exec: Exec, opts: ManagedOptions = {}): Promise<ForwardBlockStatus> {
  const loaded = async (family: Family) => (await exec(iptablesOf(family), chainExistsArgv(FORWARD_CHAIN))).code === 0;
  const body = forwardBodyIn(opts);
  const installed = forwardBlockInstalled(opts);
  return {
    installed,
    logsRouted: loggingViaOf(body('after.rules') ?? []) !== null,
    via: installed ? forwardLoggingVia(body) : null,
    loaded: { v4: await loaded(4), v6: await loaded(6) },
    dockerUser: { v4: await dockerUserState(exec, 4), v6: await dockerUserState(exec, 6) },
  };
}

/**
 * The variant of the forward block's logging rules across its four rules files: before(6).rules
 * always log (DOCKER-USER's chain), after(6).rules only while ufw's routed policy drops (else no rule
 * there, which says nothing). Null when the files disagree (one family switched by hand, a failed
 * edit): the runner and the fix then install it again.
 */
export function forwardLoggingVia(body: (file: string) => string[] | null): LoggingVia | null {
  const before = [FILES.before[4], FILES.before[6]].map((f) => loggingViaOf(body(f) ?? []));
  const after = [FILES.after[4], FILES.after[6]].map((f) => loggingViaOf(body(f) ?? [])).filter((v) => v !== null);
  const first = before[0] ?? null;
  if (first === null || before[1] !== first || after.some((v) => v !== first)) return null;
  return first;
}
