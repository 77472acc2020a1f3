/**
 * Issue 14.4 (idle half): the resident memory of the service at rest, started as a user starts it.
 *
 *   flock /tmp/portcullis-system.lock npm run bench -- idle
 *
 * Rows (median of IDLE_RUNS, alternated, each a fresh process and state directory):
 * - `portcullis run` and `portcullis serve` as root in a lab's firewall namespace (real ufw, the
 *   default source — /dev/kmsg — and backend — a kernel set): bin/portcullis.js with its own shebang
 *   flags, ready (its JSON "ready" line), then IDLE_SETTLE_MS of nothing;
 * - the same with --dry-run --source file:… (no root, no firewall, no kmsg reader thread);
 * - Node itself (`node -e` at rest), the floor every row stands on.
 * Each row: VmRSS, then its anonymous and file-backed parts (the node binary's own pages are most
 * of the file-backed part), and the threads. Target: run ≤ 60 MB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLab, type Lab } from '../tests/support/netns.ts';
import { launchText, serviceLaunch, thisServiceLaunch, type ServiceLaunch } from './service-launch.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
/**
 * IDLE_BASE=DIR: also run the checkout in DIR (its bundle built: `node scripts/build-cli.ts` there), alternated
 * with this one run by run, so that a before/after comparison shares the machine's state.
 */
const CHECKOUTS: Array<{ tag: string; cli: string; launch: ServiceLaunch }> = [
  ...(process.env.IDLE_BASE ? [{ tag: '[base] ', cli: path.join(path.resolve(process.env.IDLE_BASE), 'bin/portcullis.js'), launch: serviceLaunch(path.resolve(process.env.IDLE_BASE)) }] : []),
  { tag: process.env.IDLE_BASE ? '[this] ' : '', cli: path.join(ROOT, 'bin/portcullis.js'), launch: thisServiceLaunch(ROOT) },
];
const RUNS = Number(process.env.IDLE_RUNS ?? 3);
const SETTLE_MS = Number(process.env.IDLE_SETTLE_MS ?? 8000);
/** bin/portcullis.js's shebang: what a user's `portcullis` runs with (the floor row). */
const SHEBANG_FLAGS = ['--max-semi-space-size=1'];
const BASE_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

interface Sample {
  rss: number;
  anon: number;
  file: number;
  threads: number;
}

function sample(pid: number): Sample {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)![1]) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), threads: readdirSync(`/proc/${pid}/task`).length };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts argv, waits for its "ready" JSON line (or, without --json, `readyText`), settles, samples, stops. */
async function idleOf(argv: string[], readyText: string, env: Record<string, string> = { MALLOC_ARENA_MAX: '1' }): Promise<Sample> {
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { env: { ...BASE_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not ready in 30 s: ${argv.join(' ')}\n${stderr}`)), 30_000);
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l.includes(readyText)) {
          clearTimeout(t);
          resolve();
        }
      });
      void exited.then((c) => reject(new Error(`exited (${c}) before ready: ${argv.join(' ')}\n${stderr}`)));
    });
    await sleep(SETTLE_MS);
    // `ip netns exec` execs the command: the child's pid is node's.
    return sample(child.pid!);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const node = process.execPath;
const rows = new Map<string, Sample[]>();
const add = (k: string, s: Sample) => rows.set(k, [...(rows.get(k) ?? []), s]);
console.log(`idle RSS after ${SETTLE_MS} ms at rest, median of ${RUNS} alternated runs; load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
// The service rows run as the package's wrapper and unit run it (bench/service-launch.ts).
for (const c of CHECKOUTS) console.log(`${c.tag || 'service '}runs as installed: ${launchText(c.launch)}`);
let lab: Lab | null = null;
try {
  lab = await createLab({ listen: false });
  for (let i = 0; i < RUNS; i++) {
    for (const { tag, cli: CLI, launch } of CHECKOUTS) {
      for (const cmd of (process.env.IDLE_CMDS?.split(',') ?? ['run', 'serve']) as Array<'run' | 'serve'>) {
        const state = mkdtempSync(path.join(tmpdir(), 'pc-idle-'));
        try {
          const extra = cmd === 'serve' ? ['--port', '0'] : [];
          add(`${tag}portcullis ${cmd} (root, lab namespace: kmsg, set, ufw)`, await idleOf(['/usr/sbin/ip', 'netns', 'exec', lab.fwNs, node, ...launch.flags, CLI, cmd, '--state-dir', state, '--json', ...extra], '"type":"ready"', launch.env));
          if (process.env.IDLE_ONLY_ROOT === '1') continue;
          writeFileSync(path.join(state, 'fw.log'), '');
          add(`${tag}portcullis ${cmd} --dry-run --source file:…`, await idleOf([node, ...launch.flags, CLI, cmd, '--dry-run', '--source', `file:${path.join(state, 'fw.log')}`, '--state-dir', path.join(state, 'd'), '--json', ...extra], '"type":"ready"', launch.env));
        } finally {
          rmSync(state, { recursive: true, force: true });
        }
      }
    }
    add('node at rest (the floor)', await idleOf([node, ...SHEBANG_FLAGS, '-e', 'console.log("ready"); setInterval(() => {}, 1000)'], 'ready'));
  }
} finally {
  await lab?.cleanup();
}
const w = Math.max(...[...rows.keys()].map((k) => k.length));
console.log(`${'what'.padEnd(w)}  ${'RSS MB'.padStart(7)}  ${'(min–max)'.padStart(11)}  ${'anon'.padStart(5)}  ${'file'.padStart(5)}  threads`);
for (const [k, xs] of rows) {
  const r = xs.map((x) => x.rss);
  console.log(
    `${k.padEnd(w)}  ${median(r).toFixed(1).padStart(7)}  ${`${Math.min(...r).toFixed(0)}–${Math.max(...r).toFixed(0)}`.padStart(11)}  ${median(xs.map((x) => x.anon)).toFixed(1).padStart(5)}  ${median(xs.map((x) => x.file)).toFixed(1).padStart(5)}  ${median(xs.map((x) => x.threads))}`,
  );
}
const run = median(rows.get(`${CHECKOUTS.at(-1)!.tag}portcullis run (root, lab namespace: kmsg, set, ufw)`)!.map((x) => x.rss));
console.log(`target (issue 14.4): portcullis run idle RSS ≤ 60 MB → ${run.toFixed(1)} MB, ${run <= 60 ? 'met' : 'NOT met'}`);
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
