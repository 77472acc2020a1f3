/**
 * The layer rules of DESIGN.md, enforced on every import (static, re-export, dynamic, require):
 *   shared ← engine ← app ← main/headless;  shared ← helper;  shared ← preload;  shared ← renderer.
 * `app` is the core both the desktop (main) and the server (headless) run: it never imports them.
 * `npm test` runs this before the test suite, so a wrong import fails the build, not a review.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

export interface LayerRule {
  /** Layer name, e.g. "engine". */
  name: string;
  /** Directory (relative to the root, posix separators) whose files belong to the layer. */
  dir: string;
  /** Layers whose files it may import (itself is always allowed). */
  mayImportLayers: string[];
  /** May it import Node built-ins (node:fs, child_process, …)? */
  nodeBuiltins: boolean;
  /** npm packages it may import (exact package names); "*" allows any package. */
  packages: string[] | '*';
}

const PURE_LIBS = ['zod', 'ipaddr.js'];

/** Most specific directory first: a file belongs to the first rule whose dir contains it. */
export const LAYERS: LayerRule[] = [
  { name: 'shared', dir: 'electron/shared', mayImportLayers: [], nodeBuiltins: false, packages: PURE_LIBS },
  // Engine adapters live beside their I/O: they may use Node, but never Electron or the helper's code.
  { name: 'engine-adapters', dir: 'electron/engine/logs', mayImportLayers: ['shared', 'engine'], nodeBuiltins: true, packages: PURE_LIBS },
  { name: 'engine-adapters', dir: 'electron/engine/store', mayImportLayers: ['shared', 'engine'], nodeBuiltins: true, packages: PURE_LIBS },
  { name: 'engine-adapters', dir: 'electron/engine/fleet', mayImportLayers: ['shared', 'engine'], nodeBuiltins: true, packages: PURE_LIBS },
  { name: 'engine-adapters', dir: 'electron/engine/helperclient', mayImportLayers: ['shared', 'engine'], nodeBuiltins: true, packages: PURE_LIBS },
  { name: 'engine', dir: 'electron/engine', mayImportLayers: ['shared'], nodeBuiltins: false, packages: PURE_LIBS },
  { name: 'helper', dir: 'electron/helper', mayImportLayers: ['shared'], nodeBuiltins: true, packages: PURE_LIBS },
  // The app core (PortcullisService and what it is made of). It reaches the helper's code only for
  // types and the argv runner (hostinfo's `ip` calls, the audit log's file), as headless did.
  {
    name: 'app',
    dir: 'electron/app',
    mayImportLayers: ['shared', 'engine', 'engine-adapters', 'helper'],
    nodeBuiltins: true,
    packages: PURE_LIBS,
  },
  {
    name: 'headless',
    dir: 'electron/headless',
    mayImportLayers: ['shared', 'engine', 'engine-adapters', 'helper', 'app'],
    nodeBuiltins: true,
    packages: [...PURE_LIBS, 'ws'],
  },
  {
    name: 'main',
    dir: 'electron/main',
    mayImportLayers: ['shared', 'engine', 'engine-adapters', 'app'],
    nodeBuiltins: true,
    packages: [...PURE_LIBS, 'ws', 'electron', 'sudo-prompt'],
  },
  // The preload needs contextBridge/ipcRenderer: the one exception to "only main imports electron".
  { name: 'preload', dir: 'electron/preload', mayImportLayers: ['shared'], nodeBuiltins: false, packages: [...PURE_LIBS, 'electron'] },
  {
    name: 'renderer',
    dir: 'renderer',
    mayImportLayers: ['shared'],
    nodeBuiltins: false,
    packages: [...PURE_LIBS, 'react', 'react-dom', 'zustand', '@tanstack/react-virtual', 'recharts'],
  },
];

/** Test code, tools and config may import anything. */
const UNCHECKED = ['tests', 'bench', 'scripts', 'build', 'node_modules', 'dist'];

export interface Violation {
  file: string;
  specifier: string;
  why: string;
}

const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

function layerOf(rel: string): LayerRule | undefined {
  return LAYERS.find((l) => rel === l.dir || rel.startsWith(l.dir + '/'));
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function isBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || builtinModules.includes(packageName(spec));
}

/** Every module specifier a file imports, including `import()` and `require()`. */
export function importsOf(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  const specs = info.importedFiles.map((f) => f.fileName);
  // preProcessFile misses require() in TS files; catch it too so it cannot be used as a loophole.
  for (const m of source.matchAll(/\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return [...new Set(specs)];
}

export function checkFile(root: string, rel: string, source: string): Violation[] {
  const layer = layerOf(rel);
  if (!layer) return [];
  const out: Violation[] = [];
  for (const spec of importsOf(source)) {
    if (spec.startsWith('.') || spec.startsWith('/')) {
      const target = path.relative(root, path.resolve(root, path.dirname(rel), spec)).split(path.sep).join('/');
      const targetLayer = layerOf(target);
      if (!targetLayer) {
        if (!target.startsWith('assets/')) out.push({ file: rel, specifier: spec, why: `imports ${target}, which belongs to no layer` });
        continue;
      }
      if (targetLayer.name !== layer.name && !layer.mayImportLayers.includes(targetLayer.name)) {
        out.push({ file: rel, specifier: spec, why: `layer "${layer.name}" may not import layer "${targetLayer.name}"` });
      }
    } else if (isBuiltin(spec)) {
      if (!layer.nodeBuiltins) out.push({ file: rel, specifier: spec, why: `layer "${layer.name}" is pure: no Node built-ins` });
    } else {
      const pkg = packageName(spec);
      if (layer.packages !== '*' && !layer.packages.includes(pkg)) {
        out.push({ file: rel, specifier: spec, why: `layer "${layer.name}" may not import package "${pkg}"` });
      }
    }
  }
  return out;
}

function walk(root: string, dir: string, files: string[]): void {
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = dir ? `${dir}/${name}` : name;
    if (name.startsWith('.') || UNCHECKED.includes(rel)) continue;
    const st = statSync(path.join(root, rel));
    if (st.isDirectory()) walk(root, rel, files);
    // Build configs (vite.config.ts) are tools, not layer code.
    else if (SOURCE.test(name) && !name.endsWith('.d.ts') && !/\.config\.[cm]?[jt]s$/.test(name)) files.push(rel);
  }
}

export function checkTree(root: string): Violation[] {
  const files: string[] = [];
  for (const top of ['electron', 'renderer']) {
    try {
      if (statSync(path.join(root, top)).isDirectory()) walk(root, top, files);
    } catch {
      /* layer directory absent */
    }
  }
  return files.flatMap((rel) => checkFile(root, rel, readFileSync(path.join(root, rel), 'utf8')));
}
