/**
 * Which log source `portcullis run` reads, and the managed logging blocks following it (issue 16).
 *
 * `logs.source: "auto"` (the default) resolves to **nflog** where it can run: as root (binding an
 * NFLOG group needs CAP_NET_ADMIN), with the reader built (dist/native/portcullis-nflog), and with
 * the per-source logging block installed in either variant — it is what sends NFLOG messages (ufw's
 * own logging is LOG only), so without it NFLOG would see nothing where kmsg still sees ufw's
 * [UFW BLOCK] records. Why nflog first: the kernel's printk ring is 128 KB (~28 ms of a 20k/s flood)
 * and a VM host stalling the reader's vCPU longer makes it lose records whatever the reader does;
 * NFLOG messages wait in the reader's own socket buffer (~4 s of such a flood), and lost 0 of 1.2 M
 * in every soak run. Otherwise auto resolves as before (kmsg, journal, file). A reader that does not
 * start (a kernel without nfnetlink_log, the group bound by another program) makes auto fall back to
 * kmsg with a warning; an explicit `nflog` fails instead.
 *
 * A dry run never reads NFLOG: one socket per group and namespace, so a dry run holding Portcullis's
 * group would blind the instance that protects the namespace (its reader could not bind, now or at
 * its next start). auto stays kmsg; an explicit `--source nflog --dry-run` is refused.
 *
 * The blocks follow the source: once resolved, the installed per-source logging block and forward
 * block are switched to the variant the source reads (NFLOG for nflog, LOG for the others) — never
 * installed when the admin has not, never changed by a dry run.
 *
 * The decisions are pure functions of their inputs (tests/headless/log-source-choice.test.ts); the
 * runner brings the I/O (the helper's status, the reader's path, a start of the reader).
 */
import { loggingViaFor, type LoggingVia } from '../shared/settings.ts';
import { readFileSync } from 'node:fs';
import { NflogSource, PORTCULLIS_NFLOG_GROUP } from '../engine/logs/nflog.ts';

/** The managed blocks as the helper's `status` reports them (blocks) and its `forwardStatus` (via). */
export interface LoggingBlocksState {
  perSourceLogging: boolean;
  perSourceLoggingVia?: LoggingVia | null;
  perSourceLoggingByFamily?: { v4: LoggingVia | null; v6: LoggingVia | null };
  forward: { installed: boolean; via?: LoggingVia | null } | null;
}

export interface ChoiceInputs {
  /** logs.source as configured (after --source). */
  spec: string;
  isRoot: boolean;
  dryRun: boolean;
  /** nflogReaderPath()'s answer. */
  reader: { path: string } | { error: string };
  /** The managed blocks; null when unknown (no helper: not root; or its status could not be read). */
  blocks: LoggingBlocksState | null;
  /** False when a helper was there but its status could not be read (blocks null for that reason). */
  statusRead?: boolean;
}

export type SourceChoice =
  /** `spec`: what openSource gets ('nflog', or the configured spec: auto then resolves kmsg, journal, file). `why`: auto's reason, null for an explicit spec. */
  | { spec: string; why: string | null; readerPath?: string }
  | { error: string };

const NOT_NFLOG = 'not nflog';

/** auto → nflog when it can run and would see something; anything explicit stays as it is. */
export function resolveLogSource(i: ChoiceInputs): SourceChoice {
  if (i.spec === 'nflog') {
    if (i.dryRun) {
      return {
        error:
          'a dry run does not read NFLOG: the kernel lets one reader bind a group in a namespace, and a dry run holding Portcullis\'s ' +
          'would leave the instance protecting this namespace blind (its reader could not bind). Watch with --source kmsg instead',
      };
    }
    return 'path' in i.reader ? { spec: 'nflog', why: null, readerPath: i.reader.path } : { spec: 'nflog', why: null };
  }
  if (i.spec !== 'auto') return { spec: i.spec, why: null };
  if (i.dryRun) return { spec: 'auto', why: `${NOT_NFLOG}: a dry run leaves the NFLOG group to the instance that protects this namespace` };
  if (!i.isRoot) return { spec: 'auto', why: `${NOT_NFLOG}: not root (binding an NFLOG group needs CAP_NET_ADMIN)` };
  if ('error' in i.reader) return { spec: 'auto', why: `${NOT_NFLOG}: ${i.reader.error}` };
  if (i.blocks === null && i.statusRead === false) return { spec: 'auto', why: `${NOT_NFLOG}: the firewall's status could not be read (is the per-source logging block installed?)` };
  if (!i.blocks?.perSourceLogging) {
    return {
      spec: 'auto',
      why: `${NOT_NFLOG}: the per-source logging block is not installed, and only its NFLOG variant sends NFLOG messages (ufw's own records are LOG)`,
    };
  }
  return { spec: 'nflog', why: 'per-source logging block installed', readerPath: i.reader.path };
}

