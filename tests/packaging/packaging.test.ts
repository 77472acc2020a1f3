/**
 * The packaging configuration cannot be exercised here (electron-builder needs to download Electron),
 * so it is checked as far as possible without the network: electron-builder's OWN loader and schema
 * validation, every file the config ships exists after `scripts/build.ts`, the polkit policy is
 * well-formed XML for the right action and program, the desktop entry has the keys desktops need,
 * the install scripts parse, and the bundles load (main with electron mocked, the preload the way a
 * sandboxed renderer loads it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { INSTALLED_KEEPER, POLKIT_ACTION_ID, POLKIT_POLICY_PATH } from '../../electron/main/elevation.ts';
import { TRAY_ICON_STATES } from '../../electron/main/tray.ts';
import { buildElectron, OUT_DIR } from '../../scripts/build.ts';
import { controlFile, DESKTOP_PACKAGE_NAME, PACKAGE_NAME } from '../../scripts/package-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
// jsdom ships no type declarations; only its XML DOMParser is used here.
const { JSDOM } = createRequire(import.meta.url)('jsdom') as { JSDOM: new (html: string) => { window: { DOMParser: typeof DOMParser } } };
const CONFIG_PATH = path.join(ROOT, 'build/electron-builder.json');
type Config = {
  appId: string;
  productName: string;
  files: string[];
  extraResources: { from: string; to: string }[];
  directories: { buildResources: string };
  linux: { target: string[]; executableName: string; icon: string; category: string; desktop: { entry: Record<string, string> } };
  deb: { depends: string[]; afterInstall: string; afterRemove: string; packageName: string; artifactName: string; fpm: string[] };
  rpm: { afterInstall: string; afterRemove: string };
};
const config = JSON.parse(readFileSync(CONFIG_PATH, 'utf8')) as Config;

function pngSize(file: string): { w: number; h: number } {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString('ascii')).toBe('PNG');
  return { w: b.readUInt32BE(16), h: b.readUInt32BE(20) };
}

beforeAll(async () => {
  await buildElectron(() => undefined);
}, 60_000);

describe('electron-builder configuration', () => {
  it("passes electron-builder's own loader and schema validation", async () => {
    const { getConfig, validateConfiguration } = await import('app-builder-lib/out/util/config/config.js');
    const { DebugLogger } = await import('builder-util/out/DebugLogger.js');
    const loaded = await getConfig(ROOT, CONFIG_PATH, null);
    await expect(validateConfiguration(loaded, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('names the app and builds AppImage, deb and rpm with a fixed executable name', () => {
    expect(config.appId).toBe('io.portcullis.app');
    expect(config.productName).toBe('Portcullis');
    expect(config.linux.target).toEqual(expect.arrayContaining(['AppImage', 'deb', 'rpm']));
    expect(config.linux.executableName).toBe('portcullis');
    expect(config.deb.depends).toEqual(expect.arrayContaining(['ufw']));
  });

  it('one machine never runs two Portcullis: the desktop deb and the server deb have their own names and conflict with each other', () => {
    expect(config.deb.packageName).toBe(DESKTOP_PACKAGE_NAME);
    expect(DESKTOP_PACKAGE_NAME).not.toBe(PACKAGE_NAME);
    // Both land in dist/packages: the server's portcullis_*.deb glob must not match the desktop's.
    expect(config.deb.artifactName.startsWith(`${DESKTOP_PACKAGE_NAME}_`)).toBe(true);
    expect(config.deb.fpm).toContain(`--conflicts=${PACKAGE_NAME}`);
    expect(controlFile('1.0.0', 'amd64', 1)).toMatch(new RegExp(`^Conflicts: ${DESKTOP_PACKAGE_NAME}$`, 'm'));
  });

  it('ships the app icon set (square PNGs up to 512 px) and every tray state icon', () => {
    const iconDir = path.join(ROOT, config.linux.icon);
    for (const size of [16, 32, 48, 64, 128, 256, 512]) expect(pngSize(path.join(iconDir, `${size}x${size}.png`))).toEqual({ w: size, h: size });
    for (const s of TRAY_ICON_STATES) {
      expect(pngSize(path.join(ROOT, 'assets/tray', `${s}.png`))).toEqual({ w: 32, h: 32 });
      expect(pngSize(path.join(ROOT, 'assets/tray', `${s}@2x.png`))).toEqual({ w: 64, h: 64 });
    }
  });

  it('every file it packs exists after the build, and package.json "main" is among them', () => {
    const plain = config.files.filter((f) => !f.includes('*') && !f.startsWith('!'));
    for (const f of plain) expect(existsSync(path.join(ROOT, f)), f).toBe(true);
    const main = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string }).main;
    expect(plain).toContain(main);
    expect(plain).toContain(path.relative(ROOT, path.join(OUT_DIR, 'preload.cjs')));
    expect(config.files).toEqual(expect.arrayContaining(['renderer/dist/**/*', 'assets/**/*']));
    for (const r of config.extraResources) expect(existsSync(path.join(ROOT, r.from)), r.from).toBe(true);
  });

  it('keeps the RunAsNode fuse the helper needs, and closes NODE_OPTIONS and --inspect', () => {
    const fuses = (config as unknown as { electronFuses: Record<string, boolean> }).electronFuses;
    // The keeper runs the helper with the app's own binary in ELECTRON_RUN_AS_NODE mode.
    expect(fuses.runAsNode).toBe(true);
    expect(fuses.enableNodeOptionsEnvironmentVariable).toBe(false);
    expect(fuses.enableNodeCliInspectArguments).toBe(false);
    expect(fuses.onlyLoadAppFromAsar).toBe(true);
  });

  it('puts the helper and its keeper OUTSIDE app.asar, where the polkit action points', () => {
    const tos = config.extraResources.map((r) => r.to);
    expect(tos).toEqual(expect.arrayContaining(['helper/portcullis-helper', 'helper/helper.mjs', 'polkit/io.portcullis.helper.policy']));
    // deb/rpm install into /opt/<productName>; resources/ holds extraResources.
    expect(INSTALLED_KEEPER).toBe(`/opt/${config.productName}/resources/helper/portcullis-helper`);
    // The keeper finds the app binary at <app>/<executableName> from resources/helper/.
    expect(readFileSync(path.join(ROOT, 'build/helper/portcullis-helper'), 'utf8')).toContain(`"$HERE/../../${config.linux.executableName}"`);
  });
});

