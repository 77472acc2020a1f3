import { describe, expect, it, vi } from 'vitest';
import { answerCall, bindApiIpc, senderProblem, type ApiIpcDeps, type FrameLike } from '../../electron/main/ipc.ts';
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
