/**
 * What the ban pipeline tells the UI once the firewall has answered, and what the desktop makes of
 * it (its notification planner fed as electron/main/index.ts feeds it): the state's "last ban" moves
 * only for a ban the firewall took; a fleet batch the firewall failed is said, with the firewall's
 * error; a failed extension says the earlier ban still stands; fleet bans refused for a rule of the
 * user's are no notification each; a fleet pull in slow ufw batches is one summary. Real engine, fake
 * firewall and store, a manual clock (no timing).
 */
import { describe, expect, it } from 'vitest';
import { BanPipeline } from '../../electron/app/ban-pipeline.ts';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { DEFAULT_SETTINGS, SettingsSchema, type Settings } from '../../electron/shared/settings.ts';
import type { ApiEvent } from '../../electron/shared/api.ts';
import type { SkippedBan } from '../../electron/shared/helper-protocol.ts';
import { NotificationPlanner, type PlannedNotification } from '../../electron/main/notify.ts';
import { FailingFirewall, Journal, MemoryStore } from './fakes.ts';

const T0 = 1_800_000_000_000;
const UFW_ERROR = 'ERROR: Could not update running firewall';

/** A firewall with a bulk ban, which can fail with its own error or take time on the test's clock. */
class TestFirewall extends FailingFirewall {
  failBanMany: string | null = null;
  onBanMany: (() => void) | null = null;
  async banMany(bans: readonly { ip: string; until: number | null }[]): Promise<SkippedBan[]> {
    this.onBanMany?.();
    if (this.failBanMany !== null) throw new Error(this.failBanMany);
    const skipped: SkippedBan[] = [];
    for (const b of bans) {
      const one = await this.ban(b.ip, b.until);
      if (one) skipped.push(one);
    }
    return skipped;
  }
}

function rig(opts: { backend?: Settings['ban']['backend']; dryRun?: boolean } = {}) {
  const clock = new ManualClock(T0);
  const settings = SettingsSchema.parse({ ban: { backend: opts.backend ?? 'set' } });
  const journal = new Journal();
  const fw = new TestFirewall(journal);
  const store = new MemoryStore(journal);
  const events: ApiEvent[] = [];
  const notices: string[] = [];
  const planner = new NotificationPlanner(DEFAULT_SETTINGS.notifications, clock);
  const shown: PlannedNotification[] = [];
  // As index.ts's onServiceEvents, one event at a time (the desktop takes due notifications each delivery).
  const deliver = (e: ApiEvent) => {
    events.push(e);
    if (e.type === 'ban') planner.ban(e.ban, e.firewallError, e.stillStands);
    else if (e.type === 'unban') planner.unban(e.ip, e.why);
    else if (e.type === 'fleetSync') planner.fleetSync(e.phase);
  };
  let p!: BanPipeline;
  const engine = new ScanEngine({ settings, clock }, (e) => {
    if (e.type === 'ban') void p.applyBan(e.ban);
    else if (e.type === 'unban') p.applyUnban(e.ip, e.time, e.why);
  });
  p = new BanPipeline({
    store: store as never,
    firewall: fw,
    dryRun: opts.dryRun ?? false,
    now: () => clock.now(),
    engine: () => engine as never,
    settings: () => settings,
    fleet: () => null,
    events: { push: deliver } as never,
    endBan: (ip, why) => void engine.unban(ip, clock.now(), why),
    notice: (level, m) => void notices.push(`${level}: ${m}`),
    log: () => {},
  });
  const take = () => {
    const out = planner.take();
    shown.push(...out);
    return out;
  };
  const fleetBan = (ip: string) => engine.ban(ip, { durationSec: 3600, origin: 'crowdsec' });
  const bans = () => events.flatMap((e) => (e.type === 'ban' ? [e] : []));
  return { clock, fw, store, engine, p, events, notices, planner, shown, take, fleetBan, bans };
}

describe("the state's last ban moves only when the firewall took a ban", () => {
  it('two single bans in flight that both fail leave no "last ban" (the tray shows no recent ban)', async () => {
    const t = rig();
    t.fw.failBan = true;
    t.engine.ban('198.51.100.1', { durationSec: 3600 });
    t.clock.advance(1000);
    t.engine.ban('198.51.100.2', { durationSec: 3600 });
    await t.p.idle();
    expect(t.bans().map((e) => e.firewallError)).toEqual([UFW_ERROR, UFW_ERROR]);
    expect(t.p.lastBanAt).toBeNull();
  });

  it('a ban taken, then one that failed: the last ban is the one taken', async () => {
    const t = rig();
    t.engine.ban('198.51.100.1', { durationSec: 3600 });
    await t.p.idle();
    t.fw.failBan = true;
    t.clock.advance(1000);
    t.engine.ban('198.51.100.2', { durationSec: 3600 });
    await t.p.idle();
    expect(t.p.lastBanAt).toBe(T0);
  });

  it('a fleet pull whose firewall batch fails leaves no "last ban"; one taken sets it', async () => {
    const t = rig();
    t.fw.failBan = true;
    t.fw.failBanMany = UFW_ERROR;
    await t.p.applyTogether(() => {
      t.fleetBan('203.0.113.1');
      t.fleetBan('203.0.113.2');
    });
    await t.p.idle();
    expect(t.p.lastBanAt).toBeNull();
    t.fw.failBan = false;
    t.fw.failBanMany = null;
    t.clock.advance(1000);
    await t.p.applyTogether(() => void t.fleetBan('203.0.113.3'));
    expect(t.p.lastBanAt).toBe(T0 + 1000);
  });

  it('in a dry run a ban counts at once', async () => {
    const t = rig({ dryRun: true });
    t.engine.ban('198.51.100.1', { durationSec: 3600 });
    expect(t.p.lastBanAt).toBe(T0);
  });
});

