/**
 * UfwRuleBuilder: validated rule specs and rule operations → fixed ufw argv templates. Pure (no I/O).
 * Each argv element is one word for execFile (no shell), so a comment is ONE element, never quoted
 * or split; the display string quotes it only for the user to read and copy.
 */
import type { RuleOp, RuleSpec, UfwRule } from '../shared/api.ts';
import { HelperError, PORTCULLIS_TAG } from '../shared/helper-protocol.ts';
import { rebuildRefusal } from '../shared/rule-rebuild.ts';

export type Family = 4 | 6 | 'both';

/** What the dispatcher knows of the current rules, to place an insertion in the right family. */
export interface RuleCounts {
  v4: number;
  total: number;
}

/** "10.0.0.1/32" → "10.0.0.1": ufw accepts both, the short form is what it prints back. */
function addr(cidr: string): string {
  if (cidr.includes(':')) return cidr.endsWith('/128') ? cidr.slice(0, -4) : cidr;
  return cidr.endsWith('/32') ? cidr.slice(0, -3) : cidr;
}

export function ruleFamily(spec: Pick<RuleSpec, 'from' | 'to'>): Family {
  const addrs = [spec.from, spec.to].filter((a) => a !== 'any');
  if (addrs.length === 0) return 'both';
  const v6 = addrs.map((a) => a.includes(':'));
  if (v6.every(Boolean)) return 6;
  if (v6.every((x) => !x)) return 4;
  throw new HelperError('invalid', 'from and to must be the same address family');
}

/** The rule words after `ufw [insert N|prepend]`, e.g. ["allow","in","proto","tcp","from","any","to","any","port","22"]. */
export function ruleBody(spec: RuleSpec): string[] {
  ruleFamily(spec);
  if (spec.comment.trim().startsWith(PORTCULLIS_TAG))
    throw new HelperError('invalid', `comments starting with "${PORTCULLIS_TAG}" are reserved for Portcullis's own ban rules`);
  if (spec.app && spec.proto !== 'any') throw new HelperError('invalid', 'an application profile sets its own protocol: leave proto as any');
  if (spec.port && /[:,]/.test(spec.port) && spec.proto === 'any')
    throw new HelperError('invalid', 'ufw needs tcp or udp with a port range or list');
  if (spec.iface && spec.iface.startsWith('-')) throw new HelperError('invalid', 'not an interface name');
  const words: string[] = [spec.action];
  // Route rules: `ufw route allow in on IFACE …` (the interface is the incoming one). ufw refuses a
  // route rule's `in` without `on IFACE` ("Invalid interface clause"): without one it has no direction.
  if (spec.direction !== 'fwd' || spec.iface) words.push(spec.direction === 'out' ? 'out' : 'in');
  if (spec.iface) words.push('on', spec.iface);
  if (spec.proto !== 'any' && !spec.app) words.push('proto', spec.proto);
  words.push('from', addr(spec.from), 'to', addr(spec.to));
  if (spec.app) words.push('app', spec.app);
  else if (spec.port) words.push('port', spec.port);
  if (spec.comment) words.push('comment', spec.comment);
  return words;
}

const route = (spec: RuleSpec): string[] => (spec.direction === 'fwd' ? ['route'] : []);

