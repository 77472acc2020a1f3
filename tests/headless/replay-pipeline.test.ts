/**
 * The two-thread replay (ReplayPipeline: a worker parses, this thread detects) must report exactly
 * what one thread reports — bans, counts, everything in the summary — reading a file itself or fed
 * chunks, with a slow detect stage (the worker must wait for its ring of batches, not overwrite
 * one) and with input that fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLines } from '../../bench/gen-log.ts';
import { ReplaySession } from '../../electron/engine/replay.ts';
import type { RecordBatch } from '../../electron/engine/records.ts';
import { ParseWorkerError, ReplayPipeline } from '../../electron/headless/replay-pipeline.ts';
import { validateSettings } from '../../electron/shared/settings.ts';

const settingsCheck = validateSettings({ detection: { maxretry: 4, minDistinctPorts: 3 } });
if (!settingsCheck.ok) throw new Error(settingsCheck.error);
const settings = settingsCheck.settings;

let dir: string;
let file: string;
let text: Uint8Array;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'portcullis-pipeline-'));
  file = path.join(dir, 'ufw.log');
  // Enough lines for many batches of records (4,096 each) and some scans to ban.
  const lines = generateLines({ lines: 60_000, seed: 7, sources: 4_000, scanShare: 0.05 });
  text = new TextEncoder().encode(lines.join('\n') + '\n');
  writeFileSync(file, text);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function session(): ReplaySession {
  return new ReplaySession({ settings, framing: 'auto', year: 2026 });
}

function oneThread() {
  const s = session();
  for (let at = 0; at < text.length; at += 100_000) s.push(text.subarray(at, at + 100_000));
  return s.end();
}

describe('ReplayPipeline', () => {
  it('reading the file itself: the same summary as one thread', async () => {
    const want = oneThread();
    expect(want.bans.length).toBeGreaterThan(5);
    expect(want.lines).toBe(60_000);
    const s = session();
    await new ReplayPipeline(s, file).end(false);
    expect(s.end()).toStrictEqual(want);
  });

  it('says where the time went: when it started, when the worker was ready and the first records came, the detect stage\'s work, the worker\'s end and wait', async () => {
    const s = session();
    const p = new ReplayPipeline(s, file);
    await p.end(false);
    const t = p.timing;
    // 60,000 lines in batches of at most 4,096 records (a batch also ends with each 1 MiB read).
    expect(t.batches).toBeGreaterThanOrEqual(Math.ceil(60_000 / 4096));
    expect(t.firstBatchAt).toBeGreaterThanOrEqual(t.startAt);
    expect(t.parseReadyAt).not.toBeNull();
    expect(t.parseEndedAt).toBeGreaterThanOrEqual(t.firstBatchAt!);
    // The worker's clock is read against this thread's: its end lies before now, and after its readiness.
    expect(t.parseEndedAt).toBeLessThanOrEqual(performance.now());
    expect(t.parseEndedAt).toBeGreaterThanOrEqual(t.parseReadyAt!);
    expect(t.detectMs).toBeGreaterThan(0);
    expect(t.parseWaitedMs).toBeGreaterThanOrEqual(0);
  });

  it('fed chunks of any size: the same summary', async () => {
    const want = oneThread();
    const s = session();
    const p = new ReplayPipeline(s);
    // Small chunks cut mid-line, then the whole input at once (larger than the worker's 1 MiB input).
    for (let at = 0; at < text.length; at += 777) await p.push(text.subarray(at, Math.min(text.length, at + 777)));
    await p.end();
    expect(s.end()).toStrictEqual(want);
    const s2 = session();
    const p2 = new ReplayPipeline(s2);
    await p2.push(text);
    await p2.end();
    expect(s2.end()).toStrictEqual(want);
  });

  it('with a slow detect stage the worker waits for free batch slots: nothing is overwritten', async () => {
    const want = oneThread();
    const s = session();
    const ingest = s.ingest.bind(s);
    let batches = 0;
    s.ingest = (b: RecordBatch) => {
      // The first batches are read slowly: a worker that did not wait would write over them meanwhile.
      if (batches++ < 6) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
      ingest(b);
    };
    await new ReplayPipeline(s, file).end(false);
    expect(batches).toBeGreaterThan(6);
    expect(s.end()).toStrictEqual(want);
  });

  it('an input it cannot read: the error, with its code', async () => {
    const s = session();
    const e = await new ReplayPipeline(s, dir).end(false).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ParseWorkerError);
    expect((e as ParseWorkerError).code).toBe('EISDIR');
    expect(s.end().lines).toBe(0);
  });

  it('a detect stage that throws: the error comes back, no batch is read after it, and the worker stops', async () => {
    const s = session();
    const ingest = s.ingest.bind(s);
    let calls = 0;
    let firstBatch = 0;
    s.ingest = (b: RecordBatch) => {
      if (++calls === 2) throw new Error('detect failed');
      firstBatch = b.count;
      ingest(b);
    };
    await expect(new ReplayPipeline(s, file).end(false)).rejects.toThrow('detect failed');
    // The worker had more batches queued by then: none of them reached the engine (no hole in the summary).
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(2);
    expect(s.end().lines).toBe(firstBatch);
  });

  it('a stream that trickles is replayed as it comes, without waiting for the end or a full piece', async () => {
    // The framing given: with 'auto' the first 64 lines are held to recognise it, in one thread too.
    const s = new ReplaySession({ settings, framing: 'syslog', year: 2026 });
    const p = new ReplayPipeline(s);
    const lines = new TextDecoder().decode(text).split('\n').slice(0, 50).join('\n') + '\n';
    await p.push(new TextEncoder().encode(lines));
    const until = Date.now() + 5_000;
    while (s.summary().lines < 50 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(s.summary().lines).toBe(50);
    await p.end();
  });
});
