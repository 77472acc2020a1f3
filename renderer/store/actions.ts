/**
 * What every slice's actions share: a service call with its busy flag (failures become a notice
 * and a Result), a load that records its error per area, notices, and the store's timers.
 */
import { ApiError } from '../../electron/shared/api.ts';
import type { Cidr } from '../../electron/shared/domain.ts';
import { WhitelistEntrySchema } from '../../electron/shared/settings.ts';
import { type Notice, withNotice } from './notices.ts';
import type { AppState, SetState, StoreDeps } from './appState.ts';
import { errorText } from '../../electron/shared/errors.ts';

type Set = SetState;

/** The store's timers: the injected ones (tests), else the global ones. */
export function timersOf(deps: StoreDeps): { later: (fn: () => void, ms: number) => unknown; cancel: (h: unknown) => void } {
  return {
    later: deps.setTimeout ?? ((fn: () => void, ms: number) => globalThis.setTimeout(fn, ms)),
    cancel: deps.clearTimeout ?? ((h: unknown) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>)),
  };
}

export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return errorText(e);
}

export function pushNotice(set: Set, level: Notice['level'], message: string, action?: Notice['action']): void {
  set((s) => ({ notices: withNotice(s.notices, level, message, action) }));
}

/** A whitelist entry typed by the user, checked by the settings schema's own rule for entries. */
export function parseCidrText(text: string): { ok: true; data: Cidr } | { ok: false; error: string } {
  const parsed = WhitelistEntrySchema.safeParse(text.trim());
  return parsed.success ? { ok: true, data: parsed.data } : { ok: false, error: parsed.error.issues[0]?.message ?? 'not a CIDR' };
}

/** Runs one action's service call with its busy flag; failures become a notice and a Result. */
export async function act<T>(set: Set, key: string, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string; needsConfirmation?: true }> {
  set((s) => ({ busy: { ...s.busy, [key]: true } }));
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    const error = messageOf(e);
    // A question for the user, asked by the screen that made the call — not an error notice.
    if (e instanceof ApiError && e.code === 'needs-confirmation') return { ok: false, error, needsConfirmation: true };
    pushNotice(set, 'error', error);
    return { ok: false, error };
  } finally {
    set((s) => {
      const busy = { ...s.busy };
      delete busy[key];
      return { busy };
    });
  }
}

/** Loads one area; on failure the area shows the reason instead of stale or empty data. */
export async function load<T>(set: Set, area: string, fn: () => Promise<T>, apply: (v: T) => Partial<AppState>): Promise<void> {
  try {
    const v = await fn();
    set((s) => {
      const loadErrors = { ...s.loadErrors };
      delete loadErrors[area];
      return { ...apply(v), loadErrors };
    });
  } catch (e) {
    set((s) => ({ loadErrors: { ...s.loadErrors, [area]: messageOf(e) } }));
  }
}
