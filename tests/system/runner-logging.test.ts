/**
 * Seeing every scanner, end to end (issue 3 test 8 through the real runner): ufw logs all sources
 * through ONE budget (3/min, burst 10), so while one scanner is busy a second one goes unseen and is
 * never banned. With Portcullis's per-source logging block (installed through the running instance,
 * `portcullis doctor --fix install-per-source-logging`) both are logged and both are banned.
 */
import { describe, expect, it } from 'vitest';
import { canonicalIp } from '../../electron/shared/domain.ts';
import { requireSystem } from '../support/system.ts';
import type { Lab } from '../support/netns.ts';
import { cliOnce, labPerTest, until } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');
const BUSY = Array.from({ length: 30 }, (_, i) => 4001 + i);
const SECOND = [5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008];

describe.runIf(enabled)('two scanners: ufw’s shared log budget vs per-source logging', () => {
  const t = labPerTest();

  for (const perSource of [false, true]) {
    it(perSource ? 'with the per-source block both scanners are logged and banned' : 'without it the second scanner is not seen', async () => {
      const { lab, stateDir, cli } = await t.run(['run', '--source', 'kmsg'], { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } }, { scanners: 2 });
      if (perSource) {
        const fix = await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--json']);
        expect(fix.stderr).toBe('');
        expect(JSON.parse(fix.stdout)).toContainEqual(expect.objectContaining({ id: 'per-source-logging', level: 'ok' }));
      }
      const [a, b] = lab.scanners as [Lab['scanner'], Lab['scanner']];
      const kmsg = lab.kmsg();
      await lab.probeMany(a.ns, a.fwV4, BUSY, { timeoutMs: 300 });
      await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(a.v4), 10_000, 'the busy scanner’s ban');
      await lab.probeMany(b.ns, b.fwV4, SECOND, { timeoutMs: 300 });
      const seenB = () => kmsg.lines().filter((l) => l.includes(`SRC=${b.v4} `)).length;
      if (perSource) {
        await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(b.v4), 10_000, 'the second scanner’s ban');
        // The capture (dmesg at nice 0) may pass the lines on after the runner (nice -10) has banned.
        await until(() => seenB() >= 5, 5000, 'the second scanner’s probes in the kernel log');
        expect(await lab.canConnect(b.ns, b.fwV4, 22, 700)).toBe(false);
      } else {
        // Give the kernel and the runner ample time; the second scanner's probes were never logged.
        await new Promise((r) => setTimeout(r, 2000));
        expect(seenB()).toBeLessThan(5);
        expect(cli.bans()).toEqual([canonicalIp(a.v4)]);
        expect(await lab.canConnect(b.ns, b.fwV4, 22)).toBe(true);
      }
      kmsg.stop();
    });
  }
});
