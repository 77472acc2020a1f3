/**
 * The rule editor's model: a rule as the form edits it (text fields), made from a ufw rule and
 * turned into the RuleOp the service previews and applies. The schema (RuleOpSchema) judges the op;
 * this module only translates.
 */
import type { RuleExpect, UfwRule } from '../../electron/shared/api.ts';

export type Action = 'allow' | 'deny' | 'reject' | 'limit';
export type Direction = 'in' | 'out' | 'fwd';
export type Proto = 'tcp' | 'udp' | 'any';

export interface Draft {
  number: number | null;
  /** The rule being edited as it was shown (null for a new rule): the change says which rule it means. */
  original: UfwRule | null;
  action: Action;
  direction: Direction;
  from: string;
  to: string;
  port: string;
  proto: Proto;
  app: string;
  /** The interface the rule is on (`allow in on wg0 …`); empty = every interface. */
  iface: string;
  comment: string;
  /** Where the rule goes: empty = at the end (a new rule) or where it is (an edited one). */
  position: string;
}

export const EMPTY_DRAFT: Draft = { number: null, original: null, action: 'allow', direction: 'in', from: '', to: '', port: '', proto: 'tcp', app: '', iface: '', comment: '', position: '' };

export const PRESETS: { name: string; port: string; proto: Proto }[] = [
  { name: 'SSH', port: '22', proto: 'tcp' },
  { name: 'HTTP', port: '80', proto: 'tcp' },
  { name: 'HTTPS', port: '443', proto: 'tcp' },
  { name: 'DNS', port: '53', proto: 'any' },
  { name: 'SMTP', port: '25', proto: 'tcp' },
  { name: 'IMAPS', port: '993', proto: 'tcp' },
  { name: 'Samba', port: '137,138', proto: 'udp' },
  { name: 'WireGuard', port: '51820', proto: 'udp' },
];

/** ufw prints "Anywhere" / "Anywhere (v6)" for any; the editor speaks "any". */
export function addrOf(text: string): string {
  const t = text.replace(/\s*\(v6\)$/, '').trim();
  return /^anywhere$/i.test(t) ? '' : t;
}

/** A rule as shown, for a change to say which rule it is about (every field but the number). */
export function expectOf(r: UfwRule): RuleExpect {
  const { number: _number, ...rest } = r;
  return rest;
}

export function draftFromRule(r: UfwRule): Draft {
  return {
    number: r.number,
    original: r,
    action: r.action,
    direction: r.direction,
    from: addrOf(r.from),
    to: addrOf(r.to),
    port: r.app ? '' : r.port,
    proto: r.proto === 'tcp' || r.proto === 'udp' ? r.proto : 'any',
    app: r.app ?? '',
    iface: r.iface ?? '',
    comment: r.comment,
    position: '',
  };
}

/** "8000-8100" is how people write a range; ufw wants "8000:8100". */
function portOf(text: string): string {
  const t = text.trim();
  return /^\d+\s*-\s*\d+$/.test(t) ? t.replace(/\s*-\s*/, ':') : t;
}

function ruleOf(d: Draft): Record<string, unknown> {
  const rule: Record<string, unknown> = {
    action: d.action,
    direction: d.direction,
    from: d.from.trim() || 'any',
    to: d.to.trim() || 'any',
    proto: d.app ? 'any' : d.proto,
    comment: d.comment.trim(),
  };
  if (d.app) rule.app = d.app;
  else if (portOf(d.port)) rule.port = portOf(d.port);
  if (d.iface.trim()) rule.iface = d.iface.trim();
  return rule;
}

/** Did the form change anything of the rule itself (not its position)? */
function ruleChanged(d: Draft, original: UfwRule): boolean {
  const was = draftFromRule(original);
  return JSON.stringify(ruleOf({ ...d, position: '' })) !== JSON.stringify(ruleOf(was));
}

/**
 * The op the form asks for (unchecked: the schema judges it, field by field). An edited rule given
 * another position only is a move; with changes too, an edit with `to`.
 */
export function opFromDraft(d: Draft): unknown {
  const rule = ruleOf(d);
  const position = d.position.trim() ? Number(d.position) : undefined;
  if (d.number !== null) {
    const expect = d.original ? { expect: expectOf(d.original) } : {};
    const moves = position !== undefined && position !== d.number;
    if (moves && d.original && !ruleChanged(d, d.original)) return { kind: 'move', number: d.number, to: position, ...expect };
    return { kind: 'edit', number: d.number, rule, ...(moves ? { to: position } : {}), ...expect };
  }
  return position === undefined ? { kind: 'add', rule } : { kind: 'add', rule, position };
}
