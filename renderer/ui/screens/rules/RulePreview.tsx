import { useEffect, useRef, useState } from 'react';
import { selectIsBusy } from '../../../store/selectors.ts';
import { useActions, useApp } from '../../context.ts';

/**
 * "This will run" for the pending rule change, with Apply and Cancel. It is rendered next to the
 * action that asked for it (under the table row, under the editor) and takes the focus when a new
 * preview appears, so keyboard and screen-reader users land on it (it used to sit at the top of the
 * page, partly off-screen, with the focus left on the body).
 */
export function RulePreview() {
  const pending = useApp((s) => s.rulePreview);
  const busy = useApp(selectIsBusy('rule'));
  const { applyRule, cancelRulePreview } = useActions();
  const [confirmed, setConfirmed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // A confirmation (or an error) belongs to the preview it was given for: a new preview — another
  // rule's Delete clicked without Cancel — starts unconfirmed, or one tick would apply both.
  const [shown, setShown] = useState(pending);
  if (pending !== shown) {
    setShown(pending);
    setConfirmed(false);
    setError(null);
  }
  const previewRef = useRef<HTMLElement>(null);
  useEffect(() => {
    if (!pending) return;
    previewRef.current?.focus({ preventScroll: true });
    previewRef.current?.scrollIntoView?.({ block: 'nearest' });
  }, [pending]);
  if (!pending) return null;
  const { preview } = pending;
  return (
    <section className="card preview" aria-labelledby="preview-title" data-testid="rule-preview" ref={previewRef} tabIndex={-1}>
      <div className="card-head">
        <h2 id="preview-title">This will run</h2>
      </div>
      <pre className="commands" data-testid="rule-commands">
        {preview.commands.join('\n')}
      </pre>
      {preview.warnings.length > 0 && (
        <ul className="warnings" role="alert">
          {preview.warnings.map((w, i) => (
            <li key={i}>
              <strong>{w.kind === 'cuts-own-connection' ? 'Cuts your own connection' : w.kind === 'cuts-session' ? 'Cuts an active session' : w.kind === 'disables-firewall' ? 'Disables the firewall' : 'Warning'}:</strong> {w.detail}
            </li>
          ))}
        </ul>
      )}
      {preview.needsConfirmation && (
        <label className="check">
          <input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} />I understand, apply it anyway
        </label>
      )}
      <div className="field-msg error-text" role={error ? 'alert' : undefined}>
        {error ?? ''}
      </div>
      <div className="row gap">
        <button
          type="button"
          className="primary"
          disabled={busy || (preview.needsConfirmation && !confirmed)}
          onClick={async () => {
            const r = await applyRule(preview.needsConfirmation && confirmed);
            setError(r.ok ? null : r.error);
            if (r.ok) setConfirmed(false);
          }}
        >
          Apply
        </button>
        <button
          type="button"
          className="ghost"
          onClick={() => {
            setConfirmed(false);
            setError(null);
            cancelRulePreview();
          }}
        >
          Cancel
        </button>
      </div>
    </section>
  );
}
