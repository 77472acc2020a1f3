/**
 * The kernel's log ring (/dev/kmsg) as both readers of it need it: the root helper (electron/helper)
 * and the engine's kmsg source (electron/engine/logs) — written once here. electron/node/ is the
 * layer for Node-only code that both of them use (like VS Code's base/node): it may import shared
 * and Node built-ins, nothing else of ours (`npm run layers`).
 */
import { closeSync, constants, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { parseKmsgHeader } from '../shared/kmsg-header.ts';

export const DEV_KMSG = '/dev/kmsg';

/** What one read of the whole ring tells. */
export interface KmsgRingView {
  /** Seq of its newest record, null when it is empty. */
  newestSeq: number | null;
  /**
   * Once older records were overwritten (its oldest seq is not 0, the boot's first): what its records
   * take (ringBlockBytes), i.e. about the ring's size (`log_buf_len`), and how many there are. Null
   * before it first wrapped (its size is not known yet), and when records were overwritten while
   * it was read (they would add up to more than one ring).
   */
  full: { bytes: number; records: number } | null;
}

/**
 * The bytes a record takes in the kernel's text ring (printk_ringbuffer, Linux 5.10+): a block id
 * (one unsigned long) and its text, aligned to an unsigned long. Its fields (SUBSYSTEM=, DEVICE=)
 * live in a descriptor of their own.
 */
export function ringBlockBytes(textBytes: number): number {
  return 8 + ((textBytes + 7) & ~7);
}

/** Seq of the newest record in the ring right now, or null when it is empty (readKmsgRing). */
export function newestKmsgSeq(path = DEV_KMSG): number | null {
  return readKmsgRing(path).newestSeq;
}

/**
 * Reads every record of the ring without blocking (O_NONBLOCK: EAGAIN at the end), skipping over
 * records overwritten meanwhile (EPIPE).
 */
export function readKmsgRing(path = DEV_KMSG): KmsgRingView {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(16 * 1024);
  let last: number | null = null;
  let first: number | null = null;
  let bytes = 0;
  let records = 0;
  let overrun = false;
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          // Overwritten while read: what was read no longer adds up to one ring.
          overrun = true;
          continue;
        }
        if (code === 'EAGAIN') break;
        throw e;
      }
      if (n === 0) break;
      const head = parseKmsgHeader(buf.toString('utf8', 0, n));
      if (!head) continue;
      last = head.seq;
      first ??= head.seq;
      // The text: after the header's ';', up to the first newline (kmsg escapes any in the text).
      const semi = buf.indexOf(0x3b);
      const nl = buf.indexOf(0x0a, semi);
      bytes += ringBlockBytes((nl < 0 || nl > n ? n : nl) - semi - 1);
      records++;
    }
  } finally {
    closeSync(fd);
  }
  return { newestSeq: last, full: first !== null && first > 0 && !overrun ? { bytes, records } : null };
}

/**
 * Wakes reads parked on a kmsg device by logging one user-facility line as `tag` (root only; a
 * no-op on a plain file). A parked read holds the process at exit (libuv joins its threadpool)
 * until the next kernel record.
 */
export function wakeKmsgReaders(path = DEV_KMSG, tag = 'portcullis'): void {
  try {
    if (statSync(path).isCharacterDevice()) writeFileSync(path, `<14>${tag}[${process.pid}]: kernel log reader stopped\n`);
  } catch {
    /* not root, or no such device: nothing parked that we could wake */
  }
}
