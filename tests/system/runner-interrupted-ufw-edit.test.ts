/**
 * A helper killed between writing ufw's user rules files and loading them (helper/firewall/ufw-batch.ts,
 * "Interrupted"), for real: the lab's user.rules no longer lists a ban of ours while the kernel still
 * drops that source, with the marker such a batch writes first. `portcullis run` loads the files at its
 * start, before it serves: the source gets in again, the marker is gone, and the audit log says so.
 * Without it the kernel kept dropping the source until ufw's next reload.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PENDING_LOAD_FILE } from '../../electron/helper/firewall/ufw-batch.ts';
import { requireSystem } from '../support/system.ts';
import { labPerTest } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'conntrack');

describe.runIf(enabled)('portcullis run finishes an interrupted edit of ufw\'s rules files at its start', () => {
  const t = labPerTest();

  it("an unban batch killed before its load: the kernel still drops the source; the start loads the files and it gets in", async () => {
    const { lab, stateDir } = await t.lab();
    const s = lab.scanner;
    const userRules = `${lab.ufwDir}/user.rules`;
    const before = readFileSync(userRules, 'utf8');
    await lab.ufw('prepend', 'deny', 'from', s.v4, 'comment', 'portcullis-ban exp:1900000000 scan');
    expect(await lab.canConnect(s.ns, s.fwV4, 22, 1000)).toBe(false);
    // What the killed batch left: the entry out of the file (swapped in), never loaded, the marker written first.
    writeFileSync(`${lab.ufwDir}/${PENDING_LOAD_FILE}`, '{"files":["user.rules"]}\n');
    writeFileSync(userRules, before);
    expect(await lab.canConnect(s.ns, s.fwV4, 22, 1000)).toBe(false);

    const cli = await t.start(['run', '--source', 'kmsg'], { ban: { backend: 'ufw', bantimeSec: 600 } });
    expect(await lab.canConnect(s.ns, s.fwV4, 22, 3000)).toBe(true);
    expect(cli.stderr.join('\n')).toMatch(/loaded \S*user\.rules: an earlier helper stopped after writing them/);
    expect(existsSync(`${lab.ufwDir}/${PENDING_LOAD_FILE}`)).toBe(false);
    const audit = readFileSync(path.join(stateDir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { op: string; argv: string[][]; result: string });
    expect(audit.find((e) => e.op === 'finishInterruptedUfwEdit')).toMatchObject({ result: 'ok', argv: [['/usr/sbin/iptables-restore', '-n']] });
  }, 120_000);
});
