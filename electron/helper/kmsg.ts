/**
 * The kernel log, read from /dev/kmsg: each read() returns exactly one record
 * ("prio,seq,usec,flags;text\n" then optional " KEY=value" dictionary lines). A read that fails
 * with EPIPE means records were overwritten in the ring before we got them: the next read returns
 * the oldest survivor, and the seq numbers in between are counted as lost.
 * Only kernel-facility records are passed on: userspace may write to /dev/kmsg, but the kernel
 * never lets it claim facility 0, so facility 0 is proof a record came from the kernel. The others
 * are counted as filtered. Both counts go with the next batch, so the client can tell a seq gap of
 * records lost from one of records filtered out.
 */
import { closeSync, openSync, read } from 'node:fs';
import { MAX_KMSG_RECORDS_PER_EVENT, MAX_KMSG_RECORD_CHARS, type KmsgBatchInfo } from '../shared/helper-protocol.ts';
import { parseKmsgHeader } from '../shared/kmsg-header.ts';
import { DEV_KMSG, newestKmsgSeq, wakeKmsgReaders } from '../node/kmsg-ring.ts';

/**
 * Where a stream starts: after a seq (resume; -1: before this boot's first record), from the
 * oldest record in the ring (null), or from now.
 */
export type KmsgStart = number | null | 'now';

/** One record per call, or null at the end; throws errors with `code` like fs does. */
export interface KmsgSource {
  read(): Promise<string | null>;
  close(): void;
}

export interface KmsgStream {
  stop(): void;
}

const NOTHING_MORE: KmsgBatchInfo = { lost: 0, filtered: 0 };

/**
 * The seq a stream of this start skips up to, given the ring's newest seq now. A resume position
 * past the newest record cannot be of this boot (a position only moves up to records the ring
 * holds, and the kernel numbers records from 0 again at every boot): the boot is read from its
 * first record (-1), not skipped until its count passes the old one.
 */
export function kmsgAfterSeq(start: KmsgStart, newestSeq: number | null): number | null {
  if (start === 'now') return newestSeq;
  if (start !== null && newestSeq !== null && start > newestSeq) return -1;
  return start;
}

/**
 * Streams records from a source to `onRecords`, in batches (one batch per event-loop turn, capped),
 * skipping records with seq ≤ afterSeq; non-kernel records are skipped and counted (filtered), seq
 * numbers never read after afterSeq too (lost). A batch carries the counts since the one before,
 * and may carry no record.
 */
export function streamKmsg(
  source: KmsgSource,
  afterSeq: number | null,
  onRecords: (records: string[], info: KmsgBatchInfo) => void,
  onError: (message: string) => void,
): KmsgStream {
  let stopped = false;
  let pending: string[] = [];
  let lost = 0;
  let filtered = 0;
  /** The newest seq read (or skipped as ≤ afterSeq): a record further on than the next one means a gap. */
  let lastSeq = afterSeq;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (stopped) return;
    let info: KmsgBatchInfo = { lost, filtered };
    lost = 0;
    filtered = 0;
    do {
      onRecords(pending.splice(0, MAX_KMSG_RECORDS_PER_EVENT), info);
      info = NOTHING_MORE;
    } while (pending.length > 0 && !stopped);
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const loop = async () => {
    for (;;) {
      let rec: string | null;
      try {
        rec = await source.read();
      } catch (e) {
        // Overwritten before we read it: the next read returns the oldest survivor (its seq tells how many).
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue;
        if (!stopped) onError(`kmsg: ${(e as Error).message}`);
        break;
      }
      if (stopped || rec === null) break;
      const head = parseKmsgHeader(rec, MAX_KMSG_RECORD_CHARS);
      if (!head) continue;
      if (lastSeq !== null && head.seq <= lastSeq) continue;
      if (lastSeq !== null && head.seq > lastSeq + 1) lost += head.seq - lastSeq - 1;
      lastSeq = head.seq;
      // Userspace wrote it (it cannot claim facility 0): never passed on, counted.
      if (head.facility !== 0) filtered++;
      else pending.push(head.line);
      schedule();
    }
    source.close();
  };
  void loop();
  return {
    stop() {
      stopped = true;
      pending = [];
    },
  };
}

/**
 * The real device, blocking reads on the libuv threadpool (zero added latency; a record is
 * handed over the moment the kernel writes it). A stopped stream's last read stays parked until
 * the next kernel record arrives, then the fd is closed.
 */
export function devKmsgSource(path = DEV_KMSG): KmsgSource {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(16 * 1024);
  let closed = false;
  return {
    read: () =>
      new Promise((resolve, reject) => {
        read(fd, buf, 0, buf.length, null, (err, n) => {
          if (err) reject(err);
          else resolve(n === 0 ? null : buf.toString('utf8', 0, n));
        });
      }),
    close() {
      if (!closed) {
        closed = true;
        closeSync(fd);
      }
    },
  };
}

/**
 * Streams kernel records, starting as asked (kmsgAfterSeq): `newestSeq` reads the ring's newest seq
 * (first: a failure opens nothing), `open` the source.
 */
export function openKmsgStream(
  open: () => KmsgSource,
  newestSeq: () => number | null,
  start: KmsgStart,
  onRecords: (records: string[], info: KmsgBatchInfo) => void,
  onError: (message: string) => void,
): KmsgStream {
  const afterSeq = start === null ? null : kmsgAfterSeq(start, newestSeq());
  // Read from this boot's start although asked after a seq: the first batch says so (the client skips up to that seq too).
  let newBoot = typeof start === 'number' && afterSeq !== start;
  return streamKmsg(
    open(),
    afterSeq,
    (records, info) => {
      if (newBoot) {
        newBoot = false;
        info = { ...info, newBoot: true };
      }
      onRecords(records, info);
    },
    onError,
  );
}

/** Opens /dev/kmsg and streams kernel records, starting as asked (kmsgAfterSeq). */
export function openDevKmsg(start: KmsgStart, onRecords: (records: string[], info: KmsgBatchInfo) => void, onError: (message: string) => void): KmsgStream {
  const stream = openKmsgStream(() => devKmsgSource(), () => newestKmsgSeq(), start, onRecords, onError);
  return {
    stop() {
      stream.stop();
      // The last read stays parked until the next kernel record: wake it.
      wakeKmsgReaders(DEV_KMSG, 'portcullis-helper');
    },
  };
}
