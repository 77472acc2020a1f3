/**
 * Restore at scale with the ufw backend, for real: a `portcullis run --backend ufw` starting on a
 * store of 600 active bans that ufw does not have (a crash between the store and ufw) writes them
 * into ufw's rules files in batches (helper/firewall/ufw-batch.ts) — every one in `ufw show added`
 * and in the kernel, the user's allow rule untouched and after them — and bans a scan sent right away.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTaggedRules } from '../../electron/helper/firewall/ufw-backend.ts';
import { requireSystem } from '../support/system.ts';
import { labPerTest, startOnStoredBans, storedBanV4 as v4, storedBanV6 as v6, until } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'conntrack');
const N4 = 560;
const N6 = 40;

describe.runIf(enabled)('portcullis run restores many bans with the ufw backend (real ufw)', () => {
  const t = labPerTest();

  it(`${N4 + N6} stored bans ufw lacks go into ufw's rules files; the user's rule stays; a scan right after the ready line is banned too`, async () => {
    const { lab, stateDir, cli } = await startOnStoredBans(t, 'ufw', N4, N6);
    const userRules = (await lab.ufw('status')).split('\n').filter((l) => /ALLOW/.test(l));

    const s = lab.scanner;
    await lab.probeMany(s.ns, s.fwV4, [1001, 1002, 1003, 1004, 1005, 1006], { timeoutMs: 200 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === s.v4, 30_000, 'the ban of the scanner');

    const tagged = async () => new Set(parseTaggedRules(await lab.ufw('show', 'added')).map((r) => r.ip as string));
    await until(async () => (await tagged()).size >= N4 + N6 + 1, 120_000, `${N4 + N6 + 1} tagged rules in ufw`);
    const listed = await tagged();
    for (let i = 0; i < N4; i++) expect(listed.has(v4(i)), v4(i)).toBe(true);
    for (let i = 0; i < N6; i++) expect(listed.has(v6(i)), v6(i)).toBe(true);
    const chain4 = (await lab.exec(lab.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout.split('\n');
    const chain6 = (await lab.exec(lab.fwNs, ['ip6tables', '-w', '-S', 'ufw6-user-input'])).stdout.split('\n');
    expect(chain4.filter((l) => / -j DROP$/.test(l) && !l.includes('portcullis-fast'))).toHaveLength(N4 + 1);
    expect(chain6.filter((l) => / -j DROP$/.test(l))).toHaveLength(N6);
    expect(chain4.findIndex((l) => /--dport 22 -j ACCEPT/.test(l))).toBeGreaterThan(chain4.findLastIndex((l) => / -j DROP$/.test(l)));
    expect((await lab.ufw('status')).split('\n').filter((l) => /ALLOW/.test(l))).toEqual(userRules);
    expect(await lab.canConnect(s.ns, s.fwV4, 22, 500)).toBe(false);
    // The restore went through the rules files (audit log: banMany loads them with iptables-restore -n), not one `ufw prepend` per ban.
    const audit = readFileSync(path.join(stateDir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { op: string; argv: string[][]; result: string });
    const restores = audit.filter((e) => e.op === 'banMany');
    expect(restores.length).toBeGreaterThanOrEqual(2); // 600 in batches of 500
    for (const e of restores) {
      expect(e.result).toBe('ok');
      expect(e.argv.some((a) => a[0]!.endsWith('iptables-restore') && a[1] === '-n')).toBe(true);
      expect(e.argv.some((a) => a.includes('prepend'))).toBe(false);
    }
  }, 240_000);
});
