/**
 * A ban the firewall refuses because a rule of the user's own decides that source's traffic (the ufw
 * backend's `users-rule`: the user's `allow from IP`, or their own deny): with the real engine and
 * SQLite store, the ban is ENDED with the reason 'refused-users-rule' — not kept as an active ban
 * that blocks nothing — the store, the API and the history say why, and the source's next scans are
 * not banned (and refused) again before that ban would have ended. A ban that failed stays active.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { FakeFirewall, type FakeHelper, Journal } from './fakes.ts';
import { BOOT, buildRealService, kmsg, tempDirsPerTest } from './real-service.ts';

const tempDir = tempDirsPerTest('pc-usersrule-');
const TRUSTED = '198.51.100.7';

function build(firewall: FakeFirewall, dbFile = path.join(tempDir(), 'db.sqlite'), clock = new ManualClock(BOOT + 10_000)) {
  const logs: { level: string; message: string }[] = [];
  const t = buildRealService({ dbFile, clock, firewall, log: (level, message) => void logs.push({ level, message }) });
  return { ...t, logs, dbFile };
}

/** A 5-port scan from `src`, in event time just before the clock. */
function scan(t: { source: { push(...l: string[]): void }; clock: ManualClock }, src: string): void {
  const ms = t.clock.now() - BOOT - 500;
  t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg(src, p, ms + i)));
}

const banCalls = (fw: FakeFirewall, ip: string) => fw.calls.filter((c) => c === `ban ${ip}`).length;

