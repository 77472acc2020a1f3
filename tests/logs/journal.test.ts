/**
 * JournalSource against a fake journalctl that prints records in journald's real JSON format (the
 * shapes below were captured from systemd 252's journalctl -o json on this machine) and logs its
 * argv. The real journald is exercised in tests/system/logs-journal.test.ts.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JournalSource, type JournalRecordInfo } from '../../electron/engine/logs/journal.ts';

const FW = '[UFW BLOCK] IN=eth0 OUT= MAC=5e:1c:cd:23:5c:7a:d6:48:83:bf:11:93:08:00 SRC=198.51.100.126 DST=198.51.100.125 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=45588 DF PROTO=TCP SPT=43550 DPT=2222 WINDOW=64240 RES=0x00 SYN URGP=0 ';
const cursor = (i: number) => `s=a1ae42b5ad274df5a98c4bcf306c1816;i=${i.toString(16)};b=edeab4c0e9cc4be4851cb86e93c0ab5f;m=4e4d4d8a;t=660d63190999b;x=89b0c46dad319efb`;
function record(i: number, over: Record<string, string> = {}): string {
  return JSON.stringify({
    _RUNTIME_SCOPE: 'system', SYSLOG_IDENTIFIER: 'kernel', __REALTIME_TIMESTAMP: String(1795322931091867 + i * 1000), SYSLOG_FACILITY: '0',
    __MONOTONIC_TIMESTAMP: '1313688970', __CURSOR: cursor(i), _SOURCE_MONOTONIC_TIMESTAMP: '1244016481', PRIORITY: '4',
    _BOOT_ID: 'edeab4c0e9cc4be4851cb86e93c0ab5f', _HOSTNAME: 'vm', _TRANSPORT: 'kernel', MESSAGE: `${FW}n=${i}`,
    _MACHINE_ID: '3d1219c7c4c5404aaa1f6d2a48adfda4', ...over,
  });
}

let dir: string;
const sources: JournalSource[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pc-journal-'));
});
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A journalctl stand-in: appends its argv to args.log, prints the records file, then follows (sleeps) or exits. */
function fakeJournalctl(records: string[], follow = true): string {
  const bin = path.join(dir, 'journalctl');
  writeFileSync(path.join(dir, 'records.json'), records.map((r) => r + '\n').join(''));
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> '${dir}/args.log'\ncat '${dir}/records.json'\n${follow ? 'exec sleep 600' : 'exit 0'}\n`);
  chmodSync(bin, 0o755);
  return bin;
}
const argsLog = () => readFileSync(path.join(dir, 'args.log'), 'utf8').trim().split('\n');

describe('JournalSource', () => {
  it('first start follows only new records (-n 0); passes kernel records on, refuses the rest; reports the cursor', async () => {
    const bin = fakeJournalctl([
      record(1),
      // What root's `echo "<4>[UFW BLOCK] …" > /dev/kmsg` becomes in the journal: kernel transport, user facility.
      record(2, { SYSLOG_FACILITY: '1', MESSAGE: `${FW}spoofed` }),
      record(3, { _TRANSPORT: 'syslog', SYSLOG_IDENTIFIER: 'logger', SYSLOG_FACILITY: '1' }),
      '{"truncated',
      record(4),
    ]);
    const cursors: string[] = [];
    const refused: JournalRecordInfo[] = [];
    const src = new JournalSource({ journalctl: bin, onCursor: (c) => cursors.push(c), onUntrusted: (r) => refused.push(r) });
    sources.push(src);
    const lines: string[] = [];
    await src.start((l) => lines.push(...l));
    await vi.waitFor(() => expect(lines).toHaveLength(2), { timeout: 5000 });
    expect(lines.map((l) => (JSON.parse(l) as { MESSAGE: string }).MESSAGE)).toEqual([`${FW}n=1`, `${FW}n=4`]);
    expect(refused.map((r) => [r.transport, r.facility])).toEqual([['kernel', '1'], ['syslog', '1']]);
    expect(src.malformed).toBe(1);
    expect(cursors.at(-1)).toBe(cursor(4));
    expect(argsLog()[0]).toBe('-k -f -o json --no-pager -n 0');
    expect(src.health()).toMatchObject({ kind: 'journal', kernelTrusted: true, linesPerMinute: 2, rejectsPerMinute: 3, lastRecordAt: Math.round((1795322931091867 + 4000) / 1000) });
  });

  it('resumes after the saved cursor, and restarts journalctl after the last cursor when it exits', async () => {
    const bin = fakeJournalctl([record(5), record(6)], false);
    const src = new JournalSource({ journalctl: bin, cursor: cursor(4), restartDelayMs: 20 });
    sources.push(src);
    await src.start(() => undefined);
    await vi.waitFor(() => expect(argsLog().length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    const [first, second] = argsLog();
    expect(first).toBe(`-k -f -o json --no-pager --after-cursor=${cursor(4)} --no-tail`);
    expect(second).toBe(`-k -f -o json --no-pager --after-cursor=${cursor(6)} --no-tail`);
    expect(src.position()).toBe(cursor(6));
  });

  it('ignores a saved cursor that is not a cursor, and says so', () => {
    const src = new JournalSource({ journalctl: '/bin/false', cursor: 'x; rm -rf /' });
    expect(src.args()).toEqual(['-k', '-f', '-o', 'json', '--no-pager', '-n', '0']);
    expect(src.health().error).toMatch(/cursor was not valid/);
  });

  it('a missing journalctl rejects start with a clear error', async () => {
    const src = new JournalSource({ journalctl: path.join(dir, 'nope') });
    await expect(src.start(() => undefined)).rejects.toThrow();
    expect(src.health().error).toMatch(/cannot start .*nope/);
    await src.stop();
  });
});
