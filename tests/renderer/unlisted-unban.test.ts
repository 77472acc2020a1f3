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

  it("a manual unban from this window fetches nothing when the service's own event follows (the history has it)", async () => {
    const api = createFakeApi({ now: () => AT + 2000 });
    const timeouts: (() => void)[] = [];
    const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn) => timeouts.push(fn), clearTimeout: () => undefined });
    const s = () => store.getState();
    api.data.active = [ban, { ...ban, ip: '198.51.100.8' }];
    await s().loadBans();
    const fetches = () => api.calls.filter((c) => c.method === 'getBans').length;
    const before = fetches();
    expect((await s().unban(ban.ip)).ok).toBe(true);
    s().applyEvents([{ type: 'unban', ip: ban.ip, why: 'manual' }]); // the service's event, after its reply
    for (const f of timeouts.splice(0)) f();
    await new Promise((r) => setTimeout(r, 10));
    expect(fetches()).toBe(before);
  });

  it('fetches at most once per 10 s, however such unbans keep coming', () => {
    const api = createFakeApi({ now: () => AT + 2000 });
    let clock = AT;
    const timeouts: { fn: () => void; ms: number }[] = [];
    const store = createAppStore({ api, now: () => clock, setInterval: () => 0, clearInterval: () => undefined, setTimeout: (fn, ms) => timeouts.push({ fn, ms: ms ?? 0 }), clearTimeout: () => undefined });
    const s = () => store.getState();
    s().applyEvents([{ type: 'unban', ip: '203.0.113.1', why: 'expired' }]);
    expect(timeouts.at(-1)!.ms).toBe(1000);
    clock += 1000;
    timeouts.at(-1)!.fn(); // the first fetch
    clock += 500;
    s().applyEvents([{ type: 'unban', ip: '203.0.113.2', why: 'expired' }]);
    expect(timeouts.at(-1)!.ms).toBe(9500); // the next waits for the interval, not 1 s
  });
});

