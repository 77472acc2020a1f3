/**
 * The firewall side of `portcullis run`'s start, and the log source that goes with it, in this order:
 * the log source chosen (log-source-choice.ts: auto prefers nflog), ufw checked (installed, enabled),
 * the set block installed for the set backend, the source opened, the installed logging blocks
 * switched to the variant it reads (logging-blocks-align.ts) — with auto's fallback below — and
 * last, once the source is final, the forward block's DOCKER-USER jumps put back in its variant.
 *
 * auto → nflog is only kept when the per-source logging block then logs through NFLOG in both
 * families: a switch that failed (say a kernel with nfnetlink_log but without xt_NFLOG, whose rules
 * `iptables-restore --test` refuses) would leave the nflog source reading nothing while the block
 * still logs LOG records a kmsg source would have seen — so auto falls back to kmsg, says why, and the
 * blocks follow kmsg again.
 */
import type { HelperOpsPort } from '../app/contracts.ts';
import type { HelperCall } from '../app/helper-adapter.ts';
import type { Settings } from '../shared/settings.ts';
import { loggingViaFor } from '../shared/settings.ts';
import type { OpenedSource } from './open-source.ts';
import { nflogReaderPath } from './nflog-reader-path.ts';
import { chooseLogSource, fallbackFromNflog, nflogReaderStarts, perSourceLogsThrough, type SourceChoice } from './log-source-choice.ts';
import { alignLoggingBlocks, type AlignResult } from './logging-blocks-align.ts';

/** A refusal to start, said to the user (the runner's StartError wraps it). */
export class FirewallStartRefusal extends Error {}

export interface FirewallStartOptions {
  effective: Settings;
  isRoot: boolean;
  dryRun: boolean;
  /** The helper's typed call (null: not root, no helper). */
  call: HelperCall | null;
  /** Its operations as the runner wraps them (read-only in a dry run). */
  helper: HelperOpsPort | null;
  /** Opens a resolved spec (open-source.ts's openSource with the runner's state). */
  open: (spec: string) => Promise<OpenedSource | { error: string }>;
  out: (line: string) => void;
  /** A warning, said on stderr. */
  warn: (line: string) => void;
  /** The logging blocks were switched to NFLOG (their rules rebuilt, counters from 0) before the nflog source's first read. */
  nflogRulesRebuilt?: () => void;
  /** Whether Portcullis's NFLOG reader can bind its group (tests inject). */
  readerStarts?: (readerPath: string) => Promise<string | null>;
  /** Where the reader is (tests inject; default: beside the CLI bundle). */
  readerPath?: () => { path: string } | { error: string };
}

export interface FirewallStart {
  opened: OpenedSource;
  /** auto's resolution and why (null: the spec was explicit). */
  why: string | null;
  /** What the blocks' alignment did (null: no helper). */
  aligned: AlignResult | null;
}

