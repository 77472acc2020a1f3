/**
 * The desktop's kernel log (app/desktop-kmsg.ts, wired by electron/main/index.ts): records come from
 * the root helper's stream — here the real client, dispatcher and helper stream over a fake ring.
 * After a reboot the stored position (another boot's) must not make the helper, nor the source, skip
 * this boot's records (the audit's a_reboot: saved seq 250000, a scan at seq 1000–1019 → nothing
 * detected); and records the helper lost to ring overwrite count as lost (b_lost).
 */
import { describe, expect, it } from 'vitest';
import { desktopKmsg } from '../../electron/app/desktop-kmsg.ts';
import { HelperClient } from '../../electron/engine/helperclient/client.ts';
import { openKmsgStream, type KmsgSource as DeviceSource } from '../../electron/helper/kmsg.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { fakeDeps } from '../helper/fakes.ts';

const scan = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `4,${from + i},${5_000_000 + i},-;[UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.9 DST=192.0.2.1 PROTO=TCP SPT=4444 DPT=${20 + i}\n`);
const epipe = () => Object.assign(new Error('EPIPE: broken pipe'), { code: 'EPIPE' });

/** A ring as the helper's device reads it: its records (or EPIPE) in order, then the end. */
function device(items: (string | Error)[]): DeviceSource {
  const left = [...items];
  return {
    async read() {
      const next = left.shift();
      if (next === undefined) return null;
      if (next instanceof Error) throw next;
      return next;
    },
    close() {},
  };
}
const newestOf = (items: (string | Error)[]) => Math.max(...items.filter((i): i is string => typeof i === 'string').map((r) => Number(r.split(',')[1])));

function memoryState(init: Record<string, string>) {
  const map = new Map(Object.entries(init));
  return { map, get: (k: string) => map.get(k) ?? null, set: (k: string, v: string) => void map.set(k, v), queue: (k: string, v: string) => void map.set(k, v) };
}

/** The desktop's source on `state`, streamed by a helper (in-process) whose ring holds `ring`. */
async function desktopOn(state: ReturnType<typeof memoryState>, bootId: string, ring: (string | Error)[]) {
  const starts: unknown[] = [];
  const f = fakeDeps();
  f.deps.openKmsg = (start, onRecords, onError) => {
    starts.push(start);
    return openKmsgStream(() => device(ring), () => newestOf(ring), start, onRecords, onError);
  };
  const client = new HelperClient({ inProcess: createHelperDispatcher(f.deps) });
  const kmsg = desktopKmsg(state, bootId);
  const lines: string[] = [];
  await kmsg.source.start((l) => lines.push(...l));
  await kmsg.stream(client);
  await new Promise((r) => setTimeout(r, 30));
  return { source: kmsg.source, lines, starts, client };
}

describe('the desktop after a reboot', () => {
  it('streams the new boot from its first record: the scan is read, nothing skipped', async () => {
    const state = memoryState({ 'desktop.kmsg.lastSeq': '250000', 'desktop.kmsg.bootId': 'boot-a' });
    const d = await desktopOn(state, 'boot-b', scan(1000, 20));
    expect(d.starts).toEqual([-1]);
    expect(d.lines).toHaveLength(20);
    expect(d.source.skipped).toBe(0);
    expect(state.map.get('desktop.kmsg.bootId')).toBe('boot-b');
    expect(state.map.get('desktop.kmsg.lastSeq')).toBe('1019');
    // The ring wrapped since boot: records 0..999 were never read, and say so.
    expect(d.source.health()).toMatchObject({ recordsLost: 1000 });
    d.client.close();
  });

  it('in the same boot resumes after the stored seq: nothing read twice', async () => {
    const state = memoryState({ 'desktop.kmsg.lastSeq': '1009', 'desktop.kmsg.bootId': 'boot-b' });
    const d = await desktopOn(state, 'boot-b', scan(1000, 20));
    expect(d.starts).toEqual([1009]);
    expect(d.lines).toHaveLength(10);
    expect(d.source.health()).toMatchObject({ recordsLost: 0 });
    d.client.close();
  });

  it('a position stored before boots were (no boot key) past the ring\'s newest record: the helper reads the boot from its start', async () => {
    const state = memoryState({ 'desktop.kmsg.lastSeq': '250000' });
    const d = await desktopOn(state, 'boot-b', scan(0, 20));
    expect(d.starts).toEqual([250000]);
    expect(d.lines).toHaveLength(20);
    d.client.close();
  });
});

describe('the desktop when the kernel ring overran the helper', () => {
  it('counts what the helper lost (b_lost: seq 10, EPIPE, seq 5010) in recordsLost, and says it', async () => {
    const state = memoryState({ 'desktop.kmsg.lastSeq': '5', 'desktop.kmsg.bootId': 'boot-b' });
    const d = await desktopOn(state, 'boot-b', [...scan(6, 5), epipe(), ...scan(5010, 1)]);
    expect(d.lines).toHaveLength(6);
    const h = d.source.health();
    expect(h.recordsLost).toBe(4999);
    expect(h.error).toMatch(/^4999 kernel records were overwritten before they could be read/);
    d.client.close();
  });

  it('records the helper filtered out (userspace writes) are not lost', async () => {
    const state = memoryState({ 'desktop.kmsg.lastSeq': '5', 'desktop.kmsg.bootId': 'boot-b' });
    const d = await desktopOn(state, 'boot-b', [...scan(6, 2), '14,8,1,-;systemd[1]: Started something\n', ...scan(9, 2)]);
    expect(d.lines).toHaveLength(4);
    expect(d.source.health()).toMatchObject({ recordsLost: 0, recordsRead: 5, rejectsPerMinute: 0 });
    expect(d.source.health().error).toBeUndefined();
    d.client.close();
  });
});
