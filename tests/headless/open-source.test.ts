/**
 * The log source's resume positions across a change of source: after a run on the nflog source,
 * kmsg's stored position is forgotten, so the next kmsg start begins at the ring's newest record (as
 * a first run does) instead of counting every record overwritten meanwhile as lost and taking the
 * ring's old records as new.
 */
import { accessSync, constants } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { forgetKmsgPosition, openSource } from '../../electron/headless/open-source.ts';

const kmsgReadable = (() => {
  try {
    accessSync('/dev/kmsg', constants.R_OK);
    return true;
  } catch {
    return false;
  }
})();

function memoryState(init: Record<string, string>) {
  const m = new Map(Object.entries(init));
  return {
    map: m,
    get: (k: string) => m.get(k) ?? null,
    set: (k: string, v: string) => void m.set(k, v),
    setMany: (e: Record<string, string>) => Object.entries(e).forEach(([k, v]) => m.set(k, v)),
    queue: (k: string, v: string) => void m.set(k, v),
  };
}

describe.runIf(kmsgReadable)('openSource: kmsg after an nflog period', () => {
  it('a stored position replays the ring from it; forgotten (an nflog run), kmsg starts at the newest record with nothing to replay', async () => {
    const state = memoryState({ 'kmsg.lastSeq': '0' });
    const resumed = await openSource('kmsg', state, false);
    expect('error' in resumed ? resumed.error : resumed.replayUpToSeq).toBe(0);

    forgetKmsgPosition(state);
    const fresh = await openSource('kmsg', state, false);
    if ('error' in fresh) throw new Error(fresh.error);
    expect(fresh.replayUpToSeq).toBeNull();
    expect(Number(state.map.get('kmsg.lastSeq'))).toBeGreaterThan(0);
  });
});
