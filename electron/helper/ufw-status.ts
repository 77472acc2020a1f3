/**
 * Parsers for what ufw prints (`ufw status numbered|verbose`, `ufw app list`) and for its two
 * config files (/etc/default/ufw, /etc/ufw/ufw.conf — the only place defaults and logging can be
 * read while ufw is inactive). Pure: text in, typed objects out; tested against captured output
 * of real ufw 0.36 (tests/helper/fixtures).
 *
 * ufw prints each rule as "%-26s %-12s%-26s%s%s" (To, "ACTION DIR", From, " (log, out)", " # comment"),
 * so columns shift when To is long: we split on the action token, not on columns.
 */
import type { UfwRule } from '../shared/api.ts';
import { canonicalCidr } from '../shared/domain.ts';
import { PORTCULLIS_TAG } from '../shared/helper-protocol.ts';

export { PORTCULLIS_TAG };

export type LoggingLevel = 'off' | 'low' | 'medium' | 'high' | 'full';

export interface ParsedUfwStatus {
  active: boolean;
  /** Only in `status verbose` of an active firewall; null otherwise. */
  logging: LoggingLevel | null;
  defaults: { incoming: string; outgoing: string; routed: string } | null;
  /** Numbered output: ufw's numbers. Verbose output: position in the listing (not usable for delete). */
  rules: UfwRule[];
}

const RULE_LINE = /^(.*?)\s+(ALLOW|DENY|REJECT|LIMIT)(?: (IN|OUT|FWD))?(?:\s+(.*))?$/;
const NUMBER = /^\[\s*(\d+)\]\s/;
const ATTRIBS = /\s\(((?:log-all|log|out)(?:, (?:log-all|log|out))*)\)\s*$/;
const PORTS = /^(\d{1,5}(?::\d{1,5})?(?:,\d{1,5}(?::\d{1,5})?)*)(?:\/([a-z0-9]+))?$/;
const KNOWN_PROTOS = new Set(['tcp', 'udp', 'ipv6', 'esp', 'ah', 'igmp', 'gre', 'vrrp']);

interface Location {
  addr: string;
  port?: string;
  proto?: string;
  app?: string;
  iface?: string;
  v6: boolean;
}

function looksLikeAddress(token: string): boolean {
  // "8000:8100" is hex digits and a colon too: only a real address (or CIDR) counts.
  return canonicalCidr(token) !== null;
}

/** One side of a rule as ufw prints it: "Anywhere", "22/tcp (v6) on lo", "10.0.0.1 53/udp", "192.168.1.10 WWW", "80/tcp (WWW)". */
function parseLocation(text: string): Location {
  let t = text.trim();
  let iface: string | undefined;
  const on = / on (\S+)$/.exec(t);
  if (on) {
    iface = on[1];
    t = t.slice(0, on.index);
  }
  const v6 = t.includes('(v6)');
  t = t.replace(/ ?\(v6\)/g, '').trim();
  let app: string | undefined;
  const verboseApp = /^(.+?) \(([^()]+)\)$/.exec(t); // verbose: "80,443/tcp (WWW Full)" — ports shown, app in parentheses
  if (verboseApp) {
    app = verboseApp[2];
    t = verboseApp[1]!;
  }
  const loc: Location = { addr: 'any', v6, ...(iface ? { iface } : {}), ...(app ? { app } : {}) };
  const sp = t.indexOf(' ');
  const first = sp < 0 ? t : t.slice(0, sp);
  let rest = sp < 0 ? '' : t.slice(sp + 1).trim();
  // "Anywhere/tcp" and "10.9.0.0/16/esp": a protocol glued to the address when no port is given.
  const glued = /^(.*)\/([a-z][a-z0-9]*)$/.exec(first);
  const addrPart = glued ? glued[1]! : first;
  if (addrPart === 'Anywhere' || looksLikeAddress(addrPart)) {
    loc.addr = addrPart === 'Anywhere' ? 'any' : addrPart;
    if (glued) loc.proto = glued[2];
  } else {
    rest = t;
  }
  if (rest) {
    const ports = PORTS.exec(rest);
    if (ports) {
      loc.port = ports[1];
      if (ports[2]) loc.proto = ports[2];
    } else if (!loc.app) {
      loc.app = rest; // numbered output shows the profile name instead of its ports
    }
  }
  if (loc.addr.includes(':')) loc.v6 = true;
  return loc;
}

function toProto(p: string | undefined): UfwRule['proto'] {
  if (!p) return 'any';
  return (KNOWN_PROTOS.has(p) ? p : 'any') as UfwRule['proto'];
}

