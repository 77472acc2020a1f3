// @vitest-environment jsdom
/** The smaller things a careful user notices (issue 15, low items outside the Rules screen). */
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Cidr } from '../../electron/shared/domain.ts';
import { protectionText } from '../../renderer/ui/screens/Dashboard.tsx';
import { type FakeApi, nav, renderApp as renderWindow } from './render-app.tsx';

afterEach(() => {
  cleanup(); // render-app.tsx cleans up too; done here first so mocks are restored after the unmount, as before
  vi.restoreAllMocks();
});

/** As everywhere here, but the store's own setTimeout never fires either. */
const renderApp = (tweak?: (api: FakeApi) => void) => renderWindow({ tweak, store: { setTimeout: () => 0 } });

describe('whitelist', () => {
  it("the network switches (gateway, name servers, LAN subnets) each show and change their own setting", async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Whitelist')));
    const box = (name: RegExp) => screen.getByLabelText(name) as HTMLInputElement;
    expect([box(/default gateway/).checked, box(/name servers/).checked, box(/LAN subnet/).checked]).toEqual([true, true, false]);
    expect(box(/LAN subnet/).closest('label')!.title).toMatch(/compromised device/);
    for (const name of [/default gateway/, /name servers/, /LAN subnet/]) await act(async () => fireEvent.click(box(name)));
    expect(api.calls.filter((c) => c.method === 'updateSettings').map((c) => c.params)).toEqual([
      { patch: { whitelist: { includeGateway: false } } },
      { patch: { whitelist: { includeNameservers: false } } },
      { patch: { whitelist: { includeLanSubnets: true } } },
    ]);
    expect([box(/default gateway/).checked, box(/name servers/).checked, box(/LAN subnet/).checked]).toEqual([false, false, true]);
  });

  it('refuses an entry already covered by another (yours or a built-in one), saying which', async () => {
    const { api } = await renderApp((a) => (a.data.settings.whitelist.entries = ['10.20.0.0/16' as Cidr]));
    await act(async () => fireEvent.click(nav('Whitelist')));
    const input = screen.getByLabelText('Address or CIDR');
    fireEvent.change(input, { target: { value: '10.20.30.0/24' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add' })));
    expect(screen.getByTestId('whitelist-error').textContent).toBe('10.20.30.0/24 is already covered by 10.20.0.0/16 (your entry)');
    fireEvent.change(input, { target: { value: '127.0.0.5' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add' })));
    expect(screen.getByTestId('whitelist-error').textContent).toBe('127.0.0.5/32 is already covered by 127.0.0.0/8 (loopback)');
    expect(api.data.settings.whitelist.entries).toEqual(['10.20.0.0/16']);
  });

  it('removing an entry says so, with an Undo that puts it back', async () => {
    const { api } = await renderApp((a) => (a.data.settings.whitelist.entries = ['10.20.0.0/16' as Cidr]));
    await act(async () => fireEvent.click(nav('Whitelist')));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Remove 10.20.0.0/16' })));
    expect(api.data.settings.whitelist.entries).toEqual([]);
    const toast = screen.getByText('10.20.0.0/16 removed from the whitelist').closest('.notice') as HTMLElement;
    await act(async () => fireEvent.click(within(toast).getByRole('button', { name: 'Undo' })));
    expect(api.data.settings.whitelist.entries).toEqual(['10.20.0.0/16']);
  });

  it('"test against my recent log": current and proposed side by side, "1 source" not "1 sources", and the result goes when the input changes', async () => {
    await renderApp((a) => a.simulateScan('203.0.113.10', [21, 23, 25, 80, 110], false));
    await act(async () => fireEvent.click(nav('Whitelist')));
    const input = screen.getByLabelText('Address or CIDR');
    fireEvent.change(input, { target: { value: '203.0.113.10' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Test against my recent log' })));
    const result = screen.getByTestId('threshold-test');
    expect(result.textContent).toContain('5 packets from 1 source,');
    expect(within(result).getByTestId('threshold-test-current').textContent).toMatch(/^Now: 1 host banned/);
    expect(within(result).getByTestId('threshold-test-proposed').textContent).toBe('With your change: nobody banned');
    fireEvent.change(input, { target: { value: '' } });
    expect(screen.queryByTestId('threshold-test')).toBeNull();
  });
});

describe('settings', () => {
  it('a seconds field says what its number means', async () => {
    await renderApp();
    await act(async () => fireEvent.click(nav('Thresholds')));
    fireEvent.change(screen.getByLabelText('Max ban time (seconds)'), { target: { value: '604800' } });
    expect(document.getElementById('th-ban-maxbantimeSec-msg')!.textContent).toBe('cap for repeat offenders · = 7\u00a0d');
  });

  it('leaving a screen with a change typed and not saved asks first; the card says it is unsaved', async () => {
    await renderApp();
    await act(async () => fireEvent.click(nav('Settings')));
    fireEvent.change(screen.getByLabelText('Stored packets at most'), { target: { value: '2000000' } });
    expect(screen.getByTestId('logs-unsaved').textContent).toBe('Unsaved changes');
    const ask = vi.spyOn(window, 'confirm').mockReturnValue(false);
    await act(async () => fireEvent.click(nav('Dashboard')));
    expect(ask).toHaveBeenCalledWith('Discard the unsaved changes in "Log source and retention"?');
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Settings');
    ask.mockReturnValue(true);
    await act(async () => fireEvent.click(nav('Dashboard')));
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Dashboard');
  });

  it('a value the service refused loses its message as soon as the field is edited', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Settings')));
    api.failNext('updateSettings', new (await import('../../electron/shared/api.ts')).ApiError('invalid', 'logs.source: no such file'));
    fireEvent.change(screen.getByLabelText('Log source'), { target: { value: 'file:/nope' } });
    await act(async () => fireEvent.submit(screen.getByLabelText('Log source').closest('form')!));
    const foot = screen.getByLabelText('Log source').closest('form')!.querySelector('.form-foot [role="status"]')!;
    expect(foot.textContent).toBe('logs.source: no such file');
    fireEvent.change(screen.getByLabelText('Log source'), { target: { value: 'kmsg' } });
    expect(foot.textContent).not.toContain('no such file');
  });
});

describe('dashboard words', () => {
  it('"Off — nobody is banned" only while nobody is; otherwise it says the earlier bans stay', () => {
    const st = { pausedUntil: null };
    expect(protectionText(st, false, false, 0)).toBe('Off — scans are recorded but nobody is banned');
    expect(protectionText(st, false, false, 2)).toBe('Off — scans are recorded, no new bans; 2 earlier bans stay in force until they end (unban on Offenders)');
    expect(protectionText(st, false, true, 2)).toBe('On — scanners are banned as they are seen');
  });

  it('"Lines / min" says how many of the shared kernel log\'s records were this host\'s', async () => {
    await renderApp((a) => (a.data.state.source = { ...a.data.state.source!, linesPerMinute: 120, foreignPerMinute: 90 }));
    expect(screen.getByTestId('source-rate').textContent).toBe('120 (of which 30 for this host)');
  });
});
