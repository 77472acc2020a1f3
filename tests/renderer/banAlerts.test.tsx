// @vitest-environment jsdom
/** A ban as it happens, in the open window (issue 15, item 5). */
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAppStore } from '../../renderer/store/store.ts';
import { App } from '../../renderer/ui/App.tsx';
import { StoreContext } from '../../renderer/ui/context.ts';
import { createFakeApi } from './fakeApi.ts';

beforeAll(() => {
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
});
afterEach(cleanup);

async function renderApp(onBan = true) {
  const api = createFakeApi();
  api.data.settings.notifications.onBan = onBan;
  const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined });
  render(
    <StoreContext.Provider value={store}>
      <App />
    </StoreContext.Provider>,
  );
  await act(async () => {
    await new Promise((r) => setTimeout(r, 10));
  });
  return { api, store };
}

describe('ban alerts', () => {
  it('a detected ban shows who, why (scan type, ports, probes) and against which threshold, with Unban and Whitelist that work', async () => {
    const { api } = await renderApp();
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

  it('says nothing when "notify me when a scanner is banned" is off, or for a ban the user made', async () => {
    const off = await renderApp(false);
    await act(async () => off.api.simulateScan('198.51.100.7', [21, 23, 25, 80]));
    expect(screen.queryByTestId('ban-alert')).toBeNull();
    cleanup();
    const on = await renderApp(true);
    await act(async () => on.store.getState().banNow('198.51.100.9'));
    expect(screen.queryByTestId('ban-alert')).toBeNull();
  });

  it('a burst of bans shows three alerts and sums up the rest (never a flood)', async () => {
    const { api } = await renderApp();
    await act(async () => {
      for (let i = 0; i < 7; i++) api.simulateScan(`198.51.100.${20 + i}`, [21, 23, 25]);
    });
    expect(screen.getAllByTestId('ban-alert')).toHaveLength(3);
    expect(screen.getByText(/and 4 more bans/)).toBeTruthy();
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Dismiss all' })));
    expect(screen.queryAllByTestId('ban-alert')).toHaveLength(0);
  });
});
