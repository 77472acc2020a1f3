/**
 * bin/cli-bundle.js decides whether `portcullis` runs the dist/cli bundle or the TypeScript
 * sources: the bundle only while every file it was built from is byte for byte unchanged.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshBundle, hashSources, MANIFEST } from '../../bin/cli-bundle.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function project(): { root: string; bundle: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'portcullis-bundle-'));
  dirs.push(root);
  mkdirSync(path.join(root, 'src'));
  writeFileSync(path.join(root, 'src/a.ts'), 'export const a = 1;\n');
  writeFileSync(path.join(root, 'src/b.ts'), 'export const b = 2;\n');
  const bundle = path.join(root, 'dist/cli');
  mkdirSync(bundle, { recursive: true });
  const files = ['src/a.ts', 'src/b.ts'];
  writeFileSync(path.join(bundle, MANIFEST), JSON.stringify({ sha256: hashSources(root, files), files }));
  writeFileSync(path.join(bundle, 'cli.mjs'), '');
  writeFileSync(path.join(bundle, 'replay-worker.mjs'), '');
  return { root, bundle };
}

describe('freshBundle', () => {
  it('names the bundle while its sources are unchanged', () => {
    const { root, bundle } = project();
    expect(freshBundle(root, bundle)).toBe(path.join(bundle, 'cli.mjs'));
  });
  it('refuses it after a source changed, or went away', () => {
    const { root, bundle } = project();
    writeFileSync(path.join(root, 'src/b.ts'), 'export const b = 3;\n');
    expect(freshBundle(root, bundle)).toBeNull();
    rmSync(path.join(root, 'src/b.ts'));
    expect(freshBundle(root, bundle)).toBeNull();
  });
  it('refuses a bundle missing one of its entries', () => {
    const { root, bundle } = project();
    rmSync(path.join(bundle, 'replay-worker.mjs'));
    expect(freshBundle(root, bundle)).toBeNull();
  });
  it('refuses a missing or malformed manifest', () => {
    const { root, bundle } = project();
    writeFileSync(path.join(bundle, MANIFEST), '{"files": "src/a.ts"}');
    expect(freshBundle(root, bundle)).toBeNull();
    rmSync(path.join(bundle, MANIFEST));
    expect(freshBundle(root, bundle)).toBeNull();
  });
  it('a path and its bytes both count: moving bytes between files changes the hash', () => {
    const { root } = project();
    const h = hashSources(root, ['src/a.ts', 'src/b.ts']);
    writeFileSync(path.join(root, 'src/a.ts'), 'export const a = 1;\nexport const b = 2;\n');
    writeFileSync(path.join(root, 'src/b.ts'), '');
    expect(hashSources(root, ['src/a.ts', 'src/b.ts'])).not.toBe(h);
  });
});
