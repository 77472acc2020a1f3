/**
 * Issue 9 item 6: the root keeper and the helper read the per-launch secret from the user's own
 * directory with O_NOFOLLOW and check the open descriptor (owner, regular file, mode, size), so a
 * symlink, a FIFO or a hard link put there cannot make root read (or hang on) another file.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSecretFile } from '../../electron/helper/secret-file.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';

const uid = process.getuid!();
const tmp = tempDirsPerTest('pc-secret-');
const SECRET = 'a'.repeat(64);

describe('readSecretFile', () => {
  it('reads a 0600 regular file of the user and deletes it', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'secret'), SECRET + '\n', { mode: 0o600 });
    expect(readSecretFile(dir, uid)).toEqual({ ok: true, secret: SECRET });
    expect(existsSync(path.join(dir, 'secret'))).toBe(false);
    expect(readSecretFile(dir, uid)).toMatchObject({ ok: false, missing: true });
  });

  it('refuses a symlink (even to a file that would pass every check), and leaves its target alone', () => {
    const dir = tmp();
    const target = path.join(dir, 'elsewhere');
    writeFileSync(target, SECRET, { mode: 0o600 });
    symlinkSync(target, path.join(dir, 'secret'));
    expect(readSecretFile(dir, uid)).toMatchObject({ ok: false, missing: false, reason: expect.stringContaining('symbolic link') });
    expect(existsSync(target)).toBe(true);
  });

  it('refuses a FIFO without hanging, a group/other-readable file, and a wrong size', () => {
    const dir = tmp();
    const file = path.join(dir, 'secret');
    execFileSync('mkfifo', [file]);
    expect(readSecretFile(dir, uid)).toMatchObject({ ok: false, reason: expect.stringContaining('not a regular file') });
    rmSync(file);
    writeFileSync(file, SECRET, { mode: 0o600 });
    chmodSync(file, 0o644);
    expect(readSecretFile(dir, uid)).toMatchObject({ ok: false, reason: expect.stringContaining('mode 644') });
    rmSync(file);
    writeFileSync(file, 'short', { mode: 0o600 });
    expect(readSecretFile(dir, uid)).toMatchObject({ ok: false, reason: expect.stringContaining('5 bytes') });
    rmSync(file);
    writeFileSync(file, 'x'.repeat(4096), { mode: 0o600 });
    expect(readSecretFile(dir, uid)).toMatchObject({ ok: false, reason: expect.stringContaining('4096 bytes') });
  });

  it.runIf(uid === 0)('refuses a file of another owner, such as a hard link to a root file when serving a user', () => {
    const dir = tmp();
    chownSync(dir, 1000, 1000); // the user's own directory (mode 700), as the helper requires
    const rootFile = path.join(dir, 'root-only');
    writeFileSync(rootFile, SECRET, { mode: 0o600 });
    linkSync(rootFile, path.join(dir, 'secret'));
    // Serving uid 1000: the file (a hard link to root's) is owned by 0.
    expect(readSecretFile(dir, 1000)).toMatchObject({ ok: false, reason: expect.stringContaining('owned by uid 0, not 1000') });
    rmSync(path.join(dir, 'secret'));
    writeFileSync(path.join(dir, 'secret'), SECRET, { mode: 0o600 });
    chownSync(path.join(dir, 'secret'), 1000, 1000);
    expect(readSecretFile(dir, 1000)).toEqual({ ok: true, secret: SECRET });
  });
});

describe('readSecretFile pins the directory (audit F9)', () => {
  it('refuses a directory that is a symbolic link (to a directory that would pass), and leaves the file there', () => {
    const real = tmp();
    writeFileSync(path.join(real, 'secret'), SECRET, { mode: 0o600 });
    const link = path.join(tmp(), 'runtime');
    symlinkSync(real, link);
    expect(readSecretFile(link, uid)).toMatchObject({ ok: false, missing: false, reason: expect.stringContaining('symbolic link') });
    expect(existsSync(path.join(real, 'secret'))).toBe(true);
  });

  it('refuses a directory open to other users, or not owned by the user served', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'secret'), SECRET, { mode: 0o600 });
    chmodSync(dir, 0o755);
    expect(readSecretFile(dir, uid)).toMatchObject({ ok: false, missing: false, reason: expect.stringContaining('accessible to other users') });
    chmodSync(dir, 0o700);
    expect(readSecretFile(dir, uid + 1)).toMatchObject({ ok: false, missing: false, reason: expect.stringContaining(`owned by uid ${uid}`) });
    expect(existsSync(path.join(dir, 'secret'))).toBe(true);
  });

  it('reads and unlinks through the directory it opened, whatever the path names by then', () => {
    // Same descriptor throughout: the happy path still deletes the file it read.
    const dir = tmp();
    writeFileSync(path.join(dir, 'secret'), SECRET, { mode: 0o600 });
    expect(readSecretFile(dir, uid)).toEqual({ ok: true, secret: SECRET });
    expect(existsSync(path.join(dir, 'secret'))).toBe(false);
  });
});

describe('the root keeper', () => {
  it('reads the secret through the helper (O_NOFOLLOW + fstat), not by path in the shell', async () => {
    const { readFileSync } = await import('node:fs');
    const keeper = readFileSync(path.resolve(import.meta.dirname, '../../build/helper/portcullis-helper'), 'utf8');
    const code = keeper.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
    expect(code).toContain('--read-secret');
    expect(code).not.toMatch(/head -c|cat .*secret|< *"\$SOCKET_DIR\/secret"/);
  });
});
