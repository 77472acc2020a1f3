/** The parsers' rejection results: one shared, frozen result per reason, so a rejected line allocates nothing. */
import { REJECT_REASONS, type ParseResult, type RejectReason } from '../../shared/packet.ts';

const rejections = {} as Record<RejectReason, ParseResult>;
for (const reason of REJECT_REASONS) rejections[reason] = Object.freeze({ ok: false, reason }) as ParseResult;

/** The shared rejection result for `reason`. */
export function reject(reason: RejectReason): ParseResult {
  return rejections[reason];
}
