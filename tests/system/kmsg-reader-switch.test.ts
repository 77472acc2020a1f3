/**
 * The kmsg feed reads on the libuv threadpool at rest and starts its reading thread only for a burst,
 * retiring it after (electron/engine/logs/kmsg-reader.ts). Real /dev/kmsg (root): markers written by
 * a child process (so that they arrive while the reader switches), every record's sequence number
 * collected. Across every switch: sequence numbers strictly increasing (none read twice), and every
 * gap between them counted as lost by the source — no record silently dropped at a hand-over.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { DevKmsgFeed, KmsgSource, newestKmsgSeq, parseKmsgHeader } from '../../electron/engine/logs/kmsg.ts';
import { requireSystem } from '../support/system.ts';

const tag = `portcullis-switch-test-${randomBytes(4).toString('hex')}`;
const mark = (n: number) => writeFileSync('/dev/kmsg', `<4>${tag} marker=${n}\n`);
const markerOf = (line: string) => (line.includes(tag) ? Number(/marker=(\d+)/.exec(line)?.[1]) : null);

/**
 * `count` markers from `from` on, written by a shell concurrently with our reading: ten at a time,
 * 10 ms apart (~1k/s), so that the burst lasts long enough for the thread to boot and take over.
 */
function burst(from: number, count: number): Promise<void> {
  const script = `i=${from}; end=${from + count}; while [ $i -lt $end ]; do echo "<4>${tag} marker=$i" > /dev/kmsg; i=$((i+1)); [ $((i % 10)) -eq 0 ] && sleep 0.01; done; true`;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-c', script], { stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`burst writer exited ${code}`))));
  });
}

/**
 * A KmsgSource on `feed` from the newest record on: every seq after it is either handed over or
 * counted as lost. Collects the seqs handed over (or skipped as untrusted) and the markers seen.
 */
async function watchFeed(feed: DevKmsgFeed): Promise<{ seqs: number[]; markers: number[]; src: KmsgSource }> {
  const from = newestKmsgSeq()!;
  const seqs: number[] = [from];
  const markers: number[] = [];
  const src = new KmsgSource({
    feed,
    resumeAfterSeq: from,
    onUntrusted: (r) => {
      seqs.push(r.seq);
      const m = markerOf(r.line);
      if (m !== null) markers.push(m);
    },
  });
  await src.start((lines) => {
    for (const l of lines) seqs.push(parseKmsgHeader(l)!.seq);
  });
  return { seqs, markers, src };
}

/** No record handed over twice or out of order, and every gap in the sequence numbers counted as lost. */
function expectEachOnceAndGapsCounted(seqs: number[], markers: number[], src: KmsgSource, skippedBacklog: number): void {
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
  for (let i = 1; i < markers.length; i++) expect(markers[i]!).toBeGreaterThan(markers[i - 1]!);
  let gaps = 0;
  for (let i = 1; i < seqs.length; i++) gaps += seqs[i]! - seqs[i - 1]! - 1;
  expect(src.lost).toBe(gaps);
  expect(src.skipped).toBe(skippedBacklog);
}

/**
 * The feed at rest before a test's own burst: reading with pool reads, no thread. Other writers of
 * the kernel's log (a namespace the test before tore down logs a few lines per interface) can start a
 * thread under these tests' low thresholds (50 records in 1 s), or the start's read of the ring's
 * backlog can meet records overwritten meanwhile (EPIPE starts one too): such a thread is the
 * product's right answer, not the test's subject, so the test waits for it to retire and counts its
 * own switches from there.
 */
async function atRest(feed: DevKmsgFeed): Promise<ReturnType<DevKmsgFeed['readerState']>> {
  await vi.waitFor(() => expect(feed.readerState().mode).toBe('pool'), { timeout: 15_000 });
  return feed.readerState();
}

