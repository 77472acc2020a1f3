import { describe, expect, it } from 'vitest';
import { streamKmsg, type KmsgSource } from '../../electron/helper/kmsg.ts';
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
    let untrusted = 0;
    streamKmsg(src, 10, (r) => got.push(r), (e) => errors.push(e), () => untrusted++);
    await new Promise((r) => setTimeout(r, 20));
    expect(got.flat()).toEqual(['4,11,3,-;[UFW BLOCK] first', '4,13,5,-;[UFW BLOCK] second']);
    expect(untrusted).toBe(1); // counted for the source's health, never passed on
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
});
