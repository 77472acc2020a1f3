/**
 * The stored kmsg position across boots (engine/logs/kmsg-position.ts), the one decision both the
 * desktop and `portcullis run` take: the kernel numbers its records from 0 again at every boot, so
 * a position stored in another boot must not be resumed as it is.
 */
import { describe, expect, it } from 'vitest';
import { storedKmsgPosition } from '../../electron/engine/logs/kmsg-position.ts';

const KEYS = { seq: 'p.lastSeq', boot: 'p.bootId' };
function memoryState(init: Record<string, string>) {
  const map = new Map(Object.entries(init));
  return { map, get: (k: string) => map.get(k) ?? null, set: (k: string, v: string) => void map.set(k, v) };
}

describe('storedKmsgPosition', () => {
  it('resumes after the stored seq in the boot it was stored in', () => {
    const state = memoryState({ 'p.lastSeq': '250000', 'p.bootId': 'boot-a' });
    expect(storedKmsgPosition(state, KEYS, 'boot-a')).toBe(250000);
    expect(state.map.get('p.lastSeq')).toBe('250000');
  });

  it('a position of another boot is -1 (before this boot\'s first record), written back at once with this boot', () => {
    const state = memoryState({ 'p.lastSeq': '250000', 'p.bootId': 'boot-a' });
    expect(storedKmsgPosition(state, KEYS, 'boot-b')).toBe(-1);
    expect(Object.fromEntries(state.map)).toEqual({ 'p.lastSeq': '-1', 'p.bootId': 'boot-b' });
    // A second start in the same boot (killed before its first record) resumes from there.
    expect(storedKmsgPosition(state, KEYS, 'boot-b')).toBe(-1);
  });

  it('no position (a first run, or forgotten): null, and this boot is stored for the position to come', () => {
    for (const init of [{}, { 'p.lastSeq': 'none', 'p.bootId': 'boot-a' }] as Record<string, string>[]) {
      const state = memoryState(init);
      expect(storedKmsgPosition(state, KEYS, 'boot-b')).toBeNull();
      expect(state.map.get('p.bootId')).toBe('boot-b');
    }
  });

  it('a position stored before boots were (no boot key) is kept; no boot id to read (no /proc): taken as it is', () => {
    const legacy = memoryState({ 'p.lastSeq': '77' });
    expect(storedKmsgPosition(legacy, KEYS, 'boot-b')).toBe(77);
    expect(legacy.map.get('p.bootId')).toBe('boot-b');
    const noProc = memoryState({ 'p.lastSeq': '77', 'p.bootId': 'boot-a' });
    expect(storedKmsgPosition(noProc, KEYS, null)).toBe(77);
    expect(noProc.map.get('p.bootId')).toBe('boot-a');
  });
});