describe('polkit policy', () => {
  const xml = readFileSync(path.join(ROOT, 'build/polkit/io.portcullis.helper.policy'), 'utf8');
  const doc = new new JSDOM('').window.DOMParser().parseFromString(xml, 'application/xml');

  it('is well-formed XML with the policyconfig root', () => {
    expect(doc.getElementsByTagName('parsererror')).toHaveLength(0);
    expect(doc.documentElement.nodeName).toBe('policyconfig');
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(xml).toContain('http://www.freedesktop.org/standards/PolicyKit/1/policyconfig.dtd');
  });

  it('defines exactly the helper action: admin auth kept for the active session, for the installed keeper only', () => {
    const actions = [...doc.getElementsByTagName('action')];
    expect(actions.map((a) => a.getAttribute('id'))).toEqual([POLKIT_ACTION_ID]);
    const a = actions[0]!;
    const text = (tag: string) => a.getElementsByTagName(tag)[0]?.textContent?.trim();
    expect(text('allow_active')).toBe('auth_admin_keep');
    expect(text('allow_any')).toBe('auth_admin');
    expect(text('allow_inactive')).toBe('auth_admin');
    expect(text('description')).toBeTruthy();
    expect(text('message')).toBeTruthy();
    const annotations = Object.fromEntries([...a.getElementsByTagName('annotate')].map((n) => [n.getAttribute('key'), n.textContent?.trim()]));
    expect(annotations['org.freedesktop.policykit.exec.path']).toBe(INSTALLED_KEEPER);
    // Not a GUI as root: the helper has no window.
    expect(annotations['org.freedesktop.policykit.exec.allow_gui']).toBe('false');
  });

  it('a malformed policy would be caught by this parser (the check can fail)', () => {
    const bad = new new JSDOM('').window.DOMParser().parseFromString(xml.replace('</action>', ''), 'application/xml');
    expect(bad.getElementsByTagName('parsererror').length).toBeGreaterThan(0);
  });
});

