/**
 * At the runner's start: the managed logging blocks the admin installed (per-source logging,
 * forward) are switched to the variant the chosen source reads — NFLOG for nflog, LOG for kmsg,
 * journald and files (log-source-choice.ts decides; this brings the helper's I/O). A block that is
 * not installed is never installed here; without `helper` (a dry run) nothing is changed, only said.
 */
import type { HelperOpsPort } from '../app/contracts.ts';
import type { HelperCall } from '../app/helper-adapter.ts';
import type { HelperResult } from '../shared/helper-protocol.ts';
import { loggingViaFor } from '../shared/settings.ts';
import { blocksToSwitch, loggingBlocksWarning, switchLine, type LoggingBlocksState } from './log-source-choice.ts';

/** The blocks' state from the helper's `status` and `forwardStatus` (null: unreadable). */
export async function loggingBlocksState(call: HelperCall, known?: HelperResult<'status'>['blocks'] | null): Promise<LoggingBlocksState | null> {
  try {
    const blocks = known ?? (await call('status', {})).blocks;
    const fwd = blocks.forward ? await call('forwardStatus', {}).catch(() => null) : null;
    return { ...blocks, forward: blocks.forward ? { installed: true, via: fwd?.via ?? null } : { installed: false } };
  } catch {
    return null;
  }
}

export async function alignLoggingBlocks(o: {
  /** The source that will read (its kind). */
  kind: string;
  call: HelperCall;
  /** The blocks' status if just read (the runner's, for the source's choice): one `ufw status` less at the start. */
  blocks?: HelperResult<'status'>['blocks'] | null;
  /** The helper's changing operations; null in a dry run (the firewall is never changed). */
  helper: HelperOpsPort | null;
  out: (line: string) => void;
  warn: (line: string) => void;
}): Promise<void> {
  let state = await loggingBlocksState(o.call, o.blocks);
  if (!state) return;
  const via = loggingViaFor(o.kind);
  const todo = o.helper ? blocksToSwitch(o.kind, state) : [];
  for (const block of todo) {
    o.out(switchLine(block, o.kind));
    try {
      if (block === 'forward') await o.helper!.setForwardBlock(true, via);
      else await o.helper!.setPerSourceLogging(true, via);
    } catch (e) {
      o.warn(`cannot switch the ${block === 'forward' ? 'forward block' : 'per-source logging block'}: ${(e as Error).message}`);
    }
  }
  if (todo.length) state = await loggingBlocksState(o.call);
  const w = state && loggingBlocksWarning(o.kind, state, o.helper === null);
  if (w) o.warn(w);
}
