import { useState } from 'react';
import { CONNECT_HELPER_FIX_ID } from '../../../electron/shared/api.ts';
import { DOCTOR_FIXES, isDoctorFixId } from '../../../electron/shared/doctor.ts';
import { selectReadOnlyReason } from '../../store/selectors.ts';
import { useActions, useApp } from '../context.ts';
import { ConfirmAsk, useConfirmable } from './common.tsx';

const ICON = { ok: '✓', warn: '!', error: '✕' } as const;

/** "All 7 checks pass" or "2 problems, 1 to look at, 4 fine". */
export function doctorSummary(checks: readonly { level: 'ok' | 'warn' | 'error' }[]): string {
  const n = { ok: 0, warn: 0, error: 0 };
  for (const c of checks) n[c.level]++;
  if (n.error === 0 && n.warn === 0) return `All ${checks.length} checks pass.`;
  const parts: string[] = [];
  if (n.error) parts.push(`${n.error} ${n.error === 1 ? 'problem' : 'problems'}`);
  if (n.warn) parts.push(`${n.warn} to look at`);
  parts.push(`${n.ok} fine`);
  return `${parts.join(', ')}.`;
}

export function Doctor() {
  const checks = useApp((s) => s.doctor);
  const err = useApp((s) => s.loadErrors.doctor);
  const busy = useApp((s) => s.busy);
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const { loadDoctor, runDoctorFix } = useActions();
  const [ask, attempt, clearAsk] = useConfirmable();
  // The check whose fix asked for confirmation: the question shows under that check.
  const [askedBy, setAskedBy] = useState<string | null>(null);
  // The fix being previewed ("this will …"), and the last one that ran.
  const [previewing, setPreviewing] = useState<string | null>(null);
  const [done, setDone] = useState<{ check: string; label: string } | null>(null);
  const run = (checkId: string, fix: { id: string; label: string }) => {
    setAskedBy(checkId);
    setPreviewing(null);
    void attempt(`${fix.label} anyway`, async (confirm) => {
      const r = await runDoctorFix(fix.id, confirm);
      if (r.ok) setDone({ check: checkId, label: fix.label });
      return r;
    });
  };
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
      {checks && (
        <p className="lead" data-testid="doctor-summary">
          {doctorSummary(checks)}
        </p>
      )}
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
              {c.fix && previewing === c.id && (
                <div className="fix-preview" role="group" aria-label={`${c.fix.label}: what it will do`} data-testid="fix-preview">
                  <p>
                    <strong>This will:</strong> {isDoctorFixId(c.fix.id) ? DOCTOR_FIXES[c.fix.id].preview : c.fix.label}
                  </p>
                  <div className="row gap">
                    <button type="button" className="primary" autoFocus onClick={() => run(c.id, c.fix!)}>
                      {c.fix.label}
                    </button>
                    <button type="button" onClick={() => setPreviewing(null)}>
                      Cancel
                    </button>
                  </div>
                </div>
              )}
              {done?.check === c.id && (
                <p className="ok-text" role="status" data-testid="fix-done">
                  Done: {done.label}.{c.level === 'ok' ? ' The check passes now.' : ' The check still reports a problem — see above.'}
                </p>
              )}
            </div>
            {c.fix && previewing !== c.id && (
              <button
                type="button"
                className={c.level === 'error' ? 'primary' : ''}
                disabled={(readOnly && c.fix.id !== CONNECT_HELPER_FIX_ID) || `fix:${c.fix.id}` in busy}
                onClick={() => {
                  setDone(null);
                  setPreviewing(c.id);
                }}
              >
                {c.fix.label}…
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
