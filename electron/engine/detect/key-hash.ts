/**
 * Where an address (or a network's words) goes in the engine's open-addressing tables: the source
 * table's IPv4 index, the address sets (whitelist, ban book, a replay's distinct sources), the
 * network index, a replay's IPv6 names.
 *
 * Keyed with numbers drawn at random once per process. Why: those tables are filled with addresses
 * an attacker chooses — a spoofed SYN can carry any source — and they resolve collisions by linear
 * probing. The fixed multiplicative hash they used before is invertible: anyone could compute, off
 * line, 100k addresses that all share one home, and every packet from one of them then walked a run
 * of all the others. Measured through the engine (2 SYNs from each of 60k sources): 4.8–5.0 s for
 * crafted sources against 0.12–0.15 s for random ones, the gap growing with the table (a lookup
 * costs the run, up to the 100k tracked); keyed, 0.10–0.12 s. With the keys unknown, addresses
 * chosen in advance land as random ones do (tests/engine/detect/key-hash.test.ts).
 *
 * One word: simple tabulation — the word's four bytes each pick a random 32-bit number from a table
 * of their own, and the four are xored (4 KB of tables, in the L1 cache). Why not multiply-shift
 * with a random odd multiplier (the first keyed version, 440b2e4: one multiply): it is universal for a
 * pair of keys, but an arithmetic progression — a contiguous block of addresses, a sweep with a
 * stride — bunches up for the multipliers near a fraction with a small denominator: the review
 * found a /16 + /17 sweep or a stride of 256 making runs of 1,000 and more in ~0.1% of processes,
 * and a mean probe of thousands at worst (as bad as the attack), and a sweeper gets a new chance
 * with every sweep. Tabulation keeps linear probing fast for any set of keys (Pătraşcu and Thorup,
 * "The power of simple tabulation hashing", 2012). Four words: chained, each word xored into the
 * previous step's hash and tabulated with tables of its own, so every step is a random function of
 * what it is given and keys collide at random rates on average whatever their structure (a rare draw
 * — two entries of one table whose xor equals their indexes' difference, ~1e-5 — pairs up keys
 * differing in that byte: hundreds of pairs, never a run, since a triple needs a 2^-64
 * coincidence). (A fold by keyed multiplies, the second version, let addresses of one /64
 * differing in two words — ::i:i — collide by the thousand for rare multipliers, as
 * multiply-shift does.)
 *
 * Nothing the engine decides depends on the order of a table (its callers sort where an order is
 * shown), so the keys change no decision from one run to the next.
 */

// From Math.random, not crypto.getRandomValues: the latter loads node:crypto's binding into the
// service for good (~1.2 MB of its idle RSS, tests/headless/service-builtins.test.ts). V8 seeds
// Math.random per process from the system's entropy, and none of its outputs is ever shown: an
// attacker cannot learn the keys from them.
const key = (): number => (Math.random() * 0x1_0000_0000) | 0;
/** Four sets of four tables of 256 random words (16 KB): set s at s·1024, one table per byte of the word hashed. */
const TABLES = Int32Array.from({ length: 4096 }, key);

/** Simple tabulation of word x with table set `at` (0, 1024, 2048 or 3072). */
function tabulate(x: number, at: number): number {
  const T = TABLES;
  return T[at | (x & 0xff)]! ^ T[at | 256 | ((x >>> 8) & 0xff)]! ^ T[at | 512 | ((x >>> 16) & 0xff)]! ^ T[at | 768 | (x >>> 24)]!;
}

/** A 32-bit word's keyed hash, all 32 bits random (a table of 2^b homes takes the top b, `>>> (32 - b)`). */
export function hashWord(x: number): number {
  return tabulate(x, 0);
}

/** Four words' keyed hash (an IPv6 address or network, or an IPv4 network with its marker words), as hashWord. */
export function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  return tabulate(w3 ^ tabulate(w2 ^ tabulate(w1 ^ tabulate(w0, 0), 1024), 2048), 3072);
}
