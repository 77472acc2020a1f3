import { describe, expect, it } from 'vitest';
import { mergePatch } from '../../electron/shared/merge-patch.ts';

describe('mergePatch (settings patches: the service and the UI merge the same way)', () => {
  it('merges objects, replaces arrays and scalars, keeps what the patch does not name', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1], s: 'x' }, { a: { b: 3 }, l: [2], n: { d: 1 } })).toEqual({ a: { b: 3, c: 2 }, l: [2], s: 'x', n: { d: 1 } });
    expect(mergePatch({ a: 1 }, null)).toBe(null);
    expect(mergePatch([1, 2], { a: 1 })).toEqual({ a: 1 });
  });

  it('a "__proto__" key (as JSON.parse makes it) sets no prototype and pollutes nothing', () => {
    const merged = mergePatch({ ban: { bantimeSec: 60 } }, JSON.parse('{"__proto__": {"polluted": 1, "ban": {"bantimeSec": 1}}, "ban": {"__proto__": {"polluted": 2}}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(merged.ban)).toBe(Object.prototype);
    expect('polluted' in merged).toBe(false);
    expect('polluted' in (merged.ban as object)).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(merged).toEqual({ ban: { bantimeSec: 60 } });
  });

  it('"constructor" and "prototype" keys are skipped too, at any depth', () => {
    const merged = mergePatch({ a: {} }, JSON.parse('{"constructor": {"prototype": {"polluted": 1}}, "a": {"prototype": {"polluted": 1}}}')) as Record<string, unknown>;
    expect(Object.keys(merged)).toEqual(['a']);
    expect(merged.constructor).toBe(Object);
    expect(merged.a).toEqual({});
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
