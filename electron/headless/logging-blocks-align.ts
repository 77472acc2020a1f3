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
import { blocksToSwitch, loggingBlocksWarning, switchLine, type LoggingBlock, type LoggingBlocksState } from './log-source-choice.ts';

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

export interface AlignResult {
  /** The blocks after the switches (null: their state could not be read). */
  state: LoggingBlocksState | null;
  /** The blocks switched (each rewrote its rules: their counters start from 0). */
  switched: LoggingBlock[];
  /** Why a block's switch failed, per block. */
  failures: Partial<Record<LoggingBlock, string>>;
  /** What is still wrong for the source (loggingBlocksWarning), for the caller to say; null when nothing is. */
  warning: string | null;
}

export async function alignLoggingBlocks(o: {
  /** The source that will read (its kind). */
  kind: string;
  call: HelperCall;
  /** The blocks' status if just read and unchanged since (the start's, read for the source's choice): one `ufw status` less. */
  known?: HelperResult<'status'>['blocks'] | null;
  /** The helper's changing operations; null in a dry run (the firewall is never changed). */
  helper: HelperOpsPort | null;
  out: (line: string) => void;
}): Promise<AlignResult> {
  let state = await loggingBlocksState(o.call, o.known);
  if (!state) return { state: null, switched: [], failures: {}, warning: null };
  const via = loggingViaFor(o.kind);
  const todo = o.helper ? blocksToSwitch(o.kind, state) : [];
  const switched: LoggingBlock[] = [];
  const failures: Partial<Record<LoggingBlock, string>> = {};
  for (const block of todo) {
    o.out(switchLine(block, o.kind));
    try {
      if (block === 'forward') await o.helper!.setForwardBlock(true, via);
      else await o.helper!.setPerSourceLogging(true, via);
      switched.push(block);
    } catch (e) {
      failures[block] = `cannot switch the ${block === 'forward' ? 'forward block' : 'per-source logging block'} to ${via === 'nflog' ? 'NFLOG' : 'LOG'}: ${(e as Error).message}`;
    }
  }
  if (todo.length) state = await loggingBlocksState(o.call);
  const stillWrong = state && loggingBlocksWarning(o.kind, state, o.helper === null);
  const warning = [...Object.values(failures), stillWrong].filter((w): w is string => !!w).join('; ') || null;
  return { state, switched, failures, warning };
}
