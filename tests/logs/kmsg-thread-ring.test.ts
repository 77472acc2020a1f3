/**
 * The reading thread's ring (electron/engine/logs/kmsg-thread.ts): where the writer puts each record
 * (ringPlace, the thread's own code), played against the main thread's reading of it (ringTake: a
 * length word, the record, padding to 4; a skip marker sends it to the ring's start).
 */
import { describe, expect, it } from 'vitest';
import { KMSG_RING_BYTES, ringPlace, ringRestartAt, ringTake, startKmsgThread } from '../../electron/engine/logs/kmsg-thread.ts';

const WRAP = 0xffffffff;
/** A record's every byte: its tag as a printable ASCII character (the reader decodes UTF-8). */
const TAGS = 90;
const TAG_CHAR = (tag: number) => 0x21 + (tag % TAGS);

/** A ring of `size` bytes with the writer's and the consumer's sides, as the thread and take() run them. */
function ring(size: number) {
  const data = Buffer.alloc(size);
  let written = 0;
  let consumed = 0;
  return {
    /** Writes a record of `len` bytes tagged `tag`; false when there is no room (the thread would wait). */
    write(tag: number, len: number): boolean {
      const need = 4 + ((len + 3) & ~3);
      const skip = ringPlace(written, consumed, need, size, ringRestartAt(size));
      if (skip < 0) return false;
      let off = written & (size - 1);
      if (skip !== 0) {
        data.writeUInt32LE(WRAP, off);
        written = (written + skip) | 0;
        off = 0;
      }
      data.writeUInt32LE(len, off);
      data.fill(TAG_CHAR(tag), off + 4, off + 4 + len);
      written = (written + need) | 0;
      return true;
    },
    /** Takes up to `max` records (ringTake): their tags, -1 for one not intact. */
    take(max: number): number[] {
      const taken = ringTake(data, consumed, written, max);
      consumed = taken.consumed;
      return taken.records.map((text) => (text.split('').every((c) => c === text[0]) ? text.charCodeAt(0) - 0x21 : -1));
    },
    offset: () => written & (size - 1),
  };
}

describe('the kmsg reading thread ring', () => {
  it('hands every record over intact and in order, whatever the consumer takes when, across skips to the start', () => {
    const r = ring(64 << 10);
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    let next = 0;
    let expected = 0;
    for (let step = 0; step < 100_000; step++) {
      if (rand(3) !== 0) {
        if (r.write(next, 1 + rand(2048))) next++;
      } else {
        for (const tag of r.take(1 + rand(64))) if (tag !== expected++ % TAGS) throw new Error(`record ${expected - 1}: tag ${tag}`);
      }
    }
    for (const tag of r.take(1 << 30)) if (tag !== expected++ % TAGS) throw new Error(`record ${expected - 1}: tag ${tag}`);
    expect(expected).toBe(next);
    expect(next).toBeGreaterThan(50_000);
  });

  it('leaves room for 100 ms of a 20k/s flood after the writer went back to the start, before the main thread has read its marker', () => {
    const r = ring(KMSG_RING_BYTES);
    // A firewall record is ~250 bytes. The main thread keeps up (takes each record at once) until
    // the writer, finding the ring empty, goes back to its start.
    let tag = 0;
    let last = r.offset();
    for (;;) {
      expect(r.write(tag++, 244)).toBe(true);
      if (r.offset() < last) break;
      last = r.offset();
      r.take(1);
    }
    // It has, and the main thread is held up (a busy machine) before it reads the marker: the
    // thread writes on until there is no room.
    let room = 0;
    while (r.write(tag++, 244)) room++;
    expect(room).toBeGreaterThanOrEqual(2000);
  });

  it('never leaves an empty ring without room for the next record', () => {
    // Past restartAt, empty, but the record is larger than what lies before the offset: written
    // where it is (a skip to the start would leave it no room, and nothing is left to consume).
    expect(ringPlace(2048, 2048, 2052, 8192, 2048)).toBe(0);
    expect(ringPlace(6144, 6144, 4096, 8192, 2048)).toBe(2048);
    // Rings too small for a skip at the end to leave room are refused.
    expect(() => startKmsgThread(-1, { records: () => undefined, error: () => undefined }, 8192)).toThrow(/not a power of two ≥ 8208/);
  });
});
