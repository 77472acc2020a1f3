/**
 * Data-driven replay cases: each directory of tests/fixtures/replay holds input.log (or names another
 * case's input) and case.json (flags, expected bans and counts). The REAL CLI is spawned
 * (`node bin/portcullis.js replay …`) twice per case: with --json (checked field by field, the last
 * line being the summary) and without (the human report must name every ban).
 *
 * case.json: { description, args, input?, stdin?, exitCode?, stderr?: string[],
 *   expect?: { lines, packets, counted, distinctSources, framing, guestRecords, timeBase, deferredEvents, deferred,
 *              rejected: {reason: n}  (every reason not listed must be 0),
 *              ignored: {reason: n}   (same),
 *              bans: [{ ip, at?, scanType?, ports?, prefix?, members? }]  (exactly these, in this order) },
 *   jsonEvents?: ["ban", "ban-deferred", …]  (types of the lines before the summary),
 *   humanContains?: string[] }
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { freshBundle } from '../../bin/cli-bundle.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Node 24 runs the CLI: the test runner's own Node when it is one (npm test), else the project's. */
const NODE = Number(process.versions.node.split('.')[0]) >= 24 ? process.execPath : path.join(ROOT, 'node_modules/.bin/node');
const CLI = path.join(ROOT, 'bin/portcullis.js');
const CASES = path.join(ROOT, 'tests/fixtures/replay');
// The fixtures are small files, which a replay reads in one thread (replay-start.ts, WORKER_MIN_BYTES):
// here any file goes through the parse worker, so that the worker's path is what the cases check
// against --single-thread (every CLI spawned below inherits it; one test takes it away).
process.env.PORTCULLIS_REPLAY_WORKER_BYTES = '0';

interface Case {
  description: string;
  args: string[];
  input?: string;
  stdin?: boolean;
  exitCode?: number;
  stderr?: string[];
  expect?: {
    lines?: number;
    packets?: number;
    counted?: number;
    distinctSources?: number;
    framing?: string;
    guestRecords?: number;
    timeBase?: string;
    deferredEvents?: number;
    deferred?: string[];
    rejected?: Record<string, number>;
    ignored?: Record<string, number>;
    bans: { ip: string; at?: string; scanType?: string; ports?: number[]; prefix?: boolean; members?: string[] }[];
  };
  jsonEvents?: string[];
  humanContains?: string[];
}

