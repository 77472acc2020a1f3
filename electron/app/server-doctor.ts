/**
 * Doctor checks a server needs (issue 11.5), each saying what is wrong and how to fix it:
 *  - ipv6: ufw's IPV6=no in /etc/default/ufw — ufw then loads no IPv6 rules at all, so IPv6 scanners
 *    are neither logged nor banned.
 *  - uncounted-prefixes: firewall records with a log prefix that is not counted as blocked (seen in
 *    the live log; replay reports the same for a file).
 *  - forwarded-traffic: published container ports (Docker's DNAT in nat PREROUTING, its DOCKER chains):
 *    forwarded packets go through FORWARD, never through ufw's INPUT rules, so scans of them are not
 *    logged by ufw's input policy and a ban (a rule or the set match in ufw-before-input) does not
 *    stop them — unless the forward block (issue 12.2) is loaded, whose fix it offers.
 * Declared in the Doctor table (shared/doctor.ts) with the app's other checks; the running service
 * and `portcullis doctor` without an instance both run them.
 */
import { readFile } from 'node:fs/promises';
import type { DoctorCheck } from '../shared/api.ts';
import { doctorCheck } from '../shared/doctor.ts';
import { ufwConfValue } from '../shared/ufw-conf.ts';
import type { Exec } from '../helper/exec.ts';

/** Counts the prefixes of records the engine did not count (bounded: at most `cap` distinct prefixes). */
export class PrefixTally {
  private readonly seen = new Map<string, number>();
  private readonly cap: number;
  constructor(cap = 32) {
    this.cap = cap;
  }
  note(prefix: string): void {
    const n = this.seen.get(prefix);
    if (n !== undefined) this.seen.set(prefix, n + 1);
    else if (this.seen.size < this.cap) this.seen.set(prefix, 1);
  }
  top(n = 5): { prefix: string; records: number }[] {
    return [...this.seen].sort((a, b) => b[1] - a[1]).slice(0, n).map(([prefix, records]) => ({ prefix, records }));
  }
}

/**
 * Prefixes of ACCEPTED packets: ufw's (logging medium and up), and any whose name says so (a word
 * starting allow/accept/permit/pass: a rule of the user's own such as `-j LOG --log-prefix "SSH ACCEPT "`).
 * Never scan evidence, never added by the fix: counted, every accepted connection (the admin's own
 * SSH) would be a probe. A LOG record does not say what the rule after it did, so the name is all there is.
 */
export function logsAcceptedTraffic(prefix: string): boolean {
  return /^UFW (ALLOW|AUDIT)\b/.test(prefix) || /(?:^|[^a-z])(?:allow|accept|permit|pass)/i.test(prefix);
}

/** Prefixes the check names, and so the fix adds, at most. */
const NAMED_PREFIXES = 5;

/**
 * What the `count-seen-prefixes` fix adds: the prefixes the check names — seen in the live log, not
 * counted yet, most frequent first, at most NAMED_PREFIXES, never one of accepted packets. Empty: nothing to add.
 */
export function prefixesToCount(tally: PrefixTally, counted: readonly string[]): string[] {
  const have = new Set(counted);
  return tally.top(Number.MAX_SAFE_INTEGER).map((t) => t.prefix).filter((p) => !have.has(p) && !logsAcceptedTraffic(p)).slice(0, NAMED_PREFIXES);
}

export function uncountedPrefixesCheck(tally: PrefixTally, counted: readonly string[]): DoctorCheck {
  // A prefix counted since it was tallied (the fix ran, or the settings changed) is not reported.
  const top = tally.top(Number.MAX_SAFE_INTEGER).filter((t) => !counted.includes(t.prefix));
  const addable = top.filter((t) => !logsAcceptedTraffic(t.prefix)).slice(0, NAMED_PREFIXES);
  const accepted = top.filter((t) => logsAcceptedTraffic(t.prefix)).map((t) => `"${t.prefix}"`);
  if (addable.length === 0) {
    return doctorCheck(
      'uncounted-prefixes',
      'ok',
      `every firewall record seen has a counted prefix (${counted.join(', ')})` + (accepted.length ? `, or logs accepted packets (${accepted.join(', ')}: rightly not counted)` : ''),
    );
  }
  return doctorCheck(
    'uncounted-prefixes',
    'warn',
    `records with prefixes that are not counted as blocked: ${addable.map((t) => `"${t.prefix}" ×${t.records}`).join(', ')}. ` +
      'Fix: if they mark dropped packets (a rule of your own with --log-prefix), add them to detection.prefixes ' +
      '(portcullis doctor --fix count-seen-prefixes, Thresholds, or /etc/portcullis/portcullis.json and systemctl reload portcullis)' +
      (accepted.length ? `; ${accepted.join(', ')} log accepted packets and are right to stay out` : ''),
  );
}