/** auto's fallback when nflog cannot be read after all (the reader would not start, the block could not be switched): kmsg (then journal, file, as auto always did), and the warning saying why. */
export function fallbackFromNflog(why: string): { choice: SourceChoice; warning: string } {
  return {
    choice: { spec: 'auto', why: `${NOT_NFLOG}: ${why}` },
    warning: `auto: not reading NFLOG, reading the kernel log instead (records can be lost when the kernel's ring overflows): ${why}`,
  };
}

/** How the status and the Doctor name the source: "auto → nflog (per-source logging block installed)". */
export function autoLabel(why: string | null, kind: string): string | null {
  return why === null ? null : `auto → ${kind} (${why})`;
}

export type LoggingBlock = 'perSourceLogging' | 'forward';

/** Does the per-source block log through `via` in both families? */
export function perSourceLogsThrough(b: LoggingBlocksState, via: LoggingVia): boolean {
  if (b.perSourceLoggingByFamily) return b.perSourceLoggingByFamily.v4 === via && b.perSourceLoggingByFamily.v6 === via;
  return b.perSourceLoggingVia === via;
}

/**
 * The installed blocks whose variant is not the one `kind` (the source that will read) needs: they
 * are installed again in that variant. A block that is not installed is never listed.
 */
export function blocksToSwitch(kind: string, b: LoggingBlocksState): LoggingBlock[] {
  const via = loggingViaFor(kind);
  const out: LoggingBlock[] = [];
  if (b.perSourceLogging && !perSourceLogsThrough(b, via)) out.push('perSourceLogging');
  if (b.forward?.installed && b.forward.via !== via) out.push('forward');
  return out;
}

const VARIANT = { log: 'LOG', nflog: 'NFLOG' } as const;
const BLOCK_NAME: Record<LoggingBlock, string> = { perSourceLogging: 'per-source logging block', forward: 'forward block' };

/** The line said before a switch. */
export function switchLine(block: LoggingBlock, kind: string): string {
  const via = loggingViaFor(kind);
  return via === 'nflog'
    ? `switching the ${BLOCK_NAME[block]} to NFLOG: the nflog source reads NFLOG messages only`
    : `switching the ${BLOCK_NAME[block]} to LOG: the ${kind} source reads kernel LOG records only`;
}

/**
 * What is still wrong for the running source once the blocks were (or could not be) switched, per
 * family — said on stderr at the start. Null when nothing is.
 */
export function loggingBlocksWarning(kind: string, b: LoggingBlocksState, dryRun = false): string | null {
  const via = loggingViaFor(kind);
  const fix = 'portcullis doctor --fix install-per-source-logging';
  const fam = b.perSourceLoggingByFamily ?? { v4: b.perSourceLoggingVia ?? null, v6: b.perSourceLoggingVia ?? null };
  if (!b.perSourceLogging && via === 'nflog') {
    return `the nflog source reads only what the per-source logging block's NFLOG variant logs, and it is not installed${fam.v4 || fam.v6 ? ' in both families' : ''}: nothing${fam.v4 || fam.v6 ? ' of the other family' : ''} will be seen. Install it: ${fix}`;
  }
  // A block installed in one family only is still checked there: left NFLOG under kmsg, its records go unseen.
  const wrong = (['v4', 'v6'] as const).filter((f) => (b.perSourceLogging ? fam[f] !== via : fam[f] !== null && fam[f] !== via)).map((f) => `${f === 'v4' ? 'IPv4' : 'IPv6'} (${fam[f] ? VARIANT[fam[f]] : 'no logging rule'})`);
  const forwardWrong = b.forward?.installed && b.forward.via !== via;
  if (wrong.length === 0 && !forwardWrong) return null;
  const parts = [
    ...(wrong.length ? [`the per-source logging block's ${wrong.join(' and ')} rules`] : []),
    ...(forwardWrong ? [`the forward block (${b.forward!.via ? VARIANT[b.forward!.via] : 'mixed'})`] : []),
  ];
  const fixes = [...(wrong.length ? [fix] : []), ...(forwardWrong ? ['portcullis doctor --fix install-forward-block'] : [])];
  const what = `the ${kind} source reads ${VARIANT[via]} only, but ${parts.join(' and ')} log otherwise: those records are not seen`;
  // A dry run watches beside the instance that protects the namespace, whose source the blocks may follow: no fix to suggest.
  return dryRun ? `${what} by this dry run (it changes no block: they may be the protecting instance's)` : `${what}. Install again: ${fixes.join('; ')}`;
}

