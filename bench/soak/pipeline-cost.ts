/**
 * CPU per kernel record of what `portcullis run` does behind the kmsg reader — KmsgSource's record
 * handling, the service's parse/detect/store pipeline, the real SQLite store — without namespaces
 * or root, on the soak bench's traffic: half [UFW AUDIT] records, half [UFW BLOCK] SYNs each from a
 * new (spoofed) source. A measurement for profiling (node --cpu-prof bench/soak/pipeline-cost.ts),
 * not a pass/fail bench:  ./node_modules/.bin/node bench/soak/pipeline-cost.ts [records]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock } from '../../electron/shared/domain.ts';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { KmsgSource, kmsgBootTimeMs, liveLineParser, PushKmsgFeed } from '../../electron/engine/logs/kmsg.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { serviceStoreOf, StoreSettingsRepo } from '../../electron/app/adapters.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import { FakeFirewall, FakeHelper, Journal } from '../../tests/headless/fakes.ts';

const N = Number(process.argv[2] ?? 200_000);
const HOST = '192.0.2.129';
const MAC = '02:e9:70:de:bd:54';
const dir = mkdtempSync(path.join(tmpdir(), 'pc-cost-'));
const db = path.join(dir, 'db.sqlite');
const raw = new SqliteStore({ path: db, clock: systemClock });
const store = serviceStoreOf(raw, systemClock);
const feed = new PushKmsgFeed('bench feed', { prefiltered: false });
const source = new KmsgSource({ feed, resumeAfterSeq: 0 });
const parseOpts = { framing: 'kmsg' as const, bootTimeMs: kmsgBootTimeMs() };
const service = new PortcullisService({
  clock: systemClock,
  settingsRepo: new StoreSettingsRepo(store, db),
  createEngine: (o, sink) => new ScanEngine({ ...o, parse: parseOpts }, sink),
  parseLine: liveLineParser(parseOpts),
  store,
  source,
  firewall: new FakeFirewall(new Journal()),
  helper: new FakeHelper(),
  hostInfo: async () => ({ addresses: [HOST], interfaces: ['soakf0'], gateways: [], macs: { soakf0: MAC } }),
  hostFilter: true,
});
await service.start();

const upSec = Number(process.hrtime.bigint() / 1000n) / 1e6;
let seq = 1;
const record = (i: number, audit: boolean): string => {
  const src = `198.18.${(i >> 8) & 255}.${i & 255}`;
  const usec = Math.round((upSec - 1 + i / 20_000) * 1e6);
  return `4,${seq++},${usec},-;[UFW ${audit ? 'AUDIT' : 'BLOCK'}] IN=soakf0 OUT= MAC=${MAC}:16:27:ab:35:c3:ee:08:00 SRC=${src} DST=${HOST} LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=${i & 65535} PROTO=TCP SPT=${1024 + (i % 60000)} DPT=${1 + ((i * 7919) % 65000)} WINDOW=64240 RES=0x00 SYN URGP=0 \n SUBSYSTEM=net\n DEVICE=+net:soakf0\n`;
};
const BATCH = 256;
// Batches are made as they are fed (not all up front: 200k records held ~300 MB), so the RSS printed is the pipeline's own.
function* batches(): Generator<string[]> {
  for (let i = 0; i < N / 2; i += BATCH / 2) {
    const b: string[] = [];
    for (let k = i; k < Math.min(N / 2, i + BATCH / 2); k++) b.push(record(k, true), record(k, false));
    yield b;
  }
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let last = t0;
for (const b of batches()) {
  feed.push(b);
  const now = performance.now();
  if (now - last > 250) {
    last = now;
    await service.tick();
  }
}
store.flush();
const cpu = process.cpuUsage(cpu0);
const ms = performance.now() - t0;
const m = process.memoryUsage();
const MB = (b: number) => Math.round(b / 1048576);
console.log(`memory: heap ${MB(m.heapUsed)}/${MB(m.heapTotal)} MB, external ${MB(m.external)} MB, array buffers ${MB(m.arrayBuffers)} MB`);
console.log(`${N} records: ${((cpu.user + cpu.system) / N).toFixed(1)} CPU-µs per record (${(((cpu.user + cpu.system) / 1e6 / N) * 1e6).toFixed(1)} CPU-s per million), ${Math.round(N / (ms / 1000))} records/s on one thread, RSS ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
await service.stop();
rmSync(dir, { recursive: true, force: true });
