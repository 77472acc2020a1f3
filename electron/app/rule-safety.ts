/**
 * Rule safety: would a firewall change lock out someone connected now? The rule editor's warnings
 * (an edit, delete or move that cuts an open session), the refusal to turn ufw on or to set a deny incoming
 * policy that would refuse a connected user's port, and which ports the rules let in (probes to them
 * are not scan evidence). Pure functions over ufw's rules and the host's inbound sessions; used by the
 * service's API handlers and by `portcullis doctor --fix` without a running instance.
 */
import type { RuleOp, RulePreview, UfwRule } from '../shared/api.ts';
import { canonicalCidr, canonicalIp } from '../shared/domain.ts';
import { Whitelist } from '../engine/detect/whitelist.ts';
import type { AllowedPorts } from '../engine/ports.ts';

export type InboundSession = { localPort: number; remote: string };

/** Loopback only: ufw accepts everything on lo before any rule, so a loopback session is never cut. */
export const LOOPBACK = new Whitelist();

/**
 * Why a firewall-wide change would lock out someone connected now (null when it would not): the
 * sessions from outside (loopback excluded) whose port `admitted` says is no longer let in. Used by
 * the service and by `portcullis doctor --fix` without a running instance.
 */
export function lockoutRefusal(what: string, sessions: readonly InboundSession[], admitted: (s: InboundSession) => boolean): string | null {
  const cut = sessions.filter((s) => !LOOPBACK.matches(s.remote) && !admitted(s));
  if (cut.length === 0) return null;
  const ports = [...new Set(cut.map((s) => s.localPort))].sort((a, b) => a - b);
  const from = [...new Set(cut.map((s) => s.remote))].slice(0, 3).join(', ');
  return `${what} refuses new connections to port ${ports.join(', ')}, which ${from} ${cut.length === 1 ? 'is' : 'are'} connected through now, unless a rule allows it`;
}

/**
 * Turning ufw on. While it is off `ufw status` lists no rules, so which ports its rules would let in
 * is unknown: like `ufw enable` itself ("may disrupt existing ssh connections"), refuse whenever
 * someone is connected from outside and the incoming policy is not allow. Null when it may go ahead.
 */
export function enableUfwRefusal(fw: { enabled: boolean; defaultIncoming: string | null }, sessions: readonly InboundSession[]): string | null {
  if (fw.enabled) return null;
  return lockoutRefusal('turning ufw on', sessions, () => fw.defaultIncoming === 'allow');
}

/** "22", "8000:8100", "80,443" → does it contain `port`? */
export function portSpecHas(spec: string, port: number): boolean {
  for (const part of spec.split(',')) {
    const [a, b] = part.split(':').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    if (b === undefined ? port === a : port >= a && port <= b) return true;
  }
  return false;
}

/** "any", "Anywhere", "Anywhere (v6)" (or nothing): a rule's side that is every address of the rule's family. */
const isAnywhere = (side: string): boolean => /^(any|anywhere|)$/i.test(side.replace(/\s*\(v6\)$/, '').trim());

/** An inbound rule as the checks read it: a ufw status line (with its family) or a rule being added. */
export type InboundRule = {
  action: string;
  direction: string;
  from: string;
  port?: string;
  proto: string;
  family?: 4 | 6;
  app?: string;
  iface?: string;
  /** The rule's destination address (a session's local address is not known), source port or source profile. */
  to?: string;
  fromPort?: string;
  fromApp?: string;
  /** ufw's rule number, where the rule is one of ufw's (which rule a session meets first). */
  number?: number;
};

/**
 * Does an inbound rule match an established TCP session? 'maybe' where the session cannot tell: an
 * application profile's ports (ufw's status names the profile, not its ports, and Portcullis does
 * not read them), the interface the rule is on (a session's interface is not known), a destination
 * address, source port or source profile (a session's local address and remote port are not kept),
 * a source that cannot be parsed. `given`: what is known to hold for the session (the profile and interface of the
 * rule an edit replaces, when that rule let it in) — the same profile or interface is then no doubt.
 */
