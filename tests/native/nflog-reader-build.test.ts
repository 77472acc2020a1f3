/**
 * The nflog source's reader (native/nflog/portcullis-nflog.c) as scripts/build-native.ts builds it:
 * compiled warning-free, skipped with a reason without a compiler, and strict about its two
 * arguments (it runs as root; nothing else is configurable). Its netlink side is tested in a
 * namespace (tests/system/nflog-source.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNflogReader, NFLOG_READER_NAME } from '../../scripts/build-native.ts';

const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-nflog-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('portcullis-nflog build', () => {
  it('without a compiler the build is skipped with what to install, not failed', () => {
    const r = buildNflogReader(dir, 'portcullis-no-such-cc');
    expect(r).toEqual({ skipped: expect.stringMatching(/portcullis-no-such-cc not found.*apt-get install gcc/) });
  });

  it.runIf(hasGcc)('compiles with -Werror, once: a second build with the source unchanged is up to date', () => {
    const first = buildNflogReader(dir);
    expect(first).toEqual({ built: path.join(dir, NFLOG_READER_NAME) });
    expect(buildNflogReader(dir)).toEqual({ upToDate: path.join(dir, NFLOG_READER_NAME) });
  });

  it.runIf(hasGcc)('refuses any argv but GROUP (0-65535) and BUFFER_BYTES (64 KiB-1 GiB), with exit code 2 and its usage', () => {
    buildNflogReader(dir);
    const bin = path.join(dir, NFLOG_READER_NAME);
    for (const argv of [[], ['7'], ['7', '1048576', 'extra'], ['-1', '1048576'], ['65536', '1048576'], ['7x', '1048576'], ['7', '65535'], ['7', '1073741825'], ['7', '0x100000'], ['', '1048576'], ['7', '99999999999']]) {
      const r = spawnSync(bin, argv, { encoding: 'utf8' });
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^usage: portcullis-nflog GROUP BUFFER_BYTES/);
    }
  });
});
