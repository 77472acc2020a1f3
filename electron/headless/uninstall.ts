/**
 * `portcullis uninstall`: removes everything Portcullis added to the firewall of the network
 * namespace it runs in — the set block and its before.init hook (then the ban sets), the per-source
 * logging block, the ufw backend's tagged deny rules, and the `.portcullis-prev`/`-new` copies the
 * managed-file edits keep. The server package's prerm runs it on `dpkg -r` (not on an upgrade).
 *
 * It acts only on what it finds: each step first looks for Portcullis's own traces in ufw's files
 * (a managed block, a tagged rule in user.rules), and a namespace that never ran Portcullis gets no
 * ufw or ipset command at all. That is what a package removal on a host without Portcullis's
 * changes must be (nothing to do, nothing run), and what lets the package's system test remove it
 * without any chance of touching the machine's own firewall.
 * It holds the namespace's firewall lock while it works: a running instance must be stopped first
 * (it would put its blocks back).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Exec } from '../helper/exec.ts';
import type { AuditLog } from '../helper/audit.ts';
import type { UfwFilesOptions } from '../helper/firewall/ufw-batch.ts';
import type { CliCommand } from './cli-command.ts';

export interface UninstallOptions {
  exec: Exec;
  /** ufw's configuration directory (default /etc/ufw). */
  etcDir?: string;
  /** Where the firewall lock lives (default /run/portcullis; tests). */
  lockDir?: string;
  out: (line: string) => void;
  /** ufw's defaults file and own lock, for the edit of its rules files (default: the real ones; tests: stand-ins). */
  ufwFiles?: Omit<UfwFilesOptions, 'etcDir'>;
  /** Where the removal is audited (one entry with every command run); cli-audit.ts picks the file. */
  audit?: AuditLog;
}

