import type { BanTarget } from '../../shared/domain.ts';
import type { SkippedBan } from '../../shared/helper-protocol.ts';

export interface BanEntry {
  /** An address, or a network (a prefix ban). */
  ip: BanTarget;
  /** Seconds until the ban expires; null when it never expires (or the backend cannot tell). */
  expiresInSec: number | null;
}

/** A ban of a batch the firewall did not take, and why (shared/helper-protocol.ts). */
export type { SkippedBan };

/** One ban of a batch. */
export interface BanRequest {
  ip: BanTarget;
  timeoutSec: number | null;
  comment: string;
}

export interface BanBackend {
  kind: 'ufw' | 'set';
  /**
   * Idempotent: banning a banned address refreshes its ban. timeoutSec null = no expiry. Resolves with
   * null when the ban is in force, or with why the firewall did not take it (the ufw backend: a rule of
   * the user's own decides that source's traffic, and ufw skips ours); throws when it failed.
   */
  ban(ip: BanTarget, timeoutSec: number | null, comment: string): Promise<SkippedBan | null>;
  /** Idempotent: unbanning an address that is not banned does nothing. Never touches untagged rules. */
  unban(ip: BanTarget): Promise<void>;
  list(): Promise<BanEntry[]>;
  /**
   * Many bans as one firewall batch (restore after a reboot, bulk ban): every entry is checked before
   * anything runs. The set backend runs one ipset batch; the ufw backend writes ufw's rules files and
   * loads them once (ufw-batch.ts; a batch of 1–3 is that many `ufw prepend`s). Resolves with the
   * entries it did not ban (the ufw backend: a source with a rule of the user's own, which ufw skips);
   * the rest are in force.
   */
  banMany(bans: readonly BanRequest[]): Promise<SkippedBan[]>;
  /**
   * Many unbans as one firewall batch (the ufw backend: an edit of its rules files and one load, or
   * `ufw delete` each when that edit is refused). Resolves with warnings for the user: what went wrong
   * on the way though the bans came out (the ufw backend: a file of ufw's its failed edit could not
   * put back, someone else's edit since); throws when bans could not be lifted.
   */
  unbanMany(ips: readonly BanTarget[]): Promise<string[]>;
  /**
   * Puts the block in force NOW, ahead of `ban` (which makes it the backend's own: the ufw rule in
   * user.rules). Safe beside ufw's queue — the kernel rule it adds is the one `ban` writes, and ufw
   * rebuilds its chain from user.rules at every change — so a ban does not wait behind a `ufw status`
   * read or the ufw CLI's own start-up (2–7 s under a scan's load). Absent: `ban` is already fast (set).
   * `timeoutSec`: the ban's (as `ban` will get it), for what carries its own timeout — the forward
   * set's element the ufw backend's mirror adds here too (forward-mirror.ts).
   */
  blockNow?(ip: BanTarget, timeoutSec?: number | null): Promise<void>;
}

/** Every rule/element Portcullis creates carries this tag; nothing without it is ever removed. */
export const BAN_TAG = 'portcullis-ban';

/** Whether a ufw rule's comment is Portcullis's ban tag (the tag alone, or the tag then a space and more). */
export function isBanTag(comment: string): boolean {
  return comment === BAN_TAG || comment.startsWith(`${BAN_TAG} `);
}
