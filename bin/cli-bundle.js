// Which code `portcullis` runs: the bundle that `npm install` builds (dist/cli, by
// scripts/build-cli.ts) when it is exactly what the sources compile to, else the TypeScript sources.
// Why a bundle at all: Node strips the TypeScript types of every module it loads with a compiler
// of its own, which costs ~18 MB of memory per thread and ~100 ms per start; a replay runs two
// threads. Why the check: a bundle older than the sources would silently run old code. The bundle
// records every file it was built from (ours and the dependencies') with one SHA-256 over them;
// any difference, or a missing bundle, means the sources run. Plain JavaScript: it runs before
// anything TypeScript is loaded.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The manifest scripts/build-cli.ts writes beside the bundle. */
export const MANIFEST = 'sources.json';

/** SHA-256 over the files (paths relative to root), in order: each path, then its bytes. */
export function hashSources(root, files) {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f);
    h.update('\0');
    h.update(readFileSync(path.join(root, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

/** The bundle's entry (a file path) when the bundle in `dir` is fresh for the sources under `root`, else null. */
export function freshBundle(root, dir = path.join(root, 'dist/cli')) {
  try {
    const manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8'));
    if (!Array.isArray(manifest.files) || typeof manifest.sha256 !== 'string') return null;
    if (hashSources(root, manifest.files) !== manifest.sha256) return null;
    // A bundle missing a file (cleaned by hand, a copy interrupted) is no bundle.
    for (const f of ['cli.mjs', 'replay-worker.mjs']) if (!existsSync(path.join(dir, f))) return null;
    return path.join(dir, 'cli.mjs');
  } catch {
    return null; // no bundle, an unreadable manifest, a source that is gone
  }
}
