/**
 * Counting what code does instead of timing it (no timed tests: two shared cores). A test that
 * says "linear in the events" counts the work done for N events and bounds it by a constant times
 * N: a list filtered, searched or copied per event makes the count grow as N × the list's length
 * and the bound fails, on any machine, at any load.
 *
 * Two counters: reads of one field of given objects (a list filtered or searched reads each
 * element's key), and the elements of arrays copied or walked (a list copied per event does not
 * read its elements' fields, so only the array operations show it).
 */

/** Counts the reads of one field of the objects made through `counted`. */
export interface ReadCounter {
  /** A copy of `value` whose every read of `key` is counted (the key stays enumerable: equality and spreads see it). */
  counted<T extends object>(value: T, key: keyof T & string): T;
  /** Reads counted since the counter was made or last reset. */
  readonly reads: number;
  reset(): void;
}

export function readCounter(): ReadCounter {
  let reads = 0;
  return {
    counted<T extends object>(value: T, key: keyof T & string): T {
      const field = value[key];
      return Object.defineProperty({ ...value }, key, {
        enumerable: true,
        get: () => {
          reads++;
          return field;
        },
      });
    },
    get reads() {
      return reads;
    },
    reset() {
      reads = 0;
    },
  };
}

/**
 * Array.prototype methods that copy, search or walk their array (or build a new one from it): a
 * call costs up to the array's length (a slice, what it copies). The iterator is there for spreads, for…of, Array.from and
 * the Set and Map constructors, none of which calls a named method.
 */
const WALKING_METHODS = [
  'concat',
  'slice',
  'splice',
  'filter',
  'map',
  'flatMap',
  'flat',
  'sort',
  'reverse',
  'find',
  'findIndex',
  'findLast',
  'findLastIndex',
  'indexOf',
  'lastIndexOf',
  'includes',
  'some',
  'every',
  'forEach',
  'reduce',
  'reduceRight',
  'join',
  'toSorted',
  'toReversed',
  'toSpliced',
  'with',
] as const;

/**
 * Runs `work` with every array copy or walk counted: a call of `slice` or `concat` adds the
 * elements it copies (the length of what it returns), a call of any other walking method (or of
 * the array iterator) the length of the array it was called on. That is an upper bound of what the
 * call can touch: a search that stops early counts the whole array. `work` must be synchronous:
 * the methods are the realm's own, restored before this returns, and anything else running
 * meanwhile would be counted too.
 */
export function countArrayWork<R>(work: () => R): { result: R; elements: number } {
  let elements = 0;
  const proto = Array.prototype as unknown as Record<PropertyKey, unknown>;
  const keys: PropertyKey[] = [...WALKING_METHODS, Symbol.iterator];
  const originals = new Map<PropertyKey, (...args: unknown[]) => unknown>();
  for (const key of keys) originals.set(key, proto[key] as (...args: unknown[]) => unknown);
  for (const [key, original] of originals) {
    const copies = key === 'slice' || key === 'concat';
    proto[key] = function (this: unknown[], ...args: unknown[]) {
      const result = Reflect.apply(original, this, args);
      elements += copies ? (result as unknown[]).length : this.length;
      return result;
    };
  }
  try {
    elements = 0; // the destructuring of the loop above walked arrays too
    const result = work();
    return { result, elements };
  } finally {
    for (const [key, original] of originals) proto[key] = original;
  }
}
