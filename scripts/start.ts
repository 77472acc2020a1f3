/**
 * `npm start`: build (main, preload, helper, renderer), then launch the desktop app with the
 * project's Electron. When the Electron binary is not installed (its download from GitHub needs
 * network access, e.g. on an offline build machine), say exactly that, how to get it, and the
 * headless alternative — and exit non-zero: the desktop app did NOT start.
 * Usage: node scripts/start.ts [--no-build] [-- extra electron args]
 * Electron's own ELECTRON_OVERRIDE_DIST_PATH is honoured (a directory holding the `electron` binary).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The Electron executable, found the way node_modules/electron/index.js does it — without its download-on-require. */
export function findElectron(root = ROOT, env: NodeJS.ProcessEnv = process.env): { path: string } | { missing: string } {
  const pkgDir = path.join(root, 'node_modules/electron');
  if (!existsSync(path.join(pkgDir, 'package.json'))) return { missing: 'the electron package is not installed (run npm install)' };
  const pathFile = path.join(pkgDir, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : null;
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const p = path.join(env.ELECTRON_OVERRIDE_DIST_PATH, rel || 'electron');
    return existsSync(p) ? { path: p } : { missing: `ELECTRON_OVERRIDE_DIST_PATH is set but ${p} does not exist` };
  }
  if (!rel) return { missing: 'the Electron binary was never downloaded (node_modules/electron/path.txt and dist/ are missing)' };
  const p = path.join(pkgDir, 'dist', rel);
  return existsSync(p) ? { path: p } : { missing: `${p} does not exist` };
}

export function missingElectronMessage(why: string): string {
  const version = (() => {
    try {
      return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return '';
    }
  })();
  return [
    'portcullis: the desktop app was NOT started.',
    `  Missing: the Electron ${version} binary — ${why}.`,
    '  npm installs the electron package, but its binary is downloaded from GitHub by a separate step,',
    '  which needs network access. On a machine with internet, run:',
    '      npx install-electron        (or: node node_modules/electron/install.js)',
    '  then `npm start` again. A proxy or mirror can be set with ELECTRON_MIRROR / ELECTRON_GET_USE_PROXY.',
    '',
    '  Meanwhile the same UI runs in a browser, served by the headless runner (root, this network namespace):',
    '      sudo npx portcullis serve',
    '  It prints http://127.0.0.1:PORT/?token=… on a line of its own; open that URL.',
  ].join('\n');
}

export async function start(argv: string[], root = ROOT): Promise<number> {
  const dashdash = argv.indexOf('--');
  const own = dashdash < 0 ? argv : argv.slice(0, dashdash);
  const extra = dashdash < 0 ? [] : argv.slice(dashdash + 1);
  if (!own.includes('--no-build')) {
    const { buildAll } = await import('./build.ts');
    try {
      await buildAll({ log: (l) => console.log(`portcullis: ${l}`) });
    } catch (e) {
      console.error(`portcullis: build failed: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
  }
  const found = findElectron(root);
  if ('missing' in found) {
    console.error(missingElectronMessage(found.missing));
    return 1;
  }
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    console.error('portcullis: warning: neither DISPLAY nor WAYLAND_DISPLAY is set; Electron needs a graphical session (or use `sudo npx portcullis serve`).');
  }
  // A leftover ELECTRON_RUN_AS_NODE would make Electron behave as plain Node and never open a window.
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  console.log(`portcullis: starting ${found.path} ${root}`);
  const child = spawn(found.path, [root, ...extra], { stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => {
    child.on('error', (e) => {
      console.error(`portcullis: could not run ${found.path}: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (import.meta.main) {
  process.exitCode = await start(process.argv.slice(2));
}
