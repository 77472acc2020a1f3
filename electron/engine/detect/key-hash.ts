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
 * One word: multiply-shift with a random odd multiplier (Dietzfelbinger et al.: two distinct words
 * share the top b bits with probability at most 2/2^b over the choice of multiplier), the word first
 * xored with a random key; as cheap as the fixed hash was (one multiply on the replay's hot path).
 * Only the top bits are good: a table of 2^b places takes `>>> (32 - b)`. Four words: murmur3-style
 * rounds with the multipliers and a key per word drawn at random.
 *
 * Nothing the engine decides depends on the order of a table (its callers sort where an order is
 * shown), so the keys change no decision from one run to the next.
 */

// From Math.random, not crypto.getRandomValues: the latter loads node:crypto's binding into the
// service for good (~1.2 MB of its idle RSS, tests/headless/service-builtins.test.ts). V8 seeds
// Math.random per process from the system's entropy, and none of its outputs is ever shown: an
// attacker cannot learn the keys from them.
const key = (): number => (Math.random() * 0x1_0000_0000) | 0;
const SEED = key();
const M1 = key() | 1;
const M2 = key() | 1;
const W1 = key();
const W2 = key();
const W3 = key();

/** A 32-bit word's keyed hash (a table of 2^b homes takes the top b bits, `>>> (32 - b)`; the low bits are poor). */
export function hashWord(x: number): number {
  return Math.imul(x ^ SEED, M1);
}

/** Four words' keyed hash (an IPv6 address or network, or an IPv4 network with its marker words); all 32 bits mixed. */
export function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ SEED, M1);
  h = Math.imul(h ^ (h >>> 15) ^ w1 ^ W1, M2);
  h = Math.imul(h ^ (h >>> 13) ^ w2 ^ W2, M1);
  h = Math.imul(h ^ (h >>> 16) ^ w3 ^ W3, M2);
  return h ^ (h >>> 15);
}
