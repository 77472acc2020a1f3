import { useEffect, useRef, useState } from 'react';
import { findExpectedRule, type UfwRule } from '../../../electron/shared/api.ts';
import { rebuildRefusal } from '../../../electron/shared/rule-rebuild.ts';
import { draftFromRule, EMPTY_DRAFT, expectOf, type Draft } from '../../store/ruleDraft.ts';
import { useApp } from '../context.ts';
import { FirewallCard } from './rules/FirewallCard.tsx';
import { RuleEditor } from './rules/RuleEditor.tsx';
import { RulePreview } from './rules/RulePreview.tsx';
import { BanRulesTable, RulesTable } from './rules/RulesTable.tsx';

export function Rules() {
  const rules = useApp((s) => s.rules);
  const err = useApp((s) => s.loadErrors.rules);
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [editorNote, setEditorNote] = useState<string | null>(null);
  const applied = useApp((s) => s.ruleApplied);
  const orphanPreview = useApp((s) => {
    const p = s.rulePreview;
    if (p === null || p.origin !== 'table') return false;
    const op = p.op;
    return op.kind === 'add' || !s.rules?.rules.some((r) => r.number === op.number);
  });
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
    // A rule the editor cannot re-create is not loaded into it (the service refuses the edit too):
    // the form would send it without what it cannot say (its logging, a source port, …).
    const refusal = rebuildRefusal(r);
    if (refusal) {
      setEditorNote(`${refusal.charAt(0).toUpperCase()}${refusal.slice(1)}.`);
      return;
    }
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
          <FirewallCard />
          {/* A table preview whose row is gone from the list (it changed meanwhile) still shows, above it. */}
          {orphanPreview && <RulePreview />}
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
            <RuleEditor draft={draft} setDraft={setDraft} appProfiles={rules.appProfiles} />
          </div>
          <section className="card" aria-labelledby="bans-title">
            <div className="card-head">
              <h2 id="bans-title">Portcullis ban rules</h2>
              <span className="muted">managed by Portcullis; they expire by themselves</span>
            </div>
            <div className="table-scroll">
              <BanRulesTable rules={rules.portcullisRules} />
            </div>
          </section>
        </>
      )}
    </div>
  );
}
