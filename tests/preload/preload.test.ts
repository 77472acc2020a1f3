import { EventEmitter } from 'node:events';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../electron/shared/api.ts';
import { IPC_CALL_CHANNEL, IPC_EVENTS_CHANNEL, IPC_NAVIGATE_CHANNEL } from '../../electron/shared/ipc.ts';

// A fake ipcRenderer: an EventEmitter (like the real one) plus a scripted invoke.
const fake = vi.hoisted(() => ({ exposed: [] as { key: string; api: unknown }[], ipc: null as unknown }));

vi.mock('electron', async () => {
  const { EventEmitter: Emitter } = await import('node:events');
  const ipc = Object.assign(new Emitter(), { invoke: vi.fn() });
  fake.ipc = ipc;
  return {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => fake.exposed.push({ key, api }) },
    ipcRenderer: ipc,
  };
});

type FakeIpc = EventEmitter & { invoke: ReturnType<typeof vi.fn> };

const state = {
  protection: 'on',
  pausedUntil: null,
  firewall: { installed: true, enabled: true, defaultIncoming: 'deny', defaultOutgoing: 'allow', defaultRouted: 'disabled', loggingLevel: 'low', perSourceLogging: false },
  helper: { connected: true },
  backend: 'set',
  counts: { blockedPackets: 1, scanners: 0, activeBans: 0, deferredBans: 0 },
  source: null,
  lastBanAt: null,
  version: '0.1.0',
};

describe('preload', () => {
  let ipc: FakeIpc;
  let api: Record<string, unknown> & {
    call: (m: string, p: unknown) => Promise<unknown>;
    onEvents: (l: (e: unknown[]) => void) => () => void;
    onNavigate: (l: (t: unknown) => void) => () => void;
  };

  beforeEach(async () => {
    await import('../../electron/preload/index.ts');
    ipc = fake.ipc as FakeIpc;
    ipc.removeAllListeners();
    ipc.invoke.mockReset();
    api = fake.exposed[0]!.api as typeof api;
  });

  it('exposes exactly one frozen object, window.portcullis, with no generic send', () => {
    expect(fake.exposed).toHaveLength(1);
    expect(fake.exposed[0]!.key).toBe('portcullis');
    expect(Object.keys(api).sort()).toEqual(['call', 'onEvents', 'onNavigate']);
    expect(Object.isFrozen(api)).toBe(true);
  });

  it('turns zod jitless, because the page CSP forbids the eval zod would otherwise compile with', async () => {
    const { z } = await import('zod');
    expect(z.config().jitless).toBe(true);
  });

  it('call() invokes the one call channel and returns the validated result', async () => {
    ipc.invoke.mockResolvedValue({ ok: true, result: state });
    await expect(api.call('getState', {})).resolves.toMatchObject({ protection: 'on' });
    expect(ipc.invoke).toHaveBeenCalledWith(IPC_CALL_CHANNEL, 'getState', {});
  });

  it('call() turns an error reply into an ApiError with its code', async () => {
    ipc.invoke.mockResolvedValue({ ok: false, error: { code: 'read-only', message: 'helper not connected' } });
    const err = await api.call('unban', { ip: '192.0.2.1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('read-only');
  });

  it('call() refuses a result that does not match the method schema', async () => {
    ipc.invoke.mockResolvedValue({ ok: true, result: { protection: 'maybe' } });
    await expect(api.call('getState', {})).rejects.toThrow();
  });

  it('onEvents delivers valid batches, drops malformed ones, and its unsubscribe removes the listener', () => {
    const seen: unknown[][] = [];
    const off = api.onEvents((events) => seen.push(events));
    expect(ipc.listenerCount(IPC_EVENTS_CHANNEL)).toBe(1);
    ipc.emit(IPC_EVENTS_CHANNEL, { sender: ipc }, [{ type: 'notice', level: 'info', message: 'hi' }]);
    ipc.emit(IPC_EVENTS_CHANNEL, { sender: ipc }, [{ type: 'bogus' }]);
    expect(seen).toEqual([[{ type: 'notice', level: 'info', message: 'hi' }]]);
    expect(typeof off).toBe('function');
    off();
    off(); // idempotent
    expect(ipc.listenerCount(IPC_EVENTS_CHANNEL)).toBe(0);
    ipc.emit(IPC_EVENTS_CHANNEL, { sender: ipc }, [{ type: 'notice', level: 'info', message: 'late' }]);
    expect(seen).toHaveLength(1);
  });

  it('listeners never receive the IpcRendererEvent (it would leak ipcRenderer to the page)', () => {
    const args: unknown[][] = [];
    api.onNavigate((...a: unknown[]) => args.push(a));
    ipc.emit(IPC_NAVIGATE_CHANNEL, { sender: ipc }, { screen: 'offender', ip: '192.0.2.7' });
    expect(args).toEqual([[{ screen: 'offender', ip: '192.0.2.7' }]]);
  });

  it('two subscriptions are independent: unsubscribing one keeps the other', () => {
    const a: unknown[] = [];
    const b: unknown[] = [];
    const offA = api.onNavigate((t) => a.push(t));
    api.onNavigate((t) => b.push(t));
    offA();
    ipc.emit(IPC_NAVIGATE_CHANNEL, {}, { screen: 'doctor' });
    expect(a).toEqual([]);
    expect(b).toEqual([{ screen: 'doctor' }]);
  });
});
