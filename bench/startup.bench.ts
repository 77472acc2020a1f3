/**
 * How fast `portcullis` answers (issue 11.3): the installed command (the server package's layout:
 * its sh wrapper, its Node 24, the bundle with a "packaged" manifest) against `fail2ban-client
 * --version`, in the same run, interleaved, median of N (its compile cache warmed by the first
 * run, as on a server); and from a checkout, bin/portcullis.js
 * (the bundle, checked by size and mtime of its sources) — with the cost of the check itself,
 * then and now (a SHA-256 over every source, as before; a stat of each, as now).
 *
 *   flock /tmp/portcullis-system.lock npm run bench -- startup
 * `status` is timed against no instance (connection refused) and against a live one (a dry-run
 * `portcullis run`: the whole reply path, zod check included).
 * Target: installed --help and status ≤ 1.5× fail2ban-client --version. The row "compile cache off"
 * runs the same start with NODE_DISABLE_COMPILE_CACHE=1 (through env(1), ~1 ms more): the cache's gain.
 * The row "general entry" runs `status` as the wrapper did before status.cjs (bin/portcullis.js, the
 * ES module bundle), in the same run: the fast entry's gain.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freshBundle, MANIFEST } from '../bin/cli-bundle.js';
import { STATUS_ENTRY } from '../scripts/build-cli.ts';
import { startLiveInstance, stageInstalled } from '../tests/support/installed-package.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.STARTUP_RUNS ?? 15);
const NODE = path.join(ROOT, 'node_modules/node/bin/node');
/** The same start without V8's compile cache (the wrapper's NODE_COMPILE_CACHE), interleaved with the row that has it: what it gains. */
const NO_CACHE = ['/usr/bin/env', 'NODE_DISABLE_COMPILE_CACHE=1'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function timeOnce(argv: string[]): number {
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'ignore'] });
  const ms = performance.now() - t;
  if (r.error) throw r.error;
  return ms;
}

if (!existsSync(path.join(ROOT, 'dist/cli', STATUS_ENTRY)) || freshBundle(ROOT) === null) throw new Error('dist/cli is missing or stale: npm run build:cli');
const fail2ban = ['/usr/bin/fail2ban-client', '/usr/local/bin/fail2ban-client'].find((p) => existsSync(p));
const { dir, lib, wrapper, cache } = stageInstalled();
const stateDir = path.join(dir, 'state');
// A live instance for `status` to ask (dry run: it never touches the firewall), so the row times
// the whole reply path: connect, getState, the reply checked by its zod schema, the printout.
const liveDir = path.join(dir, 'live');
const live = startLiveInstance(liveDir, { node: NODE });
try {
  await live.ready;
  const cases: Record<string, string[]> = {
    ...(fail2ban ? { 'fail2ban-client --version': [fail2ban, '--version'] } : {}),
    'portcullis --help (installed)': [wrapper, '--help'],
    'portcullis status (installed, no instance)': [wrapper, 'status', '--state-dir', stateDir],
    'portcullis status (installed, live instance)': [wrapper, 'status', '--state-dir', liveDir],
    'portcullis status (installed, live, compile cache off)': [...NO_CACHE, wrapper, 'status', '--state-dir', liveDir],
    // What the wrapper ran for `status` before it had its own entry: the same command through bin/portcullis.js.
    'status (installed, live, general entry)': ['/usr/bin/env', 'MALLOC_ARENA_MAX=1', `NODE_COMPILE_CACHE=${cache}`, path.join(lib, 'node'), '--max-semi-space-size=1', path.join(lib, 'bin/portcullis.js'), 'status', '--state-dir', liveDir],
    'checkout: node bin/portcullis.js --help': [NODE, path.join(ROOT, 'bin/portcullis.js'), '--help'],
    'checkout: node -e 0 (Node alone)': [NODE, '-e', '0'],
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const argv of Object.values(cases)) timeOnce(argv); // warm the page cache
  // Every row must time the real answer, not a quick failure (a file missing from the staged package).
  const expect: Record<string, { status: number; output: string }> = {
    'portcullis --help (installed)': { status: 0, output: 'Usage: portcullis' },
    'portcullis status (installed, no instance)': { status: 1, output: 'no running Portcullis instance' },
    'portcullis status (installed, live instance)': { status: 0, output: 'protection   on' },
    'portcullis status (installed, live, compile cache off)': { status: 0, output: 'protection   on' },
    'status (installed, live, general entry)': { status: 0, output: 'protection   on' },
    'checkout: node bin/portcullis.js --help': { status: 0, output: 'Usage: portcullis' },
  };
  for (const [k, want] of Object.entries(expect)) {
    const r = spawnSync(cases[k]![0]!, cases[k]!.slice(1), { encoding: 'utf8' });
    if (r.status !== want.status || !(r.stdout + r.stderr).includes(want.output)) throw new Error(`${k}: exit ${r.status}, expected ${want.status} and "${want.output}":\n${r.stdout}${r.stderr}`);
  }
  for (let i = 0; i < RUNS; i++) for (const [k, argv] of Object.entries(cases)) times[k]!.push(timeOnce(argv));
  console.log(`start-up, median of ${RUNS} interleaved runs (ms):`);
  for (const [k, xs] of Object.entries(times)) console.log(`  ${k.padEnd(56)} ${median(xs).toFixed(1).padStart(7)}  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`);
  if (fail2ban) {
    const base = median(times['fail2ban-client --version']!);
    for (const k of ['portcullis --help (installed)', 'portcullis status (installed, no instance)', 'portcullis status (installed, live instance)', 'status (installed, live, general entry)']) {
      const ratio = median(times[k]!) / base;
      console.log(`  ${k} / fail2ban-client --version = ${ratio.toFixed(2)}×  (target ≤ 1.5×: ${ratio <= 1.5 ? 'met' : 'NOT met'})`);
    }
  } else console.log('  fail2ban-client is not installed: no baseline (apt-get install fail2ban)');

  // The checkout's bundle check, then and now.
  const files = (JSON.parse(readFileSync(path.join(ROOT, 'dist/cli', MANIFEST), 'utf8')) as { sources: { file: string }[] }).sources.map((s) => s.file);
  const hashAll = (): string => {
    const h = createHash('sha256');
    for (const f of files) h.update(f).update('\0').update(readFileSync(path.join(ROOT, f))).update('\0');
    return h.digest('hex');
  };
  const timeCheck = (fn: () => unknown): number => {
    const xs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      fn();
      xs.push(performance.now() - t);
    }
    return median(xs);
  };
  console.log(`bundle check over ${files.length} sources: SHA-256 of every byte (before) ${timeCheck(hashAll).toFixed(2)} ms; size+mtime stat (now) ${timeCheck(() => freshBundle(ROOT)).toFixed(2)} ms`);
} finally {
  live.child.kill('SIGTERM');
  await live.exited;
  rmSync(dir, { recursive: true, force: true });
}
