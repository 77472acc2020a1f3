import { describe, expect, it, vi } from 'vitest';
import { FLEET_SETTLE_MS, MAX_LIVE_NOTIFICATIONS, NotificationPlanner, Notifier, type NotificationSettings } from '../../electron/main/notify.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { DEFAULT_SETTINGS } from '../../electron/shared/settings.ts';
import { makeBan, makeState } from './fixtures.ts';

const T0 = 1_700_000_000_000;
const settings = (over: Partial<NotificationSettings> = {}): NotificationSettings => ({ ...DEFAULT_SETTINGS.notifications, ...over });

describe('ban notifications', () => {
  it('the first ban after a quiet spell is shown at once, naming the scanner; a click opens it', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings(), clock);
    p.ban(makeBan('203.0.113.7', T0));
    const out = p.take();
    expect(out).toEqual([
      { kind: 'ban', title: 'Scanner 203.0.113.7 banned', body: 'SYN scan of 4 ports — banned for 1 h. Click to see it.', target: { screen: 'offender', ip: '203.0.113.7' } },
    ]);
    expect(p.take()).toEqual([]);
  });

  it('bans within the window are summed up in one notification at the end of the window', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings({ aggregateWindowSec: 60 }), clock);
    p.ban(makeBan('192.0.2.1', T0));
    expect(p.take()).toHaveLength(1);
    for (const [i, ip] of ['192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5'].entries()) {
      clock.advance(10_000);
      p.ban(makeBan(ip, clock.now() + i));
      expect(p.take()).toEqual([]);
    }
    clock.set(T0 + 60_000);
    const out = p.take();
    expect(out).toHaveLength(1);
    expect(out[0]!.title).toBe('4 scanners banned in the last minute');
    expect(out[0]!.body).toBe('192.0.2.5, 192.0.2.4, 192.0.2.3 and 1 more. Click to see them.');
    expect(out[0]!.target).toEqual({ screen: 'offenders' });
  });

  it('a flood of 1000 bans in 10 minutes gives at most maxPerMinute notifications in any minute, and every ban is reported', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings({ aggregateWindowSec: 5, maxPerMinute: 3 }), clock);
    const shown: { at: number; title: string }[] = [];
    let reported = 0;
    for (let i = 0; i < 1000; i++) {
      p.ban(makeBan(`10.0.${Math.floor(i / 250)}.${i % 250}`, clock.now()));
      for (const n of p.take()) {
        shown.push({ at: clock.now(), title: n.title });
        reported += n.kind === 'ban' ? 1 : Number(n.title.split(' ')[0]);
      }
      clock.advance(600);
    }
    for (let i = 0; i < 120; i++) {
      for (const n of p.take()) {
        shown.push({ at: clock.now(), title: n.title });
        reported += n.kind === 'ban' ? 1 : Number(n.title.split(' ')[0]);
      }
      clock.advance(1000);
    }
    for (const s of shown) expect(shown.filter((x) => x.at >= s.at && x.at < s.at + 60_000).length).toBeLessThanOrEqual(3);
    expect(reported).toBe(1000);
    expect(shown.length).toBeLessThanOrEqual(3 * 12);
    expect(shown.some((s) => /scanners banned in the last 5 seconds/.test(s.title))).toBe(true);
  });

  it('a host banned again before the summary counts once; an unbanned one is dropped', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings(), clock);
    p.ban(makeBan('192.0.2.1', T0));
    p.take();
    p.ban(makeBan('192.0.2.2', T0 + 1));
    p.ban(makeBan('192.0.2.2', T0 + 2));
    p.ban(makeBan('192.0.2.3', T0 + 3));
    p.unban('192.0.2.3');
    clock.advance(60_000);
    expect(p.take().map((n) => n.title)).toEqual(['Scanner 192.0.2.2 banned']);
  });

  it("a ban announced, then refused by the firewall for the user's own rule, is corrected with why; one refused before its announcement is never announced", () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings(), clock);
    p.ban(makeBan('203.0.113.7', T0));
    expect(p.take().map((n) => n.title)).toEqual(['Scanner 203.0.113.7 banned']);
    p.unban('203.0.113.7', 'refused-users-rule');
    expect(p.take()).toEqual([
      {
        kind: 'ban-refused',
        title: '203.0.113.7 was not banned',
        body: 'Not banned: the firewall refused it, a rule of yours for this source decides its traffic (ufw status numbered). Click to see it.',
        target: { screen: 'offender', ip: '203.0.113.7' },
      },
    ]);
    clock.advance(60_000);
    p.ban(makeBan('203.0.113.8', clock.now()));
    p.unban('203.0.113.8', 'refused-users-rule');
    p.unban('203.0.113.7', 'manual');
    expect(p.take()).toEqual([]);
  });

  it('onBan=false shows no ban notification', () => {
    const p = new NotificationPlanner(settings({ onBan: false }), new ManualClock(T0));
    p.ban(makeBan('192.0.2.1', T0));
    expect(p.take()).toEqual([]);
  });

  it('a permanent and a manual ban are described as such', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings({ aggregateWindowSec: 1 }), clock);
    p.ban(makeBan('192.0.2.1', T0, { until: null }));
    expect(p.take()[0]!.body).toMatch(/banned permanently/);
    clock.advance(1000);
    p.ban(makeBan('192.0.2.2', T0, { reason: { kind: 'manual', ports: [], hits: 0, firstSeen: T0, lastSeen: T0 } }));
    expect(p.take()[0]!.body).toMatch(/^banned by hand — banned for 1 h/);
  });

  it('a fleet ban says which host it came from, not "by hand"', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings({ aggregateWindowSec: 1 }), clock);
    p.ban(makeBan('192.0.2.3', T0, { reason: { kind: 'manual', ports: [], hits: 0, firstSeen: T0, lastSeen: T0, origin: 'portcullis@web2' } }));
    // A fleet ban may be the first of a sync: it is told once the sync has settled.
    expect(p.take()).toEqual([]);
    clock.advance(FLEET_SETTLE_MS);
    expect(p.take()[0]!.body).toMatch(/^banned by the fleet \(web2\) — banned for 1 h/);
  });
});

