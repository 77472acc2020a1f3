import { useEffect, useRef, useState } from 'react';
import { findExpectedRule, type RuleExpect, type UfwRule } from '../../../electron/shared/api.ts';
import { selectIsBusy, selectReadOnlyReason } from '../../store/selectors.ts';
import { useActions, useApp } from '../context.ts';
import { ConfirmAsk, useConfirmable } from './common.tsx';

type Action = 'allow' | 'deny' | 'reject' | 'limit';
type Direction = 'in' | 'out' | 'fwd';
type Proto = 'tcp' | 'udp' | 'any';

interface Draft {
  number: number | null;
  /** The rule being edited as it was shown (null for a new rule): the change says which rule it means. */
  original: UfwRule | null;
  action: Action;
  direction: Direction;
  from: string;
  to: string;
  port: string;
  proto: Proto;
  app: string;
  comment: string;
  position: string;
}

const EMPTY_DRAFT: Draft = { number: null, original: null, action: 'allow', direction: 'in', from: '', to: '', port: '', proto: 'tcp', app: '', comment: '', position: '' };

export const PRESETS: { name: string; port: string; proto: Proto }[] = [
  { name: 'SSH', port: '22', proto: 'tcp' },
  { name: 'HTTP', port: '80', proto: 'tcp' },
  { name: 'HTTPS', port: '443', proto: 'tcp' },
  { name: 'DNS', port: '53', proto: 'any' },
  { name: 'SMTP', port: '25', proto: 'tcp' },
  { name: 'IMAPS', port: '993', proto: 'tcp' },
  { name: 'Samba', port: '137,138', proto: 'udp' },
  { name: 'WireGuard', port: '51820', proto: 'udp' },
];

/** ufw prints "Anywhere" / "Anywhere (v6)" for any; the editor speaks "any". */
function addrOf(text: string): string {
  const t = text.replace(/\s*\(v6\)$/, '').trim();
  return /^anywhere$/i.test(t) ? '' : t;
}

/** A rule as shown, for a change to say which rule it is about (every field but the number). */
export function expectOf(r: UfwRule): RuleExpect {
  const { number: _number, ...rest } = r;
  return rest;
}

function draftFromRule(r: UfwRule): Draft {
  return {
    number: r.number,
    original: r,
    action: r.action,
    direction: r.direction,
    from: addrOf(r.from),
    to: addrOf(r.to),
    port: r.app ? '' : r.port,
    proto: r.proto === 'tcp' || r.proto === 'udp' ? r.proto : 'any',
    app: r.app ?? '',
    comment: r.comment,
    position: '',
  };
}

export function opFromDraft(d: Draft): unknown {
  const rule: Record<string, unknown> = {
    action: d.action,
    direction: d.direction,
    from: d.from.trim() || 'any',
    to: d.to.trim() || 'any',
    proto: d.app ? 'any' : d.proto,
    comment: d.comment.trim(),
  };
  if (d.app) rule.app = d.app;
  else if (d.port.trim()) rule.port = d.port.trim();
  if (d.number !== null) return d.original ? { kind: 'edit', number: d.number, rule, expect: expectOf(d.original) } : { kind: 'edit', number: d.number, rule };
  const position = d.position.trim() ? Number(d.position) : undefined;
  return position === undefined ? { kind: 'add', rule } : { kind: 'add', rule, position };
}

