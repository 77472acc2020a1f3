// A bench phase of engine.bench.ts that runs `portcullis replay` itself: the same code bin/portcullis.js
// runs (the dist/cli bundle when fresh, else the TypeScript sources), in a process of its own, with
// the clock around the command's main() — so module loading is outside the figure (as for the
// other phases), and the worker thread's start is inside it. Plain JavaScript, so that this process
// loads no more than the command does.
//   node --max-semi-space-size=1 bench/replay-phase.mjs FILE [replay flags…]
// Prints one JSON line: { phase, lines, seconds, maxRssMB, startRssMB, detail }.
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBundle } from '../bin/cli-bundle.js';

const [file, ...flags] = process.argv.slice(2);
const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = freshBundle(root);
const { main } = await import(bundle === null ? '../electron/headless/cli.ts' : pathToFileURL(bundle).href);

function vmHwmMB() {
  return Math.round(Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024);
}

// The command's own output (--json: the bans, then the summary) is kept here, not printed.
let out = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk) => {
  out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  return true;
};
const startRssMB = Math.round(process.memoryUsage.rss() / (1024 * 1024));
const t0 = performance.now();
const code = await main(['replay', file, '--json', ...flags]);
const seconds = (performance.now() - t0) / 1000;
process.stdout.write = write;
if (code !== 0) throw new Error(`portcullis replay exited ${code}`);
const s = JSON.parse(out.trim().split('\n').pop());
const lane = flags.includes('--single-thread') ? 'one thread' : 'a parse worker + this thread';
console.log(
  JSON.stringify({
    phase: 'replay',
    lines: s.lines,
    seconds,
    maxRssMB: vmHwmMB(),
    startRssMB,
    detail: `${s.packets} packets, ${s.distinctSources} sources, ${s.bans.length} bans; ${lane}; ${bundle === null ? 'TypeScript sources' : 'dist/cli bundle'}`,
  }),
);
