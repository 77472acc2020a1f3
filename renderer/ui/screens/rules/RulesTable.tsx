import { Fragment } from 'react';
import type { UfwRule } from '../../../../electron/shared/api.ts';
import { expectOf } from '../../../store/ruleDraft.ts';
import { selectReadOnlyReason } from '../../../store/selectors.ts';
import { useActions, useApp } from '../../context.ts';
import { RulePreview } from './RulePreview.tsx';

export function RulesTable({ rules, onEdit }: { rules: UfwRule[]; onEdit: (r: UfwRule) => void }) {
  const { previewRule } = useActions();
  const readOnly = useApp(selectReadOnlyReason) !== null;
  // A row's ↑/↓/Delete shows its preview right under that row.
  const previewAt = useApp((s) => (s.rulePreview?.origin === 'table' && s.rulePreview.op.kind !== 'add' ? s.rulePreview.op.number : null));
  return (
    <table className="table" data-testid="rules-table">
      <thead>
        <tr>
          <th scope="col" className="num">
            #
          </th>
          <th scope="col">IP</th>
          <th scope="col">Action</th>
          <th scope="col">Dir</th>
          <th scope="col">From</th>
          <th scope="col">To</th>
          <th scope="col">Port</th>
          <th scope="col">Proto</th>
          <th scope="col">Comment</th>
          <th scope="col">
            <span className="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {rules.map((r, i) => (
          <Fragment key={`${r.number}`}>
          <tr>
            <td className="num">{r.number}</td>
            <td>{r.v6 ? 'v6' : 'v4'}</td>
            <td>
              <span className={`badge ${r.action === 'allow' ? 'badge-ok' : r.action === 'limit' ? 'badge-warn' : 'badge-error'}`}>{r.action}</span>
            </td>
            <td>{r.direction}</td>
            <td className="mono">{r.from}</td>
            <td className="mono">{r.to}</td>
            <td>{r.app ?? (r.port || 'any')}</td>
            <td>{r.proto}</td>
            <td>{r.comment}</td>
            <td className="row-actions">
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
            </td>
          </tr>
          {previewAt === r.number && (
            <tr className="preview-row">
              <td colSpan={10}>
                <RulePreview />
              </td>
            </tr>
          )}
          </Fragment>
        ))}
        {rules.length === 0 && (
          <tr>
            <td colSpan={10} className="muted">
              No rules yet.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
