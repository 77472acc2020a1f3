// @vitest-environment jsdom
/**
 * The Rules screen acts only when asked: firewall dropdowns preview the ufw command and wait for
 * Apply (focus stays on the dropdown); a rule preview shows next to the action that asked for it and
 * takes the focus; the editor moves a rule through its position field; "Default routed" shows what
 * ufw says; the rule draft model (store/ruleDraft.ts) turns the form into the right op.
 */
import { act, fireEvent, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { UfwRule } from '../../electron/shared/api.ts';
import { draftFromRule, opFromDraft } from '../../renderer/store/ruleDraft.ts';
import { type FakeApi, nav, renderApp } from './render-app.tsx';

async function renderRules(tweak?: (api: FakeApi) => void) {
  const rendered = await renderApp(tweak);
  await act(async () => fireEvent.click(nav('Rules')));
  return rendered;
}

const RULE: UfwRule = { number: 3, v6: false, action: 'allow', direction: 'in', from: 'Anywhere', to: 'Anywhere', port: '443', proto: 'tcp', comment: 'web' } as UfwRule;

describe('Rules: firewall dropdowns preview before they run', () => {
  it('changing "Default outgoing" runs nothing: it shows `ufw default deny outgoing`, focus stays on the dropdown; Cancel puts the value back', async () => {
    const { api } = await renderRules();
    const select = screen.getByLabelText('Default outgoing') as HTMLSelectElement;
    select.focus();
    await act(async () => fireEvent.change(select, { target: { value: 'deny' } }));
    expect(api.calls.some((c) => c.method === 'setDefaultPolicy')).toBe(false);
    expect(api.data.state.firewall.defaultOutgoing ?? 'allow').toBe('allow');
    expect(screen.getByTestId('firewall-command').textContent).toBe('ufw default deny outgoing');
    expect(document.activeElement).toBe(select);
    await act(async () => fireEvent.click(within(screen.getByTestId('firewall-change')).getByRole('button', { name: 'Cancel' })));
    expect(screen.queryByTestId('firewall-change')).toBeNull();
    expect((screen.getByLabelText('Default outgoing') as HTMLSelectElement).value).toBe('allow');
    expect(api.calls.some((c) => c.method === 'setDefaultPolicy')).toBe(false);
  });

  it('Apply runs the shown change once', async () => {
    const { api } = await renderRules();
    await act(async () => fireEvent.change(screen.getByLabelText('Default outgoing'), { target: { value: 'reject' } }));
    await act(async () => fireEvent.click(within(screen.getByTestId('firewall-change')).getByRole('button', { name: 'Apply' })));
    expect(api.calls.filter((c) => c.method === 'setDefaultPolicy').map((c) => c.params)).toEqual([{ direction: 'outgoing', policy: 'reject', confirm: false }]);
    expect(api.data.state.firewall.defaultOutgoing).toBe('reject');
    expect(screen.queryByTestId('firewall-change')).toBeNull();
    await act(async () => fireEvent.change(screen.getByLabelText('Logging'), { target: { value: 'medium' } }));
    expect(screen.getByTestId('firewall-command').textContent).toBe('ufw logging medium');
    expect(api.calls.some((c) => c.method === 'setLogging')).toBe(false);
  });

  it('"Default routed" shows what ufw says: disabled (IP forwarding off), not deny', async () => {
    await renderRules((a) => {
      a.data.state.firewall.defaultRouted = 'disabled';
    });
    const routed = screen.getByLabelText('Default routed') as HTMLSelectElement;
    expect(routed.value).toBe('disabled');
    expect(routed.selectedOptions[0]!.textContent).toBe('disabled (IP forwarding is off)');
  });
});

describe('Rules: the rule preview is next to its action and takes the focus', () => {
  it("a row's Delete shows the preview in the row under it, focused", async () => {
    await renderRules();
    const table = screen.getByTestId('rules-table');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete rule 2' })));
    const preview = screen.getByTestId('rule-preview');
    expect(table.contains(preview)).toBe(true);
    const row = preview.closest('tr')!;
    expect(row.previousElementSibling!.querySelector('td')!.textContent).toBe('2');
    expect(document.activeElement).toBe(preview);
  });

  it("the editor's preview shows in the editor, focused; ↑ on a row previews a move (delete + insert)", async () => {
    await renderRules();
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'HTTP' })));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    const preview = screen.getByTestId('rule-preview');
    expect(screen.getByRole('region', { name: 'Add a rule' }).contains(preview)).toBe(true);
    expect(document.activeElement).toBe(preview);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Move rule 2 up' })));
    expect(screen.getByTestId('rule-commands').textContent).toMatch(/^ufw --force delete 2\nufw insert 1/);
    expect(screen.getByTestId('rules-table').contains(screen.getByTestId('rule-preview'))).toBe(true);
  });

  it("the editor's Position field moves an edited rule; a port range written 8000-8100 is taken as 8000:8100", async () => {
    const { api } = await renderRules();
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Edit rule 2' })));
    fireEvent.change(screen.getByLabelText('Position'), { target: { value: '1' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    expect(api.calls.filter((c) => c.method === 'previewRule').at(-1)!.params).toMatchObject({ op: { kind: 'move', number: 2, to: 1 } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Apply' })));
    expect(api.data.rules[0]!.port).toBe('443');

    fireEvent.change(screen.getByLabelText('Port'), { target: { value: '8000-8100' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    expect(screen.getByTestId('rule-error').textContent).toBe('');
    expect(api.calls.filter((c) => c.method === 'previewRule').at(-1)!.params).toMatchObject({ op: { kind: 'add', rule: { port: '8000:8100' } } });
  });
});

describe('rule draft model', () => {
  it('an edit that only changes the position is a move; with other changes an edit with `to`; without a position an edit in place', () => {
    const d = draftFromRule(RULE);
    expect(opFromDraft({ ...d, position: '1' })).toMatchObject({ kind: 'move', number: 3, to: 1 });
    expect(opFromDraft({ ...d, position: '1', comment: 'https' })).toMatchObject({ kind: 'edit', number: 3, to: 1, rule: { comment: 'https' } });
    expect(opFromDraft({ ...d, comment: 'https' })).not.toHaveProperty('to');
    expect(opFromDraft({ ...d, position: '3' })).toMatchObject({ kind: 'edit', number: 3 });
  });

  it("an edit sends the rule's interface: a comment-only edit of a rule on wg0 is a rule on wg0", () => {
    const d = draftFromRule({ ...RULE, iface: 'wg0' });
    expect(opFromDraft({ ...d, comment: 'vpn' })).toMatchObject({ kind: 'edit', rule: { iface: 'wg0', comment: 'vpn' } });
    expect(opFromDraft({ ...d, iface: '' })).not.toHaveProperty('rule.iface');
  });
});

describe('Rules: an edit keeps what the rule is, or is refused', () => {
  const VPN: UfwRule = { number: 3, v6: false, action: 'allow', direction: 'in', from: 'Anywhere', to: 'Anywhere', port: '22', proto: 'tcp', iface: 'wg0', comment: 'ssh over vpn', portcullis: false };
  const LOGGED: UfwRule = { ...VPN, number: 4, iface: undefined, port: '2200', log: 'log', comment: 'logged' } as UfwRule;
  const withRules = (api: FakeApi) => {
    api.data.rules.push(structuredClone(VPN), structuredClone(LOGGED));
  };

  it("the table shows a rule's interface; editing only its comment keeps the interface (it was dropped: the rule opened to every interface)", async () => {
    const { api } = await renderRules(withRules);
    const table = screen.getByTestId('rules-table');
    const heads = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    const row = within(table).getAllByRole('row')[3]!;
    expect(within(row).getAllByRole('cell')[heads.indexOf('Interface')]!.textContent).toBe('wg0');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Edit rule 3' })));
    expect((screen.getByLabelText('Interface') as HTMLInputElement).value).toBe('wg0');
    fireEvent.change(screen.getByLabelText('Comment'), { target: { value: 'ssh over vpn only' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Preview command' })));
    expect(api.calls.filter((c) => c.method === 'previewRule').at(-1)!.params).toMatchObject({ op: { kind: 'edit', number: 3, rule: { port: '22', iface: 'wg0', comment: 'ssh over vpn only' } } });
  });

  it('Edit on a rule with per-rule logging says why it cannot be edited here, and loads nothing into the form', async () => {
    const { api } = await renderRules(withRules);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Edit rule 4' })));
    expect(screen.getByTestId('editor-note').textContent).toMatch(/^Rule 4 has per-rule logging \(log\), which the rule editor cannot re-create/);
    expect(screen.getByRole('heading', { name: 'Add a rule' })).toBeTruthy();
    expect((screen.getByLabelText('Port') as HTMLInputElement).value).toBe('');
    expect(api.calls.some((c) => c.method === 'previewRule')).toBe(false);
  });
});

describe("Rules: Portcullis's ban rules", () => {
  it('lists each ban rule (number, source, action, comment) with an Unban that lifts its address; with none, says where set bans are', async () => {
    const { api } = await renderRules((a) => {
      a.data.state.backend = 'ufw';
      void a.call('ban', { ip: '203.0.113.9' } as never);
    });
    const table = screen.getByTestId('ban-rules');
    expect(within(table).getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['#', 'From', 'Action', 'Comment', 'Actions']);
    const row = within(table).getAllByRole('row')[1]!;
    expect(within(row).getAllByRole('cell').map((c) => c.textContent)).toEqual(['1', '203.0.113.9', 'deny', 'portcullis ban', 'Unban']);
    await act(async () => fireEvent.click(within(row).getByRole('button', { name: 'Unban' })));
    expect(api.calls.filter((c) => c.method === 'unban').map((c) => c.params)).toEqual([{ ip: '203.0.113.9' }]);
    expect(within(screen.getByTestId('ban-rules')).getByRole('cell').textContent).toBe('No ban rules in ufw (with the ipset backend, bans are listed under Offenders)');
  });
});
