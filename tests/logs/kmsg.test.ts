import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { ParseResult } from '../../electron/shared/packet.ts';
import { parseRecord } from '../../electron/engine/parse/index.ts';
import { streamKmsg } from '../../electron/helper/kmsg.ts';
import { KmsgSource, kmsgBootTimeMs, liveLineParser, monotonicNowMs, parseKmsgHeader, PushKmsgFeed, type KmsgFeed, type KmsgFeedSink, type KmsgRecord } from '../../electron/engine/logs/kmsg.ts';

const FW = '[UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.7 DST=198.51.100.1 LEN=60 PROTO=TCP SPT=4000 DPT=22 SYN URGP=0';
/** A raw record as read() returns it: kernel facility unless told otherwise, with a dictionary line. */
const rec = (seq: number, msg = `${FW} n=${seq}`, prio = 4, usec = 1_000_000 + seq) =>
  `${prio},${seq},${usec},-;${msg}\n SUBSYSTEM=net\n DEVICE=+net:eth0\n`;

function setup(opts: ConstructorParameters<typeof KmsgSource>[0] = {}, prefiltered = false) {
  // Not prefiltered: these tests hand in every record, as /dev/kmsg itself does.
  const feed = new PushKmsgFeed('test feed', { prefiltered });
  const lines: string[] = [];
  const seqs: number[] = [];
  const untrusted: KmsgRecord[] = [];
  const src = new KmsgSource({ feed, onSeq: (s) => seqs.push(s), onUntrusted: (r) => untrusted.push(r), ...opts });
  return { feed, lines, seqs, untrusted, src, start: () => src.start((l) => lines.push(...l)) };
}

