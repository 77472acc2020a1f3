// @vitest-environment jsdom
/**
 * One definition per number: the Dashboard and the Offenders screen, rendered on the same data,
 * show the same hits for a source, and counts that agree with each other (issue 15, item 6).
 */
import { act, fireEvent, screen, within } from '@testing-library/react';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BanRecord, Offender } from '../../electron/shared/model.ts';
import { reduceEvents } from '../../renderer/store/events.ts';
import { selectCounts, selectOffenderStateCounts, selectTopOffenders } from '../../renderer/store/selectors.ts';
import { createAppStore } from '../../renderer/store/store.ts';
import { createFakeApi } from './fakeApi.ts';
import { type FakeApi, nav, renderApp } from './render-app.tsx';

beforeAll(() => {
  // The virtualised tables render the rows that fit their box; jsdom lays nothing out, so give every box a size.
  Element.prototype.getBoundingClientRect = function () {
    return { x: 0, y: 0, top: 0, left: 0, width: 1200, height: 800, right: 1200, bottom: 800, toJSON: () => ({}) } as DOMRect;
  };
  for (const [prop, v] of [['offsetHeight', 800], ['offsetWidth', 1200], ['clientHeight', 800], ['clientWidth', 1200]] as const) {
    Object.defineProperty(HTMLElement.prototype, prop, { configurable: true, get: () => v });
  }
});

const T0 = 1_700_000_000_000;
const off = (ip: string, over: Partial<Offender> = {}): Offender => ({
  ip,
  hits: 6,
  distinctPorts: 3,
  ports: [21, 23, 25],
  firstSeen: T0,
  lastSeen: T0 + 5000,
  scanType: 'SYN',
  state: 'watching',
  strikes: 0,
  ...over,
});
const ban = (ip: string, over: Partial<BanRecord> = {}): BanRecord => ({
  ip,
  at: T0 + 5000,
  until: T0 + 3_605_000,
  strikes: 1,
  reason: { kind: 'scan', scanType: 'SYN', ports: [21, 23, 25], hits: 6, firstSeen: T0, lastSeen: T0 + 5000 },
  ...over,
});

/** The data the issue was filed with: the service's dashboard counted 28 packets where the engine counted 6 probes, and reported 0 scanners beside 2 bans. */
function renderOnIssueData() {
  return renderApp({ fakeApi: { now: () => T0 + 10_000 }, tweak: issueData, store: { now: () => T0 + 20_000 } });
}
function issueData(api: FakeApi) {
  api.data.offenders.set('203.0.113.5', off('203.0.113.5', { state: 'banned', strikes: 1, bannedUntil: T0 + 3_605_000 }));
  api.data.offenders.set('198.51.100.9', off('198.51.100.9', { hits: 2, distinctPorts: 2 }));
  // A manual ban of a source the offender list does not hold (banned from the CLI, say).
  api.data.active = [ban('203.0.113.5'), ban('192.0.2.77', { reason: { kind: 'manual', ports: [], hits: 0, firstSeen: T0, lastSeen: T0, note: 'cli' } })];
  api.data.state.counts = { blockedPackets: 40, scanners: 0, activeBans: 2, deferredBans: 0 };
  const call = api.call.bind(api);
  api.call = (async (method: string, params: unknown) => {
    const r = await call(method as never, params as never);
    // Every blocked packet of the last hour, open ports and duplicates included: not the probe count.
    if (method === 'getDashboard') return { ...(r as object), topOffenders: [{ ip: '203.0.113.5', hits: 28, state: 'banned' }] };
    return r;
  }) as typeof api.call;
}

const dashTopRow = (ip: string) => within(screen.getByRole('region', { name: 'Top offenders' })).getByRole('button', { name: ip }).closest('tr')!;
const offendersRow = (ip: string) => screen.getByRole('button', { name: `Details of ${ip}` }).closest('[role="row"]')!;