describe('a fleet batch the firewall failed', () => {
  it("is one error notice per batch with the firewall's error, and each ban's event carries that error", async () => {
    const t = rig();
    t.fw.failBan = true;
    t.fw.failBanMany = 'ipset v7.19: Kernel error received: set type not supported';
    await t.p.applyTogether(() => {
      for (let i = 0; i < 600; i++) t.fleetBan(`10.0.${i >> 8}.${i & 255}`);
    });
    const failed = t.bans();
    expect(failed).toHaveLength(600);
    // The one-by-one retry's error is the one each ban reports (the batch's is in the log).
    expect(new Set(failed.map((e) => e.firewallError))).toEqual(new Set([UFW_ERROR]));
    const errors = t.notices.filter((n) => n.startsWith('error:'));
    expect(errors).toHaveLength(2); // 500 + 100
    expect(errors[0]).toContain(`Could not ban 500 of 500 bans from the fleet in the firewall: ${UFW_ERROR}`);
    expect(errors[1]).toContain('100 of 100');
  });

  it('the desktop warns about it with the error, once', async () => {
    const t = rig();
    t.fw.failBan = true;
    t.fw.failBanMany = UFW_ERROR;
    await t.p.applyTogether(() => {
      for (let i = 1; i <= 3; i++) t.fleetBan(`203.0.113.${i}`);
    });
    const shown = t.take();
    expect(shown.map((n) => [n.kind, n.title])).toEqual([['ban-failed', 'Could not ban 3 addresses']]);
    expect(shown[0]!.body).toContain(UFW_ERROR);
  });
});

describe('an extension the firewall failed: the earlier ban still stands', () => {
  it('a local ban extended: the event says what still stands; the desktop says "could not be extended", not "nothing blocks"', async () => {
    const t = rig();
    t.engine.ban('198.51.100.9', { durationSec: 3600 });
    await t.p.idle();
    t.take();
    t.fw.failBan = true;
    t.clock.advance(60_000);
    t.engine.ban('198.51.100.9', { durationSec: 7200 });
    await t.p.idle();
    expect(t.fw.bans.get('198.51.100.9')).toBe(T0 + 3_600_000);
    expect(t.bans().at(-1)).toMatchObject({ firewallError: UFW_ERROR, stillStands: { until: T0 + 3_600_000 } });
    expect(t.notices.at(-1)).toContain('Could not extend the ban of 198.51.100.9');
    const [n] = t.take();
    expect(n!.title).toBe('Could not extend the ban of 198.51.100.9');
    expect(n!.body).toContain("198.51.100.9's ban could not be extended; the ban until 2027-01-15 09:00 still stands");
    expect(n!.body).not.toContain('nothing blocks');
  });

  it('a new ban that fails still says nothing blocks it', async () => {
    const t = rig();
    t.fw.failBan = true;
    t.engine.ban('198.51.100.9', { durationSec: 3600 });
    await t.p.idle();
    expect(t.bans()[0]!.stillStands).toBeUndefined();
    expect(t.take()[0]!.body).toContain('nothing blocks 198.51.100.9');
  });

  it('not after reconcile took a duplicate out and could not put it back: the firewall holds nothing then', async () => {
    const t = rig();
    const ip = '198.51.100.9';
    const ban = { ip, at: T0 - 60_000, until: T0 + 7_200_000, strikes: 1, reason: { kind: 'manual' as const, ports: [], hits: 0, firstSeen: T0, lastSeen: T0 } };
    t.store.recordBan(ban);
    t.engine.restore([ban], []);
    t.fw.bans.set(ip, ban.until);
    t.fw.duplicates = [ip]; // listed twice: reconcile takes both out and puts one back
    t.fw.failBan = true; // …which fails
    await t.p.reconcile();
    await t.p.idle();
    expect(t.fw.bans.has(ip)).toBe(false);
    t.clock.advance(60_000);
    t.engine.ban(ip, { durationSec: 14_400 });
    await t.p.idle();
    expect(t.bans().at(-1)!.stillStands).toBeUndefined();
    expect(t.take()[0]!.body).toContain(`nothing blocks ${ip}`);
  });

  it("reconcile's listing does not replace the end of a ban this run put in meanwhile", async () => {
    const t = rig();
    const ip = '198.51.100.9';
    const ban = { ip, at: T0 - 60_000, until: T0 + 600_000, strikes: 1, reason: { kind: 'manual' as const, ports: [], hits: 0, firstSeen: T0, lastSeen: T0 } };
    t.store.recordBan(ban);
    t.engine.restore([ban], []);
    t.fw.bans.set(ip, ban.until);
    // The listing is read, then (before reconcile records it) a live extension goes in.
    const list = t.fw.listBans.bind(t.fw);
    t.fw.listBans = async () => {
      const listed = await list();
      t.engine.ban(ip, { durationSec: 7200 });
      await t.p.lastBanDone;
      return listed;
    };
    await t.p.reconcile();
    await t.p.idle();
    t.fw.failBan = true;
    t.engine.ban(ip, { durationSec: 14_400 });
    await t.p.idle();
    expect(t.bans().at(-1)!.stillStands).toEqual({ until: T0 + 7_200_000 });
  });

  it('a fleet pull extending a local ban, its batch failed: the local ban still stands', async () => {
    const t = rig();
    t.engine.ban('198.51.100.9', { durationSec: 600 });
    await t.p.idle();
    t.fw.failBan = true;
    t.fw.failBanMany = UFW_ERROR;
    await t.p.applyTogether(() => {
      t.fleetBan('198.51.100.9');
      t.fleetBan('203.0.113.1');
    });
    const last = t.bans().slice(-2);
    expect(last.find((e) => e.ban.ip === '198.51.100.9')).toMatchObject({ stillStands: { until: T0 + 600_000 } });
    expect(last.find((e) => e.ban.ip === '203.0.113.1')!.stillStands).toBeUndefined();
  });
});

