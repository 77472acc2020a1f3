import { describe, expect, it } from 'vitest';
import { kmsgAfterSeq, openKmsgStream, streamKmsg, type KmsgSource } from '../../electron/helper/kmsg.ts';
import type { KmsgBatchInfo } from '../../electron/shared/helper-protocol.ts';
import { parseKmsgHeader } from '../../electron/shared/kmsg-header.ts';

function fakeSource(items: (string | Error)[]): KmsgSource & { closed: boolean } {
  const src = {
    closed: false,
    async read() {
      const next = items.shift();
      if (next === undefined) return null;
      if (next instanceof Error) throw next;
      return next;
    },
    close() {
      src.closed = true;
    },
  };
  return src;
}
const epipe = () => Object.assign(new Error('EPIPE: broken pipe'), { code: 'EPIPE' });

describe('kmsg', () => {
  it('parses record headers', () => {
    const line = '4,1234,5678901,-;[UFW BLOCK] IN=eth0 SRC=10.0.0.1';
    expect(parseKmsgHeader(`${line}\n SUBSYSTEM=net`)).toEqual({ facility: 0, level: 4, seq: 1234, usec: 5678901, line });
    expect(parseKmsgHeader('14,7,8,c;user text')).toMatchObject({ facility: 1, level: 6 });
    expect(parseKmsgHeader(line, 20)?.line).toBe(line.slice(0, 20)); // the helper's cap on what it passes on
    expect(parseKmsgHeader('garbage')).toBeNull();
  });

  it('streams kernel records after the given seq, skips user-facility records, survives EPIPE', async () => {
    const src = fakeSource([
      '4,9,1,-;old\n',
      '4,10,2,-;seen\n',
      epipe(),
      '4,11,3,-;[UFW BLOCK] first\n SUBSYSTEM=net\n',
      '12,12,4,-;[UFW BLOCK] SRC=1.2.3.4 spoofed by logger\n',
      '4,13,5,-;[UFW BLOCK] second\n',
    ]);
    const got: string[][] = [];
    const errors: string[] = [];
    let filtered = 0;
    streamKmsg(src, 10, (r, skipped) => (got.push(r), (filtered += skipped.filtered)), (e) => errors.push(e));
    await new Promise((r) => setTimeout(r, 20));
    expect(got.flat()).toEqual(['4,11,3,-;[UFW BLOCK] first', '4,13,5,-;[UFW BLOCK] second']);
    expect(filtered).toBe(1); // counted for the source's health, never passed on
    expect(errors).toEqual([]);
    expect(src.closed).toBe(true);
  });

  it('reports other read errors and stops', async () => {
    const src = fakeSource(['4,1,1,-;a\n', Object.assign(new Error('EIO'), { code: 'EIO' })]);
    const errors: string[] = [];
    streamKmsg(src, null, () => undefined, (e) => errors.push(e));
    await new Promise((r) => setTimeout(r, 20));
    expect(errors).toEqual(['kmsg: EIO']);
    expect(src.closed).toBe(true);
  });

  it('counts the records an EPIPE overran as lost, and the non-kernel ones it filtered out, with the next batch', async () => {
    // The audit's proof (b_lost): seq 10 read, the ring overran (EPIPE), the next read returns 5010.
    const src = fakeSource(['4,10,1,-;a\n', epipe(), '4,5010,2,-;b\n', '12,5011,3,-;user\n', '4,5012,4,-;c\n']);
    const batches: [string[], KmsgBatchInfo][] = [];
    streamKmsg(src, 5, (r, s) => batches.push([r, s]), () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    const total = batches.reduce((t, [, s]) => ({ lost: t.lost + s.lost, filtered: t.filtered + s.filtered }), { lost: 0, filtered: 0 });
    // 6..9 (never read: overwritten before the stream's first read) and 11..5009.
    expect(total).toEqual({ lost: 4 + 4999, filtered: 1 });
    expect(batches.flatMap(([r]) => r)).toEqual(['4,10,1,-;a', '4,5010,2,-;b', '4,5012,4,-;c']);
  });

  it('a batch carries counts even with no record (only userspace records came), and none twice', async () => {
    const src = fakeSource(['4,1,1,-;a\n', '12,2,2,-;x\n', '12,3,3,-;y\n']);
    const batches: [string[], KmsgBatchInfo][] = [];
    streamKmsg(src, 0, (r, s) => batches.push([r, s]), () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(batches.reduce((n, [, s]) => n + s.filtered, 0)).toBe(2);
    expect(batches.flatMap(([r]) => r)).toEqual(['4,1,1,-;a']);
  });

  it('from the oldest record (null) nothing before it counts as lost; from -1 (another boot) what the ring no longer holds does', async () => {
    for (const [start, lost] of [[null, 0], [-1, 100]] as const) {
      const batches: KmsgBatchInfo[] = [];
      streamKmsg(fakeSource(['4,100,1,-;a\n', '4,101,2,-;b\n']), start, (_r, s) => batches.push(s), () => undefined);
      await new Promise((r) => setTimeout(r, 20));
      expect(batches.reduce((n, s) => n + s.lost, 0)).toBe(lost);
    }
  });
});

describe('where a stream starts', () => {
  it('a resume position past the ring\'s newest record is of another boot: the boot is read from its first record', () => {
    expect(kmsgAfterSeq(250_000, 1019)).toBe(-1);
    expect(kmsgAfterSeq(1019, 1019)).toBe(1019); // this boot's: resumed
    expect(kmsgAfterSeq(500, 1019)).toBe(500);
    expect(kmsgAfterSeq(-1, 1019)).toBe(-1);
    expect(kmsgAfterSeq('now', 1019)).toBe(1019);
    expect(kmsgAfterSeq('now', null)).toBeNull();
    expect(kmsgAfterSeq(null, 1019)).toBeNull();
  });

  it('after a reboot the helper streams the new boot\'s records although the client resumes after the old boot\'s seq (a_reboot)', async () => {
    const scan = Array.from({ length: 20 }, (_, i) => `4,${1000 + i},${5_000_000 + i},-;[UFW BLOCK] IN=eth0 SRC=203.0.113.9 DPT=${20 + i}\n`);
    const got: string[] = [];
    const infos: KmsgBatchInfo[] = [];
    openKmsgStream(() => fakeSource(scan), () => 1019, 250_000, (r, info) => (got.push(...r), infos.push(info)), () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toHaveLength(20);
    // The first batch says so (the client skips up to the seq it asked for too), and only the first.
    expect(infos.map((i) => i.newBoot === true)).toEqual([true, ...infos.slice(1).map(() => false)]);
  });

  it('a stream of this boot says nothing of a new boot', async () => {
    const infos: KmsgBatchInfo[] = [];
    openKmsgStream(() => fakeSource(['4,5,1,-;a\n', '4,6,1,-;b\n']), () => 6, 4, (_r, info) => infos.push(info), () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(infos.length).toBeGreaterThan(0);
    expect(infos.some((i) => i.newBoot)).toBe(false);
  });
});
