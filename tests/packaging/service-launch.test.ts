/**
 * The installed service starts with its V8 flags from the process's start (the wrapper's `run|serve`
 * branch; the environment: the wrapper's exports and the unit's Environment=), other commands without
 * them; and the benches that measure the service's memory (bench/idle.bench.ts, bench/soak.bench.ts) run it with
 * exactly those (bench/service-launch.ts reads them from the same files).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceLaunch } from '../../bench/service-launch.ts';
import { SERVICE_V8_FLAGS } from '../../electron/headless/runner.ts';
import { type InstalledTree, stageInstalled } from '../support/installed-package.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
let tree: InstalledTree;

beforeAll(() => {
  tree = stageInstalled();
});
afterAll(() => {
  if (tree) rmSync(tree.dir, { recursive: true, force: true });
});

/** The wrapper traced by sh -x: what it exported and the node command it ran. */
function traced(args: string[]): { status: number | null; exports: string[]; exec: string[]; stderr: string } {
  const r = spawnSync('/bin/sh', ['-x', tree.wrapper, ...args], { encoding: 'utf8', timeout: 60_000, env: { PATH: '/usr/bin:/bin' } });
  const lines = r.stderr.split('\n');
  return {
    status: r.status,
    exports: lines.filter((l) => l.startsWith('+ export ')).map((l) => l.slice('+ export '.length)),
    exec: (lines.find((l) => l.startsWith('+ exec ')) ?? '').split(' ').slice(2),
    stderr: lines.filter((l) => !l.startsWith('+ ')).join('\n'),
  };
}

describe('the installed service: flags from the start', () => {
  it('run and serve start node with the service flags (node accepts them) and environment, as the benches run it', () => {
    const launch = serviceLaunch(ROOT);
    // The runner's own list (it sets them itself only when missing) and gc() for the trim at rest.
    expect(launch.flags).toEqual(expect.arrayContaining([...SERVICE_V8_FLAGS, '--expose-gc']));
    expect(launch.env.MALLOC_ARENA_MAX).toBe('1');
    for (const cmd of ['run', 'serve']) {
      const t = traced([cmd, '--help']);
      expect(t.status, t.stderr).toBe(0);
      expect(t.stderr).not.toMatch(/bad option|unknown|invalid/i);
      const node = t.exec[0]!;
      expect(node).toBe(path.join(tree.lib, 'node'));
      expect(t.exec.slice(1, t.exec.findIndex((w) => w.endsWith('bin/portcullis.js')))).toEqual(launch.flags);
      for (const [k, v] of Object.entries(launch.env)) expect(t.exports).toContain(`${k}=${v}`);
    }
  });

  it('other commands (replay, bans) run without them', () => {
    const t = traced(['bans', '--help']);
    expect(t.status, t.stderr).toBe(0);
    expect(t.exec.join(' ')).not.toContain('--invocation-count-for-maglev');
  });

  it("the unit's environment is the wrapper's", () => {
    const unit = readFileSync(path.join(ROOT, 'build/server/portcullis.service'), 'utf8');
    const env = unit
      .split('\n')
      .filter((l) => l.startsWith('Environment='))
      .flatMap((l) => l.slice('Environment='.length).split(' '));
    const wrapper = readFileSync(path.join(ROOT, 'build/server/portcullis'), 'utf8');
    for (const kv of env) expect(wrapper).toContain(`export ${kv}`);
    expect(env).toContain('MALLOC_ARENA_MAX=1');
  });
});
