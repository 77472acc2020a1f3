// @vitest-environment jsdom
/**
 * A database that cannot be written (the state's `store`): the window says the history is not being
 * saved — since when, why, what to do — and that scanners are still banned; the banner goes once the
 * service says it writes again (a `state` event), and is never there while it writes.
 */
import { act, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { ConnectionStatus } from '../../renderer/api/index.ts';
import { renderApp } from './render-app.tsx';

const SINCE = Date.UTC(2026, 11, 7, 9, 30, 0);
const FULL_DISK = { ok: false as const, since: SINCE, error: 'database or disk is full', path: '/var/lib/portcullis/portcullis.db', pendingPackets: 10_000 };

describe('the Dashboard on a database that cannot be written', () => {
  it('shows a warning banner with the reason, the time, what waits and the advice; protection is shown as on', async () => {
    await renderApp((api) => {
      api.data.state.store = FULL_DISK;
    });
    expect(screen.getByRole('heading', { name: 'Dashboard' })).toBeTruthy();
    const banner = screen.getByTestId('store-banner');
    expect(banner.getAttribute('role')).toBe('alert');
    expect(banner.textContent).toContain('History is not being saved: the database cannot be written since');
    expect(banner.textContent).toContain('(database or disk is full). Scanners are still detected and banned; 10,000 blocked packets wait in memory.');
    expect(banner.textContent).toContain('Free disk space or inodes on the file system of /var/lib/portcullis/portcullis.db (df -h /var/lib/portcullis/portcullis.db; df -i /var/lib/portcullis/portcullis.db)');
    // Protection is what it was.
    expect(screen.getByTestId('protection-status').textContent).toBe('On — scanners are banned as they are seen');
  });

  it('goes away when the service says it writes again', async () => {
    const { api } = await renderApp((a) => {
      a.data.state.store = FULL_DISK;
    });
    expect(screen.queryByTestId('store-banner')).not.toBeNull();
    await act(async () => api.emit([{ type: 'state', state: { ...structuredClone(api.data.state), store: { ok: true } } }]));
    expect(screen.queryByTestId('store-banner')).toBeNull();
  });

  it('is not shown as current while the service cannot be reached (the last state may no longer be true)', async () => {
    let push: (s: ConnectionStatus) => void = () => undefined;
    await renderApp((api) => {
      api.data.state.store = FULL_DISK;
      Object.assign(api, {
        onConnection(l: (s: ConnectionStatus) => void) {
          push = l;
          l('open');
          return () => undefined;
        },
      });
    });
    expect(screen.queryByTestId('store-banner')).not.toBeNull();
    await act(async () => push('closed'));
    expect(screen.queryByTestId('store-banner')).toBeNull();
    await act(async () => push('open'));
    expect(screen.queryByTestId('store-banner')).not.toBeNull();
  });

  it('says nothing while it writes', async () => {
    await renderApp((api) => {
      api.data.state.store = { ok: true };
    });
    expect(screen.getByRole('heading', { name: 'Dashboard' })).toBeTruthy();
    expect(screen.queryByTestId('store-banner')).toBeNull();
  });

  it('says nothing for a service that does not say (an older one: absent)', async () => {
    await renderApp();
    expect(screen.getByRole('heading', { name: 'Dashboard' })).toBeTruthy();
    expect(screen.queryByTestId('store-banner')).toBeNull();
  });
});
