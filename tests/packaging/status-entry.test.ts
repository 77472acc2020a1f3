/**
 * The installed `portcullis status` (issue 11.3) runs its own one-file CommonJS entry,
 * dist/cli/status.cjs (electron/headless/status-main.ts), through bin/portcullis-status.cjs (a V8
 * code cache made after a first run), not bin/portcullis.js: it starts faster (`npm run bench --
 * startup`). These tests hold it to the same answer as the general entry, in the package's
 * installed layout (tests/support/installed-package.ts: package-server's own staging, the
 * package's wrapper), against a live instance and without one; check that the wrapper falls back
 * to the general entry when the file is missing; and that a missing, broken or stale code cache
 * changes nothing but the speed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, STATUS_ENTRY } from '../../scripts/build-cli.ts';
import { type InstalledTree, type LiveInstance, startLiveInstance, stageInstalled } from '../support/installed-package.ts';

const cliDir = mkdtempSync(path.join(tmpdir(), 'pc-status-cli-'));
let tree: InstalledTree;
let live: LiveInstance;
let liveDir: string;
let noneDir: string;

beforeAll(async () => {
  await buildCli(cliDir);
  tree = stageInstalled({ cliDir });
  liveDir = path.join(tree.dir, 'live');
  noneDir = path.join(tree.dir, 'none');
  live = startLiveInstance(liveDir, { node: path.join(tree.lib, 'node'), entry: path.join(tree.lib, 'bin/portcullis.js') });
  await live.ready;
}, 120_000);

afterAll(async () => {
  live?.child.kill('SIGTERM');
  await live?.exited;
  if (tree) rmSync(tree.dir, { recursive: true, force: true });
  rmSync(cliDir, { recursive: true, force: true });
});

interface Answer {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[]): Answer {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The wrapper, traced by sh -x: which entry it ran is in the trace. */
function wrapper(args: string[]): Answer & { ran: string } {
  const r = run(['/bin/sh', '-x', tree.wrapper, ...args]);
  const execLine = r.stderr.split('\n').find((l) => l.startsWith('+ exec ')) ?? '';
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('+ ')).join('\n'), ran: execLine };
}

/** `status` through the general entry, as the wrapper ran it before status.cjs. */
function general(args: string[]): Answer {
  return run([path.join(tree.lib, 'node'), '--max-semi-space-size=1', path.join(tree.lib, 'bin/portcullis.js'), 'status', ...args]);
}

const cases = (): Record<string, string[]> => ({
  'live instance': ['--state-dir', liveDir],
  'live instance, --json': ['--state-dir', liveDir, '--json'],
  'no instance': ['--state-dir', noneDir],
  '--help': ['--help'],
  'an unknown option': ['--state-dir', liveDir, '--bogus'],
});

