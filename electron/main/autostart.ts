/**
 * Start at login, the freedesktop way: an XDG autostart entry in ~/.config/autostart, written or
 * removed to match settings.ui.startAtLogin. Works on every desktop that follows the spec (GNOME,
 * KDE, XFCE, …) and needs no privilege. The app starts hidden in the tray (--hidden).
 */
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';

export const AUTOSTART_FILE = 'portcullis.desktop';
export const HIDDEN_FLAG = '--hidden';

/** $XDG_CONFIG_HOME/autostart/portcullis.desktop, or ~/.config/autostart/… when it is unset/relative. */
export function autostartPath(env: { HOME?: string; XDG_CONFIG_HOME?: string }): string {
  const xdg = env.XDG_CONFIG_HOME;
  const config = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME ?? '/', '.config');
  return path.join(config, 'autostart', AUTOSTART_FILE);
}

/**
 * Quotes one Exec argument as the Desktop Entry spec requires: `%` doubled; an argument with
 * reserved characters double-quoted with `"`, `` ` ``, `$` and `\` backslash-escaped; and then, since
 * the value is first read as a string (where `\\` is one backslash), every backslash doubled — a
 * literal `$` is `\\$`, a literal backslash four of them. With single backslashes GLib refused the
 * line and autostart silently did not run for a path holding one of those characters.
 */
export function quoteExecArg(arg: string): string {
  const escaped = arg.replace(/%/g, '%%');
  if (!/[\s"'\\><~|&;$*?#()`]/.test(escaped)) return escaped;
  const quoted = escaped.replace(/(["`$\\])/g, '\\$1');
  return `"${quoted.replace(/\\/g, '\\\\')}"`;
}

/** How to start Portcullis again at login: the AppImage file, or the installed binary (+ app dir in development). */
export function launchCommand(opts: { execPath: string; appImage?: string; isPackaged: boolean; appPath: string }): string[] {
  if (opts.appImage) return [opts.appImage, HIDDEN_FLAG];
  if (opts.isPackaged) return [opts.execPath, HIDDEN_FLAG];
  return [opts.execPath, opts.appPath, HIDDEN_FLAG];
}

export function autostartDesktopEntry(command: string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Portcullis',
    'Comment=Watch the firewall log and ban port scanners',
    `Exec=${command.map(quoteExecArg).join(' ')}`,
    'Icon=portcullis',
    'Terminal=false',
    'Categories=Network;Security;',
    'X-GNOME-Autostart-enabled=true',
    // Give the tray (status notifier host) time to appear before the icon is registered.
    'X-GNOME-Autostart-Delay=5',
    '',
  ].join('\n');
}

export type AutostartChange = 'written' | 'removed' | 'unchanged';

/** Makes the autostart entry match `enabled`; atomic write (temp + rename), idempotent. */
export async function applyAutostart(enabled: boolean, file: string, command: string[]): Promise<AutostartChange> {
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (!enabled) {
    if (existing === null) return 'unchanged';
    await rm(file, { force: true });
    return 'removed';
  }
  const content = autostartDesktopEntry(command);
  if (existing === content) return 'unchanged';
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode: 0o644 });
  await rename(tmp, file);
  return 'written';
}
