/** Byte helpers shared by the line-splitting and parse-stage tests. */

const enc = new TextEncoder();

/** Cut bytes at the given offsets (taken modulo the length + 1, duplicates dropped). */
export function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Strings (as UTF-8) and raw byte pieces, one after another in one buffer. */
export function joinPieces(pieces: (string | Uint8Array)[]): Uint8Array {
  const parts = pieces.map((x) => (typeof x === 'string' ? enc.encode(x) : x));
  const bytes = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    bytes.set(x, o);
    o += x.length;
  }
  return bytes;
}
