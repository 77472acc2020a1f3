/**
 * The parser's fast path (one regex for the common layouts) must give exactly what the full
 * parser gives — same packet, same rejection — on every line. parseRecordReference runs the full
 * parser alone; these tests compare the two on generated logs, on every fixture line, and on
 * lines mutated where the fast path's layout could be fooled (a character replaced, junk
 * inserted, tokens repeated or dropped, spaces doubled, values widened).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyLineEdits } from './mutate.ts';
import { generateLines } from '../../../bench/gen-log.ts';
import { parseRecord, parseRecordReference, type ParseOptions } from '../../../electron/engine/parse/index.ts';

const FIXTURES = path.join(import.meta.dirname, '../../fixtures/parse');
const syslogLines = generateLines({ lines: 20_000, seed: 11, sources: 2_000 });
const kmsgLines = generateLines({ lines: 5_000, seed: 12, sources: 500, framing: 'kmsg' });
const firewallLines = syslogLines.filter((l) => l.includes(' IN='));

function sameAsReference(line: string, opts?: ParseOptions): void {
  expect(parseRecord(line, opts), line).toStrictEqual(parseRecordReference(line, opts));
}

describe('fast path agrees with the full parser', () => {
  it('on generated logs (syslog and kmsg)', () => {
    for (const line of syslogLines) sameAsReference(line, { year: 2026, framing: 'syslog' });
    for (const line of kmsgLines) sameAsReference(line, { framing: 'kmsg', bootTimeMs: 1_700_000_000_000 });
    for (const line of syslogLines.slice(0, 2_000)) sameAsReference(line);
  });

  it('on every fixture line', () => {
    for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
      const { cases } = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as { cases: { line: string; options?: ParseOptions }[] };
      for (const c of cases) sameAsReference(c.line, c.options);
    }
  });

  it('on mutated firewall lines', () => {
    const tweaks = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(' ', '  ', '=', '[', ']', '\u0000', '\uFFFD', '\t', 'DF ', 'MF ', 'SYN ', 'ACK ', 'SRC=1.2.3.4 ', 'IN=eth1 ', 'PROTO=TCP ', '9', '0', ':', '.', 'é', 'ID=1 ', 'OPT (00) ') }),
      fc.record({ kind: fc.constant('dropToken' as const), at: fc.nat(), text: fc.constant('') }),
      fc.record({ kind: fc.constant('repeatToken' as const), at: fc.nat(), text: fc.constant('') }),
      fc.record({ kind: fc.constant('widen' as const), at: fc.nat(), text: fc.constantFrom('0', '9', '99999', '65536', '256') }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...firewallLines.slice(0, 3_000)), fc.array(tweaks, { minLength: 1, maxLength: 3 }), (line, edits) => {
        const s = applyLineEdits(line, edits);
        sameAsReference(s, { year: 2026, framing: 'syslog' });
        sameAsReference(s);
      }),
      { numRuns: 6_000 },
    );
  });
});