describe('warnings', () => {
  it('warns once when the firewall goes from on to off, opening the Doctor; not when it starts off', () => {
    const clock = new ManualClock(T0);
    const off = makeState({ firewall: { ...makeState().firewall, enabled: false }, source: null });
    const a = new NotificationPlanner(settings(), clock);
    a.state(off);
    expect(a.take()).toEqual([]);
    const p = new NotificationPlanner(settings(), clock);
    p.state(makeState({ source: null }));
    p.state(off);
    p.state(off);
    const out = p.take();
    expect(out.map((n) => [n.kind, n.target])).toEqual([['firewall-off', { screen: 'doctor' }]]);
    expect(p.take()).toEqual([]);
  });

  it('warns once when the log source stays silent past warnWhenSilentSec, again after a new silence', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings({ warnWhenSilentSec: 900 }), clock);
    const withLast = (t: number) => makeState({ source: { kind: 'kmsg', description: '/dev/kmsg', kernelTrusted: true, lastRecordAt: t, linesPerMinute: 0, rejectsPerMinute: 0 } });
    p.state(withLast(T0));
    clock.advance(899_000);
    expect(p.take()).toEqual([]);
    clock.advance(2000); // no new state event: the tick itself notices the silence
    const out = p.take();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'silent', target: { screen: 'doctor' } });
    expect(out[0]!.body).toMatch(/^\/dev\/kmsg has delivered no firewall log line for 15 min/);
    clock.advance(3_600_000);
    expect(p.take()).toEqual([]);
    p.state(withLast(clock.now()));
    clock.advance(901_000);
    expect(p.take().map((n) => n.kind)).toEqual(['silent']);
  });

  it('no silence warning while protection is off', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings(), clock);
    p.state(makeState({ protection: 'off', source: null }));
    clock.advance(3_600_000);
    expect(p.take()).toEqual([]);
  });

  it('no silence warning while the root helper is not connected (the password prompt is open); silence counts again from when it connects', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings({ warnWhenSilentSec: 900 }), clock);
    const prompting = makeState({ helper: { connected: false, readOnlyReason: 'waiting for the administrator password' }, source: null });
    p.state(prompting);
    clock.advance(3_600_000);
    expect(p.take()).toEqual([]);
    // Connected, with a last record from long before: silence is measured from the connection.
    const connected = makeState({ source: { ...makeState().source!, lastRecordAt: T0 - 7_200_000 } });
    p.state(connected);
    clock.advance(899_000);
    expect(p.take()).toEqual([]);
    clock.advance(2_000);
    expect(p.take().map((n) => n.kind)).toEqual(['silent']);
  });

  it('a failed tray action is answered with a notification, within the per-minute budget', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings({ maxPerMinute: 1 }), clock);
    p.state(makeState({ source: { ...makeState().source!, lastRecordAt: T0 } }));
    p.actionFailed('turn protection off', 'the root helper is not connected');
    p.actionFailed('unban 192.0.2.1', 'helper timeout.');
    expect(p.take()).toEqual([
      { kind: 'action-failed', title: 'Could not turn protection off', body: 'the root helper is not connected. Open Portcullis for details.', target: { screen: 'dashboard' } },
    ]);
    clock.advance(60_000);
    expect(p.take().map((n) => [n.title, n.body])).toEqual([['Could not unban 192.0.2.1', 'helper timeout. Open Portcullis for details.']]);
  });

  it('warnings come before ban summaries and share the per-minute budget', () => {
    const clock = new ManualClock(T0);
    const p = new NotificationPlanner(settings({ maxPerMinute: 1 }), clock);
    const source = { ...makeState().source!, lastRecordAt: T0 };
    p.state(makeState({ source }));
    p.ban(makeBan('192.0.2.1', T0));
    p.state(makeState({ source, firewall: { ...makeState().firewall, enabled: false } }));
    expect(p.take().map((n) => n.kind)).toEqual(['firewall-off']);
    clock.advance(30_000);
    expect(p.take()).toEqual([]);
    clock.advance(30_000);
    expect(p.take().map((n) => n.kind)).toEqual(['ban']);
  });
});