const TAG_HEX = Buffer.from('portcullis-ban').toString('hex');

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** What of Portcullis is in ufw's files (read only: no command runs). */
export function traces(etcDir: string): { setBlock: boolean; logging: boolean; forward: boolean; taggedRules: boolean; leftovers: string[] } {
  // The forward block is named (`# BEGIN PORTCULLIS-FORWARD`): told apart from the unnamed blocks.
  const has = (f: string): boolean => read(path.join(etcDir, f)).split('\n').some((l) => /^\s*# BEGIN PORTCULLIS(?: |$)/.test(l));
  const hasForward = (f: string): boolean => read(path.join(etcDir, f)).includes('# BEGIN PORTCULLIS-FORWARD');
  // ufw keeps a rule's comment hex-encoded in user.rules (`comment=706f72…`).
  const tagged = (f: string): boolean => {
    const t = read(path.join(etcDir, f));
    return t.includes(TAG_HEX) || t.includes('portcullis-ban');
  };
  let leftovers: string[] = [];
  try {
    leftovers = readdirSync(etcDir).filter((f) => f.endsWith('.portcullis-prev') || f.endsWith('.portcullis-new'));
  } catch {
    leftovers = [];
  }
  return {
    setBlock: has('before.rules') || has('before6.rules') || has('before.init'),
    logging: has('after.rules') || has('after6.rules'),
    forward: ['before.rules', 'before6.rules', 'after.rules', 'after6.rules', 'before.init'].some(hasForward),
    taggedRules: tagged('user.rules') || tagged('user6.rules'),
    leftovers,
  };
}

/** Removes what traces() finds; returns the number of things removed. Throws when a step fails. */
export async function uninstallFirewall(o: UninstallOptions): Promise<number> {
  const etcDir = o.etcDir ?? '/etc/ufw';
  const found = traces(etcDir);
  if (!found.setBlock && !found.logging && !found.forward && !found.taggedRules && found.leftovers.length === 0) {
    o.out('portcullis uninstall: nothing of Portcullis in this firewall; nothing to remove');
    return 0;
  }
  const { acquireFirewallLock } = await import('../helper/instance-lock.ts');
  const lock = acquireFirewallLock('portcullis uninstall', o.lockDir ? { dir: o.lockDir } : {});
  let removed = 0;
  const started = Date.now();
  const argv: string[][] = [];
  const userExec = o.exec;
  o = { ...o, exec: (bin, args, opts) => (argv.push([bin, ...args]), userExec(bin, args, opts)) };
  let failure: Error | null = null;
  try {
    const managed = await import('../helper/firewall/managed.ts');
    // First: its chains match the ban sets, which the set block's removal destroys.
    if (found.forward) {
      await (await import('../helper/firewall/forward.ts')).removeForwardBlock(o.exec, { etcDir });
      o.out('removed the forward block (before/after rules, before.init, DOCKER-USER jumps, its chains)');
      removed++;
    }
    if (found.setBlock) {
      await managed.removeSetBlock(o.exec, { etcDir });
      o.out('removed the set block (before.rules, before6.rules, before.init) and the ban sets');
      removed++;
    }
    if (found.logging) {
      await managed.removePerSourceLogging(o.exec, { etcDir });
      o.out('removed the per-source logging block (after.rules, after6.rules)');
      removed++;
    }
    if (found.taggedRules) {
      const { createUfwBackend } = await import('../helper/firewall/ufw-backend.ts');
      const ufw = createUfwBackend(o.exec, Date.now, { ...o.ufwFiles, etcDir });
      const bans = await ufw.list();
      // One edit of ufw's rules files and one load for them all: one `ufw delete` each (~0.3 s, more
      // with many rules) made the removal of a package with thousands of bans take hours.
      const warnings = bans.length ? await ufw.unbanMany(bans.map((b) => b.ip)) : [];
      o.out(`removed ${bans.length} tagged ufw ban rule(s)`);
      for (const w of warnings) o.out(`warning: ${w}`);
      removed += bans.length;
    }
    // Last: the copies kept by the edits above are leftovers too.
    for (const f of traces(etcDir).leftovers) {
      rmSync(path.join(etcDir, f), { force: true });
      removed++;
    }
  } catch (e) {
    failure = e as Error;
    throw e;
  } finally {
    lock.release();
    await o.audit?.append({
      time: new Date(started).toISOString(),
      who: 'portcullis uninstall',
      op: 'uninstall',
      args: { etcDir, found },
      argv,
      result: failure ? 'error' : 'ok',
      ...(failure ? { error: { code: 'failed', message: failure.message } } : {}),
      ms: Date.now() - started,
    });
  }
  return removed;
}

export const uninstallCommand: CliCommand = {
  summary: "Remove everything Portcullis added to this namespace's firewall (the package's prerm runs it)",
  async run(argv) {
    let etcDir: string | undefined;
    try {
      const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, 'ufw-dir': { type: 'string' } }, strict: true });
      if (values.help) {
        console.log(
          "Usage: portcullis uninstall [--ufw-dir DIR]\n\nRemoves Portcullis's managed blocks from ufw's files (forward block and its DOCKER-USER jumps, set\nblock, before.init hook, per-source logging), destroys its ban sets and deletes its tagged ufw rules, in the network namespace it runs\nin. Runs no firewall command where none of these exist. Stop the running instance first.",
        );
        return 0;
      }
      etcDir = values['ufw-dir'];
    } catch (e) {
      console.error(`portcullis uninstall: ${(e as Error).message}`);
      return 2;
    }
    if (process.getuid?.() !== 0) {
      console.error('portcullis uninstall: root is needed');
      return 1;
    }
    if (!existsSync(etcDir ?? '/etc/ufw')) {
      console.log('portcullis uninstall: no ufw configuration; nothing to remove');
      return 0;
    }
    const { execArgv } = await import('../helper/exec.ts');
    try {
      const { cliAuditLog } = await import('./cli-audit.ts');
      const { DEFAULT_STATE_DIR } = await import('./control-client.ts');
      await uninstallFirewall({ exec: execArgv, ...(etcDir ? { etcDir } : {}), out: (l) => console.log(l), audit: cliAuditLog(DEFAULT_STATE_DIR) });
      return 0;
    } catch (e) {
      console.error(`portcullis uninstall: ${(e as Error).message}`);
      return 1;
    }
  },
};
