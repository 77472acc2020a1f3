// @vitest-environment jsdom
/**
 * The Blocked packets screen says how many packets a flood left unstored (over
 * logs.maxStoredPacketsPerSecond, counted by the service), and says nothing when there are none.
 */
import { act, fireEvent, screen } from '@testing-library/react';
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