describe('fleet bans refused for a rule of the user (ufw backend)', () => {
  it('give no notification each, and a local ban made meanwhile is shown at once', async () => {
    const t = rig({ backend: 'ufw' });
    for (let i = 1; i <= 10; i++) t.fw.usersRules.add(`203.0.113.${i}`);
    await t.p.applyTogether(() => {
      for (let i = 1; i <= 12; i++) t.fleetBan(`203.0.113.${i}`);
    });
    // Each refused one is announced, then ended: the window's history lists it refused.
    expect(t.events.filter((e) => e.type === 'unban').map((e) => e.type === 'unban' && e.why)).toEqual(Array(10).fill('refused-users-rule'));
    t.engine.ban('198.51.100.77', { durationSec: 3600 });
    await t.p.idle();
    const shown = t.take();
    expect(shown.filter((n) => n.kind === 'ban-refused')).toEqual([]);
    expect(shown.map((n) => n.title)).toContain('Scanner 198.51.100.77 banned');
    expect(shown.map((n) => n.title)).toContain('2 bans from the fleet');
  });
});

describe('a fleet pull in ufw batches seconds apart', () => {
  it('is one summary, once the pull is done', async () => {
    const t = rig({ backend: 'ufw' });
    // Each ufw batch takes 4 s (longer than FLEET_SETTLE_MS); the desktop takes due notifications meanwhile.
    t.fw.onBanMany = () => {
      t.take();
      t.clock.advance(4000);
      t.take();
    };
    await t.p.applyTogether(() => {
      for (let i = 0; i < 1500; i++) t.fleetBan(`10.1.${i >> 8}.${i & 255}`);
    });
    for (let s = 0; s < 120; s++) {
      t.take();
      t.clock.advance(1000);
    }
    expect(t.shown.map((n) => n.title)).toEqual(['1,500 bans from the fleet']);
  });
});

describe("a fleet pull's sync", () => {
  it('ends even when announcing a ban throws (dry run, no firewall): a sync left open held the fleet summaries back for good', async () => {
    const t = rig({ dryRun: true });
    t.planner.ban = () => {
      throw new Error('boom');
    };
    await expect(t.p.applyTogether(() => t.fleetBan('203.0.113.7'))).rejects.toThrow('boom');
    expect(t.events.at(-1)).toEqual({ type: 'fleetSync', phase: 'end' });
  });
});

describe('an automatic unban whose store write fails (a full disk)', () => {
  it('still lifts the ban in the firewall and says so, without throwing out of the engine (the log reading)', async () => {
    const t = rig();
    t.engine.ban('203.0.113.9', { durationSec: 60 });
    await t.p.idle();
    expect(t.fw.bans.has('203.0.113.9')).toBe(true);
    t.store.recordUnban = () => {
      throw new Error('database or disk is full');
    };
    expect(() => t.engine.unban('203.0.113.9', t.clock.now(), 'whitelisted')).not.toThrow();
    await t.p.idle();
    expect(t.fw.bans.has('203.0.113.9')).toBe(false);
    expect(t.notices.some((n) => n.startsWith('error: Lifting the ban of 203.0.113.9; its record waits until the store can write'))).toBe(true);
  });
});

