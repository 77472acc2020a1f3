/**
 * Restore at scale, for real: a `portcullis run` (set backend) starting on a store that holds 2,000
 * active bans while the kernel sets are empty (as after a reboot) puts every one back into the kernel
 * in batches, is ready and reading the log without waiting for that, and bans a scan sent right away.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../electron/shared/domain.ts';
import type { BanRecord } from '../../electron/shared/model.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { requireSystem } from '../support/system.ts';
import { labPerTest, setMembers, until } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');
const N4 = 1900;
const N6 = 100;
/** 100.64.0.0/10 and 2001:db8:ffff::/48: never the lab's addresses. */
const v4 = (i: number) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const v6 = (i: number) => `2001:db8:ffff::${(i + 1).toString(16)}`;

describe.runIf(enabled)('portcullis run restores many bans after a reboot (real ipset)', () => {
  const t = labPerTest();

  it(`${N4 + N6} stored bans go back into the empty sets; a scan right after the ready line is banned too`, async () => {
    const { lab, stateDir } = await t.lab();
    const now = Date.now();
    const store = new SqliteStore({ path: path.join(stateDir, 'portcullis.db'), clock: systemClock });
    const ban = (ip: string): BanRecord => ({ ip, at: now - 60_000, until: now + 3_600_000, strikes: 1, reason: { kind: 'manual', ports: [], hits: 0, firstSeen: now - 60_000, lastSeen: now - 60_000 } });
    store.recordBans([...Array.from({ length: N4 }, (_, i) => ban(v4(i))), ...Array.from({ length: N6 }, (_, i) => ban(v6(i)))]);
    store.close();
    const cli = await t.start(['run', '--source', 'kmsg', '--backend', 'set'], {
      detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
      ban: { backend: 'set', bantimeSec: 600, maxbantimeSec: 3600, increment: false },
      logs: { source: 'kmsg' },
    });
    expect(cli.lines.find((l) => l.type === 'ready')?.activeBans).toBe(N4 + N6);

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
