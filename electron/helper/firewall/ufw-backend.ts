/**
 * The `ufw` backend: one ufw deny rule per banned address, PREPENDED so it comes before every
 * allow rule (the seed's `ufw deny in from` appends after `allow ssh` and stops nothing), for IPv4
 * and IPv6 (`ufw insert 1` refuses IPv6 addresses; `prepend` does both).
 *
 * Rules are tagged with a comment `portcullis-ban exp:<unix seconds> <comment>`: the tag keeps the
 * user's own rules untouchable, and the expiry lets list() report what is due even though ufw itself
 * cannot expire a rule (the caller unbans at expiry).
 * Many bans at once (banMany: restore, bulk ban) go into ufw's rules files, loaded once (ufw-batch.ts),
 * and many unbans (unbanMany: reconcile's stale bans, a switch of backend moving bans out, uninstall) come out of them the same way; a
 * single unban stays one `ufw delete`.
 * ufw treats rules that differ only by comment as the same rule ("Skipping inserting existing rule"),
 * so at most one `deny from <ip>` exists: deleting by rule spec is exact once its tag is checked.
 *
 * The ufw CLI is slow on the ban path: one `ufw prepend` forks ~30 iptables processes (capability
 * tests, chain listings, a reload of the user chains) — 0.3–0.6 s on a quiet host, 3–7 s measured
 * while the scanner keeps probing an open port. So a ban is put in force first with ONE iptables call
 * (`blockNow`): the rule ufw writes for `deny from <ip>` (`-s <ip> -j DROP` at the top of
 * ufw-user-input / ufw6-user-input), which ufw's own reload then replaces by its copy from user.rules.
 * It carries a comment (FAST_TAG) so that taking it back can never delete ufw's own copy of the rule:
 * a reload between blockNow and `ufw prepend` (another change in the queue) leaves only ufw's copy.
 */
import { type BanTarget, canonicalCidr, canonicalIp } from '../../shared/domain.ts';
import { isPrefixText } from '../../shared/prefix.ts';
import type { Exec } from '../exec.ts';
import { FirewallError } from './errors.ts';
import { BAN_TAG, isBanTag, type BanBackend, type BanEntry, type BanRequest, type SkippedBan } from './types.ts';
import { checkComment, checkTarget, checkTimeout } from './validate.ts';
import { banManyInUfwFiles, UfwBatchError, unbanManyInUfwFiles, type ChainsReplaced, type PlannedBan, type UfwFilesOptions } from './ufw-batch.ts';
import { errorText } from '../../shared/errors.ts';

export interface TaggedRule {
  /** An address, or a network (a prefix ban: `ufw prepend deny from 2001:db8:1:2::/64`). */
  ip: BanTarget;
  comment: string;
  expiresAtSec: number | null;
}

/** Parses `ufw show added` (works whether ufw is active or not) for Portcullis's tagged deny rules. */
export function parseTaggedRules(showAdded: string): TaggedRule[] {
  const out: TaggedRule[] = [];
  for (const line of showAdded.split('\n')) {
    const m = /^ufw deny from (\S+) comment '([^']*)'$/.exec(line.trim());
    if (!m) continue;
    const comment = m[2]!;
    if (!isBanTag(comment)) continue;
    const ip = isPrefixText(m[1]!) ? canonicalCidr(m[1]!) : canonicalIp(m[1]!);
    if (!ip) continue;
    const exp = /(?:^| )exp:(\d+)(?: |$)/.exec(comment);
    out.push({ ip, comment, expiresAtSec: exp ? Number(exp[1]) : null });
  }
  return out;
}

/**
 * Whose rule decides each source's traffic, from `ufw show added` (ufw's rule order, IPv4 rules then
 * IPv6): the FIRST plain `<action> [log|log-all] from <src>` rule of that source — `'ban'` when it is
 * Portcullis's tagged deny, `'user'` for any other (the user's allow, limit, deny or reject). Rules
 * with ports, an interface or a direction other than in are other rules to ufw and do not count.
 */
export function sourceRuleOwners(showAdded: string): Map<string, 'ban' | 'user'> {
  const out = new Map<string, 'ban' | 'user'>();
  for (const line of showAdded.split('\n')) {
    // The comment is last, printed as ufw holds it (a quote in it is not escaped): everything to the end.
    const m = /^ufw (allow|deny|reject|limit)( log| log-all)? from (\S+)(?: comment '(.*)')?$/.exec(line.trim());
    if (!m) continue;
    const src = isPrefixText(m[3]!) ? canonicalCidr(m[3]!) : canonicalIp(m[3]!);
    if (!src || out.has(src)) continue;
    const comment = m[4] ?? '';
    out.set(src, m[1] === 'deny' && !m[2] && isBanTag(comment) ? 'ban' : 'user');
  }
  return out;
}

