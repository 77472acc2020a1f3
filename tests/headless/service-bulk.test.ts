/**
 * Many bans at once, with the real engine and SQLite store and a recording firewall that takes
 * batches: the bulk ban API is one store transaction and one firewall batch; the restore after a
 * reboot, and the removal of stale bans after downtime, run in batches BEHIND log reading (start
 * resolves first, a scan seen meanwhile is banned between two batches).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatch } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { MAX_BAN_DURATION_SEC, type BanRecord } from '../../electron/shared/model.ts';
import { skippedBanText, type SkippedBan } from '../../electron/shared/helper-protocol.ts';
import type { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { BatchFirewall, Journal } from './fakes.ts';
import { parseBanList } from '../../electron/headless/ban-list.ts';
import { neverBanReason } from '../../electron/shared/never-ban.ts';
import { BOOT, buildRealService, HOST, kmsg, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-bulk-');

function build(firewall: BatchFirewall, seed?: (raw: SqliteStore, now: number) => void) {
  /** What the service logged (its notices included), in order. */
  const logs: { level: string; message: string }[] = [];
  const log = (level: string, message: string) => void logs.push({ level, message });
  return { ...buildRealService({ dbFile: path.join(tempDir(), 'db.sqlite'), clock: new ManualClock(BOOT + 10_000), firewall, seed, log }), logs };
}

const filler = (i: number) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

describe('bulk ban', () => {
  it('banMany: one store transaction, ONE firewall batch, whitelisted addresses refused with the reason', async () => {
    const fw = new BatchFirewall(new Journal());
    const t = build(fw);
    await t.service.start();
    await t.service.idle();
    const ips = Array.from({ length: 300 }, (_, i) => filler(i));
    const r = await t.call('banMany', { ips: [...ips, HOST, '2001:db8::5', ips[0]], durationSec: 3600, note: 'blocklist' });
    expect(r.banned).toBe(301);
    expect(r.refused).toEqual([{ ip: HOST, reason: expect.stringMatching(/whitelisted/) }]);
    expect(fw.log).toEqual(['banMany 301']);
    expect(fw.bans.size).toBe(301);
    expect(fw.bans.get('2001:db8::5')).toBe(t.clock.now() + 3_600_000);
    expect(t.raw.activeBans(t.clock.now())).toHaveLength(301);
    expect((await t.call('getBans')).active).toHaveLength(301);
    await t.service.stop();
  });

  it('banMany refuses a duration beyond the bound of every ban (as ban does), records nothing, and the bans still read back', async () => {
    const fw = new BatchFirewall(new Journal());
    const t = build(fw);
    await t.service.start();
    await t.service.idle();
    // `ban --from list --duration 115740741d`: its end was beyond what SQLite gives back, and getBans threw.
    await expect(t.call('banMany', { ips: ['198.51.100.7'], durationSec: 115_740_741 * 86_400 })).rejects.toThrow(/invalid durationSec: a ban lasts at most 3,650 days/);
    await expect(t.call('banMany', { ips: ['198.51.100.7'], durationSec: MAX_BAN_DURATION_SEC + 1 })).rejects.toThrow(/at most 3,650 days/);
    expect(fw.log).toEqual([]);
    expect((await t.call('getBans')).active).toEqual([]);
    const r = await t.call('banMany', { ips: ['198.51.100.7'], durationSec: MAX_BAN_DURATION_SEC });
    expect(r.banned).toBe(1);
    expect((await t.call('getBans')).active.map((b) => b.until)).toEqual([t.clock.now() + MAX_BAN_DURATION_SEC * 1000]);
    await t.service.stop();
  });

  const NEVER = ['0.0.0.0', '0.1.2.3', '224.0.0.251', '239.255.255.250', '255.255.255.255', 'ff02::1', '::'];

  it('never-ban addresses (unspecified, multicast, broadcast — what the helper refuses) are refused by the engine, listed in `refused`, never recorded (audit F2)', async () => {
    const fw = new BatchFirewall(new Journal());
    const t = build(fw);
    await t.service.start();
    await t.service.idle();
    const r = await t.call('banMany', { ips: ['198.51.100.1', ...NEVER, '198.51.100.2'], durationSec: 3600 });
    expect(r.banned).toBe(2);
    expect(r.refused).toEqual(NEVER.map((ip) => ({ ip, reason: expect.stringMatching(/^refusing to ban: .* is (the unspecified|a multicast|the broadcast)/) })));
    expect(fw.log).toEqual(['banMany 2']);
    expect(t.raw.activeBans(t.clock.now()).map((b) => b.ip).sort()).toEqual(['198.51.100.1', '198.51.100.2']);
    // The single-ban API says why too, and a "scan" from such a source is never counted nor banned.
    const one = await dispatch(t.service.handlers(), 'ban', { ip: '224.0.0.251' });
    expect(one).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringMatching(/224\.0\.0\.251 is a multicast address/) } });
    t.source.push(...[21, 23, 25, 80, 110, 143].map((p, i) => kmsg('0.0.0.0', p, 10_000 + i)));
    await t.service.idle();
    expect((await t.call('getBans')).active.map((b) => b.ip)).not.toContain('0.0.0.0');
    await t.service.stop();
  });

  it('parseBanList: one address a line, comments and blanks skipped, duplicates once; a bad line refuses the whole list', () => {
    expect(parseBanList('# blocklist\n192.0.2.1\n\n  2001:DB8::1  # v6\n192.0.2.1\n')).toEqual({ ok: true, ips: ['192.0.2.1', '2001:db8::1'] });
    const bad = parseBanList('192.0.2.1\n192.0.2.300\nrm -rf /\n');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors).toEqual(['line 2: "192.0.2.300" is not an IPv4 or IPv6 address', 'line 3: "rm -rf /" is not an IPv4 or IPv6 address']);
  });
});

