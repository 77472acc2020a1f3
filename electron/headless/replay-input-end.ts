/**
 * The time of the last record of a replay's input file, read from its end before the replay starts:
 * whether the input is in time order decides whether the engine may forget quiet sources
 * (ReplaySession.inputEndsAt). Files concatenated newest first (`cat ufw.log*` lists ufw.log before
 * ufw.log.1) end with a record older than the first; a scan across the rotation is then seen in two
 * parts far apart in the input, and only an engine that kept the first part bans it.
 *
 * The last TAIL_BYTES are parsed as the replay parses the whole file (the same options), from the
 * first line that starts in them, and the time of the last packet record is returned (the last, not
 * the latest: in a small file the tail holds the newer file's records too); null when no packet
 * record is there (the caller then keeps every source, as before).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { RecordReader, TAG_REJECTED, RECORD_INTS, C_TAG, type RecordBatch } from '../engine/records.ts';
import { newPacket } from '../engine/parse/index.ts';
import { ReplayParser, type ReplayParseOptions } from '../engine/replay-parse.ts';

const TAIL_BYTES = 64 * 1024;

export function lastRecordTime(path: string, opts: ReplayParseOptions): number | null {
  const fd = openSync(path, 'r');
  let tail: Buffer;
  try {
    const size = fstatSync(fd).size;
    const from = Math.max(0, size - TAIL_BYTES);
    tail = Buffer.alloc(size - from);
    let got = 0;
    while (got < tail.length) {
      const n = readSync(fd, tail, got, tail.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    tail = tail.subarray(0, got);
    // From the first whole line (unless the tail is the whole file).
    if (from > 0) tail = tail.subarray(tail.indexOf(0x0a) + 1);
  } finally {
    closeSync(fd);
  }
  let last: number | null = null;
  const reader = new RecordReader();
  const scratch = newPacket();
  const parser = new ReplayParser(opts, (batch: RecordBatch) => {
    const f64 = new Float64Array(batch.ints.buffer, batch.ints.byteOffset, (batch.count * RECORD_INTS) / 2);
    let nextNews = 0;
    for (let i = 0; i < batch.count; i++) {
      if (nextNews < batch.news.length) nextNews = reader.news(batch, i, nextNews);
      if (batch.ints[i * RECORD_INTS + C_TAG] === TAG_REJECTED) continue;
      last = reader.packet(batch, f64, i, scratch).time;
    }
  });
  parser.push(tail);
  parser.end();
  return last;
}
