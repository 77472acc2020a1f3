// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../electron/shared/settings.ts';
import { nav, renderApp } from './render-app.tsx';

describe('App', () => {
  it('has one navigation item per screen, labelled exactly', async () => {
    await renderApp();
    const items = within(screen.getByRole('navigation', { name: 'Main' }))
      .getAllByRole('button')
      .map((b) => b.querySelector('.nav-label')?.textContent);
    expect(items).toEqual(['Dashboard', 'Blocked packets', 'Offenders', 'Rules', 'Whitelist', 'Thresholds', 'Doctor', 'Settings']);
    expect(nav('Dashboard').getAttribute('aria-current')).toBe('page');
  });

  it('the protection switch turns protection off in one click', async () => {
    const { api } = await renderApp();
    const sw = screen.getByRole('switch', { name: 'Protection' });
    expect(sw.getAttribute('aria-checked')).toBe('true');
    await act(async () => fireEvent.click(sw));
    expect(api.data.state.protection).toBe('off');
    expect(screen.getByRole('switch', { name: 'Protection' }).getAttribute('aria-checked')).toBe('false');
  });

  it('while the change is in flight the switch keeps keyboard focus (busy, not disabled) and ignores a second press', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { api } = await renderApp((a) => {
      const call = a.call.bind(a);
      a.call = (async (method: string, params: unknown) => {
        if (method === 'setProtection') await gate;
        return call(method as never, params as never);
      }) as typeof a.call;
    });
    const sw = screen.getByRole('switch', { name: 'Protection' }) as HTMLButtonElement;
    sw.focus();
    await act(async () => fireEvent.click(sw));
    expect(sw.getAttribute('aria-busy')).toBe('true');
    expect(sw.disabled).toBe(false);
    expect(document.activeElement).toBe(sw);
    await act(async () => fireEvent.click(sw));
    await act(async () => release());
    expect(api.calls.filter((c) => c.method === 'setProtection')).toHaveLength(1);
    expect(sw.getAttribute('aria-checked')).toBe('false');
    expect(sw.getAttribute('aria-busy')).toBeNull();
  });

  it('read-only (no root helper): the banner says why; protection and settings, which need no helper, can be changed as in the tray; firewall changes cannot', async () => {
    const { api } = await renderApp((a) => (a.data.state.helper = { connected: false, readOnlyReason: 'you declined the password prompt' }));
    expect(screen.getByTestId('read-only-banner').textContent).toContain('you declined the password prompt');
    expect(screen.getByTestId('read-only-banner').textContent).toContain('bans and firewall rules cannot be changed');
    // The tray's toggle turns protection off without the helper; the window's switch does the same.
    const sw = screen.getByRole('switch', { name: 'Protection' }) as HTMLButtonElement;
    expect(sw.disabled).toBe(false);
    await act(async () => fireEvent.click(sw));
    expect(api.data.state.protection).toBe('off');
    await act(async () => fireEvent.click(nav('Settings')));
    const gen = screen.getByRole('region', { name: 'Notifications and appearance' });
    fireEvent.click(within(gen).getByLabelText('Notify me when a scanner is banned'));
    await act(async () => fireEvent.click(within(gen).getByRole('button', { name: 'Save' })));
    expect(api.data.settings.notifications.onBan).toBe(!DEFAULT_SETTINGS.notifications.onBan);
    await act(async () => fireEvent.click(nav('Whitelist')));
    fireEvent.change(screen.getByLabelText('Address or CIDR'), { target: { value: '10.1.2.0/24' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add' })));
    expect(api.data.settings.whitelist.entries).toEqual(['10.1.2.0/24']);
    // What the root helper does stays disabled: the firewall's rules.
    await act(async () => fireEvent.click(nav('Rules')));
    expect((screen.getByRole('button', { name: 'Edit rule 1' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('dashboard: names the ban backend in use, and a switch saved in Thresholds only as what the next start brings', async () => {
    const { api } = await renderApp();
    const backend = () => within(screen.getByRole('region', { name: 'Firewall' })).getByText('Ban backend').nextElementSibling!.textContent;
    expect(backend()).toBe('ipset (fast)');
    await act(async () => fireEvent.click(nav('Thresholds')));
    fireEvent.change(screen.getByLabelText('Ban backend'), { target: { value: 'ufw' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Save' })));
    expect(api.data.settings.ban.backend).toBe('ufw');
    await act(async () => fireEvent.click(nav('Dashboard')));
    // The sets still ban until the next start: the Dashboard must not claim ufw already.
    expect(backend()).toBe('ipset (fast) — switches to ufw rules at the next start of Portcullis (the saved setting)');
    // Switched back before a restart: nothing pending.
    await act(async () => fireEvent.click(nav('Thresholds')));
    fireEvent.change(screen.getByLabelText('Ban backend'), { target: { value: 'set' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Save' })));
    await act(async () => fireEvent.click(nav('Dashboard')));
    expect(backend()).toBe('ipset (fast)');
  });

  it('warns when the log source is spoofable', async () => {
    await renderApp((api) => (api.data.state.source = { kind: 'file', description: '/var/log/ufw.log', kernelTrusted: false, lastRecordAt: null, linesPerMinute: 0, rejectsPerMinute: 0 }));
    expect(screen.getByTestId('source-health').textContent).toContain('SPOOFABLE');
  });

  it('shows a problem the log source read on past as such, not as an error', async () => {
    await renderApp((api) => (api.data.state.source = { kind: 'kmsg', description: 'kernel ring buffer (/dev/kmsg)', kernelTrusted: true, lastRecordAt: null, linesPerMinute: 0, rejectsPerMinute: 0, warning: 'reading /dev/kmsg: cannot start the kmsg reading thread: x' }));
    expect(screen.getByTestId('source-warning').textContent).toBe('reading /dev/kmsg: cannot start the kmsg reading thread: x');
    expect(screen.getByTestId('source-health').querySelector('.error-text')).toBeNull();
  });

  it('whitelist: an invalid CIDR shows the reason inline and changes nothing', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Whitelist')));
    fireEvent.change(screen.getByLabelText('Address or CIDR'), { target: { value: '10.1.2.3/33' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add' })));
    // A valid address with too long a prefix says so (it said "not an address").
    expect(screen.getByTestId('whitelist-error').textContent).toMatch(/prefix \/33 is too long: an IPv4 prefix is at most \/32/);
    expect(api.data.settings.whitelist.entries).toEqual([]);
    fireEvent.change(screen.getByLabelText('Address or CIDR'), { target: { value: '10.1.2.0/24' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add' })));
    expect(api.data.settings.whitelist.entries).toEqual(['10.1.2.0/24']);
    expect(screen.getByTestId('whitelist-entries').textContent).toContain('10.1.2.0/24');
    expect(screen.getByTestId('whitelist-builtin').textContent).toContain('127.0.0.0/8');
  });

  it('rules: the exact ufw command is shown before applying; cutting SSH needs the confirmation box', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Rules')));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'HTTP' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    expect(screen.getByTestId('rule-commands').textContent).toBe("ufw allow in from any to any port 80 proto tcp comment 'HTTP'");
    expect(api.data.rules).toHaveLength(2);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply' })));
    expect(api.data.rules.map((r) => r.port)).toEqual(['22', '443', '80']);

    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete rule 1' })));
    const apply = screen.getByRole('button', { name: 'Apply' }) as HTMLButtonElement;
    expect(screen.getByTestId('rule-preview').textContent).toContain('Cuts your own connection');
    expect(apply.disabled).toBe(true);
    await act(async () => fireEvent.click(screen.getByLabelText(/I understand/)));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply' })));
    expect(api.data.rules.map((r) => r.port)).toEqual(['443', '80']);
  });

  it('rules: the editor follows the list — it edits the rule it was opened on after other changes, starts afresh after its own, and says when its rule is gone', async () => {
    const { api } = await renderApp(); // SSH (22) is rule 1, HTTPS (443) rule 2
    await act(async () => fireEvent.click(nav('Rules')));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'SMTP' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply' })));
    expect(api.data.rules.map((r) => r.port)).toEqual(['22', '443', '25']);
    // After its own Apply the form is a new rule again (a second click added a duplicate before).
    expect(screen.getByRole('heading', { name: 'Add a rule' })).toBeTruthy();
    expect((screen.getByLabelText('Port') as HTMLInputElement).value).toBe('');

    // Edit SMTP (rule 3), then delete HTTPS from the list while the editor is open: SMTP is now rule 2.
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Edit rule 3' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete rule 2' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply' })));
    expect(api.data.rules.map((r) => r.port)).toEqual(['22', '25']);
    expect(screen.getByRole('heading', { name: 'Edit rule 2' })).toBeTruthy();
    // Move it up past SSH: still the same rule, now number 1.
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Move rule 2 up' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply' })));
    expect(api.data.rules.map((r) => r.port)).toEqual(['25', '22']);
    expect(screen.getByRole('heading', { name: 'Edit rule 1' })).toBeTruthy();
    await act(async () => fireEvent.change(screen.getByLabelText('Comment'), { target: { value: 'mail' } }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    expect(screen.getByTestId('rule-commands').textContent).toContain('delete 1');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply' })));
    // SMTP edited, SSH untouched (the editor used to keep number 2 and replace SSH).
    expect(api.data.rules.map((r) => [r.port, r.comment])).toEqual([['25', 'mail'], ['22', 'SSH']]);

    // Its rule deleted from under it: the editor says so and starts afresh.
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Edit rule 1' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete rule 1' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply' })));
    expect(screen.getByTestId('editor-note').textContent).toContain('was changed or deleted meanwhile');
    expect(screen.getByRole('heading', { name: 'Add a rule' })).toBeTruthy();
  });

  it('rules: a change to a rule that is no longer the one shown is refused, not applied to whatever took its number', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Rules')));
    // Someone else (the CLI, another window) deletes rule 1 behind this window's back.
    api.data.rules.splice(0, 1);
    api.data.rules.forEach((r, i) => (r.number = i + 1));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete rule 1' })));
    expect(screen.queryByTestId('rule-preview')).toBeNull();
    expect(document.querySelector('.notice-error')?.textContent).toContain('rule 1 is not the rule you saw any more');
    expect(api.data.rules.map((r) => r.port)).toEqual(['443']);
    // The list is read again: HTTPS shows as rule 1 now.
    expect(within(screen.getByTestId('rules-table')).getAllByRole('row')).toHaveLength(2);
  });

  it('rules: a confirmation given for one change does not carry over to the next previewed change', async () => {
    // Both rules keep an SSH port open: deleting either one needs its own confirmation.
    const { api } = await renderApp((a) => (a.data.rules[1]!.port = '22'));
    await act(async () => fireEvent.click(nav('Rules')));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete rule 1' })));
    await act(async () => fireEvent.click(screen.getByLabelText(/I understand/)));
    expect((screen.getByRole('button', { name: 'Apply' }) as HTMLButtonElement).disabled).toBe(false);
    // Without cancelling, the user previews another dangerous change.
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete rule 2' })));
    expect(screen.getByTestId('rule-commands').textContent).toContain('delete 2');
    expect((screen.getByLabelText(/I understand/) as HTMLInputElement).checked).toBe(false);
    expect((screen.getByRole('button', { name: 'Apply' }) as HTMLButtonElement).disabled).toBe(true);
    expect(api.data.rules).toHaveLength(2);
  });

  it('rules: enabling ufw or a deny policy that would lock out a connected user asks first, and applies only when confirmed', async () => {
    const { api } = await renderApp((a) => {
      a.data.state.firewall.enabled = false;
      a.data.remoteSessions = [{ localPort: 2222, remote: '192.0.2.50' }];
    });
    await act(async () => fireEvent.click(nav('Rules')));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Enable ufw' })));
    expect(api.data.state.firewall.enabled).toBe(false);
    expect(screen.getByTestId('policy-confirm').textContent).toContain('Turning ufw on refuses new connections to port 2222, which 192.0.2.50 is connected through now');
    // A question, not an error notice.
    expect(document.querySelector('.notice-error')).toBeNull();
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Enable ufw anyway' })));
    expect(api.data.state.firewall.enabled).toBe(true);
    expect(screen.queryByTestId('policy-confirm')).toBeNull();

    await act(async () => fireEvent.change(screen.getByLabelText('Default incoming'), { target: { value: 'reject' } }));
    await act(async () => fireEvent.click(within(screen.getByTestId('firewall-change')).getByRole('button', { name: 'Apply' })));
    expect(api.data.state.firewall.defaultIncoming).toBe('deny');
    await act(async () => fireEvent.click(within(screen.getByTestId('policy-confirm')).getByRole('button', { name: 'Cancel' })));
    expect(screen.queryByTestId('policy-confirm')).toBeNull();
    expect(api.data.state.firewall.defaultIncoming).toBe('deny');
    await act(async () => fireEvent.change(screen.getByLabelText('Default incoming'), { target: { value: 'reject' } }));
    await act(async () => fireEvent.click(within(screen.getByTestId('firewall-change')).getByRole('button', { name: 'Apply' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Set incoming to reject anyway' })));
    expect(api.data.state.firewall.defaultIncoming).toBe('reject');
  });

  it('rules: opening every port (incoming allow) or turning logging off asks first, and applies only when confirmed', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Rules')));
    await act(async () => fireEvent.change(screen.getByLabelText('Default incoming'), { target: { value: 'allow' } }));
    await act(async () => fireEvent.click(within(screen.getByTestId('firewall-change')).getByRole('button', { name: 'Apply' })));
    expect(api.data.state.firewall.defaultIncoming).toBe('deny');
    expect(screen.getByTestId('policy-confirm').textContent).toContain('every closed port opens');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Set incoming to allow anyway' })));
    expect(api.data.state.firewall.defaultIncoming).toBe('allow');

    const level = api.data.state.firewall.loggingLevel;
    await act(async () => fireEvent.change(screen.getByLabelText('Logging'), { target: { value: 'off' } }));
    await act(async () => fireEvent.click(within(screen.getByTestId('firewall-change')).getByRole('button', { name: 'Apply' })));
    expect(api.data.state.firewall.loggingLevel).toBe(level);
    expect(screen.getByTestId('policy-confirm').textContent).toContain('Portcullis sees no scanners');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Turn logging off anyway' })));
    expect(api.data.state.firewall.loggingLevel).toBe('off');
  });

  it('doctor: a fix that would lock out a connected user asks under its check before it runs', async () => {
    const { api } = await renderApp((a) => {
      a.data.state.firewall.enabled = false;
      a.data.remoteSessions = [{ localPort: 22, remote: '192.0.2.50' }];
      a.data.doctor[1] = { id: 'ufw-enabled', title: 'ufw enabled', level: 'error', detail: 'ufw is not enabled', fix: { id: 'enable-ufw', label: 'Enable ufw' } };
    });
    await act(async () => fireEvent.click(nav('Doctor')));
    // The fix says what it will do first, then runs.
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Enable ufw…' })));
    expect(screen.getByTestId('fix-preview').textContent).toContain('Runs `ufw enable`');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Enable ufw' })));
    expect(api.data.state.firewall.enabled).toBe(false);
    const ask = screen.getByTestId('doctor-confirm');
    expect(ask.closest('li')?.textContent).toContain('ufw enabled');
    await act(async () => fireEvent.click(within(ask).getByRole('button', { name: 'Enable ufw anyway' })));
    expect(api.data.state.firewall.enabled).toBe(true);
    expect(screen.queryByTestId('doctor-confirm')).toBeNull();
  });

  it('rules: an invalid port is explained and nothing is previewed', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Rules')));
    fireEvent.change(screen.getByLabelText('Port'), { target: { value: '70000' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    expect(screen.getByTestId('rule-error').textContent).toBe('Check the marked field: Port.');
    expect(screen.getByTestId('rule-port-error').textContent).toBe('ports run from 1 to 65535');
    expect(api.calls.some((c) => c.method === 'previewRule')).toBe(false);
  });

  it('rules: each refused field shows its reason under it, marked invalid; editing a field clears its own reason', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Rules')));
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '300.1.1.1' } });
    fireEvent.change(screen.getByLabelText('Port'), { target: { value: '70000' } });
    fireEvent.change(screen.getByLabelText('Comment'), { target: { value: 'ok comment' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    const from = screen.getByLabelText('From');
    const port = screen.getByLabelText('Port');
    expect(from.getAttribute('aria-invalid')).toBe('true');
    expect(port.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByLabelText('Comment').getAttribute('aria-invalid')).toBe('false');
    expect(document.getElementById(from.getAttribute('aria-describedby')!)!.textContent).toMatch(/"300.1.1.1" is not an address or CIDR/);
    expect(document.getElementById(port.getAttribute('aria-describedby')!)!.textContent).toBe('ports run from 1 to 65535');
    expect(screen.getByTestId('rule-comment-error').textContent).toBe('');
    expect(screen.getByTestId('rule-error').textContent).toBe('Check the marked fields: From, Port.');
    fireEvent.change(port, { target: { value: '8080' } });
    expect(port.getAttribute('aria-invalid')).toBe('false');
    expect(screen.getByTestId('rule-port-error').textContent).toBe('');
    expect(from.getAttribute('aria-invalid')).toBe('true');
    // The summary names what is still marked, and goes once nothing is.
    expect(screen.getByTestId('rule-error').textContent).toBe('Check the marked field: From.');
    fireEvent.change(from, { target: { value: '10.0.0.0/8' } });
    expect(screen.getByTestId('rule-error').textContent).toBe('');
    expect(api.calls.some((c) => c.method === 'previewRule')).toBe(false);
  });

  it('thresholds: an invalid value shows its reason and Save stays disabled', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Thresholds')));
    fireEvent.change(screen.getByLabelText('Ban time (seconds)'), { target: { value: '0' } });
    expect(screen.getByText('bantime must be more than 0 seconds')).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText('Ban time (seconds)'), { target: { value: '7200' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Save' })));
    expect(api.data.settings.ban.bantimeSec).toBe(7200);
  });

  it('whitelist: "test against my recent log" replays with the typed entry and says who would still be banned', async () => {
    const { api } = await renderApp((a) => {
      a.simulateScan('203.0.113.10', [21, 23, 25, 80, 110], false);
      a.simulateScan('198.51.100.20', [21, 23, 25, 80, 110], false);
    });
    await act(async () => fireEvent.click(nav('Thresholds')));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Test against my recent log' })));
    const before = within(screen.getByTestId('threshold-test-proposed')).getAllByRole('row').slice(1).map((r) => r.querySelector('td')!.textContent);
    expect(before).toContain('203.0.113.10');

    await act(async () => fireEvent.click(nav('Whitelist')));
    expect(screen.queryByTestId('threshold-test')).toBeNull(); // the Thresholds result stays on its screen
    fireEvent.change(screen.getByLabelText('Address or CIDR'), { target: { value: '203.0.113.0/33' } });
    const calls = api.calls.length;
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Test against my recent log' })));
    expect(screen.getByTestId('whitelist-error').textContent).not.toBe('');
    expect(api.calls.length).toBe(calls); // an invalid entry is not sent

    fireEvent.change(screen.getByLabelText('Address or CIDR'), { target: { value: '203.0.113.0/24' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Test against my recent log' })));
    const after = within(screen.getByTestId('threshold-test-proposed')).queryAllByRole('row').slice(1).map((r) => r.querySelector('td')!.textContent);
    expect(after).not.toContain('203.0.113.10');
    expect(after).toContain('198.51.100.20');
    expect(after.length).toBe(before.filter((ip) => !ip!.startsWith('203.0.113.')).length);
    expect(api.data.settings.whitelist.entries).not.toContain('203.0.113.0/24'); // a test changes nothing
  });

  it('settings: "Start Portcullis at login" is offered in the desktop window only, not under portcullis serve; the log source under serve only', async () => {
    await renderApp();
    await act(async () => fireEvent.click(nav('Settings')));
    expect(screen.queryByLabelText('Start Portcullis at login')).toBeNull();
    expect(screen.getByLabelText('Log source')).toBeTruthy();
    expect(screen.getByLabelText('Notify me when a scanner is banned')).toBeTruthy();
    // The silent-log warning delay is a setting too, validated by the schema (at least a minute).
    fireEvent.change(screen.getByLabelText('Warn when the kernel log is silent for (seconds)'), { target: { value: '10' } });
    expect(screen.getByText('warn after at least 60 seconds of silence')).toBeTruthy();
    cleanup();
    await renderApp((a) => {
      (a as { onNavigate?: unknown }).onNavigate = () => () => {};
    });
    await act(async () => fireEvent.click(nav('Settings')));
    expect(screen.getByLabelText('Start Portcullis at login')).toBeTruthy();
    // The desktop app reads the kernel log through its helper whatever the setting says.
    expect(screen.queryByLabelText('Log source')).toBeNull();
    expect(screen.getByLabelText('Keep blocked packets for (days)')).toBeTruthy();
  });

  it('settings: what is typed and not saved survives saving another form and a change of protection state', async () => {
    const { api, store } = await renderApp(); // browser shell: the general form lists its fields without "start at login"
    await act(async () => fireEvent.click(nav('Settings')));
    const perMinute = () => screen.getByLabelText('Notifications per minute at most') as HTMLInputElement;
    await act(async () => fireEvent.change(perMinute(), { target: { value: '7' } }));
    // Protection paused and resumed (the whole window re-renders with the new state).
    await act(async () => store.getState().setProtection(false));
    await act(async () => store.getState().setProtection(true));
    expect(perMinute().value).toBe('7');
    // The other form saved: its change lands, this one's unsaved 7 stays, untouched fields follow the saved settings.
    const logs = screen.getByRole('region', { name: 'Log source and retention' });
    await act(async () => fireEvent.change(within(logs).getByLabelText('Keep blocked packets for (days)'), { target: { value: '9' } }));
    await act(async () => fireEvent.click(within(logs).getByRole('button', { name: 'Save' })));
    expect(api.data.settings.logs.retentionDays).toBe(9);
    expect(perMinute().value).toBe('7');
    expect(api.data.settings.notifications.maxPerMinute).not.toBe(7);
    await act(async () => fireEvent.click(within(screen.getByRole('region', { name: 'Notifications and appearance' })).getByRole('button', { name: 'Save' })));
    expect(api.data.settings.notifications.maxPerMinute).toBe(7);
  });

  it('offenders: a ban lifted early says so in the history, instead of reading as if it ran its full length', async () => {
    const { store } = await renderApp((a) => a.simulateScan('203.0.113.77', [21, 22, 23, 25, 80], true));
    await act(async () => fireEvent.click(nav('Offenders')));
    await act(async () => store.getState().unban('203.0.113.77'));
    await act(async () => store.getState().openOffender('203.0.113.77'));
    const item = screen.getByText(/→ ended .* \(lifted\)/);
    expect(item.textContent).toMatch(/ of 1\u00a0h/);
  });

  it('doctor: while read-only only the "Connect helper" fix can be pressed', async () => {
    const { api } = await renderApp((a) => {
      a.data.state.helper = { connected: false, readOnlyReason: 'you declined the administrator prompt' };
      a.data.doctor = [
        { id: 'helper', title: 'Root helper', level: 'error', detail: 'you declined the administrator prompt', fix: { id: 'connect-helper', label: 'Connect helper' } },
        { id: 'per-source-logging', title: 'Per-source logging', level: 'warn', detail: 'not installed', fix: { id: 'install-per-source-logging', label: 'Install per-source logging' } },
      ];
    });
    await act(async () => fireEvent.click(nav('Doctor')));
    expect((screen.getByRole('button', { name: 'Install per-source logging…' }) as HTMLButtonElement).disabled).toBe(true);
    const connect = screen.getByRole('button', { name: 'Connect helper…' }) as HTMLButtonElement;
    expect(connect.disabled).toBe(false);
    await act(async () => fireEvent.click(connect));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Connect helper' })));
    expect(api.calls.filter((c) => c.method === 'runDoctorFix').map((c) => (c.params as { fixId: string }).fixId)).toEqual(['connect-helper']);
  });

  it('doctor: a fix button runs the fix', async () => {
    const { api } = await renderApp();
    await act(async () => fireEvent.click(nav('Doctor')));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Install per-source logging…' })));
    // What it will write, before it runs; nothing ran yet.
    expect(screen.getByTestId('fix-preview').textContent).toContain('/etc/ufw/after.rules and after6.rules');
    expect(api.data.state.firewall.perSourceLogging).toBe(false);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Install per-source logging' })));
    expect(api.data.state.firewall.perSourceLogging).toBe(true);
    expect(screen.queryByRole('button', { name: 'Install per-source logging…' })).toBeNull();
    // …and confirms after.
    expect(screen.getByTestId('fix-done').textContent).toBe('Done: Install per-source logging. The check passes now.');
    expect(screen.getByTestId('doctor-summary').textContent).toBe('All 4 checks pass.');
  });
});
