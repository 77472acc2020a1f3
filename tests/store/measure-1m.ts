/**
 * Measurement, not a test (no timing assertions in tests): fills a store with 1M packets and times
 * the UI queries. Run: ./node_modules/.bin/node tests/store/measure-1m.ts [rows]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(path.join(tmpdir(), 'pc-store-1m-'));
const store = new SqliteStore({ path: path.join(dir, 'p.db'), batchRows: 5000, maxStoredPackets: ROWS * 2 });
const T0 = Date.now() - ROWS * 100;
let t = performance.now();
let batch: PacketEvent[] = [];
for (let i = 0; i < ROWS; i++) {
  batch.push({
    time: T0 + i * 100, framing: 'kmsg', trust: 'kernel', prefix: i % 10 ? 'UFW BLOCK' : 'PORTCULLIS BLOCK', in: 'eth0', out: '',
    src: `10.${(i >> 16) & 255}.${(i >> 8) & 63}.${i & 255}` as PacketEvent['src'], dst: '198.51.100.1' as PacketEvent['dst'],
    family: 4, proto: i % 7 ? 'TCP' : 'UDP', spt: 40000, dpt: 1 + (i % 5000), tcpFlags: 2,
  });
  if (batch.length === 5000) { store.addPackets(batch); batch = []; }
}
store.addPackets(batch);
store.flush();
const insertMs = performance.now() - t;
console.log(`insert ${ROWS} rows in batches of 5000: ${insertMs.toFixed(0)} ms (${Math.round(ROWS / insertMs * 1000)} rows/s)`);
function time(label: string, fn: () => unknown, reps = 20): void {
  fn();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  console.log(`${label}: ${((performance.now() - t0) / reps).toFixed(2)} ms`);
}
const now = T0 + ROWS * 100;
time('first page (500, no filter, with total)', () => store.getPackets(0, 500));
time('page at offset 100k', () => store.getPackets(100_000, 500), 5);
time('page filtered by src (exact)', () => store.getPackets(0, 500, { src: '10.3.7.9' }));
time('page filtered by port 22', () => store.getPackets(0, 500, { port: 22 }));
time('page filtered by proto UDP (1/7 of rows, total counted)', () => store.getPackets(0, 500, { proto: 'UDP' }), 5);
time('dashboard 60 min', () => store.dashboard(now, 60), 5);
time('packetsSince 10 min', () => store.packetsSince(now, 10), 5);
store.setRetention(365, ROWS / 2);
let t1 = performance.now();
const pr = store.prune(now);
console.log(`prune to half the rows (cap): ${(performance.now() - t1).toFixed(0)} ms, deleted ${pr.byCap}`);
store.close();
rmSync(dir, { recursive: true, force: true });
