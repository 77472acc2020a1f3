import { useState } from 'react';
import { CONNECT_HELPER_FIX_ID } from '../../../electron/shared/api.ts';
import { selectReadOnlyReason } from '../../store/selectors.ts';
import { useActions, useApp } from '../context.ts';
import { ConfirmAsk, useConfirmable } from './common.tsx';

const ICON = { ok: '✓', warn: '!', error: '✕' } as const;

export function Doctor() {
  const checks = useApp((s) => s.doctor);
  const err = useApp((s) => s.loadErrors.doctor);
  const busy = useApp((s) => s.busy);
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const { loadDoctor, runDoctorFix } = useActions();
  const [ask, attempt, clearAsk] = useConfirmable();
  // The check whose fix asked for confirmation: the question shows under that check.
  const [askedBy, setAskedBy] = useState<string | null>(null);
  return (
    <div className="screen">
      <header className="screen-head">
        <h1>Doctor</h1>
        <button type="button" onClick={() => void loadDoctor()}>
          Check again
        </button>
      </header>
      {err && (
        <p className="error-text" role="alert">
          {err}
        </p>
      )}
      {!checks && !err && <p className="muted">Checking…</p>}
      <ul className="checks" data-testid="doctor-checks">
        {(checks ?? []).map((c) => (
          <li key={c.id} className={`card check-row level-${c.level}`}>
            <span className={`check-icon icon-${c.level}`} aria-label={c.level}>
              {ICON[c.level]}
            </span>
            <div className="grow">
              <div className="check-title">{c.title}</div>
              <div className="muted">{c.detail}</div>
              {askedBy === c.id && <ConfirmAsk ask={ask} onDone={clearAsk} testId="doctor-confirm" />}
            </div>
            {c.fix && (
              <button type="button" className={c.level === 'error' ? 'primary' : ''} disabled={(readOnly && c.fix.id !== CONNECT_HELPER_FIX_ID) || `fix:${c.fix.id}` in busy} onClick={() => {
                  setAskedBy(c.id);
                  void attempt(`${c.fix!.label} anyway`, (confirm) => runDoctorFix(c.fix!.id, confirm));
                }}>
                {c.fix.label}
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
