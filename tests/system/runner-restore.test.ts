/**
 * Restore at scale, for real: a `portcullis run` (set backend) starting on a store that holds 2,000
 * active bans while the kernel sets are empty (as after a reboot) puts every one back into the kernel
 * in batches, is ready and reading the log without waiting for that, and bans a scan sent right away.
 */
import { describe, expect, it } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { labPerTest, setMembers, startOnStoredBans, storedBanV4 as v4, until } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');
const N4 = 1900;
const N6 = 100;

describe.runIf(enabled)('portcullis run restores many bans after a reboot (real ipset)', () => {
  const t = labPerTest();

  it(`${N4 + N6} stored bans go back into the empty sets; a scan right after the ready line is banned too`, async () => {
    const { lab, cli } = await startOnStoredBans(t, 'set', N4, N6);

    // Scan at once: the restore must not stand in front of log reading.
    const s = lab.scanner;
    await lab.probeMany(s.ns, s.fwV4, [1001, 1002, 1003, 1004, 1005, 1006], { timeoutMs: 200 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === s.v4, 15_000, 'the ban of the scanner');

    await until(async () => (await setMembers(lab!, 4)).length === N4 + 1, 30_000, `${N4 + 1} members in portcullis-ban4`);
    const members4 = new Set(await setMembers(lab, 4));
    for (let i = 0; i < N4; i++) expect(members4.has(v4(i)), v4(i)).toBe(true);
    expect(members4.has(s.v4)).toBe(true);
    await until(async () => (await setMembers(lab!, 6)).length === N6, 30_000, `${N6} members in portcullis-ban6`);
    expect(await lab.canConnect(s.ns, s.fwV4, 22, 500)).toBe(false);
  }, 120_000);
});
