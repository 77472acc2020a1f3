/**
 * lastRecordTime (headless/replay-input-end.ts): the time of a file's last packet record, read from
 * its last 64 KiB — which decides whether a replay may forget quiet sources (ReplaySession.inputEndsAt).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lastRecordTime } from '../../electron/headless/replay-input-end.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pc-input-end-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (sec: number, src = '203.0.113.7') => {
  const hh = String(Math.floor(sec / 3600) % 24).padStart(2, '0');
  const mm = String(Math.floor(sec / 60) % 60).padStart(2, '0');
  const ss = String(sec % 60).padStart(2, '0');
  return `Nov 22 ${hh}:${mm}:${ss} myhost kernel: [UFW BLOCK] IN=eth0 OUT= MAC= SRC=${src} DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=52 ID=1 PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0`;
};
const at = (sec: number) => Date.UTC(2025, 10, 22) + sec * 1000 + new Date(Date.UTC(2025, 10, 22)).getTimezoneOffset() * 60_000;

describe('lastRecordTime', () => {
  it('reads the last packet record of a file longer than its tail, skipping the partial first line and a trailing non-record', () => {
    const f = path.join(dir, 'long.log');
    const lines = Array.from({ length: 3000 }, (_, i) => line(i));
    writeFileSync(f, lines.join('\n') + '\nNov 22 23:59:59 myhost sshd[1]: not a firewall line\n');
    expect(lastRecordTime(f, { year: 2025 })).toBe(at(2999));
  });

  it('the last record, not the latest: files concatenated newest first end before they begin', () => {
    const f = path.join(dir, 'newest-first.log');
    writeFileSync(f, [line(7200), line(7300), line(3600), line(3700)].join('\n') + '\n');
    expect(lastRecordTime(f, { year: 2025 })).toBe(at(3700));
  });

  it('null for a file without a packet record (the replay then keeps every source)', () => {
    const f = path.join(dir, 'none.log');
    writeFileSync(f, 'hello\nworld\n');
    expect(lastRecordTime(f, {})).toBeNull();
  });
});
