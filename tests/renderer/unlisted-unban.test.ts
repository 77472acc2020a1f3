/**
 * A ban lifted automatically while its firewall call was pending gets no 'ban' event (the service
 * would list as active a ban that is not), only its 'unban': the window had nothing to move into the
 * history. It fetches the bans once such unbans stop coming, and the history row is there without a
 * reload. Timers injected (no real time).
 */
import { describe, expect, it, vi } from 'vitest';
import { createAppStore } from '../../renderer/store/store.ts';
import type { BanRecord } from '../../electron/shared/model.ts';
import { createFakeApi } from './fakeApi.ts';

const AT = 1_700_000_000_000;
const ban: BanRecord = { ip: '198.51.100.7', at: AT, until: AT + 3_600_000, strikes: 1, reason: { kind: 'scan', scanType: 'SYN', ports: [21, 23, 25, 80, 110], hits: 5, firstSeen: AT, lastSeen: AT } };

describe('an unban of a ban the window never listed', () => {
  it('fetches the bans (debounced), so the history shows the ended ban', async () => {
    const api = createFakeApi({ now: () => AT + 2000 });
    const timeouts: (() => void)[] = [];
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn) => timeouts.push(fn), clearTimeout: () => undefined });
    const s = () => store.getState();
    // The service's store: the ban recorded, then ended (whitelisted while its firewall call was pending).
    api.data.history.unshift({ ...ban, ended: { at: AT + 1000, why: 'whitelisted' } });
    s().applyEvents([{ type: 'unban', ip: ban.ip, why: 'whitelisted' }]);
    expect(timeouts).toHaveLength(1);
    timeouts[0]!();
    await vi.waitFor(() => expect(s().bans.history.map((b) => b.ip)).toContain(ban.ip));
  });

  it('an unban of a listed ban fetches nothing (the event itself moves it)', () => {
    const api = createFakeApi({ now: () => AT + 2000 });
    const timeouts: (() => void)[] = [];
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn) => timeouts.push(fn), clearTimeout: () => undefined });
    const s = () => store.getState();
    s().applyEvents([{ type: 'ban', ban }]);
    const before = timeouts.length;
    s().applyEvents([{ type: 'unban', ip: ban.ip, why: 'manual' }]);
    expect(timeouts).toHaveLength(before);
    expect(s().bans.history.map((b) => b.ip)).toEqual([ban.ip]);
  });
});