export const UfwRuleBuilder = {
  add(spec: RuleSpec): string[] {
    return [...route(spec), ...ruleBody(spec)];
  },
  /**
   * Insert at a global position (ufw numbers IPv4 rules first, then IPv6). Position 1 uses
   * `prepend`, the only form that works for IPv6 (`insert 1` of a v6 rule fails: "Invalid position").
   * With counts, positions outside the rule's own family are mapped (end of family → append) or refused.
   */
  insert(position: number, spec: RuleSpec, counts?: RuleCounts, family?: 4 | 6): string[] {
    const body = ruleBody(spec);
    if (position === 1) return [...route(spec), 'prepend', ...body];
    if (counts) {
      // A rule for both families is placed by the half being moved (`family`), else as IPv4.
      const specFam = ruleFamily(spec);
      const fam = specFam === 'both' ? family ?? 4 : specFam;
      if (fam === 6 && position <= counts.v4)
        throw new HelperError('invalid', `position ${position} is among the IPv4 rules; IPv6 rules are numbered from ${counts.v4 + 1}`);
      if (fam === 6 && position === counts.v4 + 1) return [...route(spec), 'prepend', ...body];
      if ((fam === 4 && position > counts.v4) || position > counts.total) return [...route(spec), ...body];
    }
    return [...route(spec), 'insert', String(position), ...body];
  },
  /** `--force` because ufw otherwise asks "Proceed with operation (y|n)?" on stdin. */
  delete(number: number): string[] {
    return ['--force', 'delete', String(number)];
  },
  enable(): string[] {
    return ['--force', 'enable'];
  },
  disable(): string[] {
    return ['disable'];
  },
  setDefault(direction: 'incoming' | 'outgoing' | 'routed', policy: 'allow' | 'deny' | 'reject'): string[] {
    return ['default', policy, direction];
  },
  setLogging(level: 'off' | 'on' | 'low' | 'medium' | 'high' | 'full'): string[] {
    return ['logging', level];
  },
};

/** Can this parsed rule be re-created from a RuleSpec (needed to move or edit it)? Returns the spec or why not. */
export function specFromRule(rule: UfwRule): RuleSpec | string {
  const refusal = rebuildRefusal(rule);
  if (refusal) return refusal;
  const spec: RuleSpec = {
    action: rule.action,
    direction: rule.direction,
    from: rule.from as RuleSpec['from'],
    to: rule.to as RuleSpec['to'],
    proto: rule.proto as RuleSpec['proto'], // rebuildRefusal let only tcp, udp and any through
    comment: rule.comment,
  };
  if (rule.port) spec.port = rule.port;
  if (rule.app) spec.app = rule.app;
  if (rule.iface) spec.iface = rule.iface;
  return spec;
}

/** ufw argv sequence for a rule operation. Without `rules`, delete/move/edit cannot be planned beyond the delete. */
export function planRuleOp(op: RuleOp, rules?: readonly UfwRule[]): string[][] {
  const counts = rules ? countRules(rules) : undefined;
  switch (op.kind) {
    case 'add':
      return [op.position ? UfwRuleBuilder.insert(op.position, op.rule, counts) : UfwRuleBuilder.add(op.rule)];
    case 'delete':
      return [UfwRuleBuilder.delete(op.number)];
    case 'edit':
    case 'move': {
      // An edit stays where the rule was unless it is also given a new position (`to`).
      const target = op.kind === 'edit' ? op.to ?? op.number : op.to;
      const deleted = rules?.find((r) => r.number === op.number);
      // An edit is re-created from what the editor sends, a move from the rule: either would drop
      // what a spec cannot say (per-rule logging, a source port, …), so such a rule is refused.
      const refusal = deleted ? rebuildRefusal(deleted) : null;
      if (refusal) throw new HelperError('invalid', refusal);
      let spec: RuleSpec;
      if (op.kind === 'edit') spec = op.rule;
      else {
        if (!deleted) throw new HelperError('not-found', `there is no rule ${op.number}`);
        const s = specFromRule(deleted);
        if (typeof s === 'string') throw new HelperError('invalid', s);
        spec = s;
      }
      // Validate the insertion against the counts AFTER the delete, before anything runs.
      const after = counts && deleted ? { v4: counts.v4 - (deleted.v6 ? 0 : 1), total: counts.total - 1 } : counts;
      return [UfwRuleBuilder.delete(op.number), UfwRuleBuilder.insert(target, spec, after, deleted?.v6 ? 6 : 4)];
    }
  }
}

export function countRules(rules: readonly UfwRule[]): RuleCounts {
  return { v4: rules.filter((r) => !r.v6).length, total: rules.length };
}

/** The command as a user would type it: `ufw insert 2 allow … comment 'web server'`. */
export function displayCommand(args: readonly string[]): string {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  // Comments are always quoted, as users write them; other words only when a shell would split them.
  return ['ufw', ...args].map((a, i, all) => (all[i - 1] === 'comment' || !/^[A-Za-z0-9_./:,=@+-]+$/.test(a) ? quote(a) : a)).join(' ');
}