describe('Notifier', () => {
  it('shows each notification and a click opens its target', () => {
    const created: { opts: unknown; click?: () => void; shown: boolean }[] = [];
    const open = vi.fn();
    const n = new Notifier(
      {
        isSupported: () => true,
        create: (opts) => {
          const rec: (typeof created)[number] = { opts, shown: false };
          created.push(rec);
          return { on: (e, fn) => (e === 'click' ? (rec.click = fn) : undefined), show: () => (rec.shown = true) };
        },
      },
      open,
    );
    n.show([{ kind: 'ban', title: 't', body: 'b', target: { screen: 'offender', ip: '192.0.2.1' } }]);
    expect(created).toHaveLength(1);
    expect(created[0]!.shown).toBe(true);
    created[0]!.click!();
    expect(open).toHaveBeenCalledWith({ screen: 'offender', ip: '192.0.2.1' });
  });

  it('keeps each shown notification referenced until it is closed or clicked (a collected one loses its click), bounded', () => {
    const handlers: Map<string, () => void>[] = [];
    const n = new Notifier(
      {
        isSupported: () => true,
        create: () => {
          const on = new Map<string, () => void>();
          handlers.push(on);
          return { on: (e, fn) => on.set(e, fn), show: () => undefined };
        },
      },
      vi.fn(),
    );
    const note = { kind: 'ban' as const, title: 't', body: 'b', target: { screen: 'offenders' as const } };
    n.show([note, note, note]);
    expect(n.liveCount).toBe(3);
    handlers[0]!.get('close')!();
    handlers[1]!.get('click')!();
    expect(n.liveCount).toBe(1);
    n.show(Array.from({ length: MAX_LIVE_NOTIFICATIONS + 10 }, () => note));
    expect(n.liveCount).toBe(MAX_LIVE_NOTIFICATIONS);
  });

  it('does nothing where notifications are unsupported', () => {
    const create = vi.fn();
    new Notifier({ isSupported: () => false, create }, vi.fn()).show([{ kind: 'silent', title: 't', body: 'b', target: { screen: 'doctor' } }]);
    expect(create).not.toHaveBeenCalled();
  });
});

describe('the ban summary after unbans', () => {
  it('an address banned again after it left the named few, then every ban lifted: no summary naming no one', () => {
    const clock = new ManualClock(T0);
    const pl = new NotificationPlanner(DEFAULT_SETTINGS.notifications, clock);
    pl.ban(makeBan('203.0.113.100', clock.now()));
    pl.take(); // the first goes out at once; the aggregation window starts
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.1']) pl.ban(makeBan(ip, clock.now()));
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']) pl.unban(ip, 'manual');
    const out: string[] = [];
    for (let s = 0; s < 120; s++) {
      out.push(...pl.take().map((n) => `${n.title} | ${n.body}`));
      clock.advance(1000);
    }
    expect(out).toEqual([]);
  });
});
