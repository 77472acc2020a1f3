/**
 * V4Set (engine/detect/v4-set.ts) against a Set<number>: the same answers after any sequence of
 * adds and deletes — values of the whole 32-bit range (0, 2^31 and up, 2^32 - 1, which it keeps
 * aside), and many values of a few probe runs, so that deletion's backward shift is exercised.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { V4Set } from '../../../electron/engine/detect/v4-set.ts';

type Op = { op: 'add' | 'delete' | 'has'; v: number };
const valueArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(0, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
);
const opArb: fc.Arbitrary<Op> = fc.record({ op: fc.constantFrom('add' as const, 'add' as const, 'delete' as const, 'has' as const), v: valueArb });

describe('V4Set', () => {
  it('answers as a Set<number> after any adds and deletes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 600 }), (ops) => {
        const set = new V4Set();
        const model = new Set<number>();
        for (const { op, v } of ops) {
          if (op === 'add') (set.add(v), model.add(v));
          else if (op === 'delete') (set.delete(v), model.delete(v));
          expect(set.has(v)).toBe(model.has(v));
          expect(set.size).toBe(model.size);
        }
        for (let v = 0; v <= 300; v++) expect(set.has(v)).toBe(model.has(v));
        for (const v of model) expect(set.has(v)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('takes a value as the signed int32 of the same bits (a masked network, n & mask)', () => {
    const set = new V4Set();
    set.add(0xc0a80000); // 192.168.0.0
    expect(set.has(0xc0a80000 | 0)).toBe(true);
    expect(set.has(0xc0a80101 & 0xffff0000)).toBe(true);
    set.delete(0xc0a80000 | 0);
    expect(set.size).toBe(0);
  });
});
