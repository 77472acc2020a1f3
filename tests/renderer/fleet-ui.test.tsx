// @vitest-environment jsdom
/** Settings → Fleet (save, Test connection, secrets shown redacted) and the Dashboard's fleet card. */
import { act, fireEvent, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { REDACTED, type FleetHealth } from '../../electron/shared/fleet.ts';
import { nav, renderApp } from './render-app.tsx';

const type = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });

const HEALTH: FleetHealth = {
  status: 'ok',
  url: 'http://10.0.0.5:8080',
  machineId: 'web1',
  share: true,
  apply: true,
  login: { ok: true, error: null },
  pull: { ok: true, error: null, lastAt: Date.now(), lastFullAt: Date.now() },
  push: { ok: true, error: null, lastAt: Date.now(), queued: 2 },
  fleetBans: 7,
  refused: { whitelisted: 1, overLimit: 0, unsupported: 0 },
  lastRefusals: [],
};

describe('Fleet UI', () => {
  it('Settings → Fleet: turns the link on, tests the connection, saves fleet.crowdsec', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Settings')));
    const card = screen.getByRole('region', { name: 'Fleet (CrowdSec LAPI)' });
    await act(async () => fireEvent.click(within(card).getByLabelText(/Share bans with other hosts/)));
    type('LAPI URL', 'http://10.0.0.5:8080');
    type('Machine id', 'web1');
    type('Machine password', 'pw');
    type('Bouncer key', 'good-key');
    await act(async () => fireEvent.click(within(card).getByRole('button', { name: 'Test connection' })));
    expect(within(card).getByRole('list', { name: 'Connection test' }).textContent).toMatch(/✓ bouncer key: http:\/\/10.0.0.5:8080 answers/);
    type('Pull every (ms)', '100');
    expect(within(card).getByRole('status').textContent).toMatch(/pullIntervalMs is a whole number from 200/);
    expect((within(card).getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
    type('Pull every (ms)', '500');
    await act(async () => fireEvent.click(within(card).getByRole('button', { name: 'Save' })));
    expect(api.data.settings.fleet.crowdsec).toMatchObject({ url: 'http://10.0.0.5:8080', machineId: 'web1', bouncerKey: 'good-key', pullIntervalMs: 500 });
  });

  it('a redacted secret is shown as saved, never as text', async () => {
    await renderApp((a) => {
      a.data.settings.fleet = { crowdsec: { url: 'http://10.0.0.5:8080', machineId: 'web1', password: REDACTED, bouncerKey: REDACTED, pullIntervalMs: 1000, share: true, apply: true, origins: ['portcullis@*'] }, maxBans: 100_000 };
    });
    await act(async () => fireEvent.click(nav('Settings')));
    expect((screen.getByLabelText('Bouncer key') as HTMLInputElement).type).toBe('password');
    expect(screen.getAllByText('saved (unchanged unless you type a new one)')).toHaveLength(2);
  });

  it('the Dashboard shows fleet bans apart from this host\'s own', async () => {
    await renderApp((a) => {
      a.data.state.fleet = HEALTH;
      a.data.state.counts.activeBans = 10;
    });
    expect(screen.getByTestId('count-fleet-bans').textContent).toBe('7');
    expect(screen.getByTestId('count-own-bans').textContent).toBe('3');
    expect(screen.getByRole('region', { name: 'Fleet' }).textContent).toMatch(/link ok.*2 to push.*1 refused/s);
  });
});
