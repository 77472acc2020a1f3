import { useState } from 'react';
import { EMPTY_DRAFT, opFromDraft, PRESETS, type Action, type Direction, type Draft, type Proto } from '../../../store/ruleDraft.ts';
import { selectIsBusy, selectReadOnlyReason } from '../../../store/selectors.ts';
import { useActions, useApp } from '../../context.ts';
import { RulePreview } from './RulePreview.tsx';

/** Names of the editor's fields, as the schema's paths and the labels say them. */
const FIELD_LABELS: Record<string, string> = { action: 'Action', direction: 'Direction', from: 'From', to: 'To', app: 'App profile', port: 'Port', proto: 'Protocol', iface: 'Interface', comment: 'Comment', position: 'Position' };

/** The form's summary of refused fields that are shown at their place: null when none is left. */
function markedMessage(fields: readonly string[]): string | null {
  const named = fields.filter((f) => FIELD_LABELS[f] !== undefined);
  if (named.length === 0) return null;
  return `Check the marked ${named.length === 1 ? 'field' : 'fields'}: ${named.map((f) => FIELD_LABELS[f]).join(', ')}.`;
}

/** A field's reason, under it (empty when none); the input names it with aria-describedby. */
function FieldError({ id, message }: { id: string; message: string | undefined }) {
  return (
    <div id={id} className="field-msg error-text" data-testid={id}>
      {message ?? ''}
    </div>
  );
}

export function RuleEditor({ draft, setDraft, appProfiles }: { draft: Draft; setDraft: (d: Draft) => void; appProfiles: string[] }) {
  const { previewRule } = useActions();
  const busy = useApp(selectIsBusy('rule'));
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const fromEditor = useApp((s) => s.rulePreview?.origin === 'editor');
  const [error, setError] = useState<string | null>(null);
  /** Reasons the schema gave, at their fields; a field's reason goes once it is edited. */
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const upd = (patch: Partial<Draft>) => {
    setDraft({ ...draft, ...patch });
    const touched = Object.keys(patch).filter((k) => fieldErrors[k] !== undefined);
    if (touched.length) {
      const left = Object.entries(fieldErrors).filter(([k]) => !touched.includes(k));
      setFieldErrors(Object.fromEntries(left));
      // "Check the marked fields: …" names the fields still marked, and goes with the last of them.
      if (error !== null && error.startsWith('Check the marked')) setError(markedMessage(left.map(([k]) => k)));
    }
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
          // An edit's new position is the op's `to`, a name the To field's reason also has: say it here.
          if (draft.number !== null && draft.position.trim() && !/^[1-9]\d*$/.test(draft.position.trim())) {
            setFieldErrors({ position: 'position is a rule number: 1, 2, …' });
            setError(markedMessage(['position']));
            return;
          }
          const r = await previewRule(opFromDraft(draft), 'editor');
          const fields = !r.ok && r.fields ? r.fields : {};
          setFieldErrors(fields);
          // Reasons shown at their fields are only named here; others (from the service) are said in full.
          const named = Object.keys(fields).filter((f) => FIELD_LABELS[f] !== undefined);
          setError(r.ok ? null : named.length && named.length === Object.keys(fields).length ? markedMessage(named) : r.error);
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
        <div className={fieldClass('iface')}>
          <label htmlFor="rule-iface">Interface</label>
          <input id="rule-iface" value={draft.iface} placeholder="any" spellCheck={false} {...invalid('iface')} onChange={(e) => upd({ iface: e.target.value })} />
          <FieldError id="rule-iface-error" message={fieldErrors.iface} />
        </div>
        <div className={fieldClass('comment', 'wide')}>
          <label htmlFor="rule-comment">Comment</label>
          <input id="rule-comment" value={draft.comment} maxLength={100} {...invalid('comment')} onChange={(e) => upd({ comment: e.target.value })} />
          <FieldError id="rule-comment-error" message={fieldErrors.comment} />
        </div>
        <div className={fieldClass('position')}>
          <label htmlFor="rule-position">Position</label>
          <input
            id="rule-position"
            value={draft.position}
            placeholder={draft.number === null ? 'last' : String(draft.number)}
            inputMode="numeric"
            {...invalid('position')}
            onChange={(e) => upd({ position: e.target.value })}
          />
          <FieldError id="rule-position-error" message={fieldErrors.position} />
        </div>
        <div className="form-foot">
          <div className="field-msg error-text" role={error ? 'alert' : undefined} data-testid="rule-error">
            {error ?? ''}
          </div>
          <button type="submit" className="primary" disabled={busy || readOnly}>
            Preview command
          </button>
        </div>
      </form>
      {fromEditor && <RulePreview />}
    </section>
  );
}
