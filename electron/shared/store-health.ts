/**
 * What to do about a store that cannot write (the state's `store`, StoreHealthSchema), worded once
 * for the Doctor, `portcullis status`, the tray and the window: from the error, which of a full file
 * system (space, or inodes: SQLite says "database or disk is full" for both), a read-only one, or a
 * lock another process holds.
 */

/** The advice for a store whose writes fail with `error`; `file` is the database (absent: unknown). */
export function storeAdvice(error: string, file?: string): string {
  const where = file ?? 'the database';
  if (/read-?only/i.test(error)) {
    return `The file system of ${where} is read-only (mounted so, or remounted read-only after disk errors: see dmesg), or the file is not writable by Portcullis (ls -l ${where})`;
  }
  if (/database (table )?is locked|database is busy/i.test(error)) {
    // SQLite's BUSY: another connection holds the write lock (the service's own never waits for it long: open.ts).
    return `Another process holds the write lock of ${where} (an sqlite3 shell with a transaction open, a backup or copy tool writing it): find it with fuser -v ${where} (or lsof ${where}) and end its transaction; it writes again by itself once the lock is let go`;
  }
  if (/full|no space|ENOSPC|quota/i.test(error)) {
    return `Free disk space or inodes on the file system of ${where} (df -h ${where}; df -i ${where}): it writes again by itself once there is room`;
  }
  return `Check the disk and the file system of ${where} (dmesg; df -h ${where}; df -i ${where})`;
}
