/**
 * Every bulk unban reaches the helper's audit log with its reason, as a single unban does: the
 * service, the real engine and SQLite store, the REAL helper dispatcher and set backend, with only
 * `ipset` faked (real-helper.ts). Before, an `unbanMany` entry said which addresses left the
 * firewall, never why.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { BOOT, build, FakeIpset, removeTempDbs, tempDb } from './real-helper.ts';

afterEach(removeTempDbs);

describe('bulk unbans in the audit log', () => {
  it("reconcile's stale entries (in the kernel set, no active ban in the store) leave as one batch audited with the reason `stale`", async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const stale = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
    for (const ip of stale) await ipset.exec('ipset', ['add', '-exist', 'portcullis-ban4', ip, 'timeout', '600']);
    const t = build(tempDb(), clock, ipset);
    await t.service.start();
    try {
      await t.service.idle();
      for (const ip of stale) expect(ipset.timeoutOf(ip), ip).toBeUndefined();
      const entries = t.audit.entries.filter((e) => e.op === 'unbanMany');
      expect(entries.map((e) => e.args)).toEqual([{ ips: stale, backend: 'set', reason: 'stale' }]);
    } finally {
      await t.service.stop();
      t.close();
    }
  });
});
