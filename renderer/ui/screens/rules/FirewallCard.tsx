import { useState } from 'react';
import { selectReadOnlyReason } from '../../../store/selectors.ts';
import { useActions, useApp } from '../../context.ts';
import { ConfirmAsk, useConfirmable } from '../common.tsx';

type Policy = 'allow' | 'deny' | 'reject';
type Level = 'off' | 'low' | 'medium' | 'high' | 'full';
const DIRECTIONS = ['incoming', 'outgoing', 'routed'] as const;
type PolicyDirection = (typeof DIRECTIONS)[number];

/** A firewall-wide change chosen in a dropdown, not run yet. */
type Change = { kind: 'default'; direction: PolicyDirection; policy: Policy } | { kind: 'logging'; level: Level };

/** The ufw command a change runs, as the user would type it (the helper's fixed argv: `ufw default P D`, `ufw logging L`). */
export function commandOf(c: Change): string {
  return c.kind === 'default' ? `ufw default ${c.policy} ${c.direction}` : `ufw logging ${c.level}`;
}

/**
 * Default policies, logging level and ufw on/off. A dropdown only chooses: the change is shown as
 * the command it will run, with Apply and Cancel, as rule edits are (one ArrowDown on a focused
 * dropdown used to set the real policy at once). The focus stays on the dropdown. Apply asks first
 * where the service says the change could lock someone out (the lockout question).
 */
export function FirewallCard() {
  const rules = useApp((s) => s.rules);
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const busy = useApp((s) => 'policy' in s.busy || 'logging' in s.busy || 'ufw' in s.busy);
  const { setDefaultPolicy, setLogging, setUfwEnabled } = useActions();
  const [confirmDisable, setConfirmDisable] = useState(false);
  const [change, setChange] = useState<Change | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ask, attempt, clearAsk] = useConfirmable();
  if (!rules) return null;
  const dis = readOnly || busy;
  const choose = (next: Change, current: string) => {
    clearAsk();
    setError(null);
    setChange((next.kind === 'default' ? next.policy : next.level) === current ? null : next);
  };
  const apply = async (c: Change) => {
    const label = c.kind === 'default' ? `Set ${c.direction} to ${c.policy} anyway` : `Turn logging ${c.level} anyway`;
    await attempt(label, async (confirm) => {
      const r = c.kind === 'default' ? await setDefaultPolicy(c.direction, c.policy, confirm) : await setLogging(c.level, confirm);
      if (r.ok) setChange(null);
      else if (!r.needsConfirmation) setError(r.error);
      return r;
    });
  };
  const cancel = () => {
    setChange(null);
    setError(null);
    clearAsk();
  };
  return (
    <section className="card" aria-labelledby="policy-title">
      <div className="card-head">
        <h2 id="policy-title">Firewall</h2>
        <span className={`badge ${rules.enabled ? 'badge-ok' : 'badge-error'}`}>{rules.enabled ? 'active' : 'inactive'}</span>
      </div>
      <div className="row gap wrap">
        {DIRECTIONS.map((dir) => {
          const current = rules.defaults[dir];
          const value = change?.kind === 'default' && change.direction === dir ? change.policy : current;
          return (
            <div className="field inline" key={dir}>
              <label htmlFor={`policy-${dir}`}>Default {dir}</label>
              <select id={`policy-${dir}`} value={value} disabled={dis} onChange={(e) => choose({ kind: 'default', direction: dir, policy: e.target.value as Policy }, current)}>
                {/* What ufw says, also when it is none of the choices ("disabled": routed while IP forwarding is off). */}
                {!['allow', 'deny', 'reject'].includes(current) && (
                  <option value={current} disabled>
                    {current === 'disabled' ? 'disabled (IP forwarding is off)' : current || 'unknown'}
                  </option>
                )}
                <option value="allow">allow</option>
                <option value="deny">deny</option>
                <option value="reject">reject</option>
              </select>
            </div>
          );
        })}
        <div className="field inline">
          <label htmlFor="ufw-logging">Logging</label>
          <select
            id="ufw-logging"
            value={change?.kind === 'logging' ? change.level : rules.logging}
            disabled={dis}
            onChange={(e) => choose({ kind: 'logging', level: e.target.value as Level }, rules.logging)}
          >
            {!['off', 'low', 'medium', 'high', 'full'].includes(rules.logging) && (
              <option value={rules.logging} disabled>
                {rules.logging || 'unknown'}
              </option>
            )}
            {['off', 'low', 'medium', 'high', 'full'].map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div className="spacer" />
        {rules.enabled ? (
          confirmDisable ? (
            <div className="row gap" role="alert">
              <span className="warn-text">Turning ufw off removes every rule and every ban.</span>
              <button type="button" className="danger" disabled={dis} onClick={() => void setUfwEnabled(false, true).then(() => setConfirmDisable(false))}>
                Disable ufw
              </button>
              <button type="button" className="ghost" onClick={() => setConfirmDisable(false)}>
                Keep it on
              </button>
            </div>
          ) : (
            <button type="button" disabled={dis} onClick={() => setConfirmDisable(true)}>
              Disable ufw…
            </button>
          )
        ) : (
          <button type="button" className="primary" disabled={dis} onClick={() => void attempt('Enable ufw anyway', (confirm) => setUfwEnabled(true, confirm))}>
            Enable ufw
          </button>
        )}
      </div>
      {change && (
        <div className="firewall-change" role="region" aria-label="Firewall change to apply" aria-live="polite" data-testid="firewall-change">
          <span className="muted">This will run</span>
          <pre className="commands" data-testid="firewall-command">
            {commandOf(change)}
          </pre>
          <div className="field-msg error-text" role={error ? 'alert' : undefined}>
            {error ?? ''}
          </div>
          {!ask && (
            <div className="row gap">
              <button type="button" className="primary" disabled={dis} onClick={() => void apply(change)}>
                Apply
              </button>
              <button type="button" className="ghost" onClick={cancel}>
                Cancel
              </button>
            </div>
          )}
        </div>
      )}
      <ConfirmAsk
        ask={ask}
        onDone={() => {
          clearAsk();
          // A refused lockout question leaves the change chosen but not run: Cancel it too.
          if (change) setChange(null);
        }}
        testId="policy-confirm"
      />
    </section>
  );
}