/** Comment on blockNow's rule: only a rule with it is ever taken back (ufw's own copy has none). */
export const FAST_TAG = 'portcullis-fast';

/**
 * From this many bans on, banMany writes ufw's rules files and loads them once (ufw-batch.ts) instead
 * of one `ufw prepend` each: the file path costs two ufw runs (status, show added) and two
 * iptables-restore runs per family whatever the count, about what 2–3 prepends cost.
 */
export const FILE_BATCH_MIN = 4;

export function createUfwBackend(exec: Exec, now: () => number = Date.now, files: UfwFilesOptions = {}): BanBackend {
  const showAdded = async (): Promise<string> => {
    const r = await exec('ufw', ['show', 'added']);
    if (r.code !== 0) throw new FirewallError('ufw', `ufw show added failed: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  };
  const tagged = async (): Promise<TaggedRule[]> => parseTaggedRules(await showAdded());
  const planBan = (req: BanRequest): { ip: BanTarget; tag: string } => {
    const ip = checkTarget(req.ip);
    const timeout = checkTimeout(req.timeoutSec);
    const text = checkComment(req.comment);
    const tag = [BAN_TAG, timeout === null ? null : `exp:${Math.floor(now() / 1000) + timeout}`, text || null].filter(Boolean).join(' ');
    return { ip, tag };
  };
  /**
   * One `ufw prepend`; resolves with false when ufw skipped the ban for a rule of the user's own.
   * ufw skips a rule for a source that has one already, whatever its action (exit 0, LANG=C wording).
   * Ours from an earlier ban, first for that source: still in force. The user's (`ufw allow from IP`),
   * or the user's above ours (it matches first): our ban does nothing, and saying "banned" would be a lie.
   */
  const prepend = async ({ ip, tag }: { ip: BanTarget; tag: string }): Promise<boolean> => {
    const r = await exec('ufw', ['prepend', 'deny', 'from', ip, 'comment', tag]);
    if (r.code !== 0) throw new FirewallError('ufw', `ufw could not ban ${ip}: ${(r.stderr || r.stdout).trim()}`);
    return !(/Skipping inserting existing rule/.test(r.stdout) && sourceRuleOwners(await showAdded()).get(ip) !== 'ban');
  };
  /** The user chain ufw keeps its `deny from` rules in (only while ufw is active does it exist). */
  const fastRule = (ip: BanTarget, op: '-I' | '-D'): [bin: 'iptables' | 'ip6tables', args: string[]] => {
    const v6 = ip.includes(':');
    return [
      v6 ? 'ip6tables' : 'iptables',
      ['-w', op, v6 ? 'ufw6-user-input' : 'ufw-user-input', ...(op === '-I' ? ['1'] : []), '-s', ip, '-m', 'comment', '--comment', FAST_TAG, '-j', 'DROP'],
    ];
  };
  /** Deletes blockNow's rule for `ip` if it is still there (a reload removed it, or there is none: fails harmlessly). */
  const takeBack = async (ip: BanTarget): Promise<void> => {
    await exec(...fastRule(ip, '-D'));
  };
  /** Per address: blockNow rules inserted whose ban has not run yet (two bans of one address can overlap). */
  const fastOnly = new Map<BanTarget, number>();
  const remove = async (ip: BanTarget): Promise<void> => {
    const r = await exec('ufw', ['delete', 'deny', 'from', ip]);
    if (r.code !== 0) throw new FirewallError('ufw', `ufw could not unban ${ip}: ${(r.stderr || r.stdout).trim()}`);
  };
  /**
   * Runs a file batch (ufw-batch.ts). Loading ufw's user chains replaces their content: a live ban's
   * block (blockNow) whose `ufw prepend` is still queued behind the batch would be gone until then.
   * Put those back, for each family whose chains were replaced — also when the batch failed and its
   * put-back reloaded them.
   */
  const keepingFastBlocks = async <T>(batch: (replaced: ChainsReplaced) => Promise<T>): Promise<T> => {
    const replaced = new Set<4 | 6>();
    try {
      return await batch((family) => replaced.add(family));
    } finally {
      for (const ip of fastOnly.keys()) if (replaced.has(ip.includes(':') ? 6 : 4)) await exec(...fastRule(ip, '-I'));
    }
  };
  return {
    kind: 'ufw',
    async blockNow(ipIn) {
      const ip = checkTarget(ipIn);
      const [bin, args] = fastRule(ip, '-I');
      // ufw inactive (no user chain): nothing to do here; `ban` writes the rule ufw loads when enabled.
      if ((await exec(bin, args)).code === 0) fastOnly.set(ip, (fastOnly.get(ip) ?? 0) + 1);
    },
    async ban(ipIn, timeoutSec, comment) {
      const ip = checkTarget(ipIn);
      const n = fastOnly.get(ip) ?? 0;
      if (n > 1) fastOnly.set(ip, n - 1);
      else fastOnly.delete(ip);
      const fast = n > 0;
      let taken: boolean;
      try {
        taken = await prepend(planBan({ ip, timeoutSec, comment }));
      } catch (e) {
        // ufw refused it: the kernel must not keep a block ufw does not know (nothing would lift it).
        if (fast) await takeBack(ip);
        throw e;
      }
      // Skipped for the user's own rule: not banned, and the answer says so (the caller ends the ban).
      if (!taken) {
        if (fast) await takeBack(ip);
        return { ip, why: 'users-rule' };
      }
      // ufw's rule is in force now, but blockNow's is gone only if ufw reloaded its chain: it does not
      // when it SKIPS the rule (the address already has a `from <ip>` rule: ours from an earlier ban,
      // or the user's) nor when a prepend becomes an append (no rule of that family yet: one `-A`).
      // Taking it back always (one iptables call; fails harmlessly when gone) never depends on
      // ufw's wording.
      if (fast) await takeBack(ip);
      return null;
    },
    async unban(ipIn) {
      const ip = checkTarget(ipIn);
      if (!(await tagged()).some((t) => t.ip === ip)) {
        // Not ours in ufw: touch none of ufw's rules. A blockNow rule whose ban never reached ufw (the
        // helper stopped in between) is ours by its tag, and nothing else would lift it before a reload.
        await takeBack(ip);
        return;
      }
      await remove(ip);
    },
    async banMany(reqs) {
      const plans = reqs.map(planBan); // every entry checked before the first rule changes
      const skipped: SkippedBan[] = [];
      const prependEach = async (list: readonly PlannedBan[]) => {
        for (const p of list) {
          if (!(await prepend(p))) skipped.push({ ip: p.ip, why: 'users-rule' });
        }
      };
      if (plans.length < FILE_BATCH_MIN) {
        await prependEach(plans);
        return skipped;
      }
      const r = await keepingFastBlocks((replaced) => banManyInUfwFiles(exec, plans, tagged, files, replaced));
      for (const p of r.skipped) skipped.push({ ip: p.ip, why: 'users-rule' });
      await prependEach(r.notTaken); // IPv6 while ufw has IPV6=no: ufw answers for itself
      return skipped;
    },
    async unbanMany(ipsIn) {
      const ips = ipsIn.map((x) => checkTarget(x));
      const ours = new Set((await tagged()).map((t) => t.ip)); // one listing for the whole batch
      let each = ips.filter((ip) => ours.has(ip));
      const warnings: string[] = [];
      // Many: one edit of ufw's rules files and one load, not one `ufw delete` (0.23–1.4 s) each. An
      // edit refused (the files not as expected, changed meanwhile, a load that failed and was put
      // back) falls back to one `ufw delete` each, as before: slow, but the bans still come out.
      if (each.length >= FILE_BATCH_MIN) {
        const batch = each;
        each = await keepingFastBlocks((replaced) => unbanManyInUfwFiles(exec, batch, tagged, files, replaced)).then(
          (r) => r.notTaken,
          async (e: unknown) => {
            // A file the put-back left as it was (someone else's edit since Portcullis wrote it) is the
            // user's to check: the `ufw delete`s below lift the bans, but the caller must hear of it.
            if (e instanceof UfwBatchError && e.notPutBack.length) warnings.push(`${e.message} (the bans ufw still listed were lifted with one \`ufw delete\` each)`);
            // Those the failed edit took out already (a file left as it was) need no `ufw delete`.
            const listed = await tagged().catch(() => null);
            return listed === null ? batch : batch.filter((ip) => listed.some((t) => t.ip === ip));
          },
        );
      }
      try {
        for (const ip of each) await remove(ip);
      } catch (e) {
        // The warning must not be lost with the batch's answer.
        if (warnings.length) throw new FirewallError('ufw', `${errorText(e)}; before that: ${warnings.join('; ')}`);
        throw e;
      }
      return warnings;
    },
    async list() {
      const nowSec = Math.floor(now() / 1000);
      return (await tagged()).map(
        (t): BanEntry => ({ ip: t.ip, expiresInSec: t.expiresAtSec === null ? null : Math.max(0, t.expiresAtSec - nowSec) }),
      );
    },
  };
}
