/**
 * This boot's id, as the kernel gives it: a random UUID drawn at every boot. The kernel numbers
 * /dev/kmsg records from 0 again at every boot, so a stored kmsg position means something only
 * with the boot it was stored in (engine/logs/kmsg-position.ts); the nflog ledger keys its counters
 * by it too. Node-only, for every layer that stores or reads a position (electron/node/).
 */
import { readFileSync } from 'node:fs';

export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** The id of the running boot, or null when it cannot be read (no /proc). */
export function currentBootId(file: string = BOOT_ID_FILE): string | null {
  try {
    return readFileSync(file, 'utf8').trim() || null;
  } catch {
    return null;
  }
}