describe('numbers agree across screens', () => {
  it('Dashboard top offenders and Offenders show the same hits for a source (6, not the 28 packets)', async () => {
    await renderOnIssueData();
    const dashCells = within(dashTopRow('203.0.113.5')).getAllByRole('cell').map((c) => c.textContent);
    expect(dashCells).toEqual(['203.0.113.5', 'banned', '6']);
    await act(async () => fireEvent.click(nav('Offenders')));
    const row = offendersRow('203.0.113.5');
    const cells = within(row as HTMLElement).getAllByRole('cell').map((c) => c.textContent);
    expect(cells.slice(0, 3)).toEqual(['203.0.113.5', 'banned', '6']);
  });

  it('"Scanners" is never fewer than "Active bans", and both are the counts the Offenders filters show', async () => {
    const { store } = await renderOnIssueData();
    const scanners = Number(screen.getByTestId('count-scanners').textContent);
    const bans = Number(screen.getByTestId('count-bans').textContent);
    expect(bans).toBe(2);
    expect(scanners).toBe(3); // two banned, one watched — the service's "0" is not used
    await act(async () => fireEvent.click(nav('Offenders')));
    const group = screen.getByRole('group', { name: 'Show offenders' });
    const count = (label: string) => Number(within(group).getByRole('button', { name: new RegExp(`^${label}`) }).querySelector('.muted')!.textContent);
    expect(count('banned')).toBe(bans);
    expect(count('watching') + count('banned')).toBe(scanners);
    // The banned-from-the-CLI source has a row too, so the "banned" filter lists both.
    expect(screen.getByRole('button', { name: 'Details of 192.0.2.77' })).toBeTruthy();
    const s = store.getState();
    expect(selectCounts(s).activeBans).toBe(selectOffenderStateCounts(s).banned);
    expect(selectTopOffenders(8)(s).find((o) => o.ip === '203.0.113.5')!.hits).toBe(6);
  });

  it('"First seen" keeps the first sighting when the engine reports a new window after a re-ban', () => {
    const store = createAppStore({ api: createFakeApi(), setInterval: () => 0, clearInterval: () => undefined });
    const s0 = store.getState();
    store.setState(reduceEvents(s0, [{ type: 'offenders', offenders: [off('203.0.113.5')] }], T0));
    store.setState(reduceEvents(store.getState(), [{ type: 'ban', ban: ban('203.0.113.5') }, { type: 'unban', ip: '203.0.113.5', why: 'manual' }], T0 + 6000));
    store.setState(reduceEvents(store.getState(), [{ type: 'offenders', offenders: [off('203.0.113.5', { firstSeen: T0 + 600_000, lastSeen: T0 + 600_500 })] }], T0 + 600_500));
    const o = store.getState().offenders.get('203.0.113.5')!;
    expect(o.firstSeen).toBe(T0);
    expect(o.lastSeen).toBe(T0 + 600_500);
  });

  it('a manual unban reads "unbanned" (not "expired") and its history row ends when it was lifted, not at the old expiry', async () => {
    const { store } = await renderOnIssueData();
    await act(async () => fireEvent.click(nav('Offenders')));
    await act(async () => fireEvent.click(within(offendersRow('203.0.113.5') as HTMLElement).getByRole('button', { name: 'Unban 203.0.113.5' })));
    expect(within(offendersRow('203.0.113.5') as HTMLElement).getAllByRole('cell')[1]!.textContent).toBe('unbanned');
    const row = store.getState().bans.history.find((b) => b.ip === '203.0.113.5')!;
    expect(row.ended).toEqual({ at: T0 + 20_000, why: 'manual' });
    // A ban that ran out still reads "expired".
    await act(async () => store.getState().applyEvents([{ type: 'unban', ip: '192.0.2.77', why: 'expired' }]));
    expect(within(offendersRow('192.0.2.77') as HTMLElement).getAllByRole('cell')[1]!.textContent).toBe('expired');
  });
  it("a ban the firewall refused for the user's own rule leaves the active bans at once, reads \"your rule\", and its history row says why (no duration of a ban that never was)", async () => {
    const { store } = await renderOnIssueData();
    await act(async () => fireEvent.click(nav('Offenders')));
    await act(async () => store.getState().applyEvents([{ type: 'unban', ip: '203.0.113.5', why: 'refused-users-rule' }]));
    const s = store.getState();
    expect(s.bans.active.map((b) => b.ip)).toEqual(['192.0.2.77']);
    expect(selectCounts(s).activeBans).toBe(1);
    expect(s.bans.history.find((b) => b.ip === '203.0.113.5')?.ended?.why).toBe('refused-users-rule');
    expect(within(offendersRow('203.0.113.5') as HTMLElement).getAllByRole('cell')[1]!.textContent).toBe('your rule');
  });

  it("the offender's ban list says a refused ban was not banned, and why", async () => {
    await renderApp({
      fakeApi: { now: () => T0 + 10_000 },
      tweak: (api) => {
        api.data.offenders.set('203.0.113.5', off('203.0.113.5', { state: 'expired', strikes: 1 }));
        api.data.history = [ban('203.0.113.5', { ended: { at: T0 + 5000, why: 'refused-users-rule' } })];
      },
      store: { now: () => T0 + 20_000 },
    });
    await act(async () => fireEvent.click(nav('Offenders')));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Details of 203.0.113.5' })));
    const text = document.body.textContent ?? '';
    expect(text).toContain('not banned: the firewall refused it, a rule of yours for this source decides its traffic');
    expect(text).not.toContain('(refused-users-rule)');
  });
});