function Preview() {
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
  // A new preview is brought into view: it sits above the list, and the form that asked for it may be far below.
  const previewRef = useRef<HTMLElement>(null);
  useEffect(() => {
    previewRef.current?.scrollIntoView?.({ block: 'nearest' });
  }, [pending]);
  if (!pending) return null;
  const { preview } = pending;
  return (
    <section className="card preview" aria-labelledby="preview-title" data-testid="rule-preview" ref={previewRef}>
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

/** Names of the editor's fields, as the schema's paths and the labels say them. */
const FIELD_LABELS: Record<string, string> = { action: 'Action', direction: 'Direction', from: 'From', to: 'To', app: 'App profile', port: 'Port', proto: 'Protocol', comment: 'Comment', position: 'Position' };

/** A field's reason, under it (empty when none); the input names it with aria-describedby. */
function FieldError({ id, message }: { id: string; message: string | undefined }) {
  return (
    <div id={id} className="field-msg error-text" data-testid={id}>
      {message ?? ''}
    </div>
  );
}

function Editor({ draft, setDraft, appProfiles }: { draft: Draft; setDraft: (d: Draft) => void; appProfiles: string[] }) {
  const { previewRule } = useActions();
  const busy = useApp(selectIsBusy('rule'));
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const [error, setError] = useState<string | null>(null);
  /** Reasons the schema gave, at their fields; a field's reason goes once it is edited. */
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const upd = (patch: Partial<Draft>) => {
    setDraft({ ...draft, ...patch });
    const touched = Object.keys(patch).filter((k) => fieldErrors[k] !== undefined);
    if (touched.length) setFieldErrors(Object.fromEntries(Object.entries(fieldErrors).filter(([k]) => !touched.includes(k))));
  };
  /** The class of the field's box: marked invalid while it has a reason. */
  const fieldClass = (field: string, extra = '') => ['field', extra, fieldErrors[field] !== undefined ? 'field-invalid' : ''].filter(Boolean).join(' ');
  /** aria attributes of the input of `field`. */
  const invalid = (field: string) => ({ 'aria-invalid': fieldErrors[field] !== undefined, 'aria-describedby': `rule-${field}-error` });
  return (
    <section className="card" aria-labelledby="editor-title">
      <div className="card-head">
        <h2 id="editor-title">{draft.number === null ? 'Add a rule' : `Edit rule ${draft.number}`}</h2>
        {draft.number !== null && (
          <button type="button" className="ghost" onClick={() => setDraft(EMPTY_DRAFT)}>
            New rule instead
          </button>
        )}
      </div>
      <div className="presets" role="group" aria-label="Presets">
        {PRESETS.map((p) => (
          <button key={p.name} type="button" className="small" onClick={() => upd({ port: p.port, proto: p.proto, app: '', comment: draft.comment || p.name })}>
            {p.name}
          </button>
        ))}
      </div>
      <form
        className="rule-form"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await previewRule(opFromDraft(draft), 'editor');
          const fields = !r.ok && r.fields ? r.fields : {};
          setFieldErrors(fields);
          // Reasons shown at their fields are only named here; others (from the service) are said in full.
          const named = Object.keys(fields).filter((f) => FIELD_LABELS[f] !== undefined);
          setError(r.ok ? null : named.length && named.length === Object.keys(fields).length ? `Check the marked ${named.length === 1 ? 'field' : 'fields'}: ${named.map((f) => FIELD_LABELS[f]).join(', ')}.` : r.error);
        }}
      >
        <div className="field">
          <label htmlFor="rule-action">Action</label>
          <select id="rule-action" value={draft.action} onChange={(e) => upd({ action: e.target.value as Action })}>
            <option value="allow">allow</option>
            <option value="deny">deny</option>
            <option value="reject">reject</option>
            <option value="limit">limit</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="rule-direction">Direction</label>
          <select id="rule-direction" value={draft.direction} onChange={(e) => upd({ direction: e.target.value as Direction })}>
            <option value="in">in</option>
            <option value="out">out</option>
            <option value="fwd">forward</option>
          </select>
        </div>
        <div className={fieldClass('from')}>
          <label htmlFor="rule-from">From</label>
          <input id="rule-from" value={draft.from} placeholder="any" spellCheck={false} {...invalid('from')} onChange={(e) => upd({ from: e.target.value })} />
          <FieldError id="rule-from-error" message={fieldErrors.from} />
        </div>
        <div className={fieldClass('to')}>
          <label htmlFor="rule-to">To</label>
          <input id="rule-to" value={draft.to} placeholder="any" spellCheck={false} {...invalid('to')} onChange={(e) => upd({ to: e.target.value })} />
          <FieldError id="rule-to-error" message={fieldErrors.to} />
        </div>
        <div className={fieldClass('app')}>
          <label htmlFor="rule-app">App profile</label>
          <select id="rule-app" value={draft.app} {...invalid('app')} onChange={(e) => upd({ app: e.target.value })}>
            <option value="">— none —</option>
            {appProfiles.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
          <FieldError id="rule-app-error" message={fieldErrors.app} />
        </div>
        <div className={fieldClass('port')}>
          <label htmlFor="rule-port">Port</label>
          <input id="rule-port" value={draft.port} placeholder="any" disabled={draft.app !== ''} spellCheck={false} {...invalid('port')} onChange={(e) => upd({ port: e.target.value })} />
          <FieldError id="rule-port-error" message={fieldErrors.port} />
        </div>
        <div className={fieldClass('proto')}>
          <label htmlFor="rule-proto">Protocol</label>
          <select id="rule-proto" value={draft.proto} disabled={draft.app !== ''} {...invalid('proto')} onChange={(e) => upd({ proto: e.target.value as Proto })}>
            <option value="tcp">tcp</option>
            <option value="udp">udp</option>
            <option value="any">any</option>
          </select>
          <FieldError id="rule-proto-error" message={fieldErrors.proto} />
        </div>
        <div className={fieldClass('comment', 'wide')}>
          <label htmlFor="rule-comment">Comment</label>
          <input id="rule-comment" value={draft.comment} maxLength={100} {...invalid('comment')} onChange={(e) => upd({ comment: e.target.value })} />
          <FieldError id="rule-comment-error" message={fieldErrors.comment} />
        </div>
        {draft.number === null && (
          <div className={fieldClass('position')}>
            <label htmlFor="rule-position">Position</label>
            <input id="rule-position" value={draft.position} placeholder="last" inputMode="numeric" {...invalid('position')} onChange={(e) => upd({ position: e.target.value })} />
            <FieldError id="rule-position-error" message={fieldErrors.position} />
          </div>
        )}
        <div className="form-foot">
          <div className="field-msg error-text" role={error ? 'alert' : undefined} data-testid="rule-error">
            {error ?? ''}
          </div>
          <button type="submit" className="primary" disabled={busy || readOnly}>
            Preview command
          </button>
        </div>
      </form>
    </section>
  );
}

function RulesTable({ rules, onEdit }: { rules: UfwRule[]; onEdit: (r: UfwRule) => void }) {
  const { previewRule } = useActions();
  const readOnly = useApp(selectReadOnlyReason) !== null;
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
          <tr key={`${r.number}`}>
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

function Policies() {
  const rules = useApp((s) => s.rules);
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const busy = useApp((s) => 'policy' in s.busy || 'logging' in s.busy || 'ufw' in s.busy);
  const { setDefaultPolicy, setLogging, setUfwEnabled } = useActions();
  const [confirmDisable, setConfirmDisable] = useState(false);
  const [ask, attempt, clearAsk] = useConfirmable();
  if (!rules) return null;
  const dis = readOnly || busy;
  return (
    <section className="card" aria-labelledby="policy-title">
      <div className="card-head">
        <h2 id="policy-title">Firewall</h2>
        <span className={`badge ${rules.enabled ? 'badge-ok' : 'badge-error'}`}>{rules.enabled ? 'active' : 'inactive'}</span>
      </div>
      <div className="row gap wrap">
        {(['incoming', 'outgoing', 'routed'] as const).map((dir) => (
          <div className="field inline" key={dir}>
            <label htmlFor={`policy-${dir}`}>Default {dir}</label>
            <select id={`policy-${dir}`} value={rules.defaults[dir]} disabled={dis} onChange={(e) => {
                const policy = e.target.value as 'allow' | 'deny' | 'reject';
                void attempt(`Set ${dir} to ${policy} anyway`, (confirm) => setDefaultPolicy(dir, policy, confirm));
              }}>
              {!['allow', 'deny', 'reject'].includes(rules.defaults[dir]) && <option value={rules.defaults[dir]}>{rules.defaults[dir]}</option>}
              <option value="allow">allow</option>
              <option value="deny">deny</option>
              <option value="reject">reject</option>
            </select>
          </div>
        ))}
        <div className="field inline">
          <label htmlFor="ufw-logging">Logging</label>
          <select id="ufw-logging" value={rules.logging} disabled={dis} onChange={(e) => {
              const level = e.target.value as 'off' | 'low' | 'medium' | 'high' | 'full';
              void attempt(`Turn logging ${level} anyway`, (confirm) => setLogging(level, confirm));
            }}>
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
      <ConfirmAsk ask={ask} onDone={clearAsk} testId="policy-confirm" />
    </section>
  );
}

export function Rules() {
  const rules = useApp((s) => s.rules);
  const err = useApp((s) => s.loadErrors.rules);
  const { unban } = useActions();
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [editorNote, setEditorNote] = useState<string | null>(null);
  const applied = useApp((s) => s.ruleApplied);
  // The editor follows the rule list: after its own change is applied it starts a new rule; after
  // another change it keeps editing the same rule at its new number, or says that rule is gone
  // (it used to keep the old number, and its next Apply replaced whatever rule had taken it).
  const [seen, setSeen] = useState({ rules, applied });
  if (rules !== seen.rules || applied !== seen.applied) {
    setSeen({ rules, applied });
    if (applied !== seen.applied && applied.origin === 'editor') {
      setDraft(EMPTY_DRAFT);
      setEditorNote(null);
    } else if (rules && draft.original) {
      const now = findExpectedRule(rules.rules, draft.original.number, expectOf(draft.original));
      if (!now) {
        setDraft(EMPTY_DRAFT);
        setEditorNote(`The rule you were editing (${draft.original.number}) was changed or deleted meanwhile; pick it again from the list.`);
      } else if (now.number !== draft.number) setDraft({ ...draft, number: now.number, original: now });
    }
  }
  const editorRef = useRef<HTMLDivElement>(null);
  const [editClicks, setEditClicks] = useState(0);
  const startEdit = (r: UfwRule) => {
    setDraft(draftFromRule(r));
    setEditorNote(null);
    setEditClicks((n) => n + 1);
  };
  useEffect(() => {
    // A row's Edit brings the form into view with the focus in it (in a short window it is far below).
    if (editClicks > 0) editorRef.current?.querySelector<HTMLElement>('select, input')?.focus();
  }, [editClicks]);
  return (
    <div className="screen">
      <header className="screen-head">
        <h1>Rules</h1>
      </header>
      {err && (
        <p className="error-text" role="alert">
          Could not read the ufw rules: {err}
        </p>
      )}
      {!rules && !err && <p className="muted">Loading…</p>}
      {rules && (
        <>
          <Policies />
          <Preview />
          <section className="card" aria-labelledby="rules-title">
            <div className="card-head">
              <h2 id="rules-title">Your rules</h2>
              <span className="muted">
                {rules.rules.length} {rules.rules.length === 1 ? 'rule' : 'rules'}, in the order ufw applies them
              </span>
            </div>
            <div className="table-scroll">
              <RulesTable rules={rules.rules} onEdit={startEdit} />
            </div>
          </section>
          <div ref={editorRef}>
            {editorNote && (
              <p className="warn-text" role="status" data-testid="editor-note">
                {editorNote}
              </p>
            )}
            <Editor draft={draft} setDraft={setDraft} appProfiles={rules.appProfiles} />
          </div>
          <section className="card" aria-labelledby="bans-title">
            <div className="card-head">
              <h2 id="bans-title">Portcullis ban rules</h2>
              <span className="muted">managed by Portcullis; they expire by themselves</span>
            </div>
<div className="table-scroll">
            <table className="table compact" data-testid="ban-rules">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    #
                  </th>
                  <th scope="col">From</th>
                  <th scope="col">Action</th>
                  <th scope="col">Comment</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rules.portcullisRules.map((r) => (
                  <tr key={r.number}>
                    <td className="num">{r.number}</td>
                    <td className="mono">{r.from}</td>
                    <td>{r.action}</td>
                    <td>{r.comment}</td>
                    <td>
                      <button type="button" className="small" disabled={readOnly} onClick={() => void unban(addrOf(r.from).replace(/\/(32|128)$/, ''))}>
                        Unban
                      </button>
                    </td>
                  </tr>
                ))}
                {rules.portcullisRules.length === 0 && (
                  <tr>
                    <td colSpan={5} className="muted">
                      No ban rules in ufw{' '}
                      {/* With the ipset backend, bans live in a set, not in ufw rules. */}
                      (with the ipset backend, bans are listed under Offenders)
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
            </div>
          </section>
        </>
      )}
    </div>
  );
}
