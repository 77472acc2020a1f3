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
export type SettingsLoad = { ok: true; settings: Settings } | SettingsLoadFailure;

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
  if (!overrides) return { ok: true, settings: r.data };
  const again = SettingsSchema.safeParse(overrides(r.data));
  return again.success ? { ok: true, settings: again.data } : { ok: false, stage: 'overrides', error: describeZodError(again.error) };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

