/** The runner's /dev/kmsg source, with the device opener injected (no root needed). */
import { describe, expect, it } from 'vitest';
import { DevKmsgSource } from '../../electron/headless/kmsg-source.ts';
import type { KmsgStart } from '../../electron/helper/kmsg.ts';

const rec = (seq: number, text = '[UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.9 DST=192.0.2.1 PROTO=TCP SPT=1 DPT=22 SYN') => `4,${seq},${seq * 1000},-;${text}`;

function fakeKmsg() {
  const opened: KmsgStart[] = [];
  let deliver: (records: string[]) => void = () => {};
  let fail: (m: string) => void = () => {};
  let untrusted: () => void = () => {};
  const open = (start: KmsgStart, onRecords: (r: string[]) => void, onError: (m: string) => void, onUntrusted?: () => void) => {
    opened.push(start);
    deliver = onRecords;
    fail = onError;
    untrusted = onUntrusted ?? (() => {});
    return { stop() {} };
  };
  return { open, opened, deliver: (r: string[]) => deliver(r), fail: (m: string) => fail(m), untrusted: () => untrusted() };
}

describe('DevKmsgSource', () => {
  it('resumes after the saved sequence number, or starts at the newest record without one', async () => {
    for (const [afterSeq, want] of [[41, 41], [null, 'now']] as const) {
      const k = fakeKmsg();
      await new DevKmsgSource({ afterSeq, onSeq: () => {}, open: k.open }).start(() => {});
      expect(k.opened).toEqual([want]);
    }
  });

  it('hands on record lines without their dictionary lines, then reports the highest sequence handled', async () => {
    const k = fakeKmsg();
    const seqs: number[] = [];
    const got: string[][] = [];
    const src = new DevKmsgSource({ afterSeq: 7, onSeq: (s) => seqs.push(s), open: k.open });
    await src.start((lines) => got.push(lines));
    k.deliver([rec(8), `${rec(9)}\n SUBSYSTEM=net\n DEVICE=+net:eth0`, rec(10)]);
    expect(got).toEqual([[rec(8), rec(9), rec(10)]]);
    expect(seqs).toEqual([10]);
  });

  it('health counts lines (not deliveries) in the last minute, and reports a read error', async () => {
    const k = fakeKmsg();
    const src = new DevKmsgSource({ afterSeq: 0, onSeq: () => {}, open: k.open });
    await src.start(() => {});
    k.deliver([rec(1), rec(2), rec(3)]);
    k.deliver([rec(4)]);
    const h = src.health();
    expect(h).toMatchObject({ kind: 'kmsg', kernelTrusted: true, linesPerMinute: 4 });
    expect(h.lastRecordAt).not.toBeNull();
    expect(h.error).toBeUndefined();
    k.fail('EPERM reading /dev/kmsg');
    expect(src.health().error).toBe('EPERM reading /dev/kmsg');
  });

  it('health counts rejects per minute: userspace records in /dev/kmsg and lines the parser refused', async () => {
    const k = fakeKmsg();
    const src = new DevKmsgSource({ afterSeq: 0, onSeq: () => {}, open: k.open });
    await src.start(() => {});
    expect(src.health().rejectsPerMinute).toBe(0);
    k.untrusted();
    k.untrusted();
    src.noteRejects(3);
    expect(src.untrusted).toBe(2);
    expect(src.health().rejectsPerMinute).toBe(5);
  });
});
