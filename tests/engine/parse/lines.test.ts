import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../electron/engine/parse/lines.ts';
import { chunk, joinPieces } from './chunks.ts';

function split(chunks: Uint8Array[], max?: number): { lines: string[]; tooLong: number[] } {
  const s = new LineSplitter(max === undefined ? {} : { maxLineLength: max });
  const lines: string[] = [];
  const tooLong: number[] = [];
  const sink = { line: (l: string) => lines.push(l), tooLong: (n: number) => tooLong.push(n) };
  for (const c of chunks) s.push(c, sink);
  s.end(sink);
  return { lines, tooLong };
}

const enc = new TextEncoder();


describe('LineSplitter', () => {
  it('splits lines, strips CRLF, keeps the tail between chunks and hands it out at the end', () => {
    const r = split([enc.encode('a\r\nbb'), enc.encode('b\nccc\r'), enc.encode('\nlast')]);
    expect(r.lines).toEqual(['a', 'bbb', 'ccc', 'last']);
    expect(r.tooLong).toEqual([]);
  });
  it('gives the same lines whatever the chunking, multi-byte characters included', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !s.includes('\n') && !s.includes('\r')), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const text = lines.map((l) => l + '\n').join('');
        const r = split(chunk(enc.encode(text), cuts));
        expect(r.lines).toEqual(lines);
      }),
    );
  });
  it('drops over-long lines, reports them once each, and resumes at the next line', () => {
    const long = 'x'.repeat(100_000);
    const text = enc.encode(`ok1\n${long}\nok2\n${long}`);
    const r = split(chunk(text, [5, 50_000, 100_003, 100_010]), 8192);
    expect(r.lines).toEqual(['ok1', 'ok2']);
    expect(r.tooLong).toEqual([100_000, 100_000]);
  });
  it('keeps a line of exactly the cap, with or without CR', () => {
    const line = 'y'.repeat(16);
    expect(split([enc.encode(`${line}\r\n${line}\n`)], 16).lines).toEqual([line, line]);
    expect(split([enc.encode(`${line}z\n`)], 16).tooLong).toEqual([17]);
  });
  it("drops the input's own BOM only, however the chunks cut it, in both lanes", () => {
    const bothLanes = (chunks: number[][]) => {
      const text = split(chunks.map((c) => new Uint8Array(c))).lines;
      const s = new LineSplitter();
      const viaBytes: string[] = [];
      const sink = { line: (l: string) => viaBytes.push(l), bytes: (b: Uint8Array, a: number, e: number) => viaBytes.push(new TextDecoder('utf-8', { ignoreBOM: true }).decode(b.subarray(a, e))) };
      for (const c of chunks) s.push(new Uint8Array(c), sink);
      s.end(sink);
      expect(viaBytes).toEqual(text);
      return text;
    };
    // Found by the property below (about one run in sixty): after a first chunk that decoded to
    // nothing, the decoder also dropped a BOM that was not the first character.
    expect(bothLanes([[0xc2], [0x0a, 0xef, 0xbb, 0xbf]])).toEqual(['\uFFFD', '\uFEFF']);
    expect(bothLanes([[0xef], [0xbb, 0xbf, 0x61, 0x0a, 0xef, 0xbb, 0xbf, 0x62, 0x0a]])).toEqual(['a', '\uFEFFb']);
    expect(bothLanes([[0xef, 0xbb, 0xbf]])).toEqual([]);
  });
  it('turns bytes that are not UTF-8 into U+FFFD (which the parser refuses as binary)', () => {
    const r = split([new Uint8Array([0x61, 0xff, 0x62, 0x0a])]);
    expect(r.lines).toEqual(['a\uFFFDb']);
  });
  it('bytes lane: decoding the lines it hands out as bytes gives exactly what the text lane gives, whatever the chunking', () => {
    const dec = new TextDecoder('utf-8', { ignoreBOM: true });
    const piece = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.constantFrom('\n', '\r\n', '\r', '\uFEFF', 'é', '\u0000', 'x'.repeat(20)),
      fc.uint8Array({ maxLength: 4 }).map((b) => b), // raw bytes, often not UTF-8
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom(undefined, 8, 16), (pieces, cuts, max) => {
        const chunks = chunk(joinPieces(pieces), cuts);
        const expected = split(chunks, max);
        const s = new LineSplitter(max === undefined ? {} : { maxLineLength: max });
        const lines: string[] = [];
        const tooLong: number[] = [];
        const sink = {
          line: (l: string) => lines.push(l),
          tooLong: (n: number) => tooLong.push(n),
          bytes: (b: Uint8Array, a: number, e: number) => lines.push(dec.decode(b.slice(a, e))),
        };
        for (const c of chunks) s.push(c.slice(), sink);
        s.end(sink);
        expect({ lines, tooLong }).toEqual(expected);
        expect(s.lines).toBe(expected.lines.length);
      }),
      { numRuns: 3_000 },
    );
  });
  it('block lane: a sink taking whole lines in bulk gets exactly the lines of the bytes lane, whatever it takes and the chunking', () => {
    const dec = new TextDecoder('utf-8', { ignoreBOM: true });
    const piece = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.constantFrom('\n', '\r\n', '\r', '\uFEFF', 'é', 'x'.repeat(20), 'ab\n', 'cd\r\n', 'line\n'),
      fc.uint8Array({ maxLength: 4 }).map((b) => b),
    );
    let taken = 0;
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.constantFrom(undefined, 8, 16),
        fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 10 }),
        (pieces, cuts, max, takes) => {
          const chunks = chunk(joinPieces(pieces), cuts);
          const expected = split(chunks, max);
          const s = new LineSplitter(max === undefined ? {} : { maxLineLength: max });
          const cap = s.maxLineLength;
          const lines: string[] = [];
          const tooLong: number[] = [];
          let call = 0;
          const sink = {
            line: (l: string) => lines.push(l),
            tooLong: (n: number) => tooLong.push(n),
            bytes: (b: Uint8Array, a: number, e: number) => lines.push(dec.decode(b.slice(a, e))),
            // Takes up to `takes[call]` lines (0: none), as bytes() would have had them, and stops
            // before a line over the cap in bytes, as the contract says.
            block: (b: Uint8Array, a: number, e: number) => {
              expect(b[e - 1]).toBe(10);
              let want = takes[call++ % takes.length]!;
              let p = a;
              while (want-- > 0 && p < e) {
                const nl = b.indexOf(10, p);
                let end = nl;
                if (end > p && b[end - 1] === 13) end--;
                if (end - p > cap) break;
                lines.push(dec.decode(b.slice(p, end)));
                taken++;
                p = nl + 1;
              }
              return p;
            },
          };
          for (const c of chunks) s.push(c.slice(), sink);
          s.end(sink);
          expect({ lines, tooLong }).toEqual(expected);
        },
      ),
      { numRuns: 3_000 },
    );
    expect(taken).toBeGreaterThan(200); // the block lane really took lines (~450 in 3,000 runs)
  });
  it('keeps memory bounded on input without newlines', () => {
    const s = new LineSplitter({ maxLineLength: 100 });
    const sink = { line: () => undefined };
    for (let i = 0; i < 1000; i++) s.push(new Uint8Array(1000).fill(0x41), sink);
    expect((s as unknown as { tail: string }).tail.length).toBe(0);
    s.end(sink);
    expect(s.tooLongLines).toBe(1);
  });
});
