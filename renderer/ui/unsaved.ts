/**
 * Forms with changes typed and not saved. Leaving the screen (or the page) would throw them away
 * silently: the navigation asks first, and each form says it has unsaved changes.
 */
const dirty = new Map<string, string>();

export function setUnsaved(formId: string, title: string, isDirty: boolean): void {
  if (isDirty) dirty.set(formId, title);
  else dirty.delete(formId);
}

/** Titles of the forms with unsaved changes. */
export function unsavedForms(): string[] {
  return [...dirty.values()];
}

/** True when it is fine to leave: nothing unsaved, or the user agreed to discard it. */
export function confirmLeave(ask: (message: string) => boolean = (m) => window.confirm(m)): boolean {
  const forms = unsavedForms();
  if (forms.length === 0) return true;
  const ok = ask(`Discard the unsaved changes in ${forms.map((f) => `"${f}"`).join(', ')}?`);
  if (ok) dirty.clear();
  return ok;
}
