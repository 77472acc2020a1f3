/**
 * NetIndex (open addressing over a network's four key words, backward-shift deletion) against a
 * Map: random sets, get-or-sets, replacements and removals over a key space larger than the first table, so
 * probe runs, wrap-around, deletions inside runs and rehashes all happen.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NET_ABSENT, NetIndex } from '../../../electron/engine/detect/net-index.ts';

/** Keys: IPv6-like /64s (two words, the rest 0) close together, IPv4-like ones ([v4, 0, 0, 0xffffffff]). */
function keyOf(n: number): Uint32Array {
  return n % 3 === 0 ? Uint32Array.of(0xc0a80000 + n * 256, 0, 0, 0xffffffff) : Uint32Array.of(0x20010db8, n >>> 2, (n & 3) << 30, 0);
}

type Op = { op: 'set'; k: number; v: number } | { op: 'getOrSet'; k: number; v: number } | { op: 'remove'; k: number; only: boolean; v: number };
const valueArb = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: -5002, max: -2 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), k: fc.integer({ min: 0, max: 700 }), v: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('getOrSet' as const), k: fc.integer({ min: 0, max: 700 }), v: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), k: fc.integer({ min: 0, max: 700 }), only: fc.boolean(), v: valueArb }) },
);

describe('NetIndex', () => {
  it('answers as a Map at every step (sets, replacements, removals, growth)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 2500 }), (ops) => {
        const index = new NetIndex();
        const ref = new Map<number, number>();
        for (const o of ops) {
          const k = keyOf(o.k);
          if (o.op === 'set') {
            index.set(k, o.v);
            ref.set(o.k, o.v);
          } else if (o.op === 'getOrSet') {
            // What get() said before; files the value only when the key was absent.
            expect(index.getOrSet(k, o.v)).toBe(ref.get(o.k) ?? NET_ABSENT);
            if (!ref.has(o.k)) ref.set(o.k, o.v);
          } else {
            // Removing "only when it holds v" leaves another value in place.
            const held = ref.get(o.k);
            if (!o.only || held === o.v) ref.delete(o.k);
            const padded = new Uint32Array(8);
            padded.set(k, 3);
            index.remove(padded, 3, o.only ? o.v : undefined);
          }
          expect(index.get(k)).toBe(ref.get(o.k) ?? NET_ABSENT);
        }
        expect(index.size).toBe(ref.size);
        const members = [...ref.values()].filter((v) => v < 0).map((v) => -v - 2);
        expect(index.members).toBe(members.length);
        expect(index.memberSlots().sort((a, b) => a - b)).toEqual(members.sort((a, b) => a - b));
        for (let n = 0; n <= 700; n++) expect(index.get(keyOf(n))).toBe(ref.get(n) ?? NET_ABSENT);
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
