import { describe, expect, it, vi } from 'vitest';
import { answerCall, bindApiIpc, EventBatcher, senderProblem, type ApiIpcDeps, type FrameLike, type Timers } from '../../electron/main/ipc.ts';
import type { ApiEvent } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { IPC_CALL_CHANNEL } from '../../electron/shared/ipc.ts';
import { recordingHandlers } from './fixtures.ts';

const PAGE = 'file:///opt/Portcullis/resources/app.asar/renderer/dist/index.html';
const mainFrame: FrameLike = { url: PAGE, processId: 7, routingId: 1, parent: null };
const window = { webContentsId: 3, mainFrame };

function deps(calls: { method: string; params: unknown }[], over: Partial<ApiIpcDeps> = {}): ApiIpcDeps & { logged: string[] } {
  const logged: string[] = [];
  return { handlers: () => recordingHandlers(calls), window: () => window, pageUrl: PAGE, log: (m) => logged.push(m), logged, ...over };
}
const ours = { sender: { id: 3 }, senderFrame: mainFrame };

describe('sender frame validation', () => {
  it('accepts our main frame on our page, with a hash route or a query', () => {
    expect(senderProblem(ours, window, PAGE)).toBeNull();
    expect(senderProblem({ sender: { id: 3 }, senderFrame: { ...mainFrame, url: PAGE + '#/offenders' } }, window, PAGE)).toBeNull();
    expect(senderProblem({ sender: { id: 3 }, senderFrame: { ...mainFrame, url: PAGE + '?x=1' } }, window, PAGE)).toBeNull();
  });

  it.each([
    ['another webContents', { sender: { id: 4 }, senderFrame: mainFrame }, /does not come from the Portcullis window/],
    ['a destroyed frame', { sender: { id: 3 }, senderFrame: null }, /frame is gone/],
    ['an iframe', { sender: { id: 3 }, senderFrame: { ...mainFrame, routingId: 2, parent: mainFrame } }, /sub-frame/],
    ['another frame of the same process', { sender: { id: 3 }, senderFrame: { ...mainFrame, routingId: 9 } }, /main frame/],
    ['a remote page', { sender: { id: 3 }, senderFrame: { ...mainFrame, url: 'https://evil.example/index.html' } }, /not the Portcullis UI/],
    ['another local file', { sender: { id: 3 }, senderFrame: { ...mainFrame, url: 'file:///tmp/evil/index.html' } }, /not the Portcullis UI/],
    ['a data: URL', { sender: { id: 3 }, senderFrame: { ...mainFrame, url: 'data:text/html,<script>' } }, /not the Portcullis UI/],
  ])('refuses %s', (_name, event, why) => {
    expect(senderProblem(event, window, PAGE)).toMatch(why);
  });

  it('refuses everything when no window is open', () => {
    expect(senderProblem(ours, null, PAGE)).toMatch(/no Portcullis window/);
  });
});

describe('IPC call answering', () => {
  it('passes a valid call to the service with parsed (canonical) params', async () => {
    const calls: { method: string; params: unknown }[] = [];
    const reply = await answerCall(deps(calls), ours, ['unban', { ip: '2001:DB8:0:0::1' }]);
    expect(reply).toEqual({ ok: true, result: { ok: true } });
    expect(calls).toEqual([{ method: 'unban', params: { ip: '2001:db8::1' } }]);
  });

  it.each([
    ['an unknown method', ['rm -rf', {}], 'unknown-method'],
    ['a non-string method', [{ toString: 1 }, {}], 'unknown-method'],
    ['a prototype key as method', ['__proto__', {}], 'unknown-method'],
    ['a bad address', ['ban', { ip: '1.2.3.4; reboot' }], 'invalid'],
    ['an extra field', ['setProtection', { enabled: true, sudo: true }], 'invalid'],
    ['a wrong type', ['pauseProtection', { minutes: '60' }], 'invalid'],
    ['an out-of-range value', ['pauseProtection', { minutes: 0 }], 'invalid'],
    ['extra arguments', ['getState', {}, 'extra'], 'invalid'],
  ])('refuses %s without calling the service', async (_name, args, code) => {
    const calls: { method: string; params: unknown }[] = [];
    const reply = await answerCall(deps(calls), ours, args as unknown[]);
    expect(reply.ok).toBe(false);
    if (!reply.ok) expect(reply.error.code).toBe(code);
    expect(calls).toEqual([]);
  });

  it('refuses a foreign sender frame without calling the service, and logs it', async () => {
    const calls: { method: string; params: unknown }[] = [];
    const d = deps(calls);
    const reply = await answerCall(d, { sender: { id: 3 }, senderFrame: { ...mainFrame, routingId: 5, parent: mainFrame } }, ['setProtection', { enabled: false }]);
    expect(reply).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(calls).toEqual([]);
    expect(d.logged[0]).toMatch(/refused/);
  });

  it('answers "unavailable" while the service is starting', async () => {
    const reply = await answerCall(deps([], { handlers: () => null }), ours, ['getState', {}]);
    expect(reply).toMatchObject({ ok: false, error: { code: 'unavailable' } });
  });

  it('bindApiIpc registers the one call channel and removes it', async () => {
    const handle = vi.fn();
    const removeHandler = vi.fn();
    const calls: { method: string; params: unknown }[] = [];
    const unbind = bindApiIpc({ handle, removeHandler }, deps(calls));
    expect(handle).toHaveBeenCalledTimes(1);
    expect(handle.mock.calls[0]![0]).toBe(IPC_CALL_CHANNEL);
    const listener = handle.mock.calls[0]![1] as (e: unknown, ...a: unknown[]) => Promise<unknown>;
    await expect(listener(ours, 'setProtection', { enabled: false })).resolves.toMatchObject({ ok: true });
    expect(calls).toEqual([{ method: 'setProtection', params: { enabled: false } }]);
    unbind();
    expect(removeHandler).toHaveBeenCalledWith(IPC_CALL_CHANNEL);
  });
});

