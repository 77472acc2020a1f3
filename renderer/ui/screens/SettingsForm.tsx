/** A validated settings form: every field checked live by the one SettingsSchema, saved as one patch. */
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { Settings } from '../../../electron/shared/settings.ts';
import { type Draft, type FieldSpec, draftFrom, patchFrom } from '../../store/settingsForm.ts';
import { useActions, useApp } from '../context.ts';
import { setUnsaved } from '../unsaved.ts';
import { fmtDuration } from '../format.ts';

/** The draft on new saved values: untouched fields (still equal to the old base) take the new ones, edited fields stay. */
export function rebaseDraft(draft: Draft, oldBase: Draft, next: Draft): Draft {
  const out: Draft = { ...next };
  for (const k of Object.keys(next)) if (k in draft && draft[k] !== oldBase[k]) out[k] = draft[k]!;
  return out;
}

/** A seconds field also says what its number means ("604800" is 7 d). */
function secondsText(path: string, value: unknown): string | null {
  if (!path.endsWith('Sec') || !/^\d+$/.test(String(value).trim())) return null;
  const n = Number(String(value).trim());
  return n > 0 ? `= ${fmtDuration(n)}` : null;
}

export function SettingsForm({ settings, fields, title, id, extraButtons }: { settings: Settings; fields: FieldSpec[]; title: string; id: string; extraButtons?: (check: ReturnType<typeof patchFrom>) => ReactNode }) {
  const [draft, setDraft] = useState<Draft>(() => draftFrom(settings, fields));
  // What the draft started from: a field still equal to it is untouched by the user.
  const base = useRef<Draft | null>(null);
  base.current ??= draftFrom(settings, fields);
  const [saved, setSaved] = useState<string | null>(null);
  const [serverError, setServerError] = useState<string | null>(null);
  const busy = useApp((s) => 'settings' in s.busy);
  // Usable while read-only (no root helper): the service keeps its settings without the helper, and
  // what they change in the firewall waits for it, as the tray's protection toggle does.
  const { updateSettings } = useActions();
  // Settings changed elsewhere (another form saved, another window, the service): fields the user
  // has not touched follow them; what the user typed and has not saved stays (it used to be thrown
  // away whenever any other setting was saved).
  useEffect(() => {
    const next = draftFrom(settings, fields);
    const old = base.current!;
    base.current = next;
    setDraft((d) => rebaseDraft(d, old, next));
  }, [settings, fields]);
  const check = useMemo(() => patchFrom(settings, fields, draft), [settings, fields, draft]);
  const valid = Object.keys(check.errors).length === 0;
  // Typed and not saved: the navigation asks before leaving, and the form says so.
  useEffect(() => {
    setUnsaved(id, title, check.changed);
    return () => setUnsaved(id, title, false);
  }, [id, title, check.changed]);
  useEffect(() => {
    if (!check.changed) return;
    const onUnload = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', onUnload);
    return () => window.removeEventListener('beforeunload', onUnload);
  }, [check.changed]);
  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <div className="card-head">
        <h2 id={`${id}-title`}>{title}</h2>
      </div>
      <form
        className="settings-form"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await updateSettings(check.patch);
          setServerError(r.ok ? null : r.error);
          setSaved(r.ok ? 'Saved' : null);
        }}
      >
        {fields.map((f) => {
          const fid = `${id}-${f.path.replace('.', '-')}`;
          const err = check.errors[f.path];
          const value = draft[f.path];
          const onChange = (v: string | boolean) => {
            setSaved(null);
            // The service's refusal was about the value before this edit.
            setServerError(null);
            setDraft({ ...draft, [f.path]: v });
          };
          if (f.kind === 'bool') {
            return (
              <div className="field field-bool" key={f.path}>
                <label className="check" htmlFor={fid}>
                  <input id={fid} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
                  {f.label}
                </label>
                <div className="field-msg">{f.hint ?? ''}</div>
              </div>
            );
          }
          return (
            <div className={`field ${err ? 'field-invalid' : ''}`} key={f.path}>
              <label htmlFor={fid}>{f.label}</label>
              {f.kind === 'select' ? (
                <select id={fid} value={String(value)} onChange={(e) => onChange(e.target.value)}>
                  {f.options!.map((o) => (
                    <option key={o.value} value={o.value}>
                      {o.label}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  id={fid}
                  value={String(value)}
                  inputMode={f.kind === 'int' ? 'numeric' : undefined}
                  spellCheck={false}
                  aria-invalid={Boolean(err)}
                  aria-describedby={`${fid}-msg`}
                  onChange={(e) => onChange(e.target.value)}
                />
              )}
              <div className={`field-msg ${err ? 'error-text' : ''}`} id={`${fid}-msg`} role={err ? 'alert' : undefined}>
                {err ?? [f.hint, secondsText(f.path, value)].filter(Boolean).join(' · ')}
              </div>
            </div>
          );
        })}
        <div className="form-foot">
          <div className="field-msg" role="status">
            {check.errors._form ? (
              <span className="error-text">{check.errors._form}</span>
            ) : serverError ? (
              <span className="error-text">{serverError}</span>
            ) : check.changed ? (
              <span className="warn-text" data-testid={`${id}-unsaved`}>
                Unsaved changes
              </span>
            ) : (
              saved
            )}
          </div>
          <div className="row gap">
            {extraButtons?.(check)}
            <button type="submit" className="primary" disabled={busy || !valid || !check.changed}>
              Save
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}