describe('desktop entry and install scripts', () => {
  it('has the keys a desktop needs, with list values ending in ";"', () => {
    const e = config.linux.desktop.entry;
    for (const k of ['Name', 'Comment', 'Categories', 'Keywords', 'StartupWMClass']) expect(e[k], k).toBeTruthy();
    expect(e.Categories).toMatch(/;$/);
    expect(e.Keywords).toMatch(/;$/);
    // One registered main category (freedesktop menu spec) is required; Network fits a firewall tool.
    expect(e.Categories!.split(';')).toContain('Network');
    expect(config.linux.category).toBe('Network');
    // electron-builder writes Exec and Icon itself (to the installed binary); overriding them breaks the deb.
    expect(e.Exec).toBeUndefined();
    expect(e.Icon).toBeUndefined();
  });

  it('install scripts parse and install/remove the polkit action from the packed resource', () => {
    for (const f of [config.deb.afterInstall, config.deb.afterRemove, config.rpm.afterInstall, config.rpm.afterRemove]) {
      expect(() => execFileSync('/bin/sh', ['-n', path.join(ROOT, f)])).not.toThrow();
    }
    const install = readFileSync(path.join(ROOT, config.deb.afterInstall), 'utf8');
    expect(install).toContain(`$APP_DIR/resources/polkit/io.portcullis.helper.policy" ${POLKIT_POLICY_PATH}`);
    expect(install).toContain(`APP_DIR='/opt/${config.productName}'`);
    expect(install).toMatch(/chown -R root:root "\$APP_DIR\/resources\/helper"/);
    expect(readFileSync(path.join(ROOT, config.deb.afterRemove), 'utf8')).toContain(`rm -f ${POLKIT_POLICY_PATH}`);
    expect(statSync(path.join(ROOT, 'build/helper/portcullis-helper')).mode & 0o111).not.toBe(0);
  });
});

describe('bundles', () => {
  it('the sandboxed preload bundle needs nothing but electron and exposes one object', () => {
    const code = readFileSync(path.join(OUT_DIR, 'preload.cjs'), 'utf8');
    const exposed: string[] = [];
    const required: string[] = [];
    const fakeElectron = {
      contextBridge: { exposeInMainWorld: (k: string) => exposed.push(k) },
      ipcRenderer: { invoke: async () => undefined, on: () => undefined, removeListener: () => undefined },
    };
    const module = { exports: {} };
    // A sandboxed preload gets a restricted require: only electron (and a few polyfills) exist.
    const sandboxRequire = (id: string) => {
      required.push(id);
      if (id === 'electron') return fakeElectron;
      throw new Error(`a sandboxed preload cannot require ${id}`);
    };
    vm.runInNewContext(code, { require: sandboxRequire, module, exports: module.exports, console, URL, TextEncoder, TextDecoder });
    expect(required).toEqual(['electron']);
    expect(exposed).toEqual(['portcullis']);
  });

  it('the ESM main bundle loads under Node with electron mocked, and quits when another instance holds the lock', async () => {
    const quit = vi.fn();
    vi.doMock('electron', () => ({
      app: { requestSingleInstanceLock: () => false, quit, on: vi.fn(), whenReady: () => new Promise(() => undefined), getAppPath: () => ROOT, isPackaged: false, exit: vi.fn() },
      BrowserWindow: vi.fn(),
      dialog: { showErrorBox: vi.fn() },
      ipcMain: { handle: vi.fn(), removeHandler: vi.fn() },
      Menu: { setApplicationMenu: vi.fn(), buildFromTemplate: vi.fn() },
      nativeImage: { createFromPath: vi.fn() },
      Notification: Object.assign(vi.fn(), { isSupported: () => false }),
      shell: { openExternal: vi.fn() },
      Tray: vi.fn(),
    }));
    await import(path.join(OUT_DIR, 'main.js'));
    await vi.waitFor(() => expect(quit).toHaveBeenCalledTimes(1));
    vi.doUnmock('electron');
  });
});
