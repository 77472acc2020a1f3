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
 * costs the run, up to the 100k tracked); keyed, 0.10–0.11 s. With the keys unknown, addresses
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
 * "The power of simple tabulation hashing", 2012). Four words: three keyed multiply rounds fold them
 * into one word — a bijection of the last word for the others fixed, so addresses of one /64 stay
 * distinct — which tabulation then places.
 *
 * Nothing the engine decides depends on the order of a table (its callers sort where an order is
 * shown), so the keys change no decision from one run to the next.
 */

// From Math.random, not crypto.getRandomValues: the latter loads node:crypto's binding into the
// service for good (~1.2 MB of its idle RSS, tests/headless/service-builtins.test.ts). V8 seeds
// Math.random per process from the system's entropy, and none of its outputs is ever shown: an
// attacker cannot learn the keys from them.
const key = (): number => (Math.random() * 0x1_0000_0000) | 0;
/** Four tables of 256 random words, one per byte of the word hashed. */
const TABLES = Int32Array.from({ length: 1024 }, key);
const M1 = key() | 1;
const M2 = key() | 1;
const W0 = key();
const W1 = key();
const W2 = key();
const W3 = key();

/** A 32-bit word's keyed hash, all 32 bits random (a table of 2^b homes takes the top b, `>>> (32 - b)`). */
export function hashWord(x: number): number {
  const T = TABLES;
  return T[x & 0xff]! ^ T[256 | ((x >>> 8) & 0xff)]! ^ T[512 | ((x >>> 16) & 0xff)]! ^ T[768 | (x >>> 24)]!;
}

/** Four words' keyed hash (an IPv6 address or network, or an IPv4 network with its marker words), as hashWord. */
export function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ W0, M1);
  h = Math.imul(h ^ (h >>> 15) ^ w1 ^ W1, M2);
  h = Math.imul(h ^ (h >>> 13) ^ w2 ^ W2, M1);
  h = Math.imul(h ^ (h >>> 16) ^ w3 ^ W3, M2);
  return hashWord(h);
}
