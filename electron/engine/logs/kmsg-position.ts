/**
 * The kmsg position a previous run stored, as this boot reads it — one decision for both shells:
 * `portcullis run`/`serve` (headless/open-source.ts, /dev/kmsg in-process) and the desktop
 * (app/desktop-kmsg.ts, through the root helper's stream).
 *
 * The kernel numbers its records from 0 again at every boot. A position stored in another boot
 * (say seq 250000) resumed as it is would skip every record of this boot until its count passed
 * that number: nothing detected for hours or days after a reboot. So the boot is stored beside the
 * position, and a position of another boot becomes -1 — "before this boot's first record": all it
 * logged is new, and what a ring that wrapped since the boot no longer holds is counted as lost.
 */

/** The state keys of one shell's position and of the boot it belongs to. */
export interface KmsgPositionKeys {
  seq: string;
  boot: string;
}

/** Immediate reads and writes (not queued with packets: the boot must be known before any record). */
export interface KmsgPositionState {
  get(key: string): string | null;
  set(key: string, value: string): void;
}

/**
 * The seq to resume after: null when none is stored (a first run, or forgotten: 'none'), -1 when
 * the stored one is of another boot (written back at once, with this boot's id), else the stored
 * seq. This boot's id is stored when it is new. `bootId` null (no /proc): positions are taken as
 * they are. A position stored before boots were (no boot key) is kept: nothing tells its boot
 * (the helper still refuses a position past the ring's newest record, helper/kmsg.ts).
 */
export function storedKmsgPosition(state: KmsgPositionState, keys: KmsgPositionKeys, bootId: string | null): number | null {
  const saved = Number(state.get(keys.seq) ?? NaN);
  const savedBoot = state.get(keys.boot);
  if (bootId !== null && savedBoot !== bootId) {
    state.set(keys.boot, bootId);
    if (savedBoot !== null && Number.isInteger(saved)) {
      state.set(keys.seq, '-1');
      return -1;
    }
  }
  return Number.isInteger(saved) ? saved : null;
}