function runCli(dir: string, c: Case, extra: string[]) {
  const input = path.resolve(dir, c.input ?? 'input.log');
  const args = [CLI, 'replay', c.stdin ? '-' : input, ...c.args, ...extra];
  const r = spawnSync(NODE, args, {
    cwd: ROOT,
    encoding: 'utf8',
    input: c.stdin ? readFileSync(input) : undefined,
    // Syslog stamps are local time: pin the zone so expected times hold on any machine.
    env: { ...process.env, TZ: 'UTC' },
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trimEnd().split('\n').pop()!) as Record<string, unknown>;
}

/** The CLI's replay with these arguments, its standard input fed by `feed` (closed at once without one). */
function run(
  args: string[],
  feed?: (stdin: NodeJS.WritableStream & { end(b?: Uint8Array): void }, output: () => string) => Promise<void>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(NODE, [CLI, 'replay', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...env, TZ: 'UTC' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  child.stdin.on('error', () => undefined);
  if (feed) void feed(child.stdin, () => stdout);
  else child.stdin.end();
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** `n` scanners of 5 SYN probes each (ports 21–25), all within about a minute from 10:00, with this log prefix. */
function scanners(n: number, prefix: string, first = 0): string[] {
  const out: string[] = [];
  for (let i = first; i < first + n; i++) {
    for (let k = 0; k < 5; k++) {
      const sec = Math.floor((i * 5 + k) / 50);
      const stamp = `Nov 22 10:${String(Math.floor(sec / 60)).padStart(2, '0')}:${String(sec % 60).padStart(2, '0')}`;
      out.push(`${stamp} gw kernel: [${prefix}] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.18.${i >> 8}.${i & 255} DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=1 PROTO=TCP SPT=40000 DPT=${21 + k} WINDOW=1024 RES=0x00 SYN URGP=0`);
    }
  }
  return out;
}

function allOtherZero(actual: Record<string, number>, listed: Record<string, number> | undefined, what: string) {
  for (const [k, v] of Object.entries(actual)) expect(v, `${what}.${k}`).toBe(listed?.[k] ?? 0);
}

const names = readdirSync(CASES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

describe('replay CLI fixture cases', () => {
  it('has the cases', () => {
    expect(names.length).toBeGreaterThanOrEqual(15);
  });

  for (const name of names) {
    const dir = path.join(CASES, name);
    const c = JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8')) as Case;
    it(`${name}: ${c.description}`, () => {
      const json = runCli(dir, c, ['--json']);
      expect(json.code, json.stderr).toBe(c.exitCode ?? 0);
      for (const s of c.stderr ?? []) expect(json.stderr).toContain(s);
      if (!c.expect) {
        expect(json.stdout).toBe('');
        return;
      }
      const out = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const summary = out.at(-1)!;
      expect(summary.type).toBe('summary');
      const e = c.expect;
      for (const k of ['lines', 'packets', 'counted', 'distinctSources', 'framing', 'guestRecords', 'timeBase', 'deferredEvents', 'deferred'] as const) {
        if (e[k] !== undefined) expect(summary[k], k).toEqual(e[k]);
      }
      allOtherZero(summary.rejected as Record<string, number>, e.rejected, 'rejected');
      if (e.ignored) allOtherZero(summary.ignored as Record<string, number>, e.ignored, 'ignored');
      const bans = summary.bans as { ip: string; at: string; scanType: string; ports: number[] }[];
      expect(bans.map((b) => b.ip)).toEqual(e.bans.map((b) => b.ip));
      e.bans.forEach((want, i) => expect(bans[i]).toMatchObject(want));
      // The lines before the summary are the bans as they happened, in the same order.
      const events = out.slice(0, -1);
      expect(events.filter((x) => x.type === 'ban').map((x) => x.ip)).toEqual(e.bans.map((b) => b.ip));
      if (c.jsonEvents) expect(events.map((x) => x.type)).toEqual(c.jsonEvents);

      const human = runCli(dir, c, []);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toContain(`Lines:             ${(e.lines ?? (summary.lines as number)).toLocaleString('en-US')}`);
      expect(human.stdout).toContain('Kernel trust not required');
      for (const b of e.bans) expect(human.stdout).toContain(b.ip);
      for (const s of c.humanContains ?? []) expect(human.stdout).toContain(s);

      // One thread (--single-thread) reports exactly what the parse worker and this thread report.
      const single = runCli(dir, c, ['--json', '--single-thread']);
      expect(single.code, single.stderr).toBe(json.code);
      expect(single.stdout).toBe(json.stdout);
    });
  }
});

describe('replay CLI basics', () => {
  it('--help explains the flags and exits 0', () => {
    const r = spawnSync(NODE, [CLI, 'replay', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const flag of ['--format', '--maxretry', '--findtime', '--min-ports', '--whitelist', '--prefix', '--year', '--json', '--single-thread']) expect(r.stdout).toContain(flag);
  });
  it('the dist/cli bundle (built by npm install) and the TypeScript sources give the same output', () => {
    const c = { description: '', args: ['--year', '2026'] } as Case;
    const dir = path.join(CASES, 'stealth-scans');
    // npm test builds it first (scripts/build-cli.ts), so it is what the sources compile to.
    expect(freshBundle(ROOT), 'dist/cli is missing or stale: npm run build:cli').not.toBeNull();
    const fromBundle = runCli(dir, c, ['--json']);
    const prev = process.env.PORTCULLIS_FROM_SOURCE;
    process.env.PORTCULLIS_FROM_SOURCE = '1';
    try {
      const fromSources = runCli(dir, c, ['--json']);
      expect(fromSources.code, fromSources.stderr).toBe(0);
      expect(fromSources.stdout).toBe(fromBundle.stdout);
    } finally {
      if (prev === undefined) delete process.env.PORTCULLIS_FROM_SOURCE;
      else process.env.PORTCULLIS_FROM_SOURCE = prev;
    }
  });
  it('standard input redirected from a file (read by the worker as that file) gives what a pipe gives, in both modes', () => {
    const file = path.join(CASES, 'stealth-scans/input.log');
    const viaPipe = spawnSync(NODE, [CLI, 'replay', '-', '--json'], { encoding: 'utf8', input: readFileSync(file), env: { ...process.env, TZ: 'UTC' } });
    expect(viaPipe.status, viaPipe.stderr).toBe(0);
    for (const mode of [[], ['--single-thread']]) {
      const fd = openSync(file, 'r');
      try {
        const viaFile = spawnSync(NODE, [CLI, 'replay', '-', '--json', ...mode], { encoding: 'utf8', stdio: [fd, 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
        expect(viaFile.status, viaFile.stderr).toBe(0);
        expect(viaFile.stdout).toBe(viaPipe.stdout);
      } finally {
        closeSync(fd);
      }
    }
  });
  it('an input refused or broken part-way ends the command, even while its writer keeps the pipe open', async () => {
    const openEnded = (bytes: Uint8Array, extra: string[] = []) =>
      Promise.race([
        run(['-', '--year', '2026', ...extra], async (stdin) => {
          stdin.write(bytes); // and never closed: the writer is still there
        }),
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), 8_000)),
      ]);
    const xz = new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]);
    // A gzip header, then a deflate block of the reserved type: zlib refuses it at once ("invalid block type").
    const badGzip = new Uint8Array([...gzipSync(Buffer.from('x\n')).subarray(0, 10), 0x07, 0, 0, 0, 0, 0, 0, 0]);
    for (const bytes of [xz, badGzip]) {
      for (const mode of [[], ['--single-thread']]) {
        const r = await openEnded(bytes, mode);
        expect(r, `${bytes[0]} ${mode.join(' ')}`).not.toBe('hung');
        if (r !== 'hung') {
          expect(r.code).toBe(1);
          expect(r.stderr).toMatch(/cannot read standard input/);
        }
      }
    }
  }, 60_000);
  it('reads gzip-compressed logs (file, standard input, several members) as the plain log; names other compressors', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pc-replay-gz-'));
    try {
      const plain = readFileSync(path.join(CASES, 'stealth-scans/input.log'));
      const gz = path.join(dir, 'ufw.log.2.gz');
      writeFileSync(gz, gzipSync(plain));
      const summary = (args: string[], input?: Buffer) => {
        const r = spawnSync(NODE, [CLI, 'replay', ...args, '--json'], { encoding: 'utf8', input, env: { ...process.env, TZ: 'UTC' } });
        expect(r.status, r.stderr).toBe(0);
        const last = JSON.parse(r.stdout.trimEnd().split('\n').pop()!) as { lines: number; packets: number; bans: { ip: string; at: string }[] };
        return { lines: last.lines, packets: last.packets, bans: last.bans.map((b) => [b.ip, b.at]) };
      };
      const expected = summary([path.join(CASES, 'stealth-scans/input.log')]);
      expect(expected.bans.length).toBeGreaterThan(0);
      expect(summary([gz])).toEqual(expected);
      expect(summary(['-'], gzipSync(plain))).toEqual(expected);
      // `cat a.gz b.gz`: both members are read, as zcat does.
      writeFileSync(gz, Buffer.concat([gzipSync(plain), gzipSync(plain)]));
      expect(summary([gz]).lines).toBe(2 * expected.lines);

      const xz = path.join(dir, 'ufw.log.3.xz');
      writeFileSync(xz, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]));
      const refused = spawnSync(NODE, [CLI, 'replay', xz], { encoding: 'utf8' });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(`xz-compressed; only gzip is read directly. Decompress it first: xzcat ${xz} | portcullis replay -`);
      writeFileSync(gz, gzipSync(plain).subarray(0, 40));
      const cut = spawnSync(NODE, [CLI, 'replay', gz], { encoding: 'utf8' });
      expect(cut.status).toBe(1);
      expect(cut.stderr).toContain(`cannot read ${gz}: unexpected end of file`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads gzip from a pipe or FIFO named as a path, and from standard input that hands over one byte first', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pc-replay-pipe-'));
    try {
      const plain = readFileSync(path.join(CASES, 'stealth-scans/input.log'));
      const gz = gzipSync(plain);
      const expected = lastJson(spawnSync(NODE, [CLI, 'replay', path.join(CASES, 'stealth-scans/input.log'), '--json'], { encoding: 'utf8' }).stdout);
      // `cat log.gz | portcullis replay /dev/stdin`: a pipe named as a path must be read once, not
      // opened again after sniffing the magic (through sh: node's own child stdio is a socket, not a pipe).
      const gzFile = path.join(dir, 'log.gz');
      writeFileSync(gzFile, gz);
      const viaPipe = spawnSync('sh', ['-c', 'cat "$0" | "$1" "$2" replay /dev/stdin --json', gzFile, NODE, CLI], { encoding: 'utf8' });
      expect(viaPipe.status, viaPipe.stderr).toBe(0);
      expect(lastJson(viaPipe.stdout)).toEqual(expected);
      // A FIFO: opening it twice waited for a second writer forever.
      const fifo = path.join(dir, 'fifo');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const fromFifo = run([fifo, '--json']);
      await writeFile(fifo, gz);
      expect(lastJson((await fromFifo).stdout)).toEqual(expected);
      // Standard input handing over the first byte alone (a slow `ssh host cat log.gz |`).
      const slow = run(['-', '--json'], async (stdin) => {
        stdin.write(gz.subarray(0, 1));
        await new Promise((r) => setTimeout(r, 300));
        stdin.end(gz.subarray(1));
      });
      expect(lastJson((await slow).stdout)).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a gzip cut short: the summary of what was read, marked with the error, then exit 1', () => {
    const lines = scanners(400, 'UFW BLOCK');
    const gz = gzipSync(Buffer.from(lines.join('\n') + '\n'));
    const r = spawnSync(NODE, [CLI, 'replay', '-', '--json', '--year', '2026'], { encoding: 'utf8', input: gz.subarray(0, Math.floor(gz.length * 0.8)) });
    expect(r.status).toBe(1);
    const summary = lastJson(r.stdout);
    expect(summary['type']).toBe('summary');
    expect(summary['error']).toBe('cannot read standard input: unexpected end of file');
    expect(summary['lines']).toBeGreaterThan(0);
    expect(summary['lines']).toBeLessThan(lines.length);
    expect(r.stderr).toContain(`the summary covers the ${Number(summary['lines']).toLocaleString('en-US')} line(s) read before that`);
  });

  it('output into a pipe closed early (| head -1) ends quietly, without a stack trace', async () => {
    const input = scanners(3000, 'UFW BLOCK').join('\n') + '\n';
    const child = spawn(NODE, [CLI, 'replay', '-', '--json', '--year', '2026'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.stdin.on('error', () => undefined); // it may stop reading once its output is gone
    child.stdin.end(input);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy(); // the reader goes away, as head does after its first line
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('the human report: held-back list capped, expiries counted, prefixes it did not count named', () => {
    // 300 scanners in one minute under a cap of 1 new ban per minute; 60 s bans; and records of a prefix not counted.
    // A last record five minutes on: bans made by then expire, held-back ones are released one a minute.
    // findtime 10 h: the held-back queue holds what the cap can release while the evidence is fresh
    // (1 a minute × 600 minutes), so all 295 stay queued and the report has more than its 200 to list.
    const late = scanners(1, 'UFW BLOCK', 999)[0]!.replace(/^Nov 22 \S+/, 'Nov 22 10:05:00');
    const lines = [...scanners(300, 'UFW BLOCK'), ...scanners(3, 'FW DROP', 200), late];
    const r = spawnSync(NODE, [CLI, 'replay', '-', '--year', '2026', '--max-bans-per-minute', '1', '--findtime', '36000', '--bantime', '60', '--prefix', 'UFW BLOCK'], { encoding: 'utf8', input: lines.join('\n') + '\n' });
    expect(r.status, r.stderr).toBe(0);
    const held = r.stdout.split('\n').find((l) => l.startsWith('Still held back'))!;
    expect(held.split(', ').length).toBe(200);
    expect(held).toMatch(/… and [\d,]+ more \(--json lists them all\)$/);
    expect(r.stdout).toMatch(/\n\d+ of these bans would have expired within the log's time span\./);
    expect(r.stdout).toContain('Prefixes of the records not counted (add one with --prefix if it marks blocked packets): "FW DROP" ×15');
    expect(r.stdout.match(/counted prefixes: .*/)![0].match(/UFW BLOCK/g)).toHaveLength(1); // given twice, listed once
  });

  it('kmsg stamps count from boot: shown as time since boot, dated with --boot-time, a bad one refused', () => {
    const input = path.join(CASES, 'ipv6-scanner-kmsg/input.log');
    const plain = spawnSync(NODE, [CLI, 'replay', input], { encoding: 'utf8' });
    expect(plain.stdout).toContain('event time boot + 35 d 13:17:40 → boot + 35 d 13:17:48');
    expect(plain.stdout).toContain('The stamps count from boot');
    expect(plain.stdout).not.toContain('1970-');
    const dated = spawnSync(NODE, [CLI, 'replay', input, '--boot-time', '2026-11-29T08:00:00Z', '--json'], { encoding: 'utf8' });
    const summary = lastJson(dated.stdout) as { firstTime: string; bans: { at: string }[] };
    expect(summary.firstTime).toBe('2027-01-03T21:17:40.204Z'); // boot + 35 d 13:17:40.204
    expect(summary.bans[0]!.at.startsWith('2027-01-03T21:17')).toBe(true);
    const bad = spawnSync(NODE, [CLI, 'replay', input, '--boot-time', 'yesterday'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--boot-time: "yesterday" is not an ISO 8601 time');
  });

  it('--json says what its times count from: timeBase "boot" for dmesg/kmsg stamps, "wall" for syslog and for a dated boot', () => {
    const lines = (args: string[]) => {
      const r = spawnSync(NODE, [CLI, 'replay', ...args, '--json'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const dmesg = path.join(CASES, 'dmesg-seed-udp/input.log');
    for (const [args, base] of [
      [[dmesg], 'boot'],
      [[dmesg, '--boot-time', '2026-11-29T08:00:00Z'], 'wall'],
      [[path.join(CASES, 'ipv6-scanner-kmsg/input.log'), '--format', 'kmsg'], 'boot'],
      [[path.join(CASES, 'stealth-scans/input.log'), '--year', '2026'], 'wall'],
    ] as [string[], string][]) {
      const out = lines(args);
      const summary = out.at(-1)!;
      expect(summary['type']).toBe('summary');
      expect(summary['timeBase'], args.join(' ')).toBe(base);
      // Each line before the summary (a ban as it happens) says it too: a reader of the stream need not wait for the end.
      const events = out.slice(0, -1);
      expect(events.length, args.join(' ')).toBeGreaterThan(0);
      for (const e of events) expect(e['timeBase'], `${args.join(' ')}: ${JSON.stringify(e)}`).toBe(base);
    }
    // Boot-relative times are still ISO strings (1970 + uptime), as before: only fields were added.
    const boot = lastJson(spawnSync(NODE, [CLI, 'replay', dmesg, '--json'], { encoding: 'utf8' }).stdout) as { firstTime: string };
    expect(boot.firstTime.startsWith('1970-02-05T')).toBe(true); // boot + 35 d 13:17:44
  });

  it('a plain file with flags refused after the parse worker was started early: the command still ends, with the refusal', async () => {
    // The worker boots before the flags are validated (replay-start.ts); one the replay never takes
    // must be ended, or it would keep the process alive. spawn with a timeout: a hang fails, not stalls.
    const input = path.join(CASES, 'slow-scan/input.log');
    const child = spawn(NODE, [CLI, 'replay', input, '--maxretry', '0'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    expect(signal).toBeNull();
    expect(code).toBe(2);
    expect(stderr).toContain('--maxretry');
  });

  it('a file smaller than WORKER_MIN_BYTES is replayed without the parse worker (one fewer isolate to boot), and says the same', () => {
    const input = path.join(CASES, 'stealth-scans/input.log');
    const replayWith = (workerBytes: string | undefined) => {
      const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', PORTCULLIS_REPLAY_TIMING: '1' };
      if (workerBytes === undefined) delete env['PORTCULLIS_REPLAY_WORKER_BYTES'];
      else env['PORTCULLIS_REPLAY_WORKER_BYTES'] = workerBytes;
      const r = spawnSync(NODE, [CLI, 'replay', input, '--json', '--year', '2026'], { encoding: 'utf8', env });
      expect(r.status, r.stderr).toBe(0);
      // The timing line names the pipeline's stages (startAt …) only when a worker parsed.
      const timing = JSON.parse(/portcullis replay timing: (.*)/.exec(r.stderr)![1]!) as Record<string, number>;
      return { stdout: r.stdout, worker: 'startAt' in timing };
    };
    const small = replayWith(undefined);
    expect(small.worker).toBe(false);
    const forced = replayWith('0');
    expect(forced.worker).toBe(true);
    expect(forced.stdout).toBe(small.stdout);
    // The threshold is in bytes: a file just at it gets the worker.
    const size = String(statSync(input).size);
    expect(replayWith(size).worker).toBe(true);
    expect(replayWith(String(Number(size) + 1)).worker).toBe(false);
  });

  it('a small stream (a pipe: no size) is replayed without the parse worker once it ends; a stream still open after 0.1 s gets the worker, its bans printed before it ends', async () => {
    const input = readFileSync(path.join(CASES, 'stealth-scans/input.log'));
    const timingOf = (stderr: string) => JSON.parse(/portcullis replay timing: (.*)/.exec(stderr)![1]!) as Record<string, number>;
    const envWith = (workerBytes: string | undefined) => {
      const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', PORTCULLIS_REPLAY_TIMING: '1' };
      if (workerBytes === undefined) delete env['PORTCULLIS_REPLAY_WORKER_BYTES'];
      else env['PORTCULLIS_REPLAY_WORKER_BYTES'] = workerBytes;
      return env;
    };
    const piped = (workerBytes: string | undefined) => {
      const r = spawnSync(NODE, [CLI, 'replay', '-', '--json', '--year', '2026'], { encoding: 'utf8', input, env: envWith(workerBytes) });
      expect(r.status, r.stderr).toBe(0);
      // The timing line names the pipeline's stages (startAt …) only when a worker parsed.
      return { stdout: r.stdout, worker: 'startAt' in timingOf(r.stderr) };
    };
    const small = piped(undefined);
    expect(small.worker).toBe(false);
    const forced = piped('0');
    expect(forced.worker).toBe(true);
    expect(forced.stdout).toBe(small.stdout);
    // A writer that keeps the pipe open: the first ban must come out while it does. (70 lines: past
    // the 64 kept to recognise the framing, which wait for the end in any mode.)
    const bans = scanners(14, 'UFW BLOCK').join('\n') + '\n';
    let banBeforeEnd = false;
    const open = await run(
      ['-', '--json', '--year', '2026'],
      async (stdin, output) => {
        stdin.write(bans);
        for (let waited = 0; waited < 15_000 && !output().includes('"type":"ban"'); waited += 20) await new Promise((r) => setTimeout(r, 20));
        banBeforeEnd = output().includes('"type":"ban"');
        stdin.end();
      },
      envWith(undefined),
    );
    expect(open.code, open.stderr).toBe(0);
    expect(banBeforeEnd).toBe(true);
    expect('startAt' in timingOf(open.stderr)).toBe(true);
  }, 60_000);

  it('no input file is refused', () => {
    const r = spawnSync(NODE, [CLI, 'replay'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('missing the log file');
  });
});
