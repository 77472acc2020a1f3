/**
 * Pure text and argv of the forward block (issue 12.2): routed and container traffic. No I/O.
 *
 * Why a block of its own: a port published by Docker is DNATed in nat PREROUTING, so its packets go
 * through FORWARD and never meet ufw's INPUT chains — neither ufw's logging nor a ban (a ufw deny rule
 * or the set block's match in ufw-before-input) sees them. Docker's own FORWARD rules (inserted at the
 * top of FORWARD when dockerd starts) accept published traffic before ufw's forward chains; only its
 * DOCKER-USER chain comes earlier. So the block has three parts:
 *
 * - before.rules / before6.rules (named block FORWARD, ahead of ufw's ESTABLISHED accept):
 *   `portcullis-forward` drops every packet, new or established, from a source in the ban sets, jumped
 *   from ufw-before-forward (routed traffic) and — by the helper, at run time — from DOCKER-USER
 *   (containers). `portcullis-docker-log` logs new connections INTO a container network that were not
 *   DNATed (an unpublished port), jumped from DOCKER-USER only.
 * - after.rules / after6.rules (named block FORWARD, at the start of ufw-after-forward):
 *   `portcullis-forward-log` logs new forwarded connections that no route rule accepted (what ufw's
 *   routed policy is about to handle) and that were not DNATed, except traffic to and from container
 *   bridges (DOCKER-USER's log sees those: each packet is logged once).
 * - before.init (named block FORWARD): creates the ban sets at boot, before ufw loads the rules that
 *   match them (as the set block's hook does; both use `-exist` with the same parameters).
 *
 * Both backends ban through the sets here: the set backend's bans ARE set elements; the ufw backend
 * also puts each ban into the set while this block is installed (forward-mirror.ts). Why not a ufw
 * route rule per ban: Docker accepts published traffic before ufw's forward chains, so route rules
 * never see it; DOCKER-USER is not in ufw's files, so a ban there must be a fixed rule that matches
 * changing state — a set; and a ufw rule change costs 0.3–1.4 s where `ipset add` costs 1–4 ms.
 *
 * What is evidence: only records of the two logging rules (LOG, or NFLOG for the nflog source: `via`),
 * prefix "PORTCULLIS FORWARD". A DNATed connection
 * (`--ctstate DNAT`: a published port) is never logged, so probes of published ports do not count,
 * as probes of ports ufw allows do not. Traffic coming FROM a container bridge is never logged (a
 * container's own outbound connections are not someone scanning us). Container bridges are known by
 * Docker's names: `docker0` and `br-+` (user-defined networks).
 */
import { PORTCULLIS_FORWARD_PREFIX, type LoggingVia } from '../../shared/settings.ts';
import { BAN_NET_SET_NAMES, BAN_SET_NAMES, ESTABLISHED_MARKER, chainPrefix, loggingTarget, type Anchor, type Family, type LoggingRulesResult, type PerSourceLoggingOptions } from './blocks.ts';

export const FORWARD_BLOCK_NAME = 'FORWARD' as const;
/** Our chains (iptables and ip6tables have separate tables: the same names in both). */
export const FORWARD_CHAIN = 'portcullis-forward';
export const FORWARD_LOG_CHAIN = 'portcullis-forward-log';
export const DOCKER_LOG_CHAIN = 'portcullis-docker-log';
export const DOCKER_USER = 'DOCKER-USER';
/** Comment on the jumps the helper puts into DOCKER-USER: how they are found and removed. */
export const DOCKER_JUMP_COMMENT = 'portcullis-forward';
/** Docker's bridge names: docker0 and br-<network id> (a trailing + is iptables' wildcard). */
export const CONTAINER_BRIDGES = ['docker0', 'br-+'] as const;

/** Where the before.rules part goes: before ufw's ESTABLISHED accept, so established flows of a banned host are dropped too. */
export const FORWARD_BEFORE_ANCHOR: Anchor = { kind: 'beforeLine', line: ESTABLISHED_MARKER };

/** Where the after.rules part goes: first in ufw-after-forward (else before COMMIT). */
export function forwardAfterAnchor(family: Family): Anchor {
  return { kind: 'beforeFirstMatch', pattern: new RegExp(`^-A ${chainPrefix(family)}-after-forward\\s`), fallbackLine: 'COMMIT' };
}

function rateOptions(opts: PerSourceLoggingOptions): { ok: true; rate: number; burst: number } | { ok: false; reason: string } {
  const rate = opts.ratePerMinute ?? 10;
  const burst = opts.burst ?? 20;
  if (!Number.isInteger(rate) || rate < 1 || rate > 10_000) return { ok: false, reason: 'ratePerMinute must be a whole number from 1 to 10000' };
  if (!Number.isInteger(burst) || burst < 1 || burst > 10_000) return { ok: false, reason: 'burst must be a whole number from 1 to 10000' };
  return { ok: true, rate, burst };
}

/**
 * The logging target with a per-source budget; one hashlimit table per family, shared by both log
 * chains. LOG (kernel records: kmsg, journald, files) or, for the nflog source, its NFLOG twin in
 * Portcullis's group with the same prefix (blocks.ts loggingTarget): the nflog source reads no LOG
 * record, so a forward block logging through LOG under it would log for nobody.
 */
function logTail(family: Family, rate: number, burst: number, via: LoggingVia = 'log'): string {
  return `-m hashlimit --hashlimit-mode srcip --hashlimit-upto ${rate}/min --hashlimit-burst ${burst} --hashlimit-name portcullis-fwd${family} ${loggingTarget(via, PORTCULLIS_FORWARD_PREFIX)}`;
}

