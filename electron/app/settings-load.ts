/**
 * Settings: where they are read, overridden and validated — once, for every shell. The runner (before
 * it builds the firewall port and the log source, which depend on the backend and the source), the
 * service (at start and on `systemctl reload`) and the desktop shell all load through `loadSettings`;
 * invalid settings are refused with the field and the reason, never started half-configured.
 */
import { describeZodError, SettingsSchema, type Settings } from '../shared/settings.ts';
import { errorText } from '../shared/errors.ts';
import type { SettingsRepo } from './contracts.ts';

/** Why settings could not be loaded: the repo could not be read, the saved settings are invalid, or the overrides made them invalid. */
export type SettingsLoadFailure = { ok: false; stage: 'unreadable' | 'saved' | 'overrides'; error: string };
/** `settings`: what runs (the overrides applied); `saved`: what the repo holds, validated (no overrides). */
export type SettingsLoad = { ok: true; settings: Settings; saved: Settings } | SettingsLoadFailure;

/**
 * The saved settings (missing = all defaults), validated, then the command line's overrides
 * (--backend, --source) applied and the result validated again.
 */
export function loadSettings(repo: SettingsRepo, overrides?: (s: Settings) => Settings): SettingsLoad {
  let raw: unknown;
  try {
    raw = repo.load();
  } catch (e) {
    return { ok: false, stage: 'unreadable', error: errorText(e) };
  }
  const r = SettingsSchema.safeParse(raw ?? {});
  if (!r.success) return { ok: false, stage: 'saved', error: describeZodError(r.error) };
  if (!overrides) return { ok: true, settings: r.data, saved: r.data };
  const again = SettingsSchema.safeParse(overrides(r.data));
  return again.success ? { ok: true, settings: again.data, saved: r.data } : { ok: false, stage: 'overrides', error: describeZodError(again.error) };
}

/**
 * What to save when the running settings (`running`: the saved ones with the command line's
 * overrides applied) become `next`: `next`, except where a value is the same as it ran — there the
 * saved value stays. So a change made in the UI or the API is saved, and a value only the command
 * line set (`serve --backend ufw`) is not written into the config file: once the flag is left off,
 * the file's own value applies again. Objects are compared field by field; anything else (arrays
 * too) is one value.
 */
export function savedFormOf(saved: unknown, running: unknown, next: unknown): unknown {
  if (isPlainObject(saved) && isPlainObject(running) && isPlainObject(next)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(next)) {
      const kept = savedFormOf(saved[k], running[k], v);
      if (kept !== undefined) out[k] = kept;
    }
    return out;
  }
  return sameJson(next, running) ? saved : next;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

