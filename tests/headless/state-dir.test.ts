/** Issue 9 item 6: `--state-dir` is created 0700, or refused with the reason — an existing directory is never chmodded. */
import { chmodSync, chownSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareStateDir } from '../../electron/headless/control.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';

const tmp = tempDirsPerTest('pc-statedir-');

describe('prepareStateDir', () => {
  it('creates a missing directory (and its parents) with mode 0700', () => {
    const dir = path.join(tmp(), 'a', 'state');
    const old = process.umask(0o022);
    try {
      prepareStateDir(dir);
    } finally {
      process.umask(old);
    }
    expect(statSync(dir).mode & 0o7777).toBe(0o700);
  });

  it('accepts an existing directory of its own with mode 0700, as it is', () => {
    const dir = path.join(tmp(), 'state');
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o700);
    expect(() => prepareStateDir(dir)).not.toThrow();
    expect(statSync(dir).mode & 0o7777).toBe(0o700);
  });

  it('refuses an existing shared directory like /tmp (mode 1777) with the reason, and leaves its mode alone', () => {
    const dir = path.join(tmp(), 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    expect(() => prepareStateDir(dir)).toThrow(/mode 1777, not 0700/);
    expect(statSync(dir).mode & 0o7777).toBe(0o1777);
    chmodSync(dir, 0o755);
    expect(() => prepareStateDir(dir)).toThrow(/mode 0755, not 0700/);
    expect(statSync(dir).mode & 0o7777).toBe(0o755);
  });

  it('refuses a directory owned by someone else, a symlink and a file', () => {
    const base = tmp();
    const target = path.join(base, 'real');
    mkdirSync(target, { mode: 0o700 });
    const link = path.join(base, 'link');
    symlinkSync(target, link);
    expect(() => prepareStateDir(link)).toThrow(/symbolic link/);
    const file = path.join(base, 'file');
    writeFileSync(file, '');
    expect(() => prepareStateDir(file)).toThrow(/not a directory/);
    if (process.getuid?.() === 0) {
      const other = path.join(base, 'other');
      mkdirSync(other, { mode: 0o700 });
      chmodSync(other, 0o700);
      // chown needs root: a directory of uid 65534 is not ours.
      chownSync(other, 65534, 65534);
      expect(() => prepareStateDir(other)).toThrow(/owned by uid 65534/);
    }
  });

  it('refuses a parent writable by others without the sticky bit, and creates nothing under it (audit F10c)', () => {
    const parent = path.join(tmp(), 'open');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    expect(() => prepareStateDir(path.join(parent, 'state'))).toThrow(/mode 0777: writable by others without the sticky bit/);
    expect(() => statSync(path.join(parent, 'state'))).toThrow(/ENOENT/);
    // Sticky (as /tmp): others cannot rename or delete what is ours there.
    chmodSync(parent, 0o1777);
    expect(() => prepareStateDir(path.join(parent, 'state'))).not.toThrow();
  });

  it.runIf(process.getuid?.() === 0)("refuses a parent owned by another user, even a grandparent (audit F10c)", () => {
    const grand = path.join(tmp(), 'users');
    mkdirSync(path.join(grand, 'inner'), { recursive: true, mode: 0o755 });
    chownSync(grand, 65534, 65534);
    expect(() => prepareStateDir(path.join(grand, 'inner', 'state'))).toThrow(/owned by uid 65534, not root or this user/);
    expect(() => statSync(path.join(grand, 'inner', 'state'))).toThrow(/ENOENT/);
  });
});
