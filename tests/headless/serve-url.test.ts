/**
 * `portcullis serve` under systemd: the UI's address carries the root API's token, and the journal
 * is read by adm and systemd-journal members, so it is not printed there but written to a file only
 * root reads, and the printed line says where.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { announceServeUrl, SERVE_URL_FILE, stdoutIsJournal } from '../../electron/headless/serve-url.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pc-serve-url-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const URL = 'http://127.0.0.1:8787/?token=secret';

describe('where serve puts the UI address', () => {
  it('stdout is the journal only when JOURNAL_STREAM names the stream fd 1 is', () => {
    const stat = () => ({ dev: 25, ino: 4242 });
    expect(stdoutIsJournal({ JOURNAL_STREAM: '25:4242' }, stat)).toBe(true);
    // Inherited by a program whose output went elsewhere (a pipe, a file): another stream.
    expect(stdoutIsJournal({ JOURNAL_STREAM: '25:9999' }, stat)).toBe(false);
    expect(stdoutIsJournal({}, stat)).toBe(false);
    expect(stdoutIsJournal({ JOURNAL_STREAM: 'junk' }, stat)).toBe(false);
  });

  it('on a terminal it is printed; into the journal, written to a root-only file the line names', () => {
    expect(announceServeUrl(URL, dir, false)).toBe(URL);
    // A file left by an earlier run with looser modes is replaced, not written through.
    writeFileSync(path.join(dir, SERVE_URL_FILE), 'old', { mode: 0o644 });
    const line = announceServeUrl(URL, dir, true);
    expect(line).not.toContain('secret');
    expect(line).toContain(path.join(dir, SERVE_URL_FILE));
    expect(readFileSync(path.join(dir, SERVE_URL_FILE), 'utf8')).toBe(URL + '\n');
    expect(statSync(path.join(dir, SERVE_URL_FILE)).mode & 0o777).toBe(0o600);
    // A later run on a terminal prints it, and removes the file with the earlier run's token.
    expect(announceServeUrl(URL, dir, false)).toBe(URL);
    expect(existsSync(path.join(dir, SERVE_URL_FILE))).toBe(false);
  });

  it('a file that cannot be written is said, and the address still stays out of the journal', () => {
    const line = announceServeUrl(URL, path.join(dir, 'missing-dir'), true);
    expect(line).toMatch(/could not be written/);
    expect(line).not.toContain('secret');
  });
});
