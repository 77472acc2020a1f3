/**
 * Data-driven replay cases: each directory of tests/fixtures/replay holds input.log (or names another
 * case's input) and case.json (flags, expected bans and counts). The REAL CLI is spawned
 * (`node bin/portcullis.js replay …`) twice per case: with --json (checked field by field, the last
 * line being the summary) and without (the human report must name every ban).
 *
 * case.json: { description, args, input?, stdin?, exitCode?, stderr?: string[],
 *   expect?: { lines, packets, counted, distinctSources, framing, deferredEvents, deferred,
 *              rejected: {reason: n}  (every reason not listed must be 0),
 *              ignored: {reason: n}   (same),
 *              bans: [{ ip, at?, scanType?, ports? }]  (exactly these, in this order) },
 *   jsonEvents?: ["ban", "ban-deferred", …]  (types of the lines before the summary),
 *   humanContains?: string[] }
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Node 24 runs the CLI: the test runner's own Node when it is one (npm test), else the project's. */
const NODE = Number(process.versions.node.split('.')[0]) >= 24 ? process.execPath : path.join(ROOT, 'node_modules/.bin/node');
const CLI = path.join(ROOT, 'bin/portcullis.js');
const CASES = path.join(ROOT, 'tests/fixtures/replay');

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
    deferredEvents?: number;
    deferred?: string[];
    rejected?: Record<string, number>;
    ignored?: Record<string, number>;
    bans: { ip: string; at?: string; scanType?: string; ports?: number[] }[];
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
      for (const k of ['lines', 'packets', 'counted', 'distinctSources', 'framing', 'deferredEvents', 'deferred'] as const) {
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
    });
  }
});

describe('replay CLI basics', () => {
  it('--help explains the flags and exits 0', () => {
    const r = spawnSync(NODE, [CLI, 'replay', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const flag of ['--format', '--maxretry', '--findtime', '--min-ports', '--whitelist', '--prefix', '--year', '--json']) expect(r.stdout).toContain(flag);
  });
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

  it('no input file is refused', () => {
    const r = spawnSync(NODE, [CLI, 'replay'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('missing the log file');
  });
});
