import { describe, expect, it } from 'vitest';
import { eventsWithHelperStatus, HelperHub, withHelperFix, withHelperStatus } from '../../electron/main/helper-hub.ts';
import { ApiError } from '../../electron/shared/api.ts';
import { makeState, recordingHandlers } from './fixtures.ts';

describe('helper hub', () => {
  it('refuses helper calls as read-only with the reason while no helper is connected', async () => {
    const hub = new HelperHub();
    hub.set(null, { phase: 'read-only', connected: false, readOnlyReason: 'you declined the administrator prompt' });
    const err = await hub.call('status', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('read-only');
    expect((err as ApiError).message).toBe('you declined the administrator prompt');
    expect(hub.helperState()).toEqual({ connected: false, readOnlyReason: 'you declined the administrator prompt' });
  });

  it('routes calls to the connected client, and stops when it goes', async () => {
    const hub = new HelperHub();
    const seen: string[] = [];
    const client = { call: async (op: string) => (seen.push(op), { ran: [] }) } as never;
    hub.set(client, { phase: 'connected', connected: true });
    await hub.call('enable', {});
    expect(seen).toEqual(['enable']);
    expect(hub.helperState()).toEqual({ connected: true });
    hub.set(client, { phase: 'reconnecting', connected: false, readOnlyReason: 'reconnecting' });
    await expect(hub.call('enable', {})).rejects.toThrow('reconnecting');
    expect(seen).toEqual(['enable']);
  });

  it('every State leaving the service carries the live helper status; other results are untouched', async () => {
    let helper = { connected: false, readOnlyReason: 'the helper has not been started yet' } as { connected: boolean; readOnlyReason?: string };
    const h = withHelperStatus(recordingHandlers([]), () => helper);
    expect((await h.getState({})).helper).toEqual(helper);
    helper = { connected: true };
    expect((await h.setProtection({ enabled: true })).helper).toEqual({ connected: true });
    expect(await h.unban({ ip: '192.0.2.1' as never })).toEqual({ ok: true });
    const events = eventsWithHelperStatus([{ type: 'state', state: makeState({ helper: { connected: true } }) }, { type: 'notice', level: 'info', message: 'x' }], () => ({ connected: false, readOnlyReason: 'r' }));
    expect(events[0]).toMatchObject({ type: 'state', state: { helper: { connected: false, readOnlyReason: 'r' } } });
    expect(events[1]).toEqual({ type: 'notice', level: 'info', message: 'x' });
  });
});

describe('Doctor offers "Connect helper" in the desktop', () => {
  const checks = [
    { id: 'helper', title: 'Root helper', level: 'error' as const, detail: 'the helper failed: read-only' },
    { id: 'ufw-enabled', title: 'ufw enabled', level: 'ok' as const, detail: 'active' },
  ];
  function setup(connected: { value: boolean }) {
    const calls: { method: string; params: unknown }[] = [];
    let retries = 0;
    const inner = new Proxy(recordingHandlers(calls), {
      get(t, m: string) {
        if (m === 'getDoctor' || m === 'runDoctorFix') return async (p: unknown) => (calls.push({ method: m, params: p }), structuredClone(checks));
        return Reflect.get(t, m);
      },
    });
    const h = withHelperFix(
      inner,
      () => (connected.value ? { connected: true } : { connected: false, readOnlyReason: 'you declined the administrator prompt' }),
      async () => {
        retries++;
        connected.value = true;
      },
    );
    return { h, calls, retries: () => retries };
  }

  it('while no helper is connected the helper check carries the fix (added, with the reason, when the service listed none)', async () => {
    const { h } = setup({ value: false });
    const got = await h.getDoctor({});
    expect(got[0]).toMatchObject({ id: 'helper', detail: 'the helper failed: read-only', fix: { id: 'connect-helper' } });
    expect(got[1]!.fix).toBeUndefined();
    checks.splice(0, 1);
    const added = await h.getDoctor({});
    checks.unshift({ id: 'helper', title: 'Root helper', level: 'error', detail: 'the helper failed: read-only' });
    expect(added.map((c) => c.id)).toEqual(['helper', 'ufw-enabled']);
    expect(added[0]).toMatchObject({ level: 'error', detail: 'you declined the administrator prompt', fix: { id: 'connect-helper' } });
  });

  it('running the fix asks the supervisor once, then reads the checks anew; other fixes go to the service', async () => {
    const connected = { value: false };
    const { h, calls, retries } = setup(connected);
    const after = await h.runDoctorFix({ fixId: 'connect-helper', confirm: false });
    expect(retries()).toBe(1);
    expect(after.some((c) => c.fix?.id === 'connect-helper')).toBe(false);
    expect(calls.map((c) => c.method)).toEqual(['getDoctor']);
    await h.runDoctorFix({ fixId: 'enable-ufw', confirm: false });
    expect(retries()).toBe(1);
    expect(calls.at(-1)).toEqual({ method: 'runDoctorFix', params: { fixId: 'enable-ufw', confirm: false } });
  });

  it('every other method passes through unchanged', async () => {
    const { h, calls } = setup({ value: true });
    await h.unban({ ip: '203.0.113.9' } as never);
    expect(calls).toEqual([{ method: 'unban', params: { ip: '203.0.113.9' } }]);
    expect((await h.getDoctor({})).some((c) => c.fix)).toBe(false);
  });
});
