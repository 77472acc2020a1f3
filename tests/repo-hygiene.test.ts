/**
 * Every file the tests and the app read must be able to land in git. A blanket `*.log` ignore once
 * kept all replay fixtures' input.log out of every commit: the tests passed here and failed on CI's
 * clean clone. `git check-ignore --no-index` asks the ignore rules about each file on disk,
 * tracked or not, so a rule that would swallow one fails here, before the commit.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIRS = ['electron', 'renderer', 'tests', 'bench', 'scripts', 'build', 'assets', 'bin', 'wasm', '.ci'];
/** Build output inside those folders is meant to be ignored. */
const GENERATED = new Set(['node_modules', 'dist', '.vite']);

function walk(dir: string, out: string[]): string[] {
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    if (GENERATED.has(e.name)) continue;
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) walk(rel, out);
    else out.push(rel);
  }
  return out;
}

describe('repository hygiene', () => {
  it('no source, test or fixture file is matched by .gitignore', () => {
    const files = DIRS.flatMap((d) => walk(d, []));
    expect(files.length).toBeGreaterThan(100);
    expect(files.some((f) => f.endsWith('input.log'))).toBe(true);
    const r = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: ROOT, input: files.join('\n'), encoding: 'utf8' });
    // Exit 1 = nothing ignored; 0 = something is; anything else = git could not answer.
    expect(r.status === 0 || r.status === 1, r.stderr).toBe(true);
    expect(r.stdout.trim().split('\n').filter(Boolean)).toEqual([]);
  });
});
