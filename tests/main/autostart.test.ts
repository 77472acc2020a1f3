import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyAutostart, autostartDesktopEntry, autostartPath, launchCommand, quoteExecArg } from '../../electron/main/autostart.ts';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe('autostart entry', () => {
  it('lives in $XDG_CONFIG_HOME/autostart, else ~/.config/autostart', () => {
    expect(autostartPath({ HOME: '/home/ada' })).toBe('/home/ada/.config/autostart/portcullis.desktop');
    expect(autostartPath({ HOME: '/home/ada', XDG_CONFIG_HOME: '/home/ada/cfg' })).toBe('/home/ada/cfg/autostart/portcullis.desktop');
    expect(autostartPath({ HOME: '/home/ada', XDG_CONFIG_HOME: 'relative' })).toBe('/home/ada/.config/autostart/portcullis.desktop');
  });

  it('has the keys a desktop session needs and starts hidden in the tray', () => {
    const text = autostartDesktopEntry(['/opt/Portcullis/portcullis', '--hidden']);
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('[Desktop Entry]');
    const kv = Object.fromEntries(lines.slice(1).map((l) => l.split(/=(.*)/s).slice(0, 2)));
    expect(kv).toMatchObject({
      Type: 'Application',
      Name: 'Portcullis',
      Exec: '/opt/Portcullis/portcullis --hidden',
      Terminal: 'false',
      'X-GNOME-Autostart-enabled': 'true',
    });
    expect(kv.Categories).toMatch(/;$/);
  });

  it('quotes Exec arguments per the Desktop Entry spec', () => {
    expect(quoteExecArg('/home/ada/My Apps/Portcullis.AppImage')).toBe('"/home/ada/My Apps/Portcullis.AppImage"');
    expect(quoteExecArg('/tmp/a$b')).toBe('"/tmp/a\\$b"');
    expect(quoteExecArg('/tmp/100%')).toBe('/tmp/100%%');
    expect(quoteExecArg('/tmp/"q"')).toBe('"/tmp/\\"q\\""');
  });

  it('runs the AppImage file itself, the installed binary, or electron + app dir in development', () => {
    expect(launchCommand({ execPath: '/tmp/.mount_x/portcullis', appImage: '/home/ada/Portcullis.AppImage', isPackaged: true, appPath: '/x' })).toEqual(['/home/ada/Portcullis.AppImage', '--hidden']);
    expect(launchCommand({ execPath: '/opt/Portcullis/portcullis', isPackaged: true, appPath: '/x' })).toEqual(['/opt/Portcullis/portcullis', '--hidden']);
    expect(launchCommand({ execPath: '/w/node_modules/electron/dist/electron', isPackaged: false, appPath: '/w' })).toEqual(['/w/node_modules/electron/dist/electron', '/w', '--hidden']);
  });

  it('is written when enabled, left alone when unchanged, removed when disabled', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'pc-home-'));
    dirs.push(home);
    const file = autostartPath({ HOME: home });
    const cmd = ['/opt/Portcullis/portcullis', '--hidden'];
    expect(await applyAutostart(false, file, cmd)).toBe('unchanged');
    expect(await applyAutostart(true, file, cmd)).toBe('written');
    expect(readFileSync(file, 'utf8')).toBe(autostartDesktopEntry(cmd));
    expect(await applyAutostart(true, file, cmd)).toBe('unchanged');
    expect(await applyAutostart(true, file, ['/other', '--hidden'])).toBe('written');
    expect(readFileSync(file, 'utf8')).toContain('Exec=/other --hidden');
    expect(await applyAutostart(false, file, cmd)).toBe('removed');
    expect(existsSync(file)).toBe(false);
  });
});