export async function startFirewallAndSource(o: FirewallStartOptions): Promise<FirewallStart> {
  const { call, helper } = o;
  // One read of the blocks for the source's choice and the set block's check.
  const blocks = call ? await call('status', {}).then((s) => s.blocks, () => null) : null;
  const chosen = await chooseLogSource(
    { spec: o.effective.logs.source, isRoot: o.isRoot, dryRun: o.dryRun, reader: (o.readerPath ?? nflogReaderPath)(), blocks: blocks && { ...blocks, forward: null }, statusRead: call === null || blocks !== null },
    o.readerStarts ?? nflogReaderStarts,
  );
  if ('error' in chosen.choice) throw new FirewallStartRefusal(chosen.choice.error);
  let choice: Exclude<SourceChoice, { error: string }> = chosen.choice;
  for (const w of chosen.warnings) o.warn(w);

  if (helper && !o.dryRun) {
    const st = await helper.status().catch((e: Error) => {
      throw new FirewallStartRefusal(`cannot read the firewall status: ${e.message}`);
    });
    if (!st.firewall.installed) throw new FirewallStartRefusal('ufw is not installed: apt-get install ufw');
    if (!st.firewall.enabled) {
      throw new FirewallStartRefusal('ufw is not enabled, so a ban would stop nothing. Enable it first: ufw enable (allow your SSH port before: ufw allow 22/tcp)');
    }
    if (o.effective.ban.backend === 'set') {
      const setBlock =
        blocks?.setBlock ??
        (await call!('status', {}).then(
          (s) => s.blocks.setBlock,
          (e: Error) => {
            throw new FirewallStartRefusal(`cannot read the firewall status: ${e.message}`);
          },
        ));
      if (!setBlock) {
        o.out('installing the set-backend block in ufw before.rules (ipset portcullis sets, matched before ESTABLISHED)');
        try {
          await helper.setSetBlock(true);
        } catch (e) {
          throw new FirewallStartRefusal(`cannot install the set-backend block: ${(e as Error).message}. Use --backend ufw, or run \`portcullis doctor\``);
        }
      }
    }
  }

  let opened = await o.open(choice.spec);
  if ('error' in opened) throw new FirewallStartRefusal(`no log source: ${opened.error}`);
  // The installed logging blocks log the way this source reads (NFLOG for nflog, LOG for the others);
  // what is still wrong (a dry run, a failed switch, the nflog source without the block) is said, not
  // only by the Doctor, since those records are not seen at all.
  const align = (kind: string, known: typeof blocks = null) =>
    call ? alignLoggingBlocks({ kind, call, known, helper: o.dryRun ? null : helper, out: o.out }) : Promise.resolve(null);
  // The logging blocks are as read for the choice (the set block's install touches neither); after a
  // fallback they are read again, since the first alignment may have switched one.
  let aligned = await align(opened.source.kind, blocks);
  if (choice.why !== null && opened.source.kind === 'nflog' && !(aligned?.state && perSourceLogsThrough(aligned.state, 'nflog'))) {
    const fb = fallbackFromNflog(aligned?.failures.perSourceLogging ?? 'the per-source logging block does not log through NFLOG in both families');
    o.warn(fb.warning);
    choice = fb.choice as Exclude<SourceChoice, { error: string }>;
    const again = await o.open(choice.spec);
    if ('error' in again) throw new FirewallStartRefusal(`no log source: ${again.error}`);
    opened = again;
    aligned = await align(opened.source.kind);
  }
  // The forward block's DOCKER-USER jumps are gone after Docker restarts or a reboot: put them back,
  // logging the way the source that will read does — after the choice is final, since a fallback to
  // kmsg must not leave them missing behind a refused NFLOG install.
  if (helper && !o.dryRun) {
    const { forwardBlockNeedsRefresh } = await import('../helper/forward-check.ts');
    if (forwardBlockNeedsRefresh(await call!('forwardStatus', {}).catch(() => null))) {
      const via = loggingViaFor(opened.source.kind);
      o.out(`re-adding the forward block's jumps to Docker's DOCKER-USER chain (logging through ${via === 'nflog' ? 'NFLOG' : 'LOG'})`);
      await helper.setForwardBlock(true, via).catch((e: Error) => o.warn(`cannot refresh the forward block: ${e.message} (portcullis doctor says more)`));
    }
  }
  // Switched to NFLOG from LOG: the rules are new and nothing of ours logged NFLOG before, so the
  // ledger compares with nothing (exact). If a block already logged NFLOG, the reload wiped what it
  // counted since the last stop: the ledger's "unknown" is then the truth, and stays.
  const nflogBefore = !!blocks && (blocks.perSourceLoggingByFamily?.v4 === 'nflog' || blocks.perSourceLoggingByFamily?.v6 === 'nflog' || blocks.perSourceLoggingVia === 'nflog' || blocks.forwardVia === 'nflog');
  if (opened.source.kind === 'nflog' && aligned && aligned.switched.length > 0 && !nflogBefore) o.nflogRulesRebuilt?.();
  if (aligned?.warning) o.warn(aligned.warning);
  return { opened, why: choice.why, aligned };
}
