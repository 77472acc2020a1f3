/**
 * The fast lane's recent values: the values that repeat line after line (host, prefix, IN, OUT,
 * MAC, DST — layout.ts KIND_*) are kept in a small table per kind, and a record names the
 * JavaScript string of a value by the id JavaScript gave it. A value not in its table takes the
 * next slot in turn and is reported in the field F_NEW; JavaScript then makes its string and gives
 * its id (setId). Compared in place, eight bytes at a time: a repeat costs one comparison.
 */
import { CH_SPACE, F_KIND_A, F_NEW, KINDS } from './vocabulary';
import { field, fieldAt, IDS, LAST, LENS, NEXT, SLOTS, VALUE_MAX, VALUES } from './memory';

/** Forget every recent value: at the start, and when JavaScript's string table was reset. */
export function forget(): void {
  for (let k = 0; k < KINDS * SLOTS; k++) store<i32>(LENS + (k << 2), -1);
}

/** Forget kind k's value just kept (JavaScript found its string unusable: the next line meets it as new again). */
export function drop(k: i32): void {
  store<i32>(LENS + ((k * SLOTS + load<i32>(LAST + (k << 2))) << 2), -1);
}

/** Does value slot `slot` hold the n bytes at a (its length already known to be n)? Eight at a time. */
@inline function holds(slot: i32, a: i32, n: i32): bool {
  const v = VALUES + slot * VALUE_MAX;
  let j = 0;
  while (j + 8 <= n && load<u64>(v + j) == load<u64>(a + j)) j += 8;
  while (j < n && load<u8>(v + j) == load<u8>(a + j)) j++;
  return j == n;
}

/**
 * The slot of kind k's recent values (most recently matched first) holding the bytes at a: exactly
 * b[a, e) when `whole`, else a value b[a…] starts with and that is followed there by a space.
 * The slot number (k × SLOTS + s), or -1.
 */
function recentSlot(k: i32, a: i32, e: i32, whole: bool): i32 {
  const first = k * SLOTS;
  const last = load<i32>(LAST + (k << 2));
  for (let i = 0; i < SLOTS; i++) {
    let s = last + i;
    if (s >= SLOTS) s -= SLOTS;
    const slot = first + s;
    const n = load<i32>(LENS + (slot << 2));
    if (whole ? n != e - a : n < 0 || a + n >= e || <i32>load<u8>(a + n) != CH_SPACE) continue;
    if (holds(slot, a, n)) return slot;
  }
  return -1;
}

/**
 * Kind k's value b[a, e) in its table: the slot (k × SLOTS + s) holding it; a value not there takes
 * the next slot in turn, and its bit goes into F_NEW.
 */
function keep(k: i32, a: i32, e: i32): i32 {
  const found = recentSlot(k, a, e, true);
  if (found >= 0) {
    store<i32>(LAST + (k << 2), found - k * SLOTS);
    return found;
  }
  const s = load<i32>(NEXT + (k << 2));
  store<i32>(NEXT + (k << 2), s + 1 == SLOTS ? 0 : s + 1);
  store<i32>(LAST + (k << 2), s);
  const slot = k * SLOTS + s;
  const n = e - a;
  memory.copy(VALUES + slot * VALUE_MAX, a, n);
  store<i32>(LENS + (slot << 2), n);
  field(F_NEW, fieldAt(F_NEW) | (1 << k));
  return slot;
}

/** Keep kind k's value b[a, e) (at most VALUE_MAX bytes) and write its string id (-1 while new) into column c. */
export function keepInto(rec: i32, c: i32, k: i32, a: i32, e: i32): void {
  field(F_KIND_A + 2 * k, a);
  field(F_KIND_A + 2 * k + 1, e);
  const slot = keep(k, a, e);
  store<i32>(rec + (c << 2), (fieldAt(F_NEW) >> k) & 1 ? -1 : load<i32>(IDS + (slot << 2)));
}

/**
 * A recent value of kind k that b[a…] starts with, followed there by a space: the index after it,
 * or -1: for the MAC, whose end it finds and whose class ([0-9a-fA-F:]) it checked when first met.
 */
export function recentSpan(k: i32, a: i32, e: i32): i32 {
  const slot = recentSlot(k, a, e, false);
  return slot < 0 ? -1 : a + load<i32>(LENS + (slot << 2));
}

/** JavaScript gave the new value of kind k its string id. */
export function setId(k: i32, id: i32): void {
  store<i32>(IDS + ((k * SLOTS + load<i32>(LAST + (k << 2))) << 2), id);
}

