/**
 * A first full fleet pull applies up to fleet.maxBans (100,000 by default) bans in one event batch.
 * The desktop's notification planner and tray must take them in time linear in their number (a list
 * copied or filtered on each ban made 40,000 bans cost the main process 97 s), and the user gets one
 * summary of the sync, not a notification per ban. Linear is asserted by counting what is read of
 * the bans (each one's `ip`), not by timing: speed lives in the benches.
 */
import { describe, expect, it } from 'vitest';
import { FLEET_SETTLE_MS, NotificationPlanner } from '../../electron/main/notify.ts';
import { applyBanEvents, MAX_RECENT_BANS_IN_MENU } from '../../electron/main/tray.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { BanRecord } from '../../electron/shared/model.ts';
import { DEFAULT_SETTINGS } from '../../electron/shared/settings.ts';
import { readCounter } from '../support/counting.ts';
import { makeBan } from './fixtures.ts';

const T0 = 1_700_000_000_000;
const N = 5000;
const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** Bans whose every read of `ip` is counted. */
function countedBans(n: number, origin?: string): { bans: BanRecord[]; reads: () => number } {
  const ipReads = readCounter();
  const bans = Array.from({ length: n }, (_, i) =>
    ipReads.counted(makeBan(ipOf(i), T0 + i, origin ? { reason: { kind: 'manual', ports: [], hits: 0, firstSeen: T0, lastSeen: T0, origin } } : {}), 'ip'),
  );
  return { bans, reads: () => ipReads.reads };
}

describe('a fleet sync of many bans on the desktop', () => {
  it('the planner reads each ban a bounded number of times (no pending list copied or filtered per ban)', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(DEFAULT_SETTINGS.notifications, clock);
    const { bans, reads } = countedBans(N, 'crowdsec');
    for (const b of bans) p.ban(b);
    expect(reads()).toBeLessThanOrEqual(10 * N);
    const local = countedBans(N);
    for (const b of local.bans) p.ban(b);
    for (let i = 0; i < N; i += 7) p.unban(ipOf(i));
    expect(local.reads()).toBeLessThanOrEqual(10 * N);
  });

  it('the whole sync is one summary notification, naming where it came from and the newest addresses', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(DEFAULT_SETTINGS.notifications, clock);
    const { bans } = countedBans(N, 'crowdsec');
    for (const b of bans) p.ban(b);
    const shown = p.take();
    for (let s = 0; s < 120; s++) {
      clock.advance(1000);
      shown.push(...p.take());
    }
    expect(shown).toEqual([
      {
        kind: 'fleet-bans',
        title: '5,000 bans from the fleet',
        body: `From CrowdSec (crowdsec): ${ipOf(N - 1)}, ${ipOf(N - 2)}, ${ipOf(N - 3)} and 4,997 more. Click to see them.`,
        target: { screen: 'offenders' },
      },
    ]);
  });

  it('the sync does not delay or swallow the news of a scanner banned here meanwhile', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(DEFAULT_SETTINGS.notifications, clock);
    for (const b of countedBans(100, 'crowdsec').bans) p.ban(b);
    p.ban(makeBan('203.0.113.9', T0));
    expect(p.take().map((n) => n.title)).toEqual(['Scanner 203.0.113.9 banned']);
    clock.advance(FLEET_SETTLE_MS);
    expect(p.take().map((n) => n.title)).toEqual(['100 bans from the fleet']);
  });

  it("the tray's recent bans read each event a bounded number of times, and keep the newest", () => {
    const { bans, reads } = countedBans(N, 'crowdsec');
    const list = applyBanEvents([makeBan('192.0.2.1', T0 - 1)], bans.map((ban) => ({ type: 'ban' as const, ban })));
    expect(reads()).toBeLessThanOrEqual(2 * N);
    expect(list.map((b) => b.ip)).toEqual(Array.from({ length: MAX_RECENT_BANS_IN_MENU }, (_, i) => ipOf(N - 1 - i)));
  });
});
