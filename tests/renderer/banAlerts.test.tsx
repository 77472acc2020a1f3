// @vitest-environment jsdom
/** A ban as it happens, in the open window (issue 15, item 5). */
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { renderApp } from './render-app.tsx';

/** The window with "notify me when a scanner is banned" on or off. */
const renderWithBanAlerts = (onBan = true) =>
  renderApp((api) => {
    api.data.settings.notifications.onBan = onBan;
  });

describe('ban alerts', () => {
  it('a detected ban shows who, why (scan type, ports, probes) and against which threshold, with Unban and Whitelist that work', async () => {
    const { api } = await renderWithBanAlerts();
    await act(async () => api.simulateScan('198.51.100.7', [21, 23, 25, 80]));
    const alert = screen.getByTestId('ban-alert');
    expect(alert.textContent).toContain('Banned 198.51.100.7');
    expect(alert.textContent).toMatch(/SYN scan: 4 probes on 4 ports \(21, 23, 25, 80\)/);
    expect(alert.textContent).toMatch(/threshold: 5 probes on 3 ports within 10\u00a0min/);
    expect(alert.textContent).toMatch(/until .* \(1\u00a0h\)/);
    await act(async () => fireEvent.click(within(alert).getByRole('button', { name: 'Unban' })));
    expect(api.data.active.map((b) => b.ip)).not.toContain('198.51.100.7');
    expect(screen.queryByTestId('ban-alert')).toBeNull();

    await act(async () => api.simulateScan('198.51.100.8', [21, 23, 25]));
    await act(async () => fireEvent.click(within(screen.getByTestId('ban-alert')).getByRole('button', { name: 'Whitelist' })));
    expect(api.data.settings.whitelist.entries).toContain('198.51.100.8/32');
  });

  it("a ban the firewall then refused (a rule of the user's own for the source) stops saying \"Banned\" and says why", async () => {
    const { api } = await renderWithBanAlerts();
    await act(async () => api.simulateScan('198.51.100.7', [21, 23, 25, 80]));
    expect(screen.getByTestId('ban-alert').textContent).toContain('Banned 198.51.100.7');
    await act(async () => api.emit([{ type: 'unban', ip: '198.51.100.7', why: 'refused-users-rule' }]));
    const alert = screen.getByTestId('ban-alert');
    expect(alert.textContent).toContain('Not banned 198.51.100.7');
    expect(alert.textContent).toContain('the firewall refused it, a rule of yours for this source decides its traffic');
    expect(alert.textContent).not.toMatch(/until /);
    expect((within(alert).getByRole('button', { name: 'Unban' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('says nothing when "notify me when a scanner is banned" is off, or for a ban the user made', async () => {
    const off = await renderWithBanAlerts(false);
    await act(async () => off.api.simulateScan('198.51.100.7', [21, 23, 25, 80]));
    expect(screen.queryByTestId('ban-alert')).toBeNull();
    cleanup();
    const on = await renderWithBanAlerts(true);
    await act(async () => on.store.getState().banNow('198.51.100.9'));
    expect(screen.queryByTestId('ban-alert')).toBeNull();
  });

  it('a burst of bans shows three alerts and sums up the rest (never a flood)', async () => {
    const { api } = await renderWithBanAlerts();
    await act(async () => {
      for (let i = 0; i < 7; i++) api.simulateScan(`198.51.100.${20 + i}`, [21, 23, 25]);
    });
    expect(screen.getAllByTestId('ban-alert')).toHaveLength(3);
    expect(screen.getByText(/and 4 more bans/)).toBeTruthy();
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Dismiss all' })));
    expect(screen.queryAllByTestId('ban-alert')).toHaveLength(0);
  });
});
