/**
 * The packet counters of the rules that log to Portcullis's NFLOG group (the per-source logging
 * block's NFLOG variant, and any other rule of the filter table with `-j NFLOG --nflog-group 5417`:
 * a forward block logging through NFLOG too), IPv4 and IPv6. Read-only: `iptables -w -S -v` lists
 * every rule of the filter table with `-c PACKETS BYTES`.
 *
 * Why: NFLOG keeps nothing while no reader is bound to the group — the kernel builds no message at
 * all — so what the rules logged while Portcullis was stopped (or its reader restarting) can only be
 * counted from the rules' own counters (engine/logs/nflog-ledger.ts does the arithmetic).
 */
import type { Exec } from '../exec.ts';
import type { Family } from './blocks.ts';
import { iptablesOf } from './forward-blocks.ts';

export interface NflogRuleCount {
  family: Family;
  chain: string;
  /** The rule as `iptables -S` prints it, without its counters: the same text while the rule stays. */
  rule: string;
  packets: number;
}

export interface NflogCounters {
  rules: NflogRuleCount[];
  /** A family whose rules could not be listed (ip6tables missing, IPv6 off…): its counts are unknown. */
  unreadable: { family: Family; error: string }[];
}

/** argv: every rule of the filter table, with counters. */
export const LIST_WITH_COUNTERS_ARGV = ['-w', '-t', 'filter', '-S', '-v'] as const;

/** The rules of `iptables -S -v` output that log to NFLOG group `group`, with their packet counts. */
export function nflogRuleCounts(text: string, family: Family, group: number): NflogRuleCount[] {
  const out: NflogRuleCount[] = [];
  const groupWord = new RegExp(`(?:^| )--nflog-group ${group}(?: |$)`);
  for (const line of text.split('\n')) {
    if (!line.startsWith('-A ') || !/ -j NFLOG(?: |$)/.test(line) || !groupWord.test(line)) continue;
    const c = / -c (\d+) (\d+)(?= |$)/.exec(line);
    if (!c) continue;
    const chain = line.slice(3).split(' ', 1)[0]!;
    out.push({ family, chain, rule: line.slice(0, c.index) + line.slice(c.index + c[0].length), packets: Number(c[1]) });
  }
  return out;
}

export async function readNflogCounters(exec: Exec, group: number): Promise<NflogCounters> {
  const result: NflogCounters = { rules: [], unreadable: [] };
  for (const family of [4, 6] as const) {
    const r = await exec(iptablesOf(family), LIST_WITH_COUNTERS_ARGV, { timeoutMs: 15_000 });
    if (r.code !== 0) result.unreadable.push({ family, error: (r.stderr || r.stdout).trim().slice(0, 400) || `exit code ${r.code}` });
    else result.rules.push(...nflogRuleCounts(r.stdout, family, group));
  }
  return result;
}