describe.runIf(requireSystem('root'))('the kmsg feed switches between pool reads and its thread', () => {
  it('reads at rest without a thread, starts one for a burst, retires it after; no record read twice, every gap counted', async () => {
    const feed = new DevKmsgFeed('/dev/kmsg', { tuning: { startRecords: 50, windowMs: 1000, quietRecords: 20, retireAfterMs: 1000 } });
    const { seqs, markers, src } = await watchFeed(feed);
    let next = 1;
    const slowly = async (n: number) => {
      for (let i = 0; i < n; i++) {
        mark(next++);
        await new Promise((r) => setTimeout(r, 30));
      }
      const last = next - 1;
      await vi.waitFor(() => expect(markers).toContain(last), { timeout: 10_000 });
    };
    // Records the source skips as already handled: at first the ring's records up to `from` (read from
    // its oldest); after that, any record read twice at a switch would be skipped too.
    let skippedBacklog = 0;
    try {
      await slowly(5);
      const base = await atRest(feed);
      skippedBacklog = src.skipped;
      for (let round = 1; round <= 2; round++) {
        const threadRecords = feed.readerState().threadRecords;
        await burst(next, 300);
        next += 300;
        // The last marker arrives, or was overwritten in the kernel's ring (then counted below).
        await vi.waitFor(() => expect(feed.readerState().threadStarts).toBe(base.threadStarts + round), { timeout: 10_000 });
        await vi.waitFor(() => expect(feed.readerState()).toMatchObject({ mode: 'pool', threadRetires: base.threadRetires + round }), { timeout: 15_000 });
        // The thread took over: it read part of the burst (its retirement's wake record at least).
        expect(feed.readerState().threadRecords).toBeGreaterThan(threadRecords);
        await slowly(5);
        expect(feed.readerState()).toMatchObject({ mode: 'pool', threadStarts: base.threadStarts + round, threadRetires: base.threadRetires + round });
      }
    } finally {
      await src.stop();
      mark(0);
    }
    expectEachOnceAndGapsCounted(seqs, markers, src, skippedBacklog);
    expect(markers.length + src.lost).toBeGreaterThanOrEqual(next - 1);
    // The slow markers after each retirement came through the pool reads.
    expect(markers).toContain(next - 1);
  }, 90_000);

  it('while the thread boots, the main thread reads the records waiting (a second fd): none read twice, every gap counted', async () => {
    const feed = new DevKmsgFeed('/dev/kmsg', { tuning: { startRecords: 50, windowMs: 1000, quietRecords: 20, retireAfterMs: 1000 } });
    const { seqs, markers, src } = await watchFeed(feed);
    const total = 400;
    // Records the source skips as already handled: the ring's records up to `from` (read from its
    // oldest), then any record handed over twice.
    let skippedBacklog = 0;
    try {
      mark(1);
      await vi.waitFor(() => expect(markers).toContain(1), { timeout: 10_000 });
      const base = await atRest(feed);
      skippedBacklog = src.skipped;
      // All written before the pool reads could take them: the 50th starts the thread, and the rest
      // wait in the kernel's ring while it boots (tens of ms), for the main thread's reads.
      for (let i = 2; i <= total; i++) mark(i);
      await vi.waitFor(() => expect(feed.readerState().threadStarts).toBe(base.threadStarts + 1), { timeout: 10_000 });
      await vi.waitFor(() => expect(feed.readerState()).toMatchObject({ mode: 'pool', threadRetires: base.threadRetires + 1 }), { timeout: 15_000 });
      expect(feed.readerState().bootRecords).toBeGreaterThan(base.bootRecords);
      // After the retirement: the pool reads go on where the thread stopped.
      mark(total + 1);
      await vi.waitFor(() => expect(markers).toContain(total + 1), { timeout: 10_000 });
    } finally {
      await src.stop();
      mark(0);
    }
    expectEachOnceAndGapsCounted(seqs, markers, src, skippedBacklog);
    expect(markers.length + src.lost).toBeGreaterThanOrEqual(total + 1);
  }, 60_000);

  it('stops cleanly while the thread reads and while it boots', async () => {
    for (const startRecords of [1, 50]) {
      const feed = new DevKmsgFeed('/dev/kmsg', { tuning: { startRecords, windowMs: 1000 } });
      const src = new KmsgSource({ feed });
      await src.start(() => undefined);
      const writing = burst(1, 100);
      await vi.waitFor(() => expect(feed.readerState().threadStarts).toBe(1), { timeout: 10_000 });
      await src.stop();
      await writing;
      expect(feed.readerState().mode).toBe('stopped');
    }
  }, 60_000);
});
