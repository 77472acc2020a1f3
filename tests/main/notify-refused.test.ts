/**
 * Corrections of bans the firewall refused for a rule of the user's ("X was not banned"): one per
 * aggregation window, summed up, never ahead of the budget the ban notifications need — and none for
 * a ban that was never announced. Planner only, manual clock.
 */
import { describe, expect, it } from 'vitest';
import { NotificationPlanner } from '../../electron/main/notify.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { DEFAULT_SETTINGS } from '../../electron/shared/settings.ts';
import { makeBan } from './fixtures.ts';

const T0 = 1_700_000_000_000;

function planner() {
  const clock = new ManualClock(T0);
  const p = new NotificationPlanner(DEFAULT_SETTINGS.notifications, clock);
  const shown: [number, string][] = [];
  const run = (seconds: number) => {
    for (let s = 0; s < seconds; s++) {
      for (const n of p.take()) shown.push([(clock.now() - T0) / 1000, n.title]);
      clock.advance(1000);
    }
  };
  return { clock, p, shown, run };
}

describe('bans refused for a rule of the user', () => {
  it('ten corrections and a local ban: one summed-up correction, the ban shown at once', () => {
    const t = planner();
    // Announced earlier, refused now (a rule of the user's decides these sources since).
    for (let i = 0; i < 10; i++) t.p.unban(`198.51.100.${i}`, 'refused-users-rule');
    t.p.ban(makeBan('203.0.113.9', t.clock.now()));
    t.run(300);
    expect(t.shown).toEqual([
      [0, 'Scanner 203.0.113.9 banned'],
      [0, '10 bans were not made'],
    ]);
  });

  it('one correction names the address; a burst later is summed up once per window', () => {
    const t = planner();
    t.p.unban('198.51.100.1', 'refused-users-rule');
    t.run(1);
    for (let i = 2; i <= 6; i++) t.p.unban(`198.51.100.${i}`, 'refused-users-rule');
    t.run(120);
    expect(t.shown).toEqual([
      [0, '198.51.100.1 was not banned'],
      [60, '5 bans were not made'],
    ]);
  });

  it('no correction for a ban still waiting for its notification, wherever it is in the wait', () => {
    const t = planner();
    t.p.ban(makeBan('203.0.113.1', t.clock.now()));
    t.run(1); // announced at once
    for (let i = 2; i <= 9; i++) t.p.ban(makeBan(`203.0.113.${i}`, t.clock.now()));
    t.p.unban('203.0.113.2', 'refused-users-rule'); // the oldest waiting, not among the last few named
    t.run(120);
    expect(t.shown).toEqual([
      [0, 'Scanner 203.0.113.1 banned'],
      [60, '7 scanners banned in the last minute'],
    ]);
  });
});
