// @vitest-environment jsdom
/**
 * The Blocked packets screen says how many packets a flood left unstored (over
 * logs.maxStoredPacketsPerSecond, counted by the service), and says nothing when there are none.
 */
import { act, fireEvent, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { nav, renderApp } from './render-app.tsx';

describe('Blocked packets: packets not stored during a flood', () => {
  it('shows the count from the state', async () => {
    await renderApp((api) => {
      api.data.state.counts = { blockedPackets: 0, scanners: 0, activeBans: 0, deferredBans: 0, packetsNotStored: 12_345 };
    });
    await act(async () => fireEvent.click(nav('Blocked packets')));
    expect(screen.getByTestId('packets-not-stored').textContent).toContain('12,345 packets not stored during a flood');
  });

  it('says nothing without any', async () => {
    await renderApp();
    await act(async () => fireEvent.click(nav('Blocked packets')));
    expect(screen.queryByTestId('packets-not-stored')).toBeNull();
  });
});

describe('"test against my recent log" after a flood', () => {
  const runTest = async () => {
    await act(async () => fireEvent.click(nav('Whitelist')));
    fireEvent.change(screen.getByLabelText('Address or CIDR'), { target: { value: '203.0.113.10' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Test against my recent log' })));
    return screen.getByTestId('threshold-test');
  };

  it('says how many packets of the window it could not replay', async () => {
    await renderApp((api) => {
      api.simulateScan('203.0.113.10', [21, 23, 25, 80, 110], false);
      api.data.state.counts = { ...api.data.state.counts, packetsNotStored: 4_321 };
    });
    const result = await runTest();
    expect(within(result).getByTestId('threshold-test-not-stored').textContent).toContain('Not tested: 4,321 more blocked packets of this window');
  });

  it('says nothing when every packet was stored', async () => {
    await renderApp((api) => api.simulateScan('203.0.113.10', [21, 23, 25, 80, 110], false));
    const result = await runTest();
    expect(within(result).queryByTestId('threshold-test-not-stored')).toBeNull();
  });
});