function ruleMatch(rule: InboundRule, session: InboundSession, given?: Pick<InboundRule, 'app' | 'iface'>): 'yes' | 'no' | 'maybe' {
  if (rule.direction !== 'in') return 'no';
  if (rule.proto !== 'any' && rule.proto !== 'tcp') return 'no';
  if (rule.port && !portSpecHas(rule.port, session.localPort)) return 'no';
  const unknown =
    (!rule.port && rule.app !== undefined && rule.app !== given?.app) ||
    (rule.iface !== undefined && rule.iface !== given?.iface) ||
    (rule.to !== undefined && !isAnywhere(rule.to)) ||
    rule.fromPort !== undefined ||
    rule.fromApp !== undefined;
  const remote = canonicalIp(session.remote);
  if (!remote) return 'maybe';
  if (rule.family && (remote.includes(':') ? 6 : 4) !== rule.family) return 'no';
  if (!isAnywhere(rule.from)) {
    const cidr = canonicalCidr(rule.from.replace(/\s*\(v6\)$/, '').trim());
    if (cidr === null) return 'maybe';
    if (!new Whitelist([cidr]).has(remote)) return 'no';
  }
  return unknown ? 'maybe' : 'yes';
}

/**
 * Does an inbound rule admit — or deny — an established TCP session? Where the rule cannot be read
 * (ruleMatch's 'maybe') the answer is the cautious one for the question: it 'denies' and 'may-admit'
 * (so deleting or editing it asks), but it does not surely 'admit' (so it never vouches for a
 * session: "allow Apache" says nothing about an SSH session on port 22).
 */
export function ruleTouches(rule: InboundRule, session: InboundSession, how: 'admits' | 'may-admit' | 'denies', given?: Pick<InboundRule, 'app' | 'iface'>): boolean {
  const admitting = rule.action === 'allow' || rule.action === 'limit';
  if ((how !== 'denies') !== admitting) return false;
  const match = ruleMatch(rule, session, given);
  return how === 'admits' ? match === 'yes' : match !== 'no';
}

/** allowedPortsFrom's bits: TCP and UDP of IPv4, shifted by V6_SHIFT for IPv6. */
const TCP_BIT = 1;
const UDP_BIT = 2;
const V6_SHIFT = 2;

/**
 * Ports the firewall lets in from anywhere: probes to them are not scan evidence (seed comment). A
 * port open only to some sources (`allow from 10.0.0.0/8 to any port 22`), on one interface (`allow
 * in on wg0 to any port 22`), to one local address or from one source port is not one: a probe to it
 * blocked from elsewhere is what a scanner's looks like.
 *
 * Per address family: ufw lists a rule once per family it applies to (`allow 80/tcp` twice, the
 * second "(v6)"; `allow from 0.0.0.0/0 to any port 80` or any rule while IPV6=no, once), and each
 * status line opens the port to its own family only (UfwRule.v6) — a port open to IPv4 only is
 * evidence when an IPv6 source probes it, and the reverse.
 */
export function allowedPortsFrom(rules: UfwRule[]): AllowedPorts {
  const allow = rules.filter(
    (r) =>
      (r.action === 'allow' || r.action === 'limit') &&
      r.direction === 'in' &&
      r.port !== '' &&
      isAnywhere(r.from) &&
      isAnywhere(r.to) &&
      r.iface === undefined &&
      r.fromPort === undefined &&
      r.fromApp === undefined,
  );
  // One bitmap by port, built once per status read, a bit per protocol and family: the engine asks
  // for every blocked packet (20k a second in a flood), and reading the port specs each time
  // allocated for every packet.
  const open = new Uint8Array(65536);
  for (const r of allow) {
    const shift = r.v6 ? V6_SHIFT : 0;
    const bits = ((r.proto === 'any' || r.proto === 'tcp' ? TCP_BIT : 0) | (r.proto === 'any' || r.proto === 'udp' ? UDP_BIT : 0)) << shift;
    if (bits === 0) continue;
    // The ranges portSpecHas reads: "22", "8000:8100", "80,443".
    for (const part of r.port.split(',')) {
      const [a, b] = part.split(':').map(Number);
      if (a === undefined || Number.isNaN(a)) continue;
      const last = Math.min(65535, b === undefined ? a : b);
      for (let port = Math.max(0, a); port <= last; port++) open[port]! |= bits;
    }
  }
  return (family, proto, port) => (open[port]! & ((proto === 'tcp' ? TCP_BIT : UDP_BIT) << (family === 6 ? V6_SHIFT : 0))) !== 0;
}

const withFamily = (r: UfwRule): InboundRule => ({ ...r, family: r.v6 ? 6 : 4 });

/** Would the user's current rules (and the incoming policy) still let this session's port in? */
export function admittedByRules(rules: readonly UfwRule[], policyIncoming: string | null): (s: InboundSession) => boolean {
  return (s) => policyIncoming === 'allow' || rules.some((r) => ruleTouches(withFamily(r), s, 'admits'));
}

/**
 * May the first rule that matches this session deny it? ufw applies the first matching rule: a deny
 * that may match ends the search, an allow only one that surely matches (one that may leaves the
 * question to the rules after it).
 */
