/**
 * The helper's nflogCounters: the packet counters of the filter table's rules that log to
 * Portcullis's NFLOG group, both families, from `iptables -w -t filter -S -v` (read-only: decoded
 * without arguments, run through the read queue, never audited).
 */
import { describe, expect, it } from 'vitest';
import { LIST_WITH_COUNTERS_ARGV, nflogRuleCounts, readNflogCounters } from '../../electron/helper/firewall/nflog-counters.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { decodeHelperRequest } from '../../electron/shared/helper-protocol.ts';
import { fakeDeps, recordingExec } from '../helper/fakes.ts';

// `iptables -w -t filter -S -v` of a namespace with the logging block's NFLOG variant (iptables 1.8.9, nf_tables), a LOG rule and an NFLOG rule of another group.
const V4 = `-P INPUT DROP -c 0 0
-P FORWARD DROP -c 0 0
-N ufw-after-input
-N ufw-after-forward
-A INPUT -c 10 500 -j ufw-after-input
-A ufw-after-input -m conntrack --ctstate NEW -m addrtype --dst-type LOCAL -m hashlimit --hashlimit-upto 10/min --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name portcullis4 -c 5 300 -j NFLOG --nflog-prefix "[PORTCULLIS BLOCK]" --nflog-group 5417 --nflog-size 2048 --nflog-threshold 1
-A ufw-after-input -c 7 420 -j LOG --log-prefix "[UFW BLOCK] "
-A ufw-after-input -c 3 180 -j NFLOG --nflog-group 54170
-A ufw-after-forward -m hashlimit --hashlimit-upto 10/min --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name portcullis-fwd4 -c 12 720 -j NFLOG --nflog-prefix "[PORTCULLIS FORWARD]" --nflog-group 5417
`;
const V6 = `-P INPUT DROP -c 0 0
-N ufw6-after-input
-A ufw6-after-input -m conntrack --ctstate NEW -m addrtype --dst-type LOCAL -m hashlimit --hashlimit-upto 10/min --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name portcullis6 -c 200 16000 -j NFLOG --nflog-prefix "[PORTCULLIS BLOCK]" --nflog-group 5417 --nflog-size 2048 --nflog-threshold 1
`;

describe('nflogCounters (helper)', () => {
  it('takes the rules logging to the group, of any chain (a forward block logging through NFLOG too), with their packets and the rule text without counters', () => {
    expect(nflogRuleCounts(V4, 4, 5417)).toEqual([
      {
        family: 4,
        chain: 'ufw-after-input',
        rule: '-A ufw-after-input -m conntrack --ctstate NEW -m addrtype --dst-type LOCAL -m hashlimit --hashlimit-upto 10/min --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name portcullis4 -j NFLOG --nflog-prefix "[PORTCULLIS BLOCK]" --nflog-group 5417 --nflog-size 2048 --nflog-threshold 1',
        packets: 5,
      },
      { family: 4, chain: 'ufw-after-forward', rule: expect.stringMatching(/^-A ufw-after-forward .* -j NFLOG --nflog-prefix "\[PORTCULLIS FORWARD\]" --nflog-group 5417$/), packets: 12 },
    ]);
    expect(nflogRuleCounts(V6, 6, 5417)).toEqual([expect.objectContaining({ family: 6, chain: 'ufw6-after-input', packets: 200 })]);
  });

  it('runs iptables and ip6tables argv-only; a family that cannot be listed is reported, not taken as no rules', async () => {
    const { exec, calls } = recordingExec((bin, args) =>
      bin === 'iptables' && args.includes('-S') ? { code: 0, stdout: V4, stderr: '' } : bin === 'ip6tables' ? { code: 3, stdout: '', stderr: "ip6tables: can't initialize ip6tables table `filter'" } : undefined,
    );
    const r = await readNflogCounters(exec, 5417);
    expect(r.rules.map((x) => x.packets)).toEqual([5, 12]);
    expect(r.unreadable).toEqual([{ family: 6, error: "ip6tables: can't initialize ip6tables table `filter'" }]);
    expect(calls.slice(-2)).toEqual([
      { bin: 'iptables', args: [...LIST_WITH_COUNTERS_ARGV] },
      { bin: 'ip6tables', args: [...LIST_WITH_COUNTERS_ARGV] },
    ]);
  });

  it('is an op without arguments that reads and audits nothing', async () => {
    expect(decodeHelperRequest({ id: 1, op: 'nflogCounters' }).ok).toBe(true);
    expect(decodeHelperRequest({ id: 1, op: 'nflogCounters', args: { group: 1 } }).ok).toBe(false);
    const { deps, audit } = fakeDeps((bin, args) => (args.includes('-S') ? { code: 0, stdout: bin === 'iptables' ? V4 : V6, stderr: '' } : undefined));
    const d = createHelperDispatcher(deps);
    const r = await d.handle({ id: 2, op: 'nflogCounters', args: {} });
    expect(r).toMatchObject({ ok: true, result: { rules: [{ packets: 5 }, { packets: 12 }, { family: 6, packets: 200 }], unreadable: [] } });
    expect(audit.entries).toEqual([]);
    d.close();
  });
});