describe("a ban the firewall refuses for the user's own rule", () => {
  it("is ended (refused-users-rule): not active in the engine, the store, the API or the counts; the history and a notice say why", async () => {
    const fw = new FakeFirewall(new Journal());
    fw.usersRules.add(TRUSTED);
    const t = build(fw);
    await t.service.start();
    await t.service.idle();
    scan(t, TRUSTED);
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    const bans = await t.call('getBans');
    expect(bans.active.map((b) => b.ip)).not.toContain(TRUSTED);
    expect(bans.history.filter((b) => b.ip === TRUSTED).map((b) => b.ended?.why)).toEqual(['refused-users-rule']);
    expect(t.store.activeBans(t.clock.now()).map((b) => b.ip)).not.toContain(TRUSTED);
    expect((await t.call('getState')).counts.activeBans).toBe(0);
    // Nor a "last ban" (`portcullis status`, the tray's recent-ban icon): nothing was banned.
    expect((await t.call('getState')).lastBanAt).toBeNull();
    expect(t.service.engine.isBanned(TRUSTED)).toBe(false);
    const notes = t.logs.filter((l) => l.level === 'warn' && l.message.startsWith(`Not banned: ufw did not add Portcullis's ban of ${TRUSTED}`));
    expect(notes).toHaveLength(1);
    expect(notes[0]!.message).toContain('The ban is ended (refused-users-rule)');
    await t.service.stop();
  });

  it('is not made again at the next scans (no ban-and-refuse loop) until the refused ban would have ended; then one more try', async () => {
    const fw = new FakeFirewall(new Journal());
    fw.usersRules.add(TRUSTED);
    const t = build(fw);
    await t.service.start();
    scan(t, TRUSTED);
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    const until = (await t.call('getBans')).history.find((b) => b.ip === TRUSTED)!.until!;
    // The source keeps scanning: counted, never banned (nor refused, nor noticed) again.
    for (let i = 0; i < 5; i++) {
      t.clock.advance(10_000);
      scan(t, TRUSTED);
      await t.service.idle();
    }
    expect(banCalls(fw, TRUSTED)).toBe(1);
    expect((await t.call('getBans')).history.filter((b) => b.ip === TRUSTED)).toHaveLength(1);
    expect(t.logs.filter((l) => l.message.startsWith('Not banned:'))).toHaveLength(1);
    // Another scanner is banned as always meanwhile.
    scan(t, '203.0.113.77');
    await t.service.idle();
    expect(fw.bans.has('203.0.113.77')).toBe(true);
    // Once the refused ban's time is over, its source may be banned again (the user may have deleted
    // their rule): one try, refused once more here.
    t.clock.set(until + 1000);
    scan(t, TRUSTED);
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(2);
    await t.service.stop();
  });

  it("the user's rules changing ends the hold-off: a scanner whose trusting rule was deleted is banned at its next scan", async () => {
    const fw = new FakeFirewall(new Journal());
    fw.usersRules.add(TRUSTED);
    const t = build(fw);
    const helper = t.service.o.helper as FakeHelper;
    const trusting = { number: 2, v6: false, action: 'allow', direction: 'in', from: TRUSTED, to: 'any', port: '', proto: 'any', comment: '', portcullis: false } as const;
    helper.rules = [...helper.rules, trusting];
    await t.service.start();
    scan(t, TRUSTED);
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    // A status read with the same rules (only the numbers moved) changes nothing: still held off.
    helper.rules = helper.rules.map((r) => ({ ...r, number: r.number + 1 }));
    await t.service.refreshStatus(false);
    t.clock.advance(10_000);
    scan(t, TRUSTED);
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    // ufw turned off and on (off, it lists no rules at all): not the user's rules changing.
    const rulesOn = helper.rules;
    helper.enabled = false;
    helper.rules = [];
    await t.service.refreshStatus(false);
    helper.enabled = true;
    helper.rules = rulesOn;
    await t.service.refreshStatus(false);
    t.clock.advance(10_000);
    scan(t, TRUSTED);
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    // Another rule of the user's changes while theirs for TRUSTED stays first: still held off.
    helper.rules = [...helper.rules, { ...trusting, number: helper.rules.length + 1, from: '192.0.2.77' }];
    await t.service.refreshStatus(false);
    t.clock.advance(10_000);
    scan(t, TRUSTED);
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    // The user deletes their `allow from TRUSTED` (by hand with ufw, or in the rule editor): the
    // firewall takes our ban now, and the service sees the rules change at its next status read.
    fw.usersRules.delete(TRUSTED);
    helper.rules = helper.rules.filter((r) => r.from !== TRUSTED);
    await t.service.refreshStatus(false);
    t.clock.advance(10_000);
    scan(t, TRUSTED);
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(2);
    expect(fw.bans.has(TRUSTED)).toBe(true);
    expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual([TRUSTED]);
    await t.service.stop();
  });

  it("a ban whose rule the user replaced by their own (`ufw allow from X`: ufw updates our deny in place) is ended when the service sees the rules change; with the set backend it stands", async () => {
    for (const usersRulesDecide of [true, false]) {
      const fw = new FakeFirewall(new Journal());
      Object.assign(fw, { usersRulesDecide });
      const t = build(fw);
      const helper = t.service.o.helper as FakeHelper;
      await t.service.start();
      scan(t, TRUSTED);
      await t.service.idle();
      expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual([TRUSTED]);
      // ufw: "Rule updated" — the source's one rule is the user's allow now, without our tag.
      fw.usersRules.add(TRUSTED);
      if (usersRulesDecide) fw.bans.delete(TRUSTED);
      const trusting = { number: 1, v6: false, action: 'allow', direction: 'in', from: TRUSTED, to: 'any', port: '', proto: 'any', comment: 'mine', portcullis: false } as const;
      helper.rules = [trusting, ...helper.rules.map((r) => ({ ...r, number: r.number + 1 }))];
      await t.service.refreshStatus(false);
      await t.service.idle();
      const bans = await t.call('getBans');
      if (!usersRulesDecide) {
        expect(bans.active.map((b) => b.ip)).toEqual([TRUSTED]);
        await t.service.stop();
        continue;
      }
      expect(bans.active).toEqual([]);
      expect(bans.history.map((b) => [b.ip, b.ended?.why])).toEqual([[TRUSTED, 'refused-users-rule']]);
      expect(t.logs.filter((l) => l.level === 'warn' && l.message.startsWith(`A rule of yours now decides the traffic of ${TRUSTED}`))).toHaveLength(1);
      // Held off like a refused ban: its next scans are not banned and refused again.
      t.clock.advance(10_000);
      scan(t, TRUSTED);
      await t.service.idle();
      expect(banCalls(fw, TRUSTED)).toBe(1);
      await t.service.stop();
    }
  });

  it("a ban ended by the status read while its rule was still being added is not ended and announced a second time when the firewall then refuses it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    class SlowFirewall extends FakeFirewall {
      override async ban(ip: string, until: number | null) {
        await gate;
        return super.ban(ip, until);
      }
    }
    const fw = new SlowFirewall(new Journal());
    const t = build(fw);
    const helper = t.service.o.helper as FakeHelper;
    await t.service.start();
    scan(t, TRUSTED);
    await Promise.resolve();
    // Meanwhile the user's `ufw allow from TRUSTED`, seen by the status read before our rule is in.
    fw.usersRules.add(TRUSTED);
    helper.rules = [{ number: 1, v6: false, action: 'allow', direction: 'in', from: TRUSTED, to: 'any', port: '', proto: 'any', comment: '', portcullis: false }, ...helper.rules.map((r) => ({ ...r, number: r.number + 1 }))];
    await t.service.refreshStatus(false);
    release();
    await t.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    expect((await t.call('getBans')).history.map((b) => [b.ip, b.ended?.why])).toEqual([[TRUSTED, 'refused-users-rule']]);
    expect(t.logs.filter((l) => l.message.startsWith(`A rule of yours now decides the traffic of ${TRUSTED}`))).toHaveLength(1);
    expect(t.logs.filter((l) => l.message.startsWith('Not banned:'))).toHaveLength(0);
    await t.service.stop();
  });

  it('a refused ban is no strike: the first ban that takes effect later lasts bantime, not 2x (nor after a restart)', async () => {
    const fw = new FakeFirewall(new Journal());
    fw.usersRules.add(TRUSTED);
    const clock = new ManualClock(BOOT + 10_000);
    const a = build(fw, undefined, clock);
    await a.service.start();
    const bantimeMs = a.service.getSettingsNow().ban.bantimeSec * 1000;
    scan(a, TRUSTED);
    await a.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    // Refused twice (the hold-off over): strikes must not pile up either.
    clock.advance(bantimeMs + 1000);
    scan(a, TRUSTED);
    await a.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(2);
    await a.service.stop();
    // The user deleted their rule while the service was stopped; the refused ban is long over.
    fw.usersRules.delete(TRUSTED);
    clock.advance(2 * bantimeMs + 1000);
    const b = build(fw, a.dbFile, clock);
    await b.service.start();
    scan(b, TRUSTED);
    await b.service.idle();
    const ban = (await b.call('getBans')).active.find((x) => x.ip === TRUSTED)!;
    expect(ban.strikes).toBe(1);
    expect(ban.until! - ban.at).toBe(bantimeMs);
    await b.service.stop();
  });

  it('a firewall port without banMany (one ban at a time): a bulk ban and a restore it refuses are refused and ended too', async () => {
    const fw = new FakeFirewall(new Journal()); // no banMany: the pipeline bans one by one
    fw.usersRules.add(TRUSTED);
    const clock = new ManualClock(BOOT + 10_000);
    const a = build(fw, undefined, clock);
    await a.service.start();
    const r = await a.call('banMany', { ips: [TRUSTED, '203.0.113.9'] });
    expect(r.banned).toBe(1);
    expect(r.refused.map((x) => x.ip)).toEqual([TRUSTED]);
    expect((await a.call('getBans')).active.map((b) => b.ip)).toEqual(['203.0.113.9']);
    const lastBan = (await a.call('getState')).lastBanAt;
    expect(lastBan).not.toBeNull();
    // A bulk ban refused whole banned nothing: the "last ban" stays the one before (status, tray icon).
    clock.advance(60_000);
    const whole = await a.call('banMany', { ips: [TRUSTED] });
    expect(whole.banned).toBe(0);
    expect((await a.call('getState')).lastBanAt).toBe(lastBan);
    await a.service.stop();
    // A stored active ban the firewall refuses at the restore (the user's rule came while stopped).
    fw.bans.clear();
    fw.usersRules.add('203.0.113.9');
    const b = build(fw, a.dbFile, clock);
    await b.service.start();
    await b.service.idle();
    const bans = await b.call('getBans');
    expect(bans.active).toEqual([]);
    expect(bans.history.find((x) => x.ip === '203.0.113.9')!.ended?.why).toBe('refused-users-rule');
    await b.service.stop();
  });

  it("a restart holds off only a source whose LATEST ban was refused: one banned since (the user's rule gone) is banned again at its next scan", async () => {
    const fw = new FakeFirewall(new Journal());
    fw.usersRules.add(TRUSTED);
    const clock = new ManualClock(BOOT + 10_000);
    const a = build(fw, undefined, clock);
    const helper = a.service.o.helper as FakeHelper;
    const trusting = { number: 2, v6: false, action: 'allow', direction: 'in', from: TRUSTED, to: 'Anywhere', port: '', proto: 'any', comment: '', portcullis: false } as const;
    helper.rules = [...helper.rules, trusting];
    await a.service.start();
    scan(a, TRUSTED);
    await a.service.idle();
    // The user deletes their rule; the next scan bans it (in force); the user lifts that ban by hand.
    fw.usersRules.delete(TRUSTED);
    helper.rules = helper.rules.filter((r) => r.from !== TRUSTED);
    await a.service.refreshStatus(false);
    clock.advance(10_000);
    scan(a, TRUSTED);
    await a.service.idle();
    expect(fw.bans.has(TRUSTED)).toBe(true);
    await a.call('unban', { ip: TRUSTED });
    await a.service.idle();
    await a.service.stop();
    expect(banCalls(fw, TRUSTED)).toBe(2);
    // Restarted while the first (refused) ban would still run: its refusal is no longer the latest word.
    const b = build(fw, a.dbFile, clock);
    await b.service.start();
    clock.advance(10_000);
    scan(b, TRUSTED);
    await b.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(3);
    expect(fw.bans.has(TRUSTED)).toBe(true);
    await b.service.stop();
  });

  it('a manual ban (API, `portcullis ban`) that the firewall refuses is answered as not banned, and ended', async () => {
    const fw = new FakeFirewall(new Journal());
    fw.usersRules.add(TRUSTED);
    const t = build(fw);
    await t.service.start();
    await expect(t.call('ban', { ip: TRUSTED })).rejects.toThrow(/failed 198\.51\.100\.7 was not banned: ufw did not add .*\(the ban is ended: refused-users-rule\)/);
    const bans = await t.call('getBans');
    expect(bans.active).toEqual([]);
    expect(bans.history.map((b) => [b.ip, b.ended?.why])).toEqual([[TRUSTED, 'refused-users-rule']]);
    await t.service.stop();
  });

  it('a ban that FAILED (a transient error) stays active: the next start restores it', async () => {
    class DownFirewall extends FakeFirewall {
      override async ban(): Promise<void> {
        throw new Error('helper ban: the helper is not running (unavailable)');
      }
    }
    const t = build(new DownFirewall(new Journal()));
    await t.service.start();
    scan(t, TRUSTED);
    await t.service.idle();
    expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual([TRUSTED]);
    await t.service.stop();
  });

  it('the hold-off survives a restart: a refusal in the ban history is remembered until that ban would have ended', async () => {
    const fw = new FakeFirewall(new Journal());
    fw.usersRules.add(TRUSTED);
    const clock = new ManualClock(BOOT + 10_000);
    const a = build(fw, undefined, clock);
    await a.service.start();
    scan(a, TRUSTED);
    await a.service.idle();
    await a.service.stop();
    const b = build(fw, a.dbFile, clock);
    await b.service.start();
    clock.advance(60_000);
    scan(b, TRUSTED);
    await b.service.idle();
    expect(banCalls(fw, TRUSTED)).toBe(1);
    await b.service.stop();
  });
});