/** RETURN for what is never evidence: not a new connection, a published (DNATed) port, a container's own traffic. */
function notEvidence(chain: string): string[] {
  return [
    `-A ${chain} -m conntrack ! --ctstate NEW -j RETURN`,
    `-A ${chain} -m conntrack --ctstate DNAT -j RETURN`,
    ...CONTAINER_BRIDGES.map((b) => `-A ${chain} -i ${b} -j RETURN`),
  ];
}

/** before.rules / before6.rules: the drop chain, its jump from ufw-before-forward, and DOCKER-USER's log chain. */
export function forwardBeforeRules(family: Family, opts: PerSourceLoggingOptions = {}): LoggingRulesResult {
  const r = rateOptions(opts);
  if (!r.ok) return r;
  return {
    ok: true,
    rules: [
      '# Forwarded traffic (routed, and containers published through DNAT) never meets ufw-before-input:',
      '# drop banned sources here too, new or established, and log probes of container networks.',
      `:${FORWARD_CHAIN} - [0:0]`,
      `:${DOCKER_LOG_CHAIN} - [0:0]`,
      `-A ${FORWARD_CHAIN} -m set --match-set ${BAN_SET_NAMES[family]} src -j DROP`,
      // Prefix bans (a scanning network) live in the hash:net set beside it.
      `-A ${FORWARD_CHAIN} -m set --match-set ${BAN_NET_SET_NAMES[family]} src -j DROP`,
      `-A ${chainPrefix(family)}-before-forward -j ${FORWARD_CHAIN}`,
      ...notEvidence(DOCKER_LOG_CHAIN),
      ...CONTAINER_BRIDGES.map((b) => `-A ${DOCKER_LOG_CHAIN} -o ${b} ${logTail(family, r.rate, r.burst, opts.via)}`),
    ],
  };
}

/**
 * after.rules / after6.rules: log what no route rule accepted, not DNATed, not to or from a container
 * bridge. `logRouted: false` (ufw's routed policy is allow) logs nothing here: what reaches
 * ufw-after-forward is then ACCEPTED by the policy, and a LAN host's own outbound connections would
 * count as probes.
 */
export function forwardAfterRules(family: Family, opts: PerSourceLoggingOptions & { logRouted?: boolean } = {}): LoggingRulesResult {
  const r = rateOptions(opts);
  if (!r.ok) return r;
  const log =
    opts.logRouted === false
      ? ['# ufw\'s routed policy was allow when this was written: nothing routed is dropped, so nothing is logged.']
      : [
          ...notEvidence(FORWARD_LOG_CHAIN),
          ...CONTAINER_BRIDGES.map((b) => `-A ${FORWARD_LOG_CHAIN} -o ${b} -j RETURN`),
          `-A ${FORWARD_LOG_CHAIN} ${logTail(family, r.rate, r.burst, opts.via)}`,
        ];
  return {
    ok: true,
    rules: [
      "# Log new forwarded connections no route rule accepted, with a per-source budget (containers: DOCKER-USER's chain).",
      `:${FORWARD_LOG_CHAIN} - [0:0]`,
      ...log,
      `-A ${chainPrefix(family)}-after-forward -j ${FORWARD_LOG_CHAIN}`,
    ],
  };
}

// ---- DOCKER-USER: not in ufw's files (dockerd creates it), so the helper keeps its jumps at run time ----

export type IptablesBinary = 'iptables' | 'ip6tables';
export const iptablesOf = (family: Family): IptablesBinary => (family === 4 ? 'iptables' : 'ip6tables');

/** The jumps into DOCKER-USER, first in it and in this order: drop banned sources, then log. */
export const DOCKER_JUMPS = [FORWARD_CHAIN, DOCKER_LOG_CHAIN] as const;

/** Rule spec (after the chain name) of one DOCKER-USER jump. */
function jumpSpec(target: (typeof DOCKER_JUMPS)[number]): string[] {
  return ['-m', 'comment', '--comment', DOCKER_JUMP_COMMENT, '-j', target];
}

/** argv: does DOCKER-USER exist? (`-w`: wait for the xtables lock rather than fail.) */
export const dockerUserExistsArgv = (): string[] => ['-w', '-n', '-L', DOCKER_USER];
/** argv: is this jump in DOCKER-USER? */
export const dockerJumpCheckArgv = (target: (typeof DOCKER_JUMPS)[number]): string[] => ['-w', '-C', DOCKER_USER, ...jumpSpec(target)];
/** argv: insert the jump at `position` (1-based) of DOCKER-USER. */
export const dockerJumpInsertArgv = (target: (typeof DOCKER_JUMPS)[number], position: number): string[] => [
  '-w', '-I', DOCKER_USER, String(position), ...jumpSpec(target),
];
/** argv: delete one copy of the jump. */
export const dockerJumpDeleteArgv = (target: (typeof DOCKER_JUMPS)[number]): string[] => ['-w', '-D', DOCKER_USER, ...jumpSpec(target)];
/** argv: is our chain loaded (ufw active with the block)? */
export const chainExistsArgv = (chain: string): string[] => ['-w', '-n', '-L', chain];
/** argv: flush / delete one of our chains after the block is gone (each fails harmlessly when absent). */
export const chainFlushArgv = (chain: string): string[] => ['-w', '-F', chain];
export const chainDeleteArgv = (chain: string): string[] => ['-w', '-X', chain];
export const FORWARD_CHAINS = [FORWARD_CHAIN, DOCKER_LOG_CHAIN, FORWARD_LOG_CHAIN] as const;
