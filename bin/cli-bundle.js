// Which code `portcullis` runs: the bundle that `npm install` builds (dist/cli, by
// scripts/build-cli.ts) when it was built from the sources as they are now, else the TypeScript
// sources. Why a bundle at all: Node strips the TypeScript types of every module it loads with a
// compiler of its own, which costs ~18 MB of memory per thread and ~100 ms per start; a replay runs
// two threads. Why the check: a bundle older than the sources would silently run old code.
// How it checks: the manifest records the size and modification time of every file the bundle was
// built from (ours and the dependencies'); any difference, a file gone, or a missing bundle means
// the sources run. A stat per file costs ~1 ms for all of them, where hashing their bytes (the first
// version) cost ~30 ms on every start. An edit always moves the mtime; the only miss would be a
// file rewritten with the same size and its old mtime restored (`touch -r`), which is no accident.
// An installed package (the .deb) has no sources beside it: its manifest says `packaged`, and its
// files belong to dpkg, so the bundle runs as is.
// Plain JavaScript: it runs before anything TypeScript is loaded.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** The manifest scripts/build-cli.ts writes beside the bundle. */
export const MANIFEST = 'sources.json';

/** Size and modification time of each file (paths relative to root), in order. */
export function stampSources(root, files) {
  return files.map((f) => {
    const s = statSync(path.join(root, f));
    return { file: f, size: s.size, mtimeMs: s.mtimeMs };
  });
}

function sameStamp(root, stamp) {
  if (!stamp || typeof stamp.file !== 'string') return false;
  const s = statSync(path.join(root, stamp.file), { throwIfNoEntry: false });
  return s !== undefined && s.size === stamp.size && s.mtimeMs === stamp.mtimeMs;
}

/** The bundle's entry (a file path) when the bundle in `dir` is fresh for the sources under `root`, else null. */
export function freshBundle(root, dir = path.join(root, 'dist/cli')) {
  try {
    const manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8'));
    // A bundle missing a file (cleaned by hand, a copy interrupted) is no bundle.
    for (const f of ['cli.mjs', 'replay-worker.mjs']) if (!existsSync(path.join(dir, f))) return null;
    if (manifest.packaged === true) return path.join(dir, 'cli.mjs');
    if (!Array.isArray(manifest.sources) || manifest.sources.length === 0) return null;
    for (const stamp of manifest.sources) if (!sameStamp(root, stamp)) return null;
    return path.join(dir, 'cli.mjs');
  } catch {
    return null; // no bundle, an unreadable manifest
  }
}
