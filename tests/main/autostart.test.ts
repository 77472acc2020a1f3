import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyAutostart, autostartDesktopEntry, autostartPath, launchCommand, quoteExecArg } from '../../electron/main/autostart.ts';

/**
 * One Exec argument as the Desktop Entry spec reads it: the value's string escapes first (backslash
 * followed by s, n, t, r or a backslash), then the quoting rule (inside "…", a backslash takes the next character literally), then %%.
 */
function readExecArg(field: string): string {
  const unescaped = field.replace(/\\([\\snrt])/g, (_, c: string) => ({ '\\': '\\', s: ' ', n: '\n', r: '\r', t: '\t' })[c]!);
  const unquoted = unescaped.startsWith('"') && unescaped.endsWith('"') ? unescaped.slice(1, -1).replace(/\\(.)/g, '$1') : unescaped;
  return unquoted.replace(/%%/g, '%');
}

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
    // The spec's own examples: a literal $ is \\$ in the file, a literal backslash four backslashes.
    expect(quoteExecArg('/tmp/a$b')).toBe('"/tmp/a\\\\$b"');
    expect(quoteExecArg('/tmp/a\\b')).toBe('"/tmp/a\\\\\\\\b"');
    expect(quoteExecArg('/tmp/100%')).toBe('/tmp/100%%');
    // Read back as the spec reads it (string escapes first, then the quoting), every argument is itself.
    for (const arg of ['/home/ada/My Apps/P.AppImage', '/tmp/a$b', '/tmp/"q"', '/tmp/a\\b', '/tmp/`x`', "/tmp/o'neil", '/tmp/50% off']) {
      expect(readExecArg(quoteExecArg(arg)), arg).toBe(arg);
    }
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
