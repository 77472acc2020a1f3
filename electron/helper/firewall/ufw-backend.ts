/**
 * The `ufw` backend: one ufw deny rule per banned address, PREPENDED so it comes before every
 * allow rule (the seed's `ufw deny in from` appends after `allow ssh` and stops nothing), for IPv4
 * and IPv6 (`ufw insert 1` refuses IPv6 addresses; `prepend` does both).
 *
 * Rules are tagged with a comment `portcullis-ban exp:<unix seconds> <comment>`: the tag keeps the
 * user's own rules untouchable, and the expiry lets list() report what is due even though ufw itself
 * cannot expire a rule (the caller unbans at expiry).
 * ufw treats rules that differ only by comment as the same rule ("Skipping inserting existing rule"),
 * so at most one `deny from <ip>` exists: deleting by rule spec is exact once its tag is checked.
 *
 * The ufw CLI is slow on the ban path: one `ufw prepend` forks ~30 iptables processes (capability
 * tests, chain listings, a reload of the user chains) — 0.3–0.6 s on a quiet host, 3–7 s measured
 * while the scanner keeps probing an open port. So a ban is put in force first with ONE iptables call
 * (`blockNow`): the very rule ufw writes for `deny from <ip>` (`-s <ip> -j DROP` at the top of
 * ufw-user-input / ufw6-user-input), which ufw's own reload then replaces by its copy from user.rules.
 */
import { type BanTarget, canonicalCidr, canonicalIp } from '../../shared/domain.ts';
import { isPrefixText } from '../../shared/prefix.ts';
import type { Exec } from '../exec.ts';
import { FirewallError } from './errors.ts';
import { BAN_TAG, type BanBackend, type BanEntry, type BanRequest } from './types.ts';
import { checkComment, checkTarget, checkTimeout } from './validate.ts';

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
    if (comment !== BAN_TAG && !comment.startsWith(`${BAN_TAG} `)) continue;
    const ip = isPrefixText(m[1]!) ? canonicalCidr(m[1]!) : canonicalIp(m[1]!);
    if (!ip) continue;
    const exp = /(?:^| )exp:(\d+)(?: |$)/.exec(comment);
    out.push({ ip, comment, expiresAtSec: exp ? Number(exp[1]) : null });
  }
  return out;
}

export function createUfwBackend(exec: Exec, now: () => number = Date.now): BanBackend {
  const tagged = async (): Promise<TaggedRule[]> => {
    const r = await exec('ufw', ['show', 'added']);
    if (r.code !== 0) throw new FirewallError('ufw', `ufw show added failed: ${(r.stderr || r.stdout).trim()}`);
    return parseTaggedRules(r.stdout);
  };
  const planBan = (req: BanRequest): { ip: BanTarget; tag: string } => {
    const ip = checkTarget(req.ip);
    const timeout = checkTimeout(req.timeoutSec);
    const text = checkComment(req.comment);
    const tag = [BAN_TAG, timeout === null ? null : `exp:${Math.floor(now() / 1000) + timeout}`, text || null].filter(Boolean).join(' ');
    return { ip, tag };
  };
  const prepend = async ({ ip, tag }: { ip: BanTarget; tag: string }): Promise<void> => {
    const r = await exec('ufw', ['prepend', 'deny', 'from', ip, 'comment', tag]);
    if (r.code !== 0) throw new FirewallError('ufw', `ufw could not ban ${ip}: ${(r.stderr || r.stdout).trim()}`);
  };
  /** The user chain ufw keeps its `deny from` rules in (only while ufw is active does it exist). */
  const fastRule = (ip: BanTarget, op: '-I' | '-D'): [bin: 'iptables' | 'ip6tables', args: string[]] => {
    const v6 = ip.includes(':');
    return [v6 ? 'ip6tables' : 'iptables', ['-w', op, v6 ? 'ufw6-user-input' : 'ufw-user-input', ...(op === '-I' ? ['1'] : []), '-s', ip, '-j', 'DROP']];
  };
  /** Addresses blocked by blockNow whose ufw rule is not written yet. */
  const fastOnly = new Set<BanTarget>();
  const remove = async (ip: BanTarget): Promise<void> => {
    const r = await exec('ufw', ['delete', 'deny', 'from', ip]);
    if (r.code !== 0) throw new FirewallError('ufw', `ufw could not unban ${ip}: ${(r.stderr || r.stdout).trim()}`);
  };
  return {
    kind: 'ufw',
    async blockNow(ipIn) {
      const ip = checkTarget(ipIn);
      const [bin, args] = fastRule(ip, '-I');
      // ufw inactive (no user chain): nothing to do here; `ban` writes the rule ufw loads when enabled.
      if ((await exec(bin, args)).code === 0) fastOnly.add(ip);
    },
    async ban(ipIn, timeoutSec, comment) {
      const plan = planBan({ ip: ipIn, timeoutSec, comment });
      try {
        await prepend(plan);
      } catch (e) {
        // ufw refused it: the kernel must not keep a block ufw does not know (nothing would lift it).
        if (fastOnly.has(plan.ip)) await exec(...fastRule(plan.ip, '-D'));
        throw e;
      } finally {
        fastOnly.delete(plan.ip);
      }
    },
    async unban(ipIn) {
      const ip = checkTarget(ipIn);
      if (!(await tagged()).some((t) => t.ip === ip)) return; // not ours (or not there): touch nothing
      await remove(ip);
    },
    async banMany(reqs) {
      const plans = reqs.map(planBan); // every entry checked before the first rule changes
      for (const p of plans) await prepend(p);
    },
    async unbanMany(ipsIn) {
      const ips = ipsIn.map((x) => checkTarget(x));
      const ours = new Set((await tagged()).map((t) => t.ip)); // one listing for the whole batch
      for (const ip of ips) if (ours.has(ip)) await remove(ip);
    },
    async list() {
      const nowSec = Math.floor(now() / 1000);
      return (await tagged()).map(
        (t): BanEntry => ({ ip: t.ip, expiresInSec: t.expiresAtSec === null ? null : Math.max(0, t.expiresAtSec - nowSec) }),
      );
    },
  };
}