/** Parses one rule line (with or without its "[ N]" prefix); null when the line is not a rule. */
export function parseRuleLine(line: string, fallbackNumber: number): UfwRule | null {
  let text = line.replace(/\s+$/, '');
  let number = fallbackNumber;
  const num = NUMBER.exec(text);
  if (num) {
    number = Number(num[1]);
    text = text.slice(num[0].length);
  }
  const m = RULE_LINE.exec(text);
  if (!m) return null;
  const [, toText, actionText, dirText, tail = ''] = m;
  let rest = tail;
  let comment = '';
  const hash = rest.indexOf(' # ');
  if (hash >= 0) {
    comment = rest.slice(hash + 3).trim();
    rest = rest.slice(0, hash);
  } else if (rest.startsWith('# ')) {
    comment = rest.slice(2).trim();
    rest = '';
  }
  let log: UfwRule['log'];
  const attribs = ATTRIBS.exec(rest);
  if (attribs) {
    const list = attribs[1]!.split(', ');
    if (list.includes('log-all')) log = 'log-all';
    else if (list.includes('log')) log = 'log';
    rest = rest.slice(0, attribs.index);
  }
  const to = parseLocation(toText!);
  const from = parseLocation(rest || 'Anywhere');
  const direction = (dirText ?? 'IN').toLowerCase() as UfwRule['direction'];
  const forward = direction === 'fwd';
  const rule: UfwRule = {
    number,
    v6: to.v6 || from.v6,
    action: actionText!.toLowerCase() as UfwRule['action'],
    direction,
    from: from.addr,
    to: to.addr,
    port: to.port ?? '',
    proto: toProto(to.proto ?? from.proto),
    comment,
    portcullis: comment.startsWith(PORTCULLIS_TAG),
  };
  if (to.app) rule.app = to.app;
  if (from.port) rule.fromPort = from.port;
  if (from.app) rule.fromApp = from.app;
  if (log) rule.log = log;
  // ufw prints the incoming interface under To for host rules and under From for route rules.
  const ifaceIn = forward ? from.iface : to.iface ?? from.iface;
  if (ifaceIn) rule.iface = ifaceIn;
  if (forward && to.iface) rule.ifaceOut = to.iface;
  return rule;
}

const LEVELS = new Set<LoggingLevel>(['off', 'low', 'medium', 'high', 'full']);

/** Parses `ufw status`, `ufw status numbered` or `ufw status verbose`. */
export function parseUfwStatus(text: string): ParsedUfwStatus {
  const lines = text.split('\n');
  const out: ParsedUfwStatus = { active: false, logging: null, defaults: null, rules: [] };
  let inRules = false;
  for (const raw of lines) {
    const line = raw.replace(/\s+$/, '');
    if (!inRules) {
      const status = /^Status: (\w+)/.exec(line);
      if (status) out.active = status[1] === 'active';
      const logging = /^Logging: (\w+)(?: \((\w+)\))?/.exec(line);
      if (logging) {
        const level = logging[1] === 'off' ? 'off' : logging[2] ?? 'low';
        out.logging = LEVELS.has(level as LoggingLevel) ? (level as LoggingLevel) : null;
      }
      const def = /^Default: (\w+) \(incoming\), (\w+) \(outgoing\), (\w+) \(routed\)/.exec(line);
      if (def) out.defaults = { incoming: def[1]!, outgoing: def[2]!, routed: def[3]! };
      if (/^\s*--\s+------\s+----$/.test(line)) inRules = true;
      continue;
    }
    if (!line.trim()) continue;
    const rule = parseRuleLine(line, out.rules.length + 1);
    if (rule) out.rules.push(rule);
  }
  return out;
}

/** Parses `ufw app list`. */
export function parseAppList(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Available applications:'));
  if (start < 0) return [];
  return lines
    .slice(start + 1)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

function shellVars(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_0-9]+)=("?)([^"\n]*)\2\s*$/.exec(line);
    if (m) vars.set(m[1]!, m[3]!);
  }
  return vars;
}

const POLICY: Record<string, string> = { DROP: 'deny', ACCEPT: 'allow', REJECT: 'reject' };

/** Default policies from /etc/default/ufw (DEFAULT_INPUT_POLICY="DROP" → "deny"). */
export function parseUfwDefaults(text: string): { incoming: string; outgoing: string; routed: string; ipv6: boolean } {
  const v = shellVars(text);
  const pol = (k: string) => POLICY[v.get(k) ?? ''] ?? (v.get(k) ?? '').toLowerCase();
  return {
    incoming: pol('DEFAULT_INPUT_POLICY'),
    outgoing: pol('DEFAULT_OUTPUT_POLICY'),
    routed: pol('DEFAULT_FORWARD_POLICY'),
    ipv6: v.get('IPV6') === 'yes',
  };
}

/** ENABLED and LOGLEVEL from /etc/ufw/ufw.conf. */
export function parseUfwConf(text: string): { enabled: boolean; logging: LoggingLevel } {
  const v = shellVars(text);
  const level = v.get('LOGLEVEL') ?? 'low';
  return { enabled: v.get('ENABLED') === 'yes', logging: LEVELS.has(level as LoggingLevel) ? (level as LoggingLevel) : 'low' };
}
