/**
 * The kernel log, read from /dev/kmsg: each read() returns exactly one record
 * ("prio,seq,usec,flags;text\n" then optional " KEY=value" dictionary lines). A read that fails
 * with EPIPE means records were overwritten in the ring before we got them: skip and go on.
 * Only kernel-facility records are passed on: userspace may write to /dev/kmsg, but the kernel
 * never lets it claim facility 0, so facility 0 is proof a record came from the kernel.
 */
import { closeSync, openSync, read } from 'node:fs';
import { MAX_KMSG_RECORDS_PER_EVENT, MAX_KMSG_RECORD_CHARS } from '../shared/helper-protocol.ts';
import { parseKmsgHeader } from '../shared/kmsg-header.ts';
import { DEV_KMSG, newestKmsgSeq, wakeKmsgReaders } from '../node/kmsg-ring.ts';

/** Where a stream starts: after a seq (resume), from the oldest record in the ring (null), or from now. */
export type KmsgStart = number | null | 'now';

/** One record per call, or null at the end; throws errors with `code` like fs does. */
export interface KmsgSource {
  read(): Promise<string | null>;
  close(): void;
}

export interface KmsgStream {
  stop(): void;
}

/**
 * Streams records from a source to `onRecords`, in batches (one batch per event-loop turn, capped),
 * skipping non-kernel records and records with seq ≤ afterSeq.
 */
export function streamKmsg(
  source: KmsgSource,
  afterSeq: number | null,
  onRecords: (records: string[]) => void,
  onError: (message: string) => void,
  onUntrusted?: () => void,
): KmsgStream {
  let stopped = false;
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    while (pending.length > 0 && !stopped) onRecords(pending.splice(0, MAX_KMSG_RECORDS_PER_EVENT));
  };
  const loop = async () => {
    for (;;) {
      let rec: string | null;
      try {
        rec = await source.read();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue; // overwritten before we read it
        if (!stopped) onError(`kmsg: ${(e as Error).message}`);
        break;
      }
      if (stopped || rec === null) break;
      const head = parseKmsgHeader(rec, MAX_KMSG_RECORD_CHARS);
      if (!head) continue;
      if (afterSeq !== null && head.seq <= afterSeq) continue;
      if (head.facility !== 0) {
        // Userspace wrote it (it cannot claim facility 0): never passed on, but counted for source health.
        if (!stopped) onUntrusted?.();
        continue;
      }
      pending.push(head.line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
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

/** Opens /dev/kmsg and streams kernel records, starting as asked. */
export function openDevKmsg(
  start: KmsgStart,
  onRecords: (records: string[]) => void,
  onError: (message: string) => void,
  onUntrusted?: () => void,
): KmsgStream {
  const afterSeq = start === 'now' ? newestKmsgSeq() : start;
  const stream = streamKmsg(devKmsgSource(), afterSeq, onRecords, onError, onUntrusted);
  return {
    stop() {
      stream.stop();
      // The last read stays parked until the next kernel record: wake it.
      wakeKmsgReaders(DEV_KMSG, 'portcullis-helper');
    },
  };
}
