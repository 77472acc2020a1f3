/**
 * Whose rule decides each source's traffic, from the rules view the service reads every 30 s (the
 * ufw backend: ufw stops at the first rule that matches). The helper asks the same question of
 * `ufw show added` when it adds a ban (`sourceRuleOwners` in helper/firewall/ufw-backend.ts); this is
 * the service's side, for a change the user made afterwards — `ufw allow from X` replaces our
 * `deny from X` in place ("Rule updated"), a hand-edited `user.rules` puts theirs ahead (ufw's CLI
 * skips `ufw insert 1 allow from X` while ours is there) — after which our ban blocks nothing though
 * it would still be shown as active.
 */
import type { UfwRule } from '../shared/api.ts';
import { canonicalCidr } from '../shared/domain.ts';
import { canonicalIp } from '../shared/ip.ts';
import { isPrefixText } from '../shared/prefix.ts';

/** A plain `<action> from <src>` rule: any port, protocol and interface, incoming. */
function isWholeSourceRule(r: UfwRule): boolean {
  return (
    r.direction === 'in' &&
    r.port === '' &&
    r.proto === 'any' &&
    r.app === undefined &&
    r.iface === undefined &&
    r.ifaceOut === undefined &&
    r.fromPort === undefined &&
    r.fromApp === undefined &&
    r.to === 'any' // as the helper's parser writes "Anywhere" and "Anywhere (v6)"
  );
}

/** Sources (canonical address or network) whose FIRST whole-source rule, in ufw's order, is the user's. */
export function sourcesDecidedByUser(rules: readonly UfwRule[]): Set<string> {
  const first = new Map<string, boolean>();
  for (const r of [...rules].sort((a, b) => a.number - b.number)) {
    if (!isWholeSourceRule(r)) continue;
    const src = isPrefixText(r.from) ? canonicalCidr(r.from) : canonicalIp(r.from);
    // An IPv6 rule for an IPv4-mapped address (`::ffff:1.2.3.4`, canonical as 1.2.3.4) never meets IPv4 packets.
    if (!src || first.has(src) || (r.v6 && !src.includes(':'))) continue;
    first.set(src, !r.portcullis);
  }
  return new Set([...first].filter(([, user]) => user).map(([src]) => src));
}
