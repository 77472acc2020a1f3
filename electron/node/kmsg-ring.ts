/**
 * The kernel's log ring (/dev/kmsg) as both readers of it need it: the root helper (electron/helper)
 * and the engine's kmsg source (electron/engine/logs) — written once here. electron/node/ is the
 * layer for Node-only code that both of them use (like VS Code's base/node): it may import shared
 * and Node built-ins, nothing else of ours (`npm run layers`).
 */
import { closeSync, constants, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { parseKmsgHeader } from '../shared/kmsg-header.ts';

export const DEV_KMSG = '/dev/kmsg';

/**
 * Seq of the newest record in the ring right now, or null when it is empty: reads every record
 * without blocking (O_NONBLOCK: EAGAIN at the end), skipping over records overwritten meanwhile
 * (EPIPE).
 */
export function newestKmsgSeq(path = DEV_KMSG): number | null {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(16 * 1024);
  let last: number | null = null;
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue;
        if (code === 'EAGAIN') break;
        throw e;
      }
      if (n === 0) break;
      const head = parseKmsgHeader(buf.toString('utf8', 0, n));
      if (head) last = head.seq;
    }
  } finally {
    closeSync(fd);
  }
  return last;
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