/**
 * The choice with auto's fallback: when auto resolved to nflog, `tryReader` (the runner's:
 * nflogReaderStarts) answers null when the reader can bind the group, else why not; then auto falls
 * back with a warning.
 */
export async function chooseLogSource(i: ChoiceInputs, tryReader: (readerPath: string) => Promise<string | null>): Promise<{ choice: SourceChoice; warnings: string[] }> {
  const choice = resolveLogSource(i);
  if ('error' in choice || choice.spec !== 'nflog' || choice.why === null || !choice.readerPath) return { choice, warnings: [] };
  const failed = await tryReader(choice.readerPath);
  if (failed === null) return { choice, warnings: [] };
  const fb = fallbackFromNflog(`the NFLOG reader did not start (${failed})`);
  return { choice: fb.choice, warnings: [fb.warning] };
}

/** The kernel's list of bound NFLOG groups in this process's network namespace (nfnetlink_log's). */
export const NFLOG_INSTANCES_FILE = '/proc/net/netfilter/nfnetlink_log';

/**
 * Who holds `group` by the kernel's list of bound NFLOG instances (one line per instance: group,
 * the holder's netlink port id, queue length, copy mode, …): 'free', 'held' (with the port id), or
 * null when the list does not exist (nfnetlink_log not loaded yet — then no NFLOG rule has logged
 * either: loading an NFLOG rule loads it).
 */
export function nflogGroupHolder(listing: string | null, group: number): { kind: 'free' } | { kind: 'held'; portId: number } | null {
  if (listing === null) return null;
  for (const line of listing.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 2 && Number(f[0]) === group) return { kind: 'held', portId: Number(f[1]) };
  }
  return { kind: 'free' };
}

/** A group no one holds by the kernel's list, for a trial start of the reader: from the top of the range down. */
export function spareNflogGroup(listing: string | null): number {
  for (let g = 65535; g > PORTCULLIS_NFLOG_GROUP; g--) if (nflogGroupHolder(listing, g)?.kind !== 'held') return g;
  return 65535;
}

/** Starts the real reader on `group` and stops it: null when it bound, else its error. */
async function readerStartsOn(readerPath: string, group: number): Promise<string | null> {
  const probe = new NflogSource({ readerPath, group });
  try {
    await probe.start(
      () => undefined,
      () => undefined,
    );
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await probe.stop().catch(() => undefined);
  }
}

/**
 * Whether Portcullis's reader can read its group: null when it can, else why not. Who holds the group
 * is read from the kernel's list of bound groups; everything else the reader needs (the binary, the
 * capability, a bind, the forced socket buffer) is tried by starting it once on a SPARE group —
 * binding Portcullis's own to find out would read and drop the messages its rules log meanwhile,
 * evidence lost at every start. (The real start can then still fail only by a race for the group.)
 */
export async function nflogReaderStarts(
  readerPath: string,
  listing: () => string | null = () => {
    try {
      return readFileSync(NFLOG_INSTANCES_FILE, 'utf8');
    } catch {
      return null;
    }
  },
  tryOn: (readerPath: string, group: number) => Promise<string | null> = readerStartsOn,
): Promise<string | null> {
  const list = listing();
  const holder = nflogGroupHolder(list, PORTCULLIS_NFLOG_GROUP);
  if (holder?.kind === 'held') return `another program reads this group (NFLOG group ${PORTCULLIS_NFLOG_GROUP}, netlink port ${holder.portId})`;
  return tryOn(readerPath, spareNflogGroup(list));
}

/**
 * How the logging blocks must log for a source that is not running yet (`doctor --fix` without an
 * instance): the variant the configured spec would resolve to at the next start. `blockInstalled`:
 * the per-source logging block as it will be — installed, when that is the fix being run.
 */
export function variantForNextStart(spec: string, isRoot: boolean, reader: ChoiceInputs['reader'], blockInstalled: boolean): LoggingVia {
  const c = resolveLogSource({ spec, isRoot, dryRun: false, reader, blocks: { perSourceLogging: blockInstalled, forward: null } });
  return 'error' in c ? loggingViaFor(spec) : loggingViaFor(c.spec);
}
