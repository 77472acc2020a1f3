import { describe, expect, it } from 'vitest';
import { eventsWithHelperStatus, HelperHub, withHelperStatus } from '../../electron/main/helper-hub.ts';
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