describe('kmsg record handling', () => {
  it('parses the header and keeps only the first line', () => {
    expect(parseKmsgHeader(rec(42, 'hello', 12, 77))).toEqual({ facility: 1, level: 4, seq: 42, usec: 77, line: '12,42,77,-;hello' });
    expect(parseKmsgHeader('6,1,2,c,extra;msg')).toMatchObject({ seq: 1, line: '6,1,2,c,extra;msg' });
    for (const bad of ['', 'hello', '6,1;x', 'a,1,2,-;x', '6,-1,2,-;x', ' SUBSYSTEM=net']) expect(parseKmsgHeader(bad)).toBeNull();
  });

  it('passes kernel-facility records on and refuses userspace writes (facility ≠ 0) as untrusted', async () => {
    const { feed, lines, untrusted, src, start } = setup({ resumeAfterSeq: 9 });
    await start();
    // "<4>[UFW BLOCK] …" written by root into /dev/kmsg is stored with facility 1 (prio 12).
    feed.push([rec(10), rec(11, `${FW} spoofed`, 12), rec(12, 'user daemon', 30), rec(13)]);
    expect(lines).toEqual([`4,10,1000010,-;${FW} n=10`, `4,13,1000013,-;${FW} n=13`]);
    expect(untrusted.map((r) => [r.seq, r.facility])).toEqual([[11, 1], [12, 3]]);
    expect(src.untrusted).toBe(2);
    // Only the forged firewall line is a reject; the daemon's record is no firewall record at all.
    expect(src.health()).toMatchObject({ kind: 'kmsg', kernelTrusted: true, linesPerMinute: 2, rejectsPerMinute: 1 });
  });

  it("ordinary userspace records (systemd's, Portcullis's own wake-up) are not firewall records: not counted as rejects", async () => {
    const { feed, lines, src, start } = setup({ resumeAfterSeq: 0 });
    await start();
    feed.push([
      rec(1, 'systemd[1]: Started Journal Service.', 30),
      rec(2, 'systemd-journald[312]: Received client request to flush runtime journal.', 46),
      rec(3, 'portcullis-helper[4242]: kernel log reader stopped', 14),
      rec(4),
    ]);
    expect(lines).toHaveLength(1);
    expect(src.untrusted).toBe(3);
    expect(src.health()).toMatchObject({ recordsRead: 4, rejectsPerMinute: 0 });
    // A line that imitates a firewall record is one (a forgery by a local user).
    feed.push([rec(5, `${FW} forged`, 12)]);
    expect(src.health()).toMatchObject({ rejectsPerMinute: 1 });
  });

  it('counts seq gaps as records lost to ring overwrite and carries on', async () => {
    const { feed, lines, src, start } = setup({ resumeAfterSeq: 99 });
    await start();
    feed.push([rec(100), rec(105), rec(106)]);
    expect(lines).toHaveLength(3);
    expect(src.lost).toBe(4);
    expect(src.health().error).toMatch(/4 kernel records were overwritten/);
  });

  it("says with the loss how large the kernel's ring is, and what makes it larger, unless it is large already", async () => {
    let ring: { bytes: number; records: number } | null = { bytes: 126_528, records: 571 };
    const { feed, src, start } = setup({ resumeAfterSeq: 0 });
    Object.assign(feed, { kernelRing: () => ring });
    await start();
    feed.push([rec(1), rec(3)]);
    expect(src.health().error).toBe(
      "1 kernel records were overwritten before they could be read; the kernel's log ring holds ~124 KB (~571 records like the ones in it now); a larger one rides out longer stalls of the reader: kernel parameter log_buf_len=4M (GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot)",
    );
    ring = null;
    expect(src.health().error).toMatch(/overwritten before they could be read; the kernel's log ring is a boot parameter; a larger one .*log_buf_len=4M/);
    ring = { bytes: 8 << 20, records: 40_000 };
    expect(src.health().error).toBe('1 kernel records were overwritten before they could be read');
  });

  it("re-reading the ring after a restart (startAt 'oldest'): records between the stored position and the ring's oldest are counted as lost while stopped", async () => {
    const gone = setup({ startAt: 'oldest', handledUpToSeq: 40 });
    await gone.start();
    gone.feed.push([rec(50), rec(51)]);
    expect(gone.lines).toHaveLength(2);
    expect(gone.src.lost).toBe(9);
    expect(gone.src.lostWhileStopped).toBe(9);
    expect(gone.src.health()).toMatchObject({ recordsLost: 9, error: expect.stringMatching(/9 kernel records .*9 of them while Portcullis was not running/) });
    // The ring still holds the stored position (it is re-read for the detection windows): nothing lost.
    const kept = setup({ startAt: 'oldest', handledUpToSeq: 40 });
    await kept.start();
    kept.feed.push([rec(39), rec(40), rec(41)]);
    expect(kept.src.lost).toBe(0);
    expect(kept.src.health()).toMatchObject({ recordsLost: 0 });
    expect(kept.src.health().error).toBeUndefined();
    // After a reboot (-1): a ring that starts at seq 0 lost nothing, one that wrapped lost its start.
    const booted = setup({ startAt: 'oldest', handledUpToSeq: -1 });
    await booted.start();
    booted.feed.push([rec(0), rec(1)]);
    expect(booted.src.lost).toBe(0);
    const wrapped = setup({ startAt: 'oldest', handledUpToSeq: -1 });
    await wrapped.start();
    wrapped.feed.push([rec(7)]);
    expect(wrapped.src.lostWhileStopped).toBe(7);
  });

  it('skips records at or before the resume seq and repeats, and reports the last seq handled', async () => {
    const { feed, lines, seqs, src, start } = setup({ resumeAfterSeq: 5 });
    await start();
    feed.push([rec(4), rec(5), rec(6), rec(7, 'user', 14)]);
    feed.push([rec(7), rec(8)]);
    feed.push([rec(8)]);
    expect(lines.map((l) => parseKmsgHeader(l)!.seq)).toEqual([6, 8]);
    expect(src.skipped).toBe(4);
    // The untrusted record 7 is handled too: a restart must not read it again.
    expect(seqs).toEqual([7, 8]);
    expect(src.position()).toBe(8);
  });

  it('two instances in a row: the second resumes after the first, no loss, no duplicate', async () => {
    const a = setup({ resumeAfterSeq: 0 });
    await a.start();
    a.feed.push([1, 2, 3].map((s) => rec(s)));
    await a.src.stop();
    a.feed.push([rec(4)]); // after stop: not taken
    const b = setup({ resumeAfterSeq: a.seqs.at(-1)! });
    await b.start();
    // The ring still holds everything: the new reader sees 1..6 again.
    b.feed.push([1, 2, 3, 4, 5, 6].map((s) => rec(s)));
    const all = [...a.lines, ...b.lines].map((l) => parseKmsgHeader(l)!.seq);
    expect(all).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("a prefiltered feed (the helper's stream) counts as lost what the helper says it lost, not its filtered records (b_lost)", async () => {
    // The helper's stream read seq 10, then EPIPE (the ring overran), then 5010; a user record in between was filtered.
    const items: (string | Error)[] = [rec(10), Object.assign(new Error('EPIPE'), { code: 'EPIPE' }), rec(5010), rec(5011, 'user daemon', 30), rec(5012)];
    const { feed, lines, src, start } = setup({ resumeAfterSeq: 5 }, true);
    await start();
    const device = { read: async () => { const v = items.shift(); if (v instanceof Error) throw v; return v ?? null; }, close() {} };
    streamKmsg(device, 5, (r, info) => feed.push(r, info), () => undefined);
    await new Promise((r) => setTimeout(r, 30));
    expect(lines).toHaveLength(3);
    // 6..9 (the ring no longer held them) and 11..5009; 5011 was the helper's to filter, not lost.
    expect(src.health()).toMatchObject({ recordsLost: 4 + 4999, recordsRead: 4, rejectsPerMinute: 0 });
    expect(src.health().error).toMatch(/^5003 kernel records were overwritten before they could be read/);
  });

  it("a prefiltered feed (the helper's stream drops non-kernel records) does not count seq gaps as lost", async () => {
    const { feed, lines, src, start } = setup({ resumeAfterSeq: 0 }, true);
    await start();
    feed.push([rec(1), rec(4), rec(9)]);
    expect(lines).toHaveLength(3);
    expect(src.lost).toBe(0);
    expect(src.health().error).toBeUndefined();
  });

  it("a problem the feed read on past is the health's warning, not its error; a failure to read is the error", async () => {
    let sink!: KmsgFeedSink;
    const feed: KmsgFeed = { description: 'test feed', start: async (s) => void (sink = s), stop: async () => undefined };
    const lines: string[] = [];
    const src = new KmsgSource({ feed, resumeAfterSeq: 0 });
    await src.start((l) => lines.push(...l));
    sink.warning('cannot start the kmsg reading thread: x');
    sink.records([rec(1)]);
    expect(lines).toHaveLength(1);
    expect(src.health()).toMatchObject({ warning: 'cannot start the kmsg reading thread: x' });
    expect(src.health().error).toBeUndefined();
    sink.error('EIO');
    expect(src.health()).toMatchObject({ error: 'EIO', warning: 'cannot start the kmsg reading thread: x' });
  });

  it('refuses malformed records without stopping', async () => {
    const { feed, lines, src, start } = setup({ resumeAfterSeq: 0 });
    await start();
    feed.push(['garbage', '', rec(1)]);
    expect(lines).toHaveLength(1);
    expect(src.malformed).toBe(2);
  });

  it('boot time is wall clock minus the monotonic clock, recomputed each time (suspend-proof)', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    let mono = 5_000;
    const { feed, src, start } = setup({ resumeAfterSeq: 0, clock, monotonicMs: () => mono });
    expect(src.bootTimeMs()).toBe(1_800_000_000_000 - 5_000);
    // 1 h of suspend: the wall clock moves, the monotonic clock (and kmsg stamps) do not.
    clock.advance(3_600_000);
    expect(src.bootTimeMs()).toBe(1_800_000_000_000 - 5_000 + 3_600_000);
    mono = 6_000;
    clock.advance(1_000);
    await start();
    feed.push([rec(1, 'x', 4, 5_500_000)]);
    expect(src.health().lastRecordAt).toBe(src.bootTimeMs() + 5_500);
  });

  it("startAt 'now' without a resume position starts after the newest record", async () => {
    const { feed, lines, start } = setup({ newestSeq: () => 41 });
    await start();
    feed.push([rec(40), rec(41), rec(42)]);
    expect(lines.map((l) => parseKmsgHeader(l)!.seq)).toEqual([42]);
  });

  it("startAt 'now' asks the feed for its newest record, so records overwritten before the feed's first read count as lost", async () => {
    const feed = new PushKmsgFeed('feed that can look', { prefiltered: false });
    Object.assign(feed, { newestSeq: () => 41 });
    const lines: string[] = [];
    const src = new KmsgSource({ feed });
    await src.start((l) => lines.push(...l));
    // The reader came up late: the ring's oldest survivor is 50, so 42..49 were written and overwritten.
    feed.push([rec(50), rec(51)]);
    expect(lines).toHaveLength(2);
    expect(src.lost).toBe(8);
  });
});

describe('a feed that fails', () => {
  it('makes the source stopped, with the reason, until records come again', async () => {
    const { feed, lines, src, start } = setup({ resumeAfterSeq: 9 });
    await start();
    feed.push([rec(10)]);
    expect(src.health().stopped).toBeUndefined();
    feed.fail('kmsg: EIO: i/o error, read');
    expect(src.health()).toMatchObject({ stopped: true, error: 'kmsg: EIO: i/o error, read' });
    // The helper's stream restarted (resumed after 10): reading again, the error gone.
    feed.push([rec(11)]);
    const h = src.health();
    expect(h.stopped).toBeUndefined();
    expect(h.error).toBeUndefined();
    expect(lines).toHaveLength(2);
  });

  it('is reading again once the feed says its stream runs again, before any record comes', async () => {
    const { feed, src, start } = setup({ resumeAfterSeq: 9 });
    await start();
    feed.fail('kmsg: EIO: i/o error, read');
    expect(src.health().stopped).toBe(true);
    feed.running();
    expect(src.health().stopped).toBeUndefined();
    expect(src.health().error).toBeUndefined();
  });
});

describe('kmsg time base across a suspend', () => {
  const line = (usec: number) => `4,7,${usec},-;[UFW BLOCK] IN=eth0 OUT= MAC= SRC=203.0.113.9 DST=192.0.2.1 LEN=44 TTL=50 ID=1 PROTO=TCP SPT=4000 DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0`;
  const time = (r: ParseResult) => (r.ok ? r.packet.time : NaN);

  it('dates each record with the boot time of the moment it is read, so records after a resume are not hours early', () => {
    const BOOT = 1_800_000_000_000;
    let wall = BOOT + 60_000; // one minute after boot
    let mono = 60_000;
    const parse = liveLineParser({ framing: 'kmsg' }, () => kmsgBootTimeMs(wall, mono));
    expect(time(parse(line(mono * 1000)))).toBe(wall);
    // Suspended for two hours: the wall clock moved on, CLOCK_MONOTONIC (kmsg's base) did not.
    wall += 2 * 3_600_000 + 1000;
    mono += 1000;
    expect(time(parse(line(mono * 1000)))).toBe(wall);
    // A base read once at start (what the runner used to do) dates the same record two hours early.
    expect(time(parseRecord(line(mono * 1000), { framing: 'kmsg', bootTimeMs: BOOT }))).toBe(BOOT + mono);
  });

  it('the live base is CLOCK_MONOTONIC (the clock kmsg stamps count): boot time = now minus monotonic now', () => {
    // Another program's reading of CLOCK_MONOTONIC falls between two of ours.
    const before = monotonicNowMs();
    const theirs = Number(execFileSync('python3', ['-c', 'import time; print(time.clock_gettime(time.CLOCK_MONOTONIC))'], { encoding: 'utf8' })) * 1000;
    const after = monotonicNowMs();
    expect(theirs).toBeGreaterThanOrEqual(before - 1);
    expect(theirs).toBeLessThanOrEqual(after + 1);
    expect(kmsgBootTimeMs(1_700_000_000_000, 3_600_000)).toBe(1_700_000_000_000 - 3_600_000);
  });
});
