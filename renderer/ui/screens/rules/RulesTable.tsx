import { Fragment, type ReactNode } from 'react';
import type { UfwRule } from '../../../../electron/shared/api.ts';
import { addrOf, expectOf } from '../../../store/ruleDraft.ts';
import { selectReadOnlyReason } from '../../../store/selectors.ts';
import { useActions, useApp } from '../../context.ts';
import { RulePreview } from './RulePreview.tsx';

/** A column of a rule table after the rule number: its heading and what a rule shows in it. */
interface RuleColumn {
  head: string;
  cell: (r: UfwRule) => ReactNode;
  className?: string;
}

/**
 * The one table of ufw rules (the user's, and Portcullis's ban rules): the rule number first, then
 * `columns`, then the row's buttons; `below` a row, what belongs under it (a preview); `empty`
 * when there is no rule.
 */
function NumberedRules(p: {
  rules: UfwRule[];
  columns: RuleColumn[];
  actions: (r: UfwRule, i: number) => ReactNode;
  actionsClassName?: string;
  below?: (r: UfwRule) => ReactNode;
  empty: ReactNode;
  className: string;
  testId: string;
}) {
  const width = p.columns.length + 2;
  return (
    <table className={p.className} data-testid={p.testId}>
      <thead>
        <tr>
          <th scope="col" className="num">
            #
          </th>
          {p.columns.map((c) => (
            <th key={c.head} scope="col">
              {c.head}
            </th>
          ))}
          <th scope="col">
            <span className="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {p.rules.map((r, i) => {
          const below = p.below?.(r);
          return (
            <Fragment key={`${r.number}`}>
              <tr>
                <td className="num">{r.number}</td>
                {p.columns.map((c) => (
                  <td key={c.head} className={c.className}>
                    {c.cell(r)}
                  </td>
                ))}
                <td className={p.actionsClassName}>{p.actions(r, i)}</td>
              </tr>
              {below && (
                <tr className="preview-row">
                  <td colSpan={width}>{below}</td>
                </tr>
              )}
            </Fragment>
          );
        })}
        {p.rules.length === 0 && (
          <tr>
            <td colSpan={width} className="muted">
              {p.empty}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

const USER_COLUMNS: RuleColumn[] = [
  { head: 'IP', cell: (r) => (r.v6 ? 'v6' : 'v4') },
  { head: 'Action', cell: (r) => <span className={`badge ${r.action === 'allow' ? 'badge-ok' : r.action === 'limit' ? 'badge-warn' : 'badge-error'}`}>{r.action}</span> },
  { head: 'Dir', cell: (r) => r.direction },
  { head: 'From', cell: (r) => r.from, className: 'mono' },
  { head: 'To', cell: (r) => r.to, className: 'mono' },
  { head: 'Port', cell: (r) => r.app ?? (r.port || 'any') },
  { head: 'Proto', cell: (r) => r.proto },
  // A route rule's outgoing interface after its incoming one.
  { head: 'Interface', cell: (r) => (r.ifaceOut ? `${r.iface ?? 'any'} → ${r.ifaceOut}` : r.iface ?? 'any'), className: 'mono' },
  { head: 'Comment', cell: (r) => r.comment },
];

/** The user's rules, each with ↑/↓, Edit and Delete. */
export function RulesTable({ rules, onEdit }: { rules: UfwRule[]; onEdit: (r: UfwRule) => void }) {
  const { previewRule } = useActions();
  const readOnly = useApp(selectReadOnlyReason) !== null;
  // A row's ↑/↓/Delete shows its preview right under that row.
  const previewAt = useApp((s) => (s.rulePreview?.origin === 'table' && s.rulePreview.op.kind !== 'add' ? s.rulePreview.op.number : null));
  return (
    <NumberedRules
      rules={rules}
      columns={USER_COLUMNS}
      className="table"
      testId="rules-table"
      empty="No rules yet."
      below={(r) => (previewAt === r.number ? <RulePreview /> : null)}
      actionsClassName="row-actions"
      actions={(r, i) => (
        <>
          <button type="button" className="small ghost" disabled={readOnly || i === 0} aria-label={`Move rule ${r.number} up`} onClick={() => void previewRule({ kind: 'move', number: r.number, to: r.number - 1, expect: expectOf(r) })}>
            ↑
          </button>
          <button type="button" className="small ghost" disabled={readOnly || i === rules.length - 1} aria-label={`Move rule ${r.number} down`} onClick={() => void previewRule({ kind: 'move', number: r.number, to: r.number + 1, expect: expectOf(r) })}>
            ↓
          </button>
          <button type="button" className="small" disabled={readOnly} aria-label={`Edit rule ${r.number}`} onClick={() => onEdit(r)}>
            Edit
          </button>
          <button type="button" className="small danger" disabled={readOnly} aria-label={`Delete rule ${r.number}`} onClick={() => void previewRule({ kind: 'delete', number: r.number, expect: expectOf(r) })}>
            Delete
          </button>
        </>
      )}
    />
  );
}

const BAN_COLUMNS: RuleColumn[] = [
  { head: 'From', cell: (r) => r.from, className: 'mono' },
  { head: 'Action', cell: (r) => r.action },
  { head: 'Comment', cell: (r) => r.comment },
];

/** Portcullis's own ban rules in ufw, each with Unban. */
export function BanRulesTable({ rules }: { rules: UfwRule[] }) {
  const { unban } = useActions();
  const readOnly = useApp(selectReadOnlyReason) !== null;
  return (
    <NumberedRules
      rules={rules}
      columns={BAN_COLUMNS}
      className="table compact"
      testId="ban-rules"
      // With the ipset backend, bans live in a set, not in ufw rules.
      empty="No ban rules in ufw (with the ipset backend, bans are listed under Offenders)"
      actions={(r) => (
        <button type="button" className="small" disabled={readOnly} onClick={() => void unban(addrOf(r.from).replace(/\/(32|128)$/, ''))}>
          Unban
        </button>
      )}
    />
  );
}
