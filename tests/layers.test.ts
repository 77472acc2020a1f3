import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFile, checkTree } from '../scripts/layers.ts';

const root = path.resolve(import.meta.dirname, '..');

describe('layer rules (DESIGN.md "Import rules")', () => {
  it('the real tree has no violation', () => {
    expect(checkTree(root)).toEqual([]);
  });

  it.each([
    ['electron/engine/detect.ts', "import { spawn } from 'node:child_process';", 'pure'],
    ['electron/engine/detect.ts', "import { app } from 'electron';", 'package "electron"'],
    ['electron/engine/detect.ts', "const cp = require('child_process');", 'pure'],
    ['electron/engine/detect.ts', "const m = await import('../helper/exec.ts');", 'may not import layer "helper"'],
    ['electron/shared/api.ts', "import { Engine } from '../engine/engine.ts';", 'may not import layer "engine"'],
    ['electron/helper/server.ts', "import { Detector } from '../engine/detect.ts';", 'may not import layer "engine"'],
    ['electron/helper/server.ts', "import { app } from 'electron';", 'package "electron"'],
    ['renderer/App.tsx', "import { Detector } from '../electron/engine/detect.ts';", 'may not import layer "engine"'],
    ['renderer/App.tsx', "import fs from 'node:fs';", 'pure'],
    ['renderer/App.tsx', "export { x } from '../electron/main/tray.ts';", 'may not import layer "main"'],
    ['electron/preload/index.ts', "import { readFileSync } from 'fs';", 'pure'],
    ['electron/engine/logs/kmsg.ts', "import { app } from 'electron';", 'package "electron"'],
    // The app core sits below both of its shells: it never reaches up into them.
    ['electron/app/service.ts', "import { startRunner } from '../headless/runner.ts';", 'may not import layer "headless"'],
    ['electron/app/service.ts', "import { TrayController } from '../main/tray.ts';", 'may not import layer "main"'],
    ['electron/app/service.ts', "import { app } from 'electron';", 'package "electron"'],
    ['electron/main/index.ts', "import { startRunner } from '../headless/runner.ts';", 'may not import layer "headless"'],
    ['electron/engine/engine.ts', "import { PortcullisService } from '../app/service.ts';", 'may not import layer "app"'],
    // electron/node: Node-only code shared by the helper and the engine adapters; shared + Node only.
    ['electron/node/kmsg-ring.ts', "import { ScanEngine } from '../engine/engine.ts';", 'layer "node" may not import layer "engine"'],
    ['electron/node/kmsg-ring.ts', "import { audit } from '../helper/audit.ts';", 'layer "node" may not import layer "helper"'],
    ['electron/node/kmsg-ring.ts', "import { app } from 'electron';", 'package "electron"'],
    ['electron/engine/detect.ts', "import { newestKmsgSeq } from '../node/kmsg-ring.ts';", 'layer "engine" may not import layer "node"'],
    ['renderer/App.tsx', "import { newestKmsgSeq } from '../electron/node/kmsg-ring.ts';", 'layer "renderer" may not import layer "node"'],
  ])('%s: %s is refused', (file, line, why) => {
    const v = checkFile(root, file, `${line}\nexport const x = 1;\n`);
    expect(v).toHaveLength(1);
    expect(v[0]!.why).toContain(why);
  });

  it.each([
    ['electron/engine/detect.ts', "import { z } from 'zod';\nimport type { Ip } from '../shared/domain.ts';"],
    ['electron/engine/logs/kmsg.ts', "import { open } from 'node:fs/promises';\nimport { parseLine } from '../parse/line.ts';"],
    ['electron/main/tray.ts', "import { Tray } from 'electron';"],
    ['electron/main/index.ts', "import { PortcullisService } from '../app/service.ts';"],
    ['electron/headless/runner.ts', "import { PortcullisService } from '../app/service.ts';"],
    ['electron/node/kmsg-ring.ts', "import { readSync } from 'node:fs';\nimport { parseKmsgHeader } from '../shared/kmsg-header.ts';"],
    ['electron/helper/kmsg.ts', "import { newestKmsgSeq } from '../node/kmsg-ring.ts';"],
    ['electron/engine/logs/kmsg.ts', "import { newestKmsgSeq } from '../../node/kmsg-ring.ts';"],
    ['electron/preload/index.ts', "import { contextBridge } from 'electron';"],
    ['renderer/App.tsx', "import { create } from 'zustand';\nimport { SettingsSchema } from '../electron/shared/settings.ts';"],
  ])('%s: allowed imports pass', (file, src) => {
    expect(checkFile(root, file, src)).toEqual([]);
  });

  const tmp = mkdtempSync(path.join(tmpdir(), 'layers-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  it('a bad file in a tree is found by the tree walk', () => {
    mkdirSync(path.join(tmp, 'electron/engine'), { recursive: true });
    writeFileSync(path.join(tmp, 'electron/engine/bad.ts'), "import { execFile } from 'node:child_process';\n");
    const v = checkTree(tmp);
    expect(v.map((x) => x.file)).toEqual(['electron/engine/bad.ts']);
  });
});
