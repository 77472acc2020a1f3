/**
 * What to do about a store that cannot write (the state's `store`, StoreHealthSchema), worded once
 * for the Doctor, `portcullis status`, the tray and the window: from the error, which of a full file
 * system (space, or inodes: SQLite says "database or disk is full" for both) or a read-only one.
 */

/** The advice for a store whose writes fail with `error`; `file` is the database (absent: unknown). */
export function storeAdvice(error: string, file?: string): string {
  const where = file ?? 'the database';
  if (/read-?only/i.test(error)) {
    return `The file system of ${where} is read-only (mounted so, or remounted read-only after disk errors: see dmesg), or the file is not writable by Portcullis (ls -l ${where})`;
  }
  if (/full|no space|ENOSPC|quota/i.test(error)) {
    return `Free disk space or inodes on the file system of ${where} (df -h ${where}; df -i ${where}): it writes again by itself once there is room`;
  }
  return `Check the disk and the file system of ${where} (dmesg; df -h ${where}; df -i ${where})`;
}
