import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCircles, importCircles, importGraph, KNOWN_CIRCLES_TO_REMOVE_AFTER_APP_CORE_MERGE } from '../scripts/layers.ts';

const root = path.resolve(import.meta.dirname, '..');
const graphOf = (edges: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(edges));

describe('import circles (npm run layers)', () => {
  it('the real tree has none, apart from the listed app-core exceptions', () => {
    const { circles } = checkCircles(root);
    expect(circles.filter((c) => !c.excused)).toEqual([]);
  });

  it('the app-core exception list names only circles that still exist (the lead empties it after the merge)', () => {
    const { circles } = checkCircles(root);
    for (const k of KNOWN_CIRCLES_TO_REMOVE_AFTER_APP_CORE_MERGE) expect(circles.some((c) => c.files.every((f) => k.files.includes(f))), k.why).toBe(true);
  });

  it('finds a two-file circle and a longer one, with a concrete path, and nothing in a tree without circles', () => {
    expect(importCircles(graphOf({ a: ['b'], b: ['c'], c: [] }))).toEqual([]);
    expect(importCircles(graphOf({ a: ['b'], b: ['a'] }))).toEqual([{ files: ['a', 'b'], path: ['a', 'b', 'a'] }]);
    const long = importCircles(graphOf({ a: ['b'], b: ['c'], c: ['d', 'x'], d: ['a'], x: [] }));
    expect(long).toEqual([{ files: ['a', 'b', 'c', 'd'], path: ['a', 'b', 'c', 'd', 'a'] }]);
  });

  it('reports separate knots separately, and a diamond (no way back) is no circle', () => {
    expect(importCircles(graphOf({ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] }))).toEqual([]);
    const two = importCircles(graphOf({ a: ['b'], b: ['a', 'c'], c: ['d'], d: ['c'] }));
    expect(two.map((c) => c.files)).toEqual([['a', 'b'], ['c', 'd']]);
  });

  it('counts type-only imports, re-exports and import() as edges, resolves extensionless and index imports, and ignores packages', () => {
    const sources = new Map([
      ['electron/headless/cli.ts', "const m = await import('./commands.ts');\nimport { z } from 'zod';"],
      ['electron/headless/commands.ts', "import type { CliCommand } from './cli.ts';"],
      ['renderer/a.tsx', "export { b } from './b';"],
      ['renderer/b/index.ts', "import { a } from '../a.tsx';"],
    ]);
    const graph = importGraph(root, sources);
    expect(graph.get('electron/headless/commands.ts')).toEqual(['electron/headless/cli.ts']);
    expect(graph.get('renderer/a.tsx')).toEqual(['renderer/b/index.ts']);
    expect(importCircles(graph).map((c) => c.files)).toEqual([
      ['electron/headless/cli.ts', 'electron/headless/commands.ts'],
      ['renderer/a.tsx', 'renderer/b/index.ts'],
    ]);
  });

  const tmp = mkdtempSync(path.join(tmpdir(), 'circles-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  it('checkCircles walks a tree and excuses only a circle whose files are all in one known entry', () => {
    mkdirSync(path.join(tmp, 'electron/headless'), { recursive: true });
    mkdirSync(path.join(tmp, 'renderer'), { recursive: true });
    writeFileSync(path.join(tmp, 'electron/headless/service.ts'), "import { x } from './views.ts';\n");
    writeFileSync(path.join(tmp, 'electron/headless/views.ts'), "import type { S } from './service.ts';\n");
    writeFileSync(path.join(tmp, 'renderer/a.ts'), "import { b } from './b.ts';\n");
    writeFileSync(path.join(tmp, 'renderer/b.ts'), "import { a } from './a.ts';\n");
    const known = [{ files: ['electron/headless/service.ts', 'electron/headless/views.ts'], why: 'app-core moves service.ts' }];
    const { circles } = checkCircles(tmp, known);
    expect(circles.map((c) => [c.files, c.excused])).toEqual([
      [['electron/headless/service.ts', 'electron/headless/views.ts'], true],
      [['renderer/a.ts', 'renderer/b.ts'], false],
    ]);
    expect(checkCircles(tmp, []).circles.every((c) => !c.excused)).toBe(true);
  });
});