/** Timers driven by a ManualClock: run() fires everything due. */
function manualTimers(clock: ManualClock): Timers & { advance(ms: number): void; count(): number } {
  let pending: { at: number; fn: () => void; id: number }[] = [];
  let next = 0;
  return {
    setTimeout(fn, ms) {
      const id = next++;
      pending.push({ at: clock.now() + ms, fn, id });
      return id;
    },
    clearTimeout(h) {
      pending = pending.filter((p) => p.id !== h);
    },
    advance(ms) {
      const until = clock.now() + ms;
      for (;;) {
        pending.sort((a, b) => a.at - b.at);
        const due = pending[0];
        if (!due || due.at > until) break;
        pending.shift();
        clock.set(due.at);
        due.fn();
      }
      clock.set(until);
    },
    count: () => pending.length,
  };
}

const notice = (n: number): ApiEvent => ({ type: 'notice', level: 'info', message: `n${n}` });

describe('event batching', () => {
  it('delivers at most 10 batches a second however fast events arrive, losing none', () => {
    const clock = new ManualClock(1_000_000);
    const timers = manualTimers(clock);
    const deliveries: { at: number; batch: ApiEvent[] }[] = [];
    const b = new EventBatcher({ deliver: (batch) => deliveries.push({ at: clock.now(), batch }), clock, timers });
    // 1000 events spread over 2 s, one every 2 ms.
    for (let i = 0; i < 1000; i++) {
      b.push([notice(i)]);
      timers.advance(2);
    }
    timers.advance(1000);
    expect(deliveries.flatMap((d) => d.batch)).toHaveLength(1000);
    for (let i = 1; i < deliveries.length; i++) expect(deliveries[i]!.at - deliveries[i - 1]!.at).toBeGreaterThanOrEqual(100);
    // In any one-second window there are at most 10 deliveries.
    for (const d of deliveries) expect(deliveries.filter((x) => x.at >= d.at && x.at < d.at + 1000).length).toBeLessThanOrEqual(10);
    expect(deliveries.length).toBeGreaterThanOrEqual(19);
  });

  it('delivers the first batch after a quiet spell at once', () => {
    const clock = new ManualClock(0);
    const timers = manualTimers(clock);
    const got: ApiEvent[][] = [];
    const b = new EventBatcher({ deliver: (x) => got.push(x), clock, timers });
    timers.advance(5000);
    b.push([notice(1)]);
    expect(got).toHaveLength(1);
    b.push([notice(2)]);
    expect(got).toHaveLength(1);
    timers.advance(100);
    expect(got).toEqual([[notice(1)], [notice(2)]]);
  });

  it('bounds the queue by dropping the oldest packet rows, never bans or state', () => {
    const clock = new ManualClock(0);
    const timers = manualTimers(clock);
    const got: ApiEvent[][] = [];
    const b = new EventBatcher({ deliver: (x) => got.push(x), clock, timers, maxQueued: 10 });
    b.push([notice(0)]); // delivered at once; the rest waits
    const row = (id: number) => ({ id, time: id, src: '192.0.2.1', dst: '192.0.2.2', proto: 'TCP', spt: 1, dpt: 2, prefix: 'UFW BLOCK', in: 'eth0', flags: 'SYN' });
    b.push([{ type: 'packets', rows: Array.from({ length: 8 }, (_, i) => row(i)) }]);
    b.push([{ type: 'unban', ip: '192.0.2.9', why: 'manual' }]);
    b.push([{ type: 'packets', rows: Array.from({ length: 8 }, (_, i) => row(100 + i)) }]);
    timers.advance(100);
    const batch = got[1]!;
    expect(batch.some((e) => e.type === 'unban')).toBe(true);
    const ids = batch.flatMap((e) => (e.type === 'packets' ? e.rows.map((r) => r.id) : []));
    expect(ids).toHaveLength(9); // 10 minus the unban
    expect(ids.at(-1)).toBe(107); // newest kept
    expect(ids[0]).toBe(7);
  });

  it('close() cancels the pending delivery', () => {
    const clock = new ManualClock(0);
    const timers = manualTimers(clock);
    const got: ApiEvent[][] = [];
    const b = new EventBatcher({ deliver: (x) => got.push(x), clock, timers });
    b.push([notice(1)]);
    b.push([notice(2)]);
    b.close();
    timers.advance(1000);
    expect(got).toHaveLength(1);
    expect(timers.count()).toBe(0);
  });
});