function firstMatchMayDeny(ordered: readonly InboundRule[], s: InboundSession): boolean {
  for (const r of ordered) {
    if (ruleTouches(r, s, 'denies')) return true;
    if (ruleTouches(r, s, 'admits')) return false;
  }
  return false;
}

/**
 * Does reordering put a rule that may deny this open session ahead of the rule that let it in? The
 * session is there, so one of the rules that may admit it, up to the first that surely does, let it
 * in (the rules that may deny it ahead of that one did not match). Which one is not known ("allow
 * Apache" may or may not cover port 22), so each is checked: a deny that is now ahead of one of them
 * and was not before may cut the session. "allow OpenSSH" ahead of "deny from 203.0.113.0/24" is what
 * admits 203.0.113.5's SSH session, and moving the deny above it cuts that session. Without such a
 * rule (the policy admits it), which rule is met first decides (firstMatchMayDeny).
 */
function reorderCuts(before: readonly InboundRule[], after: readonly InboundRule[], s: InboundSession): boolean {
  const candidates: InboundRule[] = [];
  for (const r of before) {
    if (!ruleTouches(r, s, 'may-admit')) continue;
    candidates.push(r);
    if (ruleTouches(r, s, 'admits')) break;
  }
  if (candidates.length === 0 || candidates.some((c) => c.number === undefined)) return !firstMatchMayDeny(before, s) && firstMatchMayDeny(after, s);
  /** Numbers of the rules that may deny the session ahead of rule `number` in `list`. */
  const denyingAhead = (list: readonly InboundRule[], number: number): Set<number | undefined> => {
    const at = list.findIndex((r) => r.number === number);
    return new Set(list.slice(0, at < 0 ? 0 : at).filter((r) => ruleTouches(r, s, 'denies')).map((r) => r.number));
  };
  return candidates.some((c) => {
    const was = denyingAhead(before, c.number!);
    return [...denyingAhead(after, c.number!)].some((n) => !was.has(n));
  });
}

/** The rules in ufw order once rule `number` is deleted and `put` inserted as rule `to`: how a move or an edit runs. */
function reinserted(ordered: readonly UfwRule[], number: number, to: number, put: InboundRule): InboundRule[] {
  const rest = ordered.filter((r) => r.number !== number);
  // After the delete, the rules below it are numbered one less.
  const at = rest.filter((r) => (r.number > number ? r.number - 1 : r.number) < to).length;
  return [...rest.slice(0, at).map(withFamily), put, ...rest.slice(at).map(withFamily)];
}

/**
 * Warnings for a rule change (`op` already retargeted at the rule the user saw): the open inbound
 * sessions it may cut. An edit replaces the rule: what the old one let in and the new one does not,
 * and whatever the new one denies. A move (or an edit's new position) changes which rule matches a
 * session first: one that no rule may deny before and a rule may deny after.
 */
export function ruleChangeWarnings(op: RuleOp, rules: readonly UfwRule[], allSessions: readonly InboundSession[]): RulePreview['warnings'] {
  // ufw accepts everything on lo before any rule: a loopback session (the browser's own socket to
  // `serve`, an SSH tunnel's end) is never cut by a rule change.
  const sessions = allSessions.filter((s) => !LOOPBACK.matches(s.remote));
  const old = op.kind === 'add' ? undefined : rules.find((r) => r.number === op.number);
  const next = op.kind === 'add' || op.kind === 'edit' ? op.rule : null;
  // Which rule a session meets first, before and after: a move, or an edit given a new position.
  const ordered = [...rules].sort((a, b) => a.number - b.number);
  const reordered =
    old && (op.kind === 'move' || op.kind === 'edit')
      ? { before: ordered.map(withFamily), after: reinserted(ordered, old.number, op.to ?? old.number, next ? { ...next, number: old.number } : withFamily(old)) }
      : null;
  const cut = (s: InboundSession): boolean => {
    if (next && ruleTouches(next, s, 'denies')) return true;
    // What the old rule may have let in, the new one must surely let in — given the old one did (its
    // profile and interface, if the new rule keeps them, are then no doubt).
    if (old && op.kind !== 'move' && ruleTouches(withFamily(old), s, 'may-admit') && !(next && ruleTouches(next, s, 'admits', old))) return true;
    return reordered !== null && reorderCuts(reordered.before, reordered.after, s);
  };
  return sessions.filter(cut).map((s) => ({ kind: 'cuts-session' as const, detail: `an open connection from ${s.remote} to port ${s.localPort} may be cut` }));
}
