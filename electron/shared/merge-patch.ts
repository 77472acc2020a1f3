/**
 * The deep merge of a settings patch over the settings, the one the service applies to
 * `updateSettings` and the UI uses to check a change before sending it (so both see the same
 * result): objects merge, everything else (arrays too) replaces.
 *
 * A patch comes from JSON: `JSON.parse('{"__proto__": …}')` makes an own key "__proto__", and
 * assigning it to the result would set the result's prototype (its fields then inherited, seen by
 * the schema, never by Object.keys); "constructor"/"prototype" are the other ways to reach one.
 * Those keys are skipped: no setting is named so.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mergePatch(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (FORBIDDEN_KEYS.has(k)) continue;
    out[k] = mergePatch(Object.hasOwn(base, k) ? base[k] : undefined, v);
  }
  return out;
}
