/**
 * bin/cli-bundle.js decides whether `portcullis` runs the dist/cli bundle or the TypeScript
 * sources: the bundle only while every file it was built from keeps the size and mtime it had
 * (a stat per file, not a hash of every byte on every start), or when it is an installed package.
 */
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshBundle, MANIFEST, stampSources } from '../../bin/cli-bundle.js';
import { tempDirsPerTest } from '../support/temp-dirs.ts';

const projectTemp = tempDirsPerTest('portcullis-bundle-');

function project(): { root: string; bundle: string } {
  const root = projectTemp();
  mkdirSync(path.join(root, 'src'));
  writeFileSync(path.join(root, 'src/a.ts'), 'export const a = 1;\n');
  writeFileSync(path.join(root, 'src/b.ts'), 'export const b = 2;\n');
  // An old mtime, so that a rewrite within the same millisecond still moves it.
  for (const f of ['src/a.ts', 'src/b.ts']) utimesSync(path.join(root, f), 1_700_000_000, 1_700_000_000);
  const bundle = path.join(root, 'dist/cli');
  mkdirSync(bundle, { recursive: true });
  writeFileSync(path.join(bundle, MANIFEST), JSON.stringify({ sources: stampSources(root, ['src/a.ts', 'src/b.ts']) }));
  writeFileSync(path.join(bundle, 'cli.mjs'), '');
  writeFileSync(path.join(bundle, 'replay-worker.mjs'), '');
  return { root, bundle };
}

describe('freshBundle', () => {
  it('names the bundle while its sources are unchanged', () => {
    const { root, bundle } = project();
    expect(freshBundle(root, bundle)).toBe(path.join(bundle, 'cli.mjs'));
  });
  it('refuses it after a source changed (same size included), or went away', () => {
    const { root, bundle } = project();
    writeFileSync(path.join(root, 'src/b.ts'), 'export const b = 3;\n'); // same length, new mtime
    expect(freshBundle(root, bundle)).toBeNull();
    rmSync(path.join(root, 'src/b.ts'));
    expect(freshBundle(root, bundle)).toBeNull();
  });
  it('refuses a bundle missing one of its entries', () => {
    const { root, bundle } = project();
    rmSync(path.join(bundle, 'replay-worker.mjs'));
    expect(freshBundle(root, bundle)).toBeNull();
  });
  it('refuses a missing, malformed or old-format manifest', () => {
    const { root, bundle } = project();
    writeFileSync(path.join(bundle, MANIFEST), '{"sources": "src/a.ts"}');
    expect(freshBundle(root, bundle)).toBeNull();
    writeFileSync(path.join(bundle, MANIFEST), '{"sha256": "00", "files": ["src/a.ts"]}');
    expect(freshBundle(root, bundle)).toBeNull();
    rmSync(path.join(bundle, MANIFEST));
    expect(freshBundle(root, bundle)).toBeNull();
  });
  it('an installed package (manifest says packaged, no sources beside it) runs its bundle', () => {
    const { root, bundle } = project();
    rmSync(path.join(root, 'src'), { recursive: true });
    writeFileSync(path.join(bundle, MANIFEST), '{"packaged": true}');
    expect(freshBundle(root, bundle)).toBe(path.join(bundle, 'cli.mjs'));
  });
});