describe('restore after a reboot', () => {
  it('start does not wait for the restore; a scan during it is banned between two batches; everything is back after', async () => {
    const fw = new BatchFirewall(new Journal());
    let open!: () => void;
    fw.gate = new Promise<void>((r) => (open = r));
    const n = 1200;
    const t = build(fw, (raw, now) => {
      const bans: BanRecord[] = Array.from({ length: n }, (_, i) => ({
        ip: filler(i),
        at: now - 1000,
        until: now + 3_600_000,
        strikes: 1,
        reason: { kind: 'manual', ports: [], hits: 0, firstSeen: now - 1000, lastSeen: now - 1000 },
      }));
      raw.recordBans(bans);
    });
    // The firewall lost every ban (a reboot emptied the sets): start must not wait for putting them back.
    await t.service.start();
    expect(fw.log).toEqual(['banMany 500']); // the first batch is in progress, held by the gate
    // A scan arrives while the restore waits.
    t.source.push(...[21, 23, 25, 80, 110, 143].map((p, i) => kmsg('203.0.113.77', p, 10_000 + i)));
    expect((await t.call('getBans')).active.map((b) => b.ip)).toContain('203.0.113.77');
    open();
    await t.service.idle();
    expect(fw.bans.size).toBe(n + 1);
    // The live ban ran after the batch in progress and before the rest of the restore.
    expect(fw.log).toEqual(['banMany 500', 'ban 203.0.113.77', 'banMany 500', 'banMany 200']);
    await t.service.stop();
  });

  it('stale bans left in the firewall (expired while nobody ran) go in batches too: a scan meanwhile is banned after one batch, not after all of them', async () => {
    const fw = new BatchFirewall(new Journal());
    let open!: () => void;
    fw.gate = new Promise<void>((r) => (open = r));
    for (let i = 0; i < 1200; i++) fw.bans.set(filler(i), BOOT); // the store holds none of them as active
    const t = build(fw);
    await t.service.start();
    expect(fw.log).toEqual(['unbanMany 500']); // the first batch is in progress, held by the gate
    t.source.push(...[21, 23, 25, 80, 110, 143].map((p, i) => kmsg('203.0.113.77', p, 10_000 + i)));
    expect((await t.call('getBans')).active.map((b) => b.ip)).toContain('203.0.113.77');
    open();
    await t.service.idle();
    expect(fw.log).toEqual(['unbanMany 500', 'ban 203.0.113.77', 'unbanMany 500', 'unbanMany 200']);
    expect(fw.unbanReasons).toEqual(['stale', 'stale', 'stale']); // for the helper's audit log
    expect([...fw.bans.keys()].filter((ip) => ip !== '203.0.113.77').filter((ip) => ip.startsWith('100.'))).toEqual([]);
    await t.service.stop();
  });

  it('a source the firewall skips (the user has a rule of their own for it) is refused with the reason, never counted as banned, and its ban is ended (refused-users-rule)', async () => {
    const fw = new BatchFirewall(new Journal());
    const why = skippedBanText({ ip: filler(2), why: 'users-rule' });
    fw.usersRules.add(filler(2));
    const t = build(fw);
    await t.service.start();
    await t.service.idle();
    const r = await t.call('banMany', { ips: [filler(1), filler(2), filler(3)], durationSec: 3600 });
    expect(r.banned).toBe(2);
    expect(r.refused).toEqual([{ ip: filler(2), reason: why }]);
    expect([...fw.bans.keys()].sort()).toEqual([filler(1), filler(3)]);
    expect(t.logs.some((n) => n.level === 'warn' && n.message.includes('1 of 3 addresses were not banned in the firewall') && n.message.includes(why))).toBe(true);
    const bans = await t.call('getBans');
    expect(bans.active.map((b) => b.ip).sort()).toEqual([filler(1), filler(3)]);
    expect(bans.history.filter((b) => b.ended).map((b) => [b.ip, b.ended!.why])).toEqual([[filler(2), 'refused-users-rule']]);
    await t.service.stop();
  });

  it('a restore does not count a source the firewall skips as restored, and ends its stored ban (refused-users-rule)', async () => {
    const fw = new BatchFirewall(new Journal());
    fw.usersRules.add(filler(7));
    const t = build(fw, (raw, now) => {
      raw.recordBans([6, 7, 8].map((i): BanRecord => ({ ip: filler(i), at: now - 1000, until: now + 600_000, strikes: 1, reason: { kind: 'manual', ports: [], hits: 0, firstSeen: now, lastSeen: now } })));
    });
    await t.service.start();
    await t.service.idle();
    expect([...fw.bans.keys()].sort()).toEqual([filler(6), filler(8)]);
    expect(t.logs.some((l) => l.level === 'warn' && l.message === `reconcile: not restored: ${skippedBanText({ ip: filler(7), why: 'users-rule' })}`)).toBe(true);
    expect(t.logs.some((l) => l.message.startsWith('reconciled: 2 restored'))).toBe(true);
    const bans = await t.call('getBans');
    expect(bans.active.map((b) => b.ip).sort()).toEqual([filler(6), filler(8)]);
    expect(bans.history.find((b) => b.ip === filler(7))?.ended?.why).toBe('refused-users-rule');
    expect(t.logs.some((l) => l.level === 'warn' && l.message.startsWith('1 stored ban was not put back into the firewall') && l.message.includes('refused-users-rule'))).toBe(true);
    await t.service.stop();
  });

  it('a stored never-ban address (from an older version) does not keep its batch out of the firewall (audit F2)', async () => {
    // Refuses a batch whole when one entry is unbannable, as the root helper's ban guard does.
    class GuardedFirewall extends BatchFirewall {
      override async banMany(bans: readonly { ip: string; until: number | null }[]): Promise<SkippedBan[]> {
        const bad = bans.find((b) => neverBanReason(b.ip));
        if (bad) throw new Error(`refusing to ban: ${neverBanReason(bad.ip)}`);
        return super.banMany(bans);
      }
      override async ban(ip: string, until: number | null): Promise<void> {
        if (neverBanReason(ip)) throw new Error(`refusing to ban: ${neverBanReason(ip)}`);
        await super.ban(ip, until);
      }
    }
    const fw = new GuardedFirewall(new Journal());
    const manual = (ip: string, now: number): BanRecord => ({ ip, at: now - 1000, until: now + 3_600_000, strikes: 1, reason: { kind: 'manual', ports: [], hits: 0, firstSeen: now, lastSeen: now } });
    const t = build(fw, (raw, now) => raw.recordBans([manual('198.51.100.1', now), manual('224.0.0.251', now), manual('198.51.100.2', now)]));
    await t.service.start();
    await t.service.idle();
    expect([...fw.bans.keys()].sort()).toEqual(['198.51.100.1', '198.51.100.2']);
    expect((await t.call('getBans')).active.map((b) => b.ip)).not.toContain('224.0.0.251');
    await t.service.stop();
  });

  it('stop during a restore ends after the batch in progress (the next start resumes it)', async () => {
    const fw = new BatchFirewall(new Journal());
    let open!: () => void;
    fw.gate = new Promise<void>((r) => (open = r));
    const t = build(fw, (raw, now) =>
      raw.recordBans(
        Array.from({ length: 1500 }, (_, i) => ({ ip: filler(i), at: now - 1000, until: now + 3_600_000, strikes: 1, reason: { kind: 'manual' as const, ports: [], hits: 0, firstSeen: now, lastSeen: now } })),
      ),
    );
    await t.service.start();
    const stopped = t.service.stop();
    open();
    await stopped;
    expect(fw.log).toEqual(['banMany 500']);
  });
});
