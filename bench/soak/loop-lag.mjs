// Preloaded into the soak bench's runner (node --import): event-loop delay and memory, written to
// /tmp/pc-soak-lag-<pid>.json on SIGUSR2, which also starts a new measurement window. Part of the
// bench, not of Portcullis: the product carries no measuring code for it.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
process.on('SIGUSR2', () => {
  const m = process.memoryUsage();
  const ms = (ns) => Math.round((ns / 1e6) * 10) / 10;
  writeFileSync(
    `/tmp/pc-soak-lag-${process.pid}.json`,
    JSON.stringify({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }),
  );
  h.reset();
});
