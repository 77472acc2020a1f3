/**
 * The `set` backend: bans are elements of two kernel ipsets (hash:ip, IPv4 and IPv6) — prefix bans of
 * two more (hash:net: portcullis-net4/-net6) — that a managed
 * block in before.rules drops ahead of ufw's ESTABLISHED accept. A ban or unban is one ipset command
 * whose cost does not grow with the number of bans (where a ufw rule change costs 266 ms at 0 rules
 * and 1.4 s at 10k), and each element carries its own timeout, so a ban expires in the kernel even
 * when Portcullis is not running. Commands go to a long-lived `ipset restore` (ipset-session.ts) when
 * one is given — no process start on the ban path — else to one `ipset restore` per batch; either
 * way many bans (a restore after reboot, a bulk ban) are ONE batch, not one process each.
 * Set contents do not survive a reboot: list() tells the caller what is there, to restore the rest.
 */
import { type BanTarget, canonicalCidr, canonicalIp, ipFamily, type Ip } from '../../shared/domain.ts';
import { isPrefixText } from '../../shared/prefix.ts';
import type { Exec } from '../exec.ts';
import { BAN_NET_SET_NAMES, BAN_SET_NAMES, type Family } from './blocks.ts';
import { FirewallError } from './errors.ts';
import type { IpsetSession } from './ipset-session.ts';
import { BAN_TAG, type BanBackend, type BanEntry, type BanRequest } from './types.ts';
import { checkComment, checkTarget, checkTimeout } from './validate.ts';

function fail(what: string, r: { stderr: string; stdout: string }): never {
  const msg = (r.stderr || r.stdout).trim();
  const hint = /does not exist/.test(msg) ? ' — install the set backend first (installSetBlock)' : '';
  throw new FirewallError('ipset', `${what}: ${msg}${hint}`);
}

/**
 * Comment of an element the ufw backend mirrors into the sets (forward-mirror.ts): the ban lives in
 * ufw, so the set backend neither lists it as its own nor would a switch of backends move it.
 */
export const MIRROR_COMMENT = 'ufw-backend';

/**
 * Parses `ipset save NAME` lines: `add NAME ADDR [timeout N] [comment "…"]`. The ufw backend's mirrored
 * elements (comment MIRROR_COMMENT) are not the set backend's bans and are left out.
 */
export function parseIpsetSave(text: string, setName: string): BanEntry[] {
  const out: BanEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^add (\S+) (\S+)(.*)$/.exec(line.trim());
    if (!m || m[1] !== setName) continue;
    if (m[3]!.includes(` comment "${BAN_TAG} ${MIRROR_COMMENT}"`)) continue;
    // A hash:net set lists a network as CIDR text (and a /32 or /128 as a bare address).
    const ip = isPrefixText(m[2]!) ? canonicalCidr(m[2]!) : canonicalIp(m[2]!);
    if (!ip) continue;
    const t = /\btimeout (\d+)/.exec(m[3]!);
    const timeout = t ? Number(t[1]) : 0;
    out.push({ ip, expiresInSec: timeout > 0 ? timeout : null });
  }
  return out;
}

/** The restore line of a ban (checked input only: the comment is quoted, its characters are safe). */
function addLine(req: BanRequest): string {
  const ip = checkTarget(req.ip);
  const timeout = checkTimeout(req.timeoutSec);
  const text = checkComment(req.comment);
  // -exist: banning again refreshes the timeout instead of failing; timeout 0 = no expiry.
  return `add -exist ${setOf(ip)} ${ip} timeout ${timeout ?? 0} comment "${text ? `${BAN_TAG} ${text}` : BAN_TAG}"`;
}

/**
 * argv of one `ipset add` WITHOUT -exist (checked input only): it fails when the element is there
 * already, so the caller knows whether the element is its own to take back (forward-mirror.ts's
 * blockNow). The comment is one argv word; no shell quoting.
 */
export function addOnceArgv(req: BanRequest): string[] {
  const ip = checkTarget(req.ip);
  const timeout = checkTimeout(req.timeoutSec);
  const text = checkComment(req.comment);
  return ['add', setOf(ip), ip, 'timeout', String(timeout ?? 0), 'comment', text ? `${BAN_TAG} ${text}` : BAN_TAG];
}

/** The set a target goes in: an address in hash:ip, a network in hash:net, of its family. */
function setOf(target: BanTarget): string {
  const family = ipFamily(target as Ip) as Family;
  return isPrefixText(target) ? BAN_NET_SET_NAMES[family] : BAN_SET_NAMES[family];
}

export function createSetBackend(exec: Exec, session: IpsetSession | null = null): BanBackend {
  /** Every line is built and checked before the first one runs: a bad entry changes nothing. */
  const runLines = async (lines: string[], what: string): Promise<void> => {
    if (lines.length === 0) return;
    if (session) {
      try {
        await session.run(lines);
      } catch (e) {
        fail(what, { stderr: (e as Error).message, stdout: '' });
      }
      return;
    }
    const r = await exec('ipset', ['restore', '-exist'], { input: lines.join('\n') + '\n' });
    if (r.code !== 0) fail(what, r);
  };
  return {
    kind: 'set',
    async ban(ip, timeoutSec, comment) {
      const line = addLine({ ip, timeoutSec, comment });
      await runLines([line], `cannot ban ${checkTarget(ip)}`);
      return null; // a set takes every address it is given
    },
    async unban(ipIn) {
      const ip = checkTarget(ipIn);
      await runLines([`del -exist ${setOf(ip)} ${ip}`], `cannot unban ${ip}`);
    },
    async banMany(reqs) {
      await runLines(reqs.map(addLine), `cannot ban ${reqs.length} addresses`);
      return []; // a set takes every address it is given
    },
    async unbanMany(ips) {
      await runLines(ips.map((x) => checkTarget(x)).map((ip) => `del -exist ${setOf(ip)} ${ip}`), `cannot unban ${ips.length} addresses`);
      return []; // one ipset batch: it runs whole or fails
    },
    async list() {
      const out: BanEntry[] = [];
      for (const name of [...Object.values(BAN_SET_NAMES), ...Object.values(BAN_NET_SET_NAMES)]) {
        const r = await exec('ipset', ['save', name]);
        if (r.code !== 0) fail(`cannot list ${name}`, r);
        out.push(...parseIpsetSave(r.stdout, name));
      }
      return out;
    },
  };
}
