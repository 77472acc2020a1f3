/**
 * Bundles the `portcullis` command line (electron/headless/cli.ts and the replay's parse worker)
 * into dist/cli/, with a manifest of the sources it was built from, each with its size and mtime
 * (bin/cli-bundle.js runs the bundle only while those are unchanged). Run by `npm install` (the "prepare" script) and by
 * `npm run build`. Commands are split into chunks, so `portcullis replay` still loads only what
 * it needs. Beside them, dist/cli/status.cjs: `portcullis status` alone, one CommonJS file, which
 * the server package's wrapper runs for `status` (electron/headless/status-main.ts says why), and
 * no checkout entry does.
 * It also compiles the native reader of the `nflog` log source into dist/native/ (build-native.ts).
 * Usage: node scripts/build-cli.ts [--quiet] [--strict]   (--strict: a failed build fails the command)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST, stampSources } from '../bin/cli-bundle.js';
import { errorText } from '../electron/shared/errors.ts';
import { buildNflogReader } from './build-native.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
export const CLI_DIR = path.join(ROOT, 'dist/cli');

/** `portcullis status` alone, which the installed wrapper runs through bin/portcullis-status.cjs. */
export const STATUS_ENTRY = 'status.cjs';

export async function buildCli(outDir = CLI_DIR): Promise<{ files: string[]; metafile: import('esbuild').Metafile; statusMetafile: import('esbuild').Metafile }> {
  const startedAt = Date.now();
  rmSync(outDir, { recursive: true, force: true });
  // Imported here: an install without devDependencies has no esbuild, and the CLI then simply runs its sources.
  const { build } = await import('esbuild');
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { cli: 'electron/headless/cli.ts', 'replay-worker': 'electron/headless/replay-worker.ts' },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    outExtension: { '.js': '.mjs' },
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
    // Optional native speed-ups of ws; without them ws uses JavaScript.
    external: ['bufferutil', 'utf-8-validate'],
    // Bundled CommonJS dependencies call require() for Node built-ins; an ES module has no `require`.
    banner: { js: "import { createRequire as __pcCreateRequire } from 'node:module'; const require = __pcCreateRequire(import.meta.url);" },
  });
  // One script, no chunks, no ES module loader; minified: half the bytes to read and compile (its
  // errors are messages, never stack traces, so names need not survive).
  const status = await build({
    absWorkingDir: ROOT,
    entryPoints: ['electron/headless/status-main.ts'],
    outfile: path.join(outDir, STATUS_ENTRY),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node24',
    minify: true,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  const files = [...new Set([...Object.keys(result.metafile.inputs), ...Object.keys(status.metafile.inputs)])].sort();
  const sources = stampSources(ROOT, files);
  // A source saved while esbuild read it may not be what the bundle holds: no manifest then, so
  // `portcullis` runs the sources until the next build.
  if (sources.every((s) => s.mtimeMs < startedAt)) writeFileSync(path.join(outDir, MANIFEST), JSON.stringify({ sources }, null, 1) + '\n');
  return { files, metafile: result.metafile, statusMetafile: status.metafile };
}

if (import.meta.main) {
  const quiet = process.argv.includes('--quiet');
  // The nflog source's reader (scripts/build-native.ts): without gcc, a message and no failure.
  try {
    const native = buildNflogReader();
    if ('skipped' in native) console.error(`build-cli: ${native.skipped}`);
    else if (!quiet && 'built' in native) console.log(`built ${path.relative(ROOT, native.built)}`);
  } catch (e) {
    console.error(`build-cli: ${errorText(e)}`);
    if (process.argv.includes('--strict')) process.exitCode = 1;
  }
  buildCli().then(
    ({ files }) => {
      if (!quiet) console.log(`built ${path.relative(ROOT, CLI_DIR)} from ${files.length} source files`);
    },
    (e: unknown) => {
      // Without the bundle `portcullis` runs its TypeScript sources (slower to start, more memory):
      // worth saying, not worth failing `npm install` for.
      console.error(`build-cli: no CLI bundle (${errorText(e)}); portcullis will run its sources`);
      if (process.argv.includes('--strict')) process.exitCode = 1;
    },
  );
}
