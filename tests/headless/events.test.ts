/**
 * The one EventBatcher (the service's; the desktop's main process forwards its batches to the
 * window as they are, the browser transport sends them on the WebSocket): at most N deliveries a
 * second, coalesced, bounded, and nothing lost that matters. (These cases were the main process's
 * second batcher's tests, moved here when that batcher went.)
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBatcher, MAX_PACKET_ROWS_PER_BATCH } from '../../electron/app/events.ts';
import type { ApiEvent, PacketRow } from '../../electron/shared/api.ts';
import { countArrayWork } from '../support/counting.ts';

const notice = (n: number): ApiEvent => ({ type: 'notice', level: 'info', message: `n${n}` });
const row = (id: number): PacketRow => ({ id, time: id, src: '192.0.2.1', dst: '192.0.2.2', proto: 'TCP', spt: 1, dpt: 2, prefix: 'UFW BLOCK', in: 'eth0', flags: 'SYN' }) as PacketRow;

beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
afterEach(() => vi.useRealTimers());

describe('EventBatcher', () => {
  it('delivers at most 10 batches a second however fast events arrive, losing none', () => {
    const b = new EventBatcher();
    const deliveries: { at: number; batch: ApiEvent[] }[] = [];
    b.subscribe((batch) => deliveries.push({ at: Date.now(), batch }));
    // 1000 events spread over 2 s, one every 2 ms.
    for (let i = 0; i < 1000; i++) {
      b.push(notice(i));
      vi.advanceTimersByTime(2);
    }
    vi.advanceTimersByTime(1000);
    expect(deliveries.flatMap((d) => d.batch)).toEqual(Array.from({ length: 1000 }, (_, i) => notice(i)));
    for (let i = 1; i < deliveries.length; i++) expect(deliveries[i]!.at - deliveries[i - 1]!.at).toBeGreaterThanOrEqual(100);
    for (const d of deliveries) expect(deliveries.filter((x) => x.at >= d.at && x.at < d.at + 1000).length).toBeLessThanOrEqual(10);
    expect(deliveries.length).toBeGreaterThanOrEqual(19);
  });

  it('delivers the first batch after a quiet spell without waiting out an interval', () => {
    const b = new EventBatcher();
    const got: ApiEvent[][] = [];
    b.subscribe((x) => got.push(x));
    b.push(notice(1));
    vi.advanceTimersByTime(0);
    expect(got).toEqual([[notice(1)]]);
    b.push(notice(2));
    vi.advanceTimersByTime(99);
    expect(got).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(got).toEqual([[notice(1)], [notice(2)]]);
  });

  it('coalesces packets (newest rows, bounded per batch), offenders (latest each) and state (latest), never bans or unbans', () => {
    const b = new EventBatcher();
    const got: ApiEvent[][] = [];
    b.subscribe((x) => got.push(x));
    b.push({ type: 'packets', rows: Array.from({ length: MAX_PACKET_ROWS_PER_BATCH }, (_, i) => row(i)) });
    b.push({ type: 'unban', ip: '192.0.2.9', why: 'manual' });
    b.push({ type: 'packets', rows: [row(10_000), row(10_001)] });
    b.push({ type: 'unban', ip: '192.0.2.8', why: 'expired' });
    vi.advanceTimersByTime(0);
    const batch = got[0]!;
    expect(batch.filter((e) => e.type === 'unban').map((e) => (e as { ip: string }).ip)).toEqual(['192.0.2.9', '192.0.2.8']);
    const ids = batch.flatMap((e) => (e.type === 'packets' ? e.rows.map((r) => r.id) : []));
    expect(ids).toHaveLength(MAX_PACKET_ROWS_PER_BATCH);
    expect(ids.at(-1)).toBe(10_001);
  });

  it('takes a storm of one-row packets events at a cost linear in them (no copy of the pending rows per event past the bound), delivering the newest rows in order', () => {
    const b = new EventBatcher();
    const got: ApiEvent[][] = [];
    b.subscribe((x) => got.push(x));
    const N = 10 * MAX_PACKET_ROWS_PER_BATCH;
    const events: ApiEvent[] = Array.from({ length: N }, (_, i) => ({ type: 'packets', rows: [row(i)] }));
    const { elements } = countArrayWork(() => {
      for (const e of events) b.push(e);
    });
    expect(elements).toBeLessThanOrEqual(10 * N);
    vi.advanceTimersByTime(0);
    expect(got).toHaveLength(1);
    const ids = got[0]!.flatMap((e) => (e.type === 'packets' ? e.rows.map((r) => r.id) : []));
    expect(ids).toEqual(Array.from({ length: MAX_PACKET_ROWS_PER_BATCH }, (_, i) => N - MAX_PACKET_ROWS_PER_BATCH + i));
    // Fewer than the bound: all of them, as pushed.
    b.push({ type: 'packets', rows: [row(N), row(N + 1)] });
    b.push({ type: 'packets', rows: [row(N + 2)] });
    vi.advanceTimersByTime(1000);
    expect(got[1]!.flatMap((e) => (e.type === 'packets' ? e.rows.map((r) => r.id) : []))).toEqual([N, N + 1, N + 2]);
  });

  it('close() cancels the pending delivery, and nobody listening buffers nothing', () => {
    const b = new EventBatcher();
    const got: ApiEvent[][] = [];
    b.push(notice(0)); // no listener yet: dropped
    const off = b.subscribe((x) => got.push(x));
    b.push(notice(1));
    vi.advanceTimersByTime(0);
    b.push(notice(2));
    b.close();
    vi.advanceTimersByTime(1000);
    expect(got).toEqual([[notice(1)]]);
    off();
  });
});
