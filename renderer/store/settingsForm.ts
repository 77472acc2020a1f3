/**
 * Settings forms edit text; this turns a form's fields into a settings patch and checks it with the
 * one SettingsSchema, giving each field its own reason (e.g. "bantime must be more than 0 seconds").
 */
import { type Settings, SettingsSchema } from '../../electron/shared/settings.ts';
import { mergePatch } from '../../electron/shared/merge-patch.ts';

export type FieldKind = 'int' | 'bool' | 'select' | 'text';
export interface FieldSpec {
  /** Dotted path in Settings, e.g. "ban.bantimeSec". */
  path: string;
  label: string;
  kind: FieldKind;
  options?: { value: string; label: string }[];
  hint?: string;
}

export type Draft = Record<string, string | boolean>;

function getPath(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

export function draftFrom(settings: Settings, fields: FieldSpec[]): Draft {
  const d: Draft = {};
  for (const f of fields) {
    const v = getPath(settings, f.path);
    d[f.path] = f.kind === 'bool' ? Boolean(v) : v === undefined || v === null ? '' : String(v);
  }
  return d;
}

export interface PatchCheck {
  patch: Record<string, unknown>;
  /** Field path → reason; empty when the patch is valid. */
  errors: Record<string, string>;
  changed: boolean;
}

export function patchFrom(settings: Settings, fields: FieldSpec[], draft: Draft): PatchCheck {
  const patch: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  let changed = false;
  for (const f of fields) {
    const raw = draft[f.path];
    let value: unknown = raw;
    if (f.kind === 'int') {
      const text = String(raw ?? '').trim();
      if (!/^-?\d+$/.test(text)) {
        errors[f.path] = text === '' ? `${f.label} is required` : `${f.label} must be a whole number`;
        continue;
      }
      value = Number(text);
    }
    if (value !== getPath(settings, f.path)) changed = true;
    const keys = f.path.split('.');
    let o = patch;
    for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
    o[keys[keys.length - 1]!] = value;
  }
  const r = SettingsSchema.safeParse(mergePatch(settings, patch));
  if (!r.success) {
    for (const issue of r.error.issues) {
      const path = issue.path.join('.');
      // An issue on a field of the form goes next to it; others (cross-field) under the form.
      const key = fields.some((f) => f.path === path) ? path : '_form';
      errors[key] ??= issue.message;
    }
  }
  return { patch, errors, changed };
}