/** IPV6= of /etc/default/ufw as ufw reads it (shared/ufw-conf.ts); null when no line sets it. */
export function ufwIpv6Setting(text: string): boolean | null {
  const v = ufwConfValue(text, 'IPV6');
  return v === null ? null : v === 'yes';
}

export async function ipv6Check(defaultsFile = '/etc/default/ufw'): Promise<DoctorCheck> {
  const text = await readFile(defaultsFile, 'utf8').catch(() => null);
  const v6 = text === null ? null : ufwIpv6Setting(text);
  if (v6 === false) {
    return doctorCheck(
      'ipv6',
      'warn',
      `IPV6=no in ${defaultsFile}: ufw loads no IPv6 rules, so IPv6 scanners are never logged or banned. Fix: set IPV6=yes there, then ufw reload (portcullis doctor --fix enable-ufw-ipv6)`,
    );
  }
  return v6 === true
    ? doctorCheck('ipv6', 'ok', 'ufw filters (and logs) IPv6 too')
    : text === null
      ? doctorCheck('ipv6', 'warn', `cannot read ${defaultsFile}`)
      : doctorCheck('ipv6', 'warn', `no IPV6= line in ${defaultsFile}: ufw then loads no IPv6 rules (it filters IPv6 only with IPV6=yes). Fix: add IPV6=yes there, then ufw reload`);
}

/** What of container forwarding the nat table's PREROUTING and the filter table's chains show (`iptables -S` output). */
export function forwardedTraffic(
  natPrerouting: string,
  filterChains: string,
): { dnat: string[]; dockerChains: boolean; dockerUserBan: boolean; forwardBlock: boolean } {
  const dnat = natPrerouting.split('\n').filter((l) => /^-A PREROUTING\b/.test(l) && /-j (DNAT|DOCKER)\b/.test(l));
  const dockerChains = /^-N DOCKER\b/m.test(filterChains) || /-j DOCKER\b/.test(natPrerouting);
  // A ban match of the user's own, or the forward block's jump (helper/firewall/forward-blocks.ts).
  const dockerUserBan = /^-A DOCKER-USER\b.*(--match-set portcullis-ban4 src|-j portcullis-forward$)/m.test(filterChains);
  const forwardBlock = /^-A ufw-before-forward -j portcullis-forward$/m.test(filterChains);
  return { dnat, dockerChains, dockerUserBan, forwardBlock };
}

export async function forwardedTrafficCheck(exec: Exec): Promise<DoctorCheck> {
  const nat = await exec('iptables', ['-w', '-t', 'nat', '-S', 'PREROUTING']);
  const filter = await exec('iptables', ['-w', '-S']);
  if (nat.code !== 0 && filter.code !== 0) {
    return doctorCheck('forwarded-traffic', 'warn', `cannot read the nat table: ${(nat.stderr || nat.stdout).trim()}`);
  }
  const f = forwardedTraffic(nat.code === 0 ? nat.stdout : '', filter.code === 0 ? filter.stdout : '');
  if (f.dnat.length === 0 && !f.dockerChains) {
    return doctorCheck('forwarded-traffic', 'ok', 'no DNAT in nat PREROUTING: every inbound packet meets ufw\'s INPUT rules');
  }
  const what = f.dockerChains ? "Docker's published container ports (DOCKER chains, DNAT in nat PREROUTING)" : `DNAT in nat PREROUTING (${f.dnat.length} rule(s))`;
  if (f.forwardBlock && (!f.dockerChains || f.dockerUserBan)) {
    return doctorCheck('forwarded-traffic', 'ok', `${what}: the forward block drops banned sources and logs probes in the forward path${f.dockerChains ? ' (DOCKER-USER included)' : ''}`);
  }
  return doctorCheck(
    'forwarded-traffic',
    'warn',
    `${what}: forwarded packets bypass ufw's INPUT rules, so scans of those ports are not logged by ufw and bans do not stop them` +
      (f.dockerUserBan ? '; DOCKER-USER matches the ban set, so bans do reach them' : '') +
      '. Fix: portcullis doctor --fix install-forward-block (drops banned sources and logs probes in ufw-before-forward and DOCKER-USER), or publish container ports on 127.0.0.1 only',
  );
}

/** The server checks a root process can run without the service: IPv6 setting and forwarded traffic. */
export async function serverChecks(exec: Exec | null, defaultsFile?: string): Promise<DoctorCheck[]> {
  const checks = [await ipv6Check(defaultsFile)];
  if (exec) checks.push(await forwardedTrafficCheck(exec).catch((e: Error) => (doctorCheck('forwarded-traffic', 'warn', `cannot check: ${e.message}`))));
  return checks;
}
