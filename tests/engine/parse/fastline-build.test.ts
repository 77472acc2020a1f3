/**
 * The committed WebAssembly of the fast lane (fastline-wasm.ts) must be what wasm/fastline.ts
 * compiles to, and wasm/vocabulary.ts what parse/grammar.ts and parse/layout.ts declare: a change
 * to either without a rebuild fails here, not in a replay.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFastLine, vocabularyText, WASM_MODULE, WASM_VOCABULARY } from '../../../scripts/build-wasm.ts';
import { FastLine } from '../../../electron/engine/parse/fastline.ts';

describe('fast lane WebAssembly', () => {
  it('speaks the vocabulary grammar.ts and layout.ts declare (run node scripts/build-wasm.ts after editing them)', () => {
    expect(readFileSync(WASM_VOCABULARY, 'utf8') === vocabularyText()).toBe(true);
  });

  it('is what wasm/fastline.ts compiles to (run node scripts/build-wasm.ts after editing it)', () => {
    expect(readFileSync(WASM_MODULE, 'utf8') === compileFastLine()).toBe(true);
  }, 60_000);

  it('instantiates, and its memory holds its layout', () => {
    const fast = FastLine.create();
    expect(fast).not.toBeNull();
    expect(fast!.inputAt + fast!.inputMax + 16).toBeLessThanOrEqual(fast!.bytes.length);
    expect(fast!.records.byteOffset + fast!.records.byteLength).toBeLessThanOrEqual(fast!.inputAt);
  });
});
