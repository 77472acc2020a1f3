/**
 * Fleet propagation (issue 10), root: two hosts in namespaces with real ufw and `portcullis run`, a
 * private CrowdSec LAPI (Debian's crowdsec) in a third, one scanner. Median time from the
 * threshold-crossing (5th) probe at host A to the scanner being blocked on host B's OPEN port (B
 * never sees a probe), with pullIntervalMs 1000 and 200. Each trial: A bans, B applies, then an
 * unban on A lifts it on B before the next.
 */
import { performance } from 'node:perf_hooks';
import { crowdsecInstalled } from '../tests/support/lapi.ts';
import { cliOnce } from '../tests/system/runner-support.ts';
import { createFleetLab, hostConfig, startHost, type FleetLab } from '../tests/system/fleet-support.ts';

const TRIALS = Number(process.env.FLEET_TRIALS ?? 7);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0 || !crowdsecInstalled()) {
  console.log('fleet-propagation: SKIPPED — needs root and crowdsec (scripts/install-system-deps.sh)');
  process.exit(0);
}

/** First time B's port 22 stays unanswered (3 more probes confirm), or NaN. */
async function blockedOnB(fl: FleetLab, deadlineMs: number): Promise<number> {
  const end = performance.now() + deadlineMs;
  let first = NaN;
  let dropped = 0;
  while (performance.now() < end) {
    const sent = performance.now();
    const r = await fl.a.lab.probe(fl.scannerNs, fl.b.target, 22, { timeoutMs: 50 });
    if (r === 'timeout') {
      if (dropped++ === 0) first = sent;
      if (dropped > 3) return first;
    } else dropped = 0;
  }
  return NaN;
}

async function openOnB(fl: FleetLab): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fl.a.lab.canConnect(fl.scannerNs, fl.b.target, 22, 200)) return;
    await sleep(50);
  }
  throw new Error('B never opened again after the unban on A');
}

async function propagation(pullIntervalMs: number): Promise<number[]> {
  const fl = await createFleetLab();
  const samples: number[] = [];
  try {
    await startHost(fl.a, hostConfig(fl.a, { crowdsec: { pullIntervalMs } }));
    await startHost(fl.b, hostConfig(fl.b, { crowdsec: { pullIntervalMs } }));
    for (let i = 0; i < TRIALS; i++) {
      await openOnB(fl);
      await fl.a.lab.ufw('reload'); // refill ufw's shared log budget so every trial is logged
      for (let p = 0; p < 4; p++) await fl.a.lab.probe(fl.scannerNs, fl.a.target, 42_000 + i * 10 + p, { timeoutMs: 20 });
      const t5 = performance.now();
      const fifth = fl.a.lab.probe(fl.scannerNs, fl.a.target, 42_000 + i * 10 + 4, { timeoutMs: 20 });
      const blocked = await blockedOnB(fl, 20_000);
      await fifth;
      if (!Number.isFinite(blocked)) throw new Error(`trial ${i}: B never blocked the scanner`);
      samples.push(blocked - t5);
      const r = await cliOnce(fl.a.lab, ['unban', fl.scannerIp, '--state-dir', fl.a.stateDir]);
      if (r.code !== 0) throw new Error(`unban on A failed: ${r.stderr}`);
    }
  } finally {
    await fl.cleanup();
  }
  return samples;
}

const rows: string[][] = [];
for (const interval of [1000, 200]) {
  const s = await propagation(interval);
  rows.push([`5th probe at A → blocked on B's open port, pullIntervalMs ${interval} (median of ${s.length})`, `${median(s).toFixed(0)} ms`, `min ${Math.min(...s).toFixed(0)} max ${Math.max(...s).toFixed(0)}`, interval === 1000 ? '≤ 2 s' : '']);
}
console.log('\n| measure | median | range | target |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