describe('the installed portcullis status', () => {
  it('runs its own entry, bin/portcullis-status.cjs, for status only', () => {
    expect(wrapper(['status', '--help']).ran).toContain('bin/portcullis-status.cjs');
    expect(wrapper(['--help']).ran).toContain('bin/portcullis.js');
    expect(wrapper(['bans', '--help']).ran).toContain('bin/portcullis.js');
  });

  it('gives the same answer as the general entry: output, errors and exit code', () => {
    for (const [name, args] of Object.entries(cases())) {
      const fast = wrapper(['status', ...args]);
      expect(fast.ran, name).toContain('bin/portcullis-status.cjs');
      const { ran: _ran, ...answer } = fast;
      expect(answer, name).toEqual(general(args));
    }
    // And they are the answers they should be, not two equal failures.
    const text = wrapper(['status', '--state-dir', liveDir]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^protection {3}on\n/);
    const json = wrapper(['status', '--state-dir', liveDir, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ protection: 'on', backend: 'set' });
    const none = wrapper(['status', '--state-dir', noneDir]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no running Portcullis instance');
    expect(wrapper(['status', '--bogus']).status).toBe(2);
  });

  it('falls back to the general entry, with the same answer, when status.cjs is missing', () => {
    const file = path.join(tree.lib, 'dist/cli', STATUS_ENTRY);
    renameSync(file, `${file}.away`);
    try {
      for (const [name, args] of Object.entries(cases())) {
        const fallback = wrapper(['status', ...args]);
        expect(fallback.ran, name).toContain('bin/portcullis.js');
        const { ran: _ran, ...answer } = fallback;
        expect(answer, name).toEqual(general(args));
      }
      expect(wrapper(['status', '--state-dir', liveDir]).stdout).toMatch(/^protection {3}on\n/);
    } finally {
      renameSync(`${file}.away`, file);
    }
  });

  it('keeps a code cache made after its first run, and remakes a missing, broken or stale one, answering the same', () => {
    const cacheFile = path.join(tree.cache, 'status.cjs.v8cache');
    const bundle = path.join(tree.lib, 'dist/cli', STATUS_ENTRY);
    const want = general(['--state-dir', liveDir]);
    const answer = () => {
      const { ran: _ran, ...a } = wrapper(['status', '--state-dir', liveDir]);
      return a;
    };
    rmSync(cacheFile, { force: true });
    const none = wrapper(['status', '--state-dir', noneDir]);
    expect(none.status).toBe(1);
    expect(existsSync(cacheFile), 'not made by a run that did not answer (half the code compiled)').toBe(false);
    expect(answer()).toEqual(want);
    expect(existsSync(cacheFile), 'made at the first run that answered').toBe(true);
    const made = readFileSync(cacheFile);
    const head = made.subarray(0, made.indexOf(10) + 1).toString();
    const st = statSync(bundle);
    expect(head).toBe(`portcullis status.cjs ${st.ino} ${st.size} ${st.mtimeMs}\n`);
    // More than the code compiled before the run: the functions the run compiled too.
    expect(made.length).toBeGreaterThan(100_000);
    const madeAt = statSync(cacheFile).mtimeMs;
    expect(answer()).toEqual(want);
    expect(statSync(cacheFile).mtimeMs, 'accepted, so not written again').toBe(madeAt);

    // Broken: V8 refuses it; the answer is the same and the cache is made again.
    writeFileSync(cacheFile, Buffer.concat([Buffer.from(head), Buffer.alloc(made.length - head.length, 0x5a)]));
    expect(answer()).toEqual(want);
    expect(readFileSync(cacheFile).equals(Buffer.concat([Buffer.from(head), Buffer.alloc(made.length - head.length, 0x5a)]))).toBe(false);
    // Cut short.
    writeFileSync(cacheFile, made.subarray(0, 4096));
    expect(answer()).toEqual(want);
    expect(readFileSync(cacheFile).length).toBeGreaterThan(100_000);

    // Stale: made for another status.cjs of the same length (an upgrade that changed a word),
    // which V8 alone accepts, running the old code. Refused by its stamp, remade.
    writeFileSync(cacheFile, made);
    const original = readFileSync(bundle);
    const replaceBundle = (bytes: Buffer) => {
      writeFileSync(`${bundle}.new`, bytes); // a new file, renamed over the old, as dpkg installs one
      renameSync(`${bundle}.new`, bundle);
    };
    const edited = Buffer.from(original.toString('latin1').replace('protection   ', 'PROTECTION   '), 'latin1');
    expect(edited.length).toBe(original.length);
    expect(edited.equals(original)).toBe(false);
    replaceBundle(edited);
    try {
      expect(answer().stdout).toMatch(/^PROTECTION {3}on\n/);
      const st2 = statSync(bundle);
      expect(readFileSync(cacheFile).subarray(0, head.length + 40).toString()).toContain(`portcullis status.cjs ${st2.ino} ${st2.size} ${st2.mtimeMs}\n`);
    } finally {
      replaceBundle(original);
    }
    expect(answer()).toEqual(want);

    // No cache directory (the wrapper sets none where it cannot write): the same answer.
    rmSync(tree.cache, { recursive: true, force: true });
    try {
      expect(answer()).toEqual(want);
    } finally {
      mkdirSync(tree.cache, { mode: 0o700 });
    }
  });
});
