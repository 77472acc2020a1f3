/**
 * How a ban of the `ufw` backend reaches forwarded traffic: while the forward block is installed, each
 * ufw ban is ALSO an element of the ban set (same timeout), which the block matches in
 * ufw-before-forward and DOCKER-USER. Why the set and not a second ufw rule (`ufw route prepend deny`):
 * see forward-blocks.ts — route rules never see Docker's published traffic, and they would double the
 * ufw backend's slowest step.
 *
 * The ufw rules are the book of record (they survive a reboot; set elements do not), so the sets are
 * filled from them when the block is installed and once per helper session, on the backend's first
 * list or ban (the runner lists or restores its bans right at start). Each element's timeout is the end
 * in its rule's comment (`exp:`), which is the ban's FIRST end: a ban extended since is banned again
 * (`ufw prepend` skips the rule it has, and the element takes the new timeout), and the service's
 * start-up reconcile does that for every ban whose listed end is earlier than the store's.
 */
import type { BanTarget } from '../../shared/domain.ts';
import type { Exec } from '../exec.ts';
import { addOnceArgv, createSetBackend, MIRROR_COMMENT } from './set-backend.ts';
import type { BanBackend, BanRequest, SkippedBan } from './types.ts';
import { parseTaggedRules } from './ufw-backend.ts';
import { MAX_TIMEOUT_SEC } from './validate.ts';
import { FirewallError } from './errors.ts';

/**
 * An unban whose set is gone has nothing left to remove (and the ufw rule is already deleted): not
 * an error, or the caller would retry an unban that can never succeed. Anything else is.
 */
function unlessSetMissing(e: unknown): void {
  if (!/does not exist/.test(String((e as Error)?.message))) throw e;
}

/** The ufw backend's tagged bans that are still due, as set-backend requests (remaining seconds). */
export function mirrorRequests(showAdded: string, nowMs: number): BanRequest[] {
  const nowSec = Math.floor(nowMs / 1000);
  const out: BanRequest[] = [];
  for (const t of parseTaggedRules(showAdded)) {
    const left = t.expiresAtSec === null ? null : t.expiresAtSec - nowSec;
    if (left !== null && left <= 0) continue; // due: the runner unbans it; do not revive it in the set
    out.push({ ip: t.ip, timeoutSec: left !== null && left > MAX_TIMEOUT_SEC ? null : left, comment: MIRROR_COMMENT });
  }
  return out;
}

/** Copies the ufw backend's current bans into the sets (one ipset batch). */
export async function syncUfwBansToSets(exec: Exec, now: () => number): Promise<number> {
  const r = await exec('ufw', ['show', 'added']);
  if (r.code !== 0) throw new FirewallError('ufw', `ufw show added failed: ${(r.stderr || r.stdout).trim()}`);
  const reqs = mirrorRequests(r.stdout, now());
  if (reqs.length > 0) await createSetBackend(exec).banMany(reqs);
  return reqs.length;
}

/**
 * The ufw backend with its bans mirrored into the sets while `mirroring()` says the forward block is
 * installed (read per operation: installing or removing the block takes effect at the next ban).
 *
 * A live ban's element goes in with its fast block (blockNow), beside ufw's queue, as its input block
 * does: added only after `ufw prepend` (3–7 s while the scanner keeps probing, longer behind a queue),
 * the forward path trailed the input path and the scanner kept reaching published container ports.
 * What ufw then refuses (a rule of the user's decides that source, or an error) takes that element
 * back, as it takes back the input block: the mirror keeps no ban that ufw refused. Only an element
 * blockNow itself added is taken back — one already there (an earlier ban of the address, still in
 * ufw) is not blockNow's. Restores and bulk bans (no blockNow) mirror after ufw, as before.
 */
export function withForwardMirror(inner: BanBackend, exec: Exec, mirroring: () => boolean, now: () => number = Date.now): BanBackend {
  const sets = createSetBackend(exec);
  let synced = false;
  /** Once per session: the sets are empty after a reboot while the ufw rules are not. */
  const syncOnce = async (): Promise<boolean> => {
    if (!mirroring()) return false;
    if (!synced) {
      await syncUfwBansToSets(exec, now); // a failure is retried by the next operation
      synced = true;
    }
    return true;
  };
  /** Per address: elements blockNow added whose ban has not run yet (two bans of one address can overlap). */
  const fastOnly = new Map<BanTarget, number>();
  /** The ban of `ip` has run: true when an element blockNow added for it is still to account for. */
  const fastAdded = (ip: BanTarget): boolean => {
    const n = fastOnly.get(ip) ?? 0;
    if (n > 1) fastOnly.set(ip, n - 1);
    else fastOnly.delete(ip);
    return n > 0;
  };
  const takeBack = (ip: BanTarget) => sets.unban(ip).catch(unlessSetMissing);
  return {
    kind: inner.kind,
    ...(inner.blockNow
      ? {
          async blockNow(ip: BanTarget, timeoutSec?: number | null) {
            await inner.blockNow!(ip, timeoutSec); // the input path first
            // No sync here (it runs `ufw show added`, beside ufw's queue): `ban` does it.
            if (timeoutSec === undefined || !mirroring()) return;
            // Fails when the element is there already (not ours to take back) or the set is gone (`ban` says so).
            const r = await exec('ipset', addOnceArgv({ ip, timeoutSec, comment: MIRROR_COMMENT }));
            if (r.code === 0) fastOnly.set(ip, (fastOnly.get(ip) ?? 0) + 1);
          },
        }
      : {}),
    async ban(ip, timeoutSec, comment) {
      const fast = fastAdded(ip);
      let skipped: SkippedBan | null;
      try {
        skipped = await inner.ban(ip, timeoutSec, comment);
      } catch (e) {
        // ufw's failure is the answer; a failed take-back leaves an element that expires or goes at unban.
        if (fast) await takeBack(ip).catch(() => undefined);
        throw e;
      }
      // As for banMany: a source ufw did not ban (the user's own rule) is not mirrored.
      if (skipped) {
        if (fast) await takeBack(ip);
        return skipped;
      }
      // Also after blockNow's element: the sync, and the element's timeout as the ban's (it may be an extension).
      if (await syncOnce()) await sets.ban(ip, timeoutSec, MIRROR_COMMENT);
      return null;
    },
    async unban(ip: BanTarget) {
      await inner.unban(ip);
      // No sync here: an unban needs none, and must not fail for one.
      if (mirroring()) await sets.unban(ip).catch(unlessSetMissing);
    },
    async banMany(bans) {
      const skipped = await inner.banMany(bans);
      // The forward path follows the input path: a source ufw did not ban (the user's own rule) is not mirrored.
      const notBanned = new Set(skipped.map((s) => s.ip));
      const mirrored = bans.filter((b) => !notBanned.has(b.ip));
      if ((await syncOnce()) && mirrored.length) await sets.banMany(mirrored.map((b) => ({ ...b, comment: MIRROR_COMMENT })));
      return skipped;
    },
    async unbanMany(ips) {
      const warnings = await inner.unbanMany(ips);
      if (mirroring()) await sets.unbanMany(ips).catch(unlessSetMissing);
      return warnings;
    },
    async list() {
      await syncOnce();
      return inner.list();
    },
  };
}
