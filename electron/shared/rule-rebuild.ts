/**
 * Which ufw rules the rule editor can re-create. An edit or a move deletes the rule and inserts it
 * again from a RuleSpec; what a spec cannot say (per-rule logging, a source port, a route rule's
 * outgoing interface, another protocol) would be dropped without a word, so such a rule is refused
 * instead. The renderer, the service and the helper each ask, so no client can get past it.
 */
import type { UfwRule } from './api.ts';

/** What of this rule a RuleSpec cannot say, in words (null when the editor can re-create it). */
function beyondSpec(rule: UfwRule): string | null {
  if (rule.fromPort) return `a source port (${rule.fromPort})`;
  if (rule.fromApp) return `a source application profile (${rule.fromApp})`;
  if (rule.log) return `per-rule logging (${rule.log})`;
  if (rule.ifaceOut) return `an outgoing interface (${rule.ifaceOut})`;
  if (rule.proto !== 'tcp' && rule.proto !== 'udp' && rule.proto !== 'any') return `protocol ${rule.proto}`;
  return null;
}

/** Why the rule editor cannot edit or move this rule (null when it can). */
export function rebuildRefusal(rule: UfwRule): string | null {
  if (rule.portcullis) return `rule ${rule.number} is a Portcullis ban rule: unban the address instead`;
  const what = beyondSpec(rule);
  return what && `rule ${rule.number} has ${what}, which the rule editor cannot re-create (editing or moving it would drop that): change it with ufw itself`;
}
