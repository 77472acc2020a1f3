import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectSource, journalUsable } from '../../electron/engine/logs/detect.ts';
import { FileTailSource } from '../../electron/engine/logs/file.ts';
import { JournalSource } from '../../electron/engine/logs/journal.ts';
import { KmsgSource, PushKmsgFeed } from '../../electron/engine/logs/kmsg.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pc-detect-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const p = (name: string) => path.join(dir, name);
/** A fake journald host: journalctl binary, a socket path, a journal dir with one file. */
function journalHost(): { journalctl: string; journaldSocket: string; journalDirs: string[] } {
  writeFileSync(p('journalctl'), '#!/bin/sh\n');
  chmodSync(p('journalctl'), 0o755);
  writeFileSync(p('socket'), '');
  mkdirSync(p('journal/abc'), { recursive: true });
  writeFileSync(p('journal/abc/system.journal'), '');
  return { journalctl: p('journalctl'), journaldSocket: p('socket'), journalDirs: [p('journal')] };
}

describe('detectSource', () => {
  it('prefers kmsg when readable (here: a feed from the helper)', () => {
    const d = detectSource({ kmsgFeed: new PushKmsgFeed(), resume: { kmsgSeq: 41 } });
    expect(d.kind).toBe('kmsg');
    expect(d.framing).toBe('kmsg');
    expect(d.source).toBeInstanceOf(KmsgSource);
    expect((d.source as KmsgSource).position()).toBe(41);
    expect(d.skipped).toEqual([]);
  });

  it('falls back to journald, saying why kmsg was skipped', () => {
    const d = detectSource({ kmsgPath: p('no-kmsg'), ...journalHost(), resume: { journalCursor: 's=1;i=2' } });
    expect(d.kind).toBe('journal');
    expect(d.framing).toBe('journal');
    expect((d.source as JournalSource).args()).toContain('--after-cursor=s=1;i=2');
    expect(d.skipped).toEqual([{ kind: 'kmsg', target: p('no-kmsg'), reason: expect.stringMatching(/does not exist/) }]);
  });

  it('falls back to the first readable log file, marked spoofable, with every skip explained', () => {
    writeFileSync(p('syslog'), '');
    const d = detectSource({
      kmsgPath: p('no-kmsg'),
      journalctl: p('no-journalctl'),
      files: [p('kern.log'), p('syslog'), p('messages')],
      resume: { file: { path: p('syslog'), position: { ino: 1, offset: 0 } } },
    });
    expect(d.kind).toBe('file');
    expect(d.framing).toBe('auto');
    expect((d.source as FileTailSource).path).toBe(p('syslog'));
    expect(d.source!.health().kernelTrusted).toBe(false);
    expect(d.skipped.map((s) => [s.kind, s.reason])).toEqual([
      ['kmsg', expect.stringMatching(/does not exist/)],
      ['journal', expect.stringMatching(/not installed/)],
      ['file', 'does not exist'],
    ]);
  });

  it('explains when nothing is usable, and honours explicit choices', () => {
    const base = { kmsgPath: p('no-kmsg'), journalctl: p('no-journalctl'), files: [p('kern.log')] };
    expect(detectSource(base)).toMatchObject({ source: null, error: expect.stringMatching(/no log source found/) });
    expect(detectSource({ ...base, spec: 'kmsg' })).toMatchObject({ source: null, error: expect.stringMatching(/does not exist/) });
    expect(detectSource({ ...base, spec: 'journal' })).toMatchObject({ source: null, error: expect.stringMatching(/not installed/) });
    expect(detectSource({ ...base, spec: 'file:relative.log' })).toMatchObject({ source: null, error: expect.stringMatching(/absolute/) });
    expect(detectSource({ ...base, spec: 'bogus' })).toMatchObject({ source: null, error: expect.stringMatching(/unknown log source/) });
    writeFileSync(p('custom.log'), '');
    expect(detectSource({ ...base, spec: `file:${p('custom.log')}` }).kind).toBe('file');
  });

  it('journald counts as usable only when it runs and keeps journal files', () => {
    const h = journalHost();
    expect(journalUsable(h.journalctl, h.journaldSocket, h.journalDirs)).toBeNull();
    expect(journalUsable(h.journalctl, p('nosocket'), h.journalDirs)).toMatch(/journald is not running/);
    expect(journalUsable(h.journalctl, h.journaldSocket, [p('empty')])).toMatch(/no readable journal files/);
  });
});
