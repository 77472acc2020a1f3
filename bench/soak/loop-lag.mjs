// Preloaded into the soak bench's runner (node --import): event-loop delay and memory, written to
// /tmp/pc-soak-lag-<pid>.json on SIGUSR2, which also starts a new measurement window. Part of the
// bench, not of Portcullis: the product carries no measuring code for it.
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Resident MB by kind of mapping: the node binary, V8's heap pages (256 KB anonymous maps), malloc's heap, other anonymous maps, other files. */
function residentByKind() {
  const kinds = { node: 0, v8Pages: 0, mallocHeap: 0, otherAnon: 0, files: 0 };
  let kind = 'files';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[3];
      const size = parseInt(head[2], 16) - parseInt(head[1], 16);
      kind = name === process.execPath || name.endsWith('/bin/node') ? 'node' : name === '[heap]' ? 'mallocHeap' : name === '' ? (size === 262144 ? 'v8Pages' : 'otherAnon') : 'files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kinds[kind] += Number(rss[1]) / 1024;
  }
  for (const k of Object.keys(kinds)) kinds[k] = Math.round(kinds[k]);
  return kinds;
}

const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
process.on('SIGUSR2', () => {
  const m = process.memoryUsage();
  // A peek (the bench made /tmp/pc-soak-peek-<pid>): memory only, the lag window goes on.
  try {
    readFileSync(`/tmp/pc-soak-peek-${process.pid}`);
    writeFileSync(`/tmp/pc-soak-mem-${process.pid}.json`, JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }));
    return;
  } catch {
    /* a window's end */
  }
  const ms = (ns) => Math.round((ns / 1e6) * 10) / 10;
  writeFileSync(
    `/tmp/pc-soak-lag-${process.pid}.json`,
    JSON.stringify({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, resident: residentByKind() }),
  );
  h.reset();
});
