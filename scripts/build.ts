/**
 * Builds what Electron loads: the main process, the preload and the root helper bundled by esbuild
 * into dist/electron/, and the renderer by vite into renderer/dist/.
 *   main.js     ESM (package.json "type": "module", "main": "dist/electron/main.js"; Electron ≥ 28 loads ESM main)
 *   preload.cjs CommonJS: a sandboxed preload cannot be an ES module
 *   helper.mjs  the root helper, run by the Electron binary in ELECTRON_RUN_AS_NODE mode (or any Node ≥ 22)
 * Usage: node scripts/build.ts [--skip-renderer] [--quiet]
 */
import { build as esbuild, type BuildOptions } from 'esbuild';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OUT_DIR = path.join(ROOT, 'dist/electron');

// Bundled CommonJS dependencies (sudo-prompt, ws) call require() for Node built-ins; an ESM bundle
// has no `require`, so give it one.
const ESM_REQUIRE_BANNER = "import { createRequire as __pcCreateRequire } from 'node:module'; const require = __pcCreateRequire(import.meta.url);";

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  // Electron 45's embedded Node; also what the helper runs under.
  target: 'node22',
  sourcemap: 'linked',
  logLevel: 'warning',
  legalComments: 'none',
  minify: true,
  // electron is provided by the runtime; optional native deps of ws are not needed.
  external: ['electron', 'bufferutil', 'utf-8-validate'],
};

export const BUNDLES: { name: string; options: BuildOptions }[] = [
  {
    name: 'main',
    options: { ...common, entryPoints: [path.join(ROOT, 'electron/main/index.ts')], outfile: path.join(OUT_DIR, 'main.js'), format: 'esm', banner: { js: ESM_REQUIRE_BANNER } },
  },
  {
    name: 'preload',
    options: { ...common, entryPoints: [path.join(ROOT, 'electron/preload/index.ts')], outfile: path.join(OUT_DIR, 'preload.cjs'), format: 'cjs' },
  },
  {
    name: 'helper',
    options: {
      ...common,
      entryPoints: [path.join(ROOT, 'electron/helper/main.ts')],
      outfile: path.join(OUT_DIR, 'helper.mjs'),
      format: 'esm',
      banner: { js: ESM_REQUIRE_BANNER },
      // The helper runs its main() when `import.meta.main`; in the bundle it IS the entry module,
      // and older embedded Node versions lack import.meta.main.
      define: { 'import.meta.main': 'true' },
    },
  },
];

export async function buildElectron(log: (line: string) => void = console.log): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  for (const b of BUNDLES) {
    await esbuild(b.options);
    const out = b.options.outfile!;
    log(`built ${path.relative(ROOT, out)} (${Math.round(statSync(out).size / 1024)} KiB)`);
  }
}

export async function buildRenderer(log: (line: string) => void = console.log): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: path.join(ROOT, 'renderer/vite.config.ts'), logLevel: 'warn' });
  log('built renderer/dist');
}

export async function buildAll(opts: { renderer?: boolean; log?: (line: string) => void } = {}): Promise<void> {
  const log = opts.log ?? console.log;
  await buildElectron(log);
  if (opts.renderer ?? true) await buildRenderer(log);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const quiet = args.includes('--quiet');
  buildAll({ renderer: !args.includes('--skip-renderer'), log: quiet ? () => undefined : console.log }).catch((e: unknown) => {
    console.error(`build failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
