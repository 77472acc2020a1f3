/**
 * JournalSource against a REAL systemd-journald and journalctl. This machine has no systemd as
 * PID 1, so the test starts /lib/systemd/systemd-journald by itself in a private mount namespace
 * (tmpfs over /run and /var/log/journal: nothing of it reaches the host), where it reads /dev/kmsg
 * as it would on a systemd host, and points journalctl at that journal through
 * /proc/<pid>/root (--directory).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JournalSource, type JournalRecordInfo } from '../../electron/engine/logs/journal.ts';
import { requireSystem } from '../support/system.ts';

const JOURNALD = '/lib/systemd/systemd-journald';
const hasJournald = existsSync(JOURNALD) && existsSync('/usr/bin/journalctl');
const tag = `portcullis-journal-test-${randomBytes(4).toString('hex')}`;
const mark = (n: number) => writeFileSync('/dev/kmsg', `<4>${tag} marker=${n} [UFW BLOCK] IN=lo SRC=10.9.9.9 DST=10.9.9.8\n`);
const markerOf = (r: JournalRecordInfo) => (r.message.includes(tag) ? Number(/marker=(\d+)/.exec(r.message)?.[1]) : null);

const ok = requireSystem('root') && (hasJournald || (() => {
  console.warn('SKIPPED: systemd-journald is not installed (apt-get install systemd)');
  return false;
})());

describe.runIf(ok)('JournalSource with a real journald', () => {
  let journald: ChildProcess;
  let dir: string;

  beforeAll(async () => {
    const script = [
      'set -e',
      'mount -t tmpfs tmpfs /run',
      'mkdir -p /run/systemd/journal /run/log/journal',
      '[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal',
      `exec ${JOURNALD}`,
    ].join('\n');
    journald = spawn('/usr/bin/unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script], { stdio: 'ignore' });
    const root = `/proc/${journald.pid}/root/run/log/journal`;
    dir = root;
    await vi.waitFor(
      () => {
        const ids = readdirSync(root);
        expect(ids.some((id) => existsSync(`${root}/${id}/system.journal`))).toBe(true);
      },
      { timeout: 20_000, interval: 100 },
    );
  });

  afterAll(async () => {
    if (journald && journald.exitCode === null) {
      await new Promise((r) => {
        journald.once('exit', r);
        journald.kill('SIGTERM');
      });
    }
  });

  it('delivers real kernel records and refuses a root-written /dev/kmsg marker (transport kernel, facility 1)', async () => {
    const refused: JournalRecordInfo[] = [];
    const lines: string[] = [];
    const src = new JournalSource({ initialLines: 'all', extraArgs: [`--directory=${dir}`], onUntrusted: (r) => refused.push(r) });
    await src.start((l) => lines.push(...l));
    mark(1);
    await vi.waitFor(() => expect(refused.some((r) => markerOf(r) === 1)).toBe(true), { timeout: 20_000 });
    const m = refused.find((r) => markerOf(r) === 1)!;
    expect([m.transport, m.facility]).toEqual(['kernel', '1']);
    expect(lines.some((l) => l.includes(tag))).toBe(false);
    // journald read the whole kmsg ring at start: real kernel records, facility 0.
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines.slice(0, 50)) {
      const r = JSON.parse(l) as Record<string, string>;
      expect([r._TRANSPORT, r.SYSLOG_FACILITY]).toEqual(['kernel', '0']);
    }
    expect(src.position()).toMatch(/^s=[0-9a-f]+;i=/);
    await src.stop();
  });

  it('a second instance resumes after the first one’s cursor: no loss, no duplicate', async () => {
    const seen: number[] = [];
    const note = (r: JournalRecordInfo) => {
      const n = markerOf(r);
      if (n !== null && n >= 100) seen.push(n);
    };
    // From the start of the journal, so markers written before journalctl reached its end still count.
    const a = new JournalSource({ initialLines: 'all', extraArgs: [`--directory=${dir}`], onUntrusted: note });
    await a.start(() => undefined);
    for (const n of [101, 102, 103]) mark(n);
    await vi.waitFor(() => expect(seen).toContain(103), { timeout: 20_000 });
    await a.stop();
    const saved = a.position();
    for (const n of [104, 105, 106]) mark(n);
    const b = new JournalSource({ cursor: saved, extraArgs: [`--directory=${dir}`], onUntrusted: note });
    await b.start(() => undefined);
    for (const n of [107, 108]) mark(n);
    await vi.waitFor(() => expect(seen).toContain(108), { timeout: 20_000 });
    await b.stop();
    expect(seen).toEqual([101, 102, 103, 104, 105, 106, 107, 108]);
  });
});
