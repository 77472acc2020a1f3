/**
 * Deletion from an open-addressing table with linear probing, shared by the engine's three such
 * tables that delete (the source table's IPv4 index, V4Set, NetIndex; a replay's V6Names only
 * grows): backward shift, no tombstones.
 *
 * Why one function: the cyclic "may this entry stay?" test below is the subtle part of all three,
 * and three copies of it (as before) could drift apart. A deletion is at most one per source (each
 * is forgotten, evicted or banned once; about one per packet under a flood of spoofed sources at
 * the bound), against a lookup per packet, and the indirection through `homeOf` costs ~10-30 ns
 * a deletion (review, 2M deletions at 100k entries): nothing measurable. Lookups stay inline in each table.
 *
 * Layout: `table` holds entries of `stride` int32 words; the word at `occupied` within an entry is 0
 * when the entry is empty (each table stores its value + 1 there, never 0).
 */

/**
 * Empties entry `i` of `table` (`mask` + 1 entries), pulling later entries of its probe run back
 * into the hole unless their home (`homeOf(j)`: entry j's home index) lies cyclically in (hole, j].
 */
export function deleteShiftingBack(table: Int32Array, stride: number, occupied: number, mask: number, i: number, homeOf: (j: number) => number): void {
  let j = i;
  for (;;) {
    table[i * stride + occupied] = 0;
    for (;;) {
      j = (j + 1) & mask;
      if (table[j * stride + occupied] === 0) return;
      const h = homeOf(j);
      // The entry at j may stay when its home lies cyclically in (i, j].
      if (i <= j ? i < h && h <= j : i < h || h <= j) continue;
      break;
    }
    for (let w = 0; w < stride; w++) table[i * stride + w] = table[j * stride + w]!;
    i = j;
  }
}
