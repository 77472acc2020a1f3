/**
 * NflogSource with a fake reader process fed the kernel capture (tests/fixtures/nflog): argv, the
 * start that waits for READY, packets to the consumer, health (trusted, counts, losses), and a
 * reader that fails before or after the start. The real reader in a namespace:
 * tests/system/nflog-source.test.ts.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { NFLOG_BUFFER_BYTES, NflogSource, PORTCULLIS_NFLOG_GROUP, sysfsInterfaceNames, type ReaderProcess } from '../../electron/engine/logs/nflog.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { LogSettingsSchema } from '../../electron/shared/settings.ts';

const capture = readFileSync(path.resolve(import.meta.dirname, '../fixtures/nflog/capture.bin'));
const IFACE = /\bIN=(\S+)/.exec(readFileSync(path.resolve(import.meta.dirname, '../fixtures/nflog/capture.txt'), 'utf8'))![1]!;

class FakeReader extends EventEmitter implements ReaderProcess {
  stdout = new PassThrough();
  stderr = new PassThrough();
  killed: string[] = [];
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.killed.push(signal);
    setImmediate(() => this.emit('close', null, signal));
    return true;
  }
}

function source(reader: FakeReader, calls: { file: string; args: string[] }[] = []) {
  return new NflogSource({
    readerPath: '/x/portcullis-nflog',
    spawn: (file, args) => (calls.push({ file, args }), reader),
    ifName: (i) => (i === 2 ? IFACE : null),
    log: () => undefined,
  });
}

describe('NflogSource', () => {
  it('is the setting logs.source "nflog" (and nothing like it)', () => {
    expect(LogSettingsSchema.parse({ source: 'nflog' }).source).toBe('nflog');
    for (const bad of ['nflog:5', 'NFLOG', 'nflog ']) expect(LogSettingsSchema.safeParse({ source: bad }).success, bad).toBe(false);
  });

  it('starts the reader with its group and buffer only, resolves once it said READY, and hands the decoded packets on', async () => {
    const reader = new FakeReader();
    const calls: { file: string; args: string[] }[] = [];
    const src = source(reader, calls);
    const got: PacketEvent[] = [];
    let started = false;
    const start = src.start(() => expect.fail('no lines from nflog'), (p) => got.push(...p)).then(() => (started = true));
    await new Promise((r) => setImmediate(r));
    expect(started).toBe(false);
    reader.stdout.write(capture);
    await start;
    expect(calls).toEqual([{ file: '/x/portcullis-nflog', args: [String(PORTCULLIS_NFLOG_GROUP), String(NFLOG_BUFFER_BYTES)] }]);
    expect(got).toHaveLength(8);
    expect(got.every((p) => p.trust === 'kernel' && p.in === IFACE)).toBe(true);
    const h = src.health();
    expect(h).toMatchObject({ kind: 'nflog', kernelTrusted: true, recordsRead: 8, recordsLost: 0, linesPerMinute: 8 });
    expect(h.error).toBeUndefined();
    expect(h.description).toMatch(/^NFLOG group 5417 \(portcullis-nflog, \d+ MiB socket buffer\)$/);
    await src.stop();
    expect(reader.killed).toEqual(['SIGTERM']);
    expect(src.health().error).toBeUndefined();
  });

  it('a reader that stops before READY fails the start with its own words; after the start, its exit is the source\'s error', async () => {
    const early = new FakeReader();
    const a = source(early);
    const start = a.start(() => undefined, () => undefined);
    early.stderr.write('portcullis-nflog: bind NFLOG group 5417: Device or resource busy (another program reads this group)\n');
    await new Promise((r) => setImmediate(r));
    early.emit('close', 1, null);
    await expect(start).rejects.toThrow(/stopped \(exit code 1\): portcullis-nflog: bind NFLOG group 5417: Device or resource busy/);
    expect(a.health().error).toMatch(/another program reads this group/);

    const late = new FakeReader();
    const b = source(late);
    const started = b.start(() => undefined, () => undefined);
    late.stdout.write(capture);
    await started;
    late.emit('close', null, 'SIGKILL');
    expect(b.health().error).toMatch(/the NFLOG reader \(\/x\/portcullis-nflog\) stopped \(SIGKILL\)/);
    await b.stop();
  });

  it('a reader\'s stop is taken once its output is drained (\'close\', not \'exit\', which can come before the last of stderr and stdout)', async () => {
    const reader = new FakeReader();
    const got: PacketEvent[] = [];
    const src = source(reader);
    const started = src.start(() => undefined, (p) => got.push(...p));
    reader.stdout.write(capture.subarray(0, 8 + 4)); // READY
    await started;
    reader.emit('exit', 1, null);
    reader.stdout.write(capture.subarray(12));
    reader.stderr.write('portcullis-nflog: recvmmsg: Bad address\n');
    await new Promise((r) => setImmediate(r));
    reader.emit('close', 1, null);
    expect(got).toHaveLength(8);
    expect(src.health().error).toMatch(/stopped \(exit code 1\): portcullis-nflog: recvmmsg: Bad address — nothing is read/);
    await src.stop();
  });

  it('a reader that stops on its own is started again after 0.5 s doubling to 30 s, back to 0.5 s after a healthy minute: error while none reads, a warning naming the last words once one does, counts carried over', async () => {
    vi.useFakeTimers();
    try {
      let now = 1_000_000;
      const readers: FakeReader[] = [];
      const logged: string[] = [];
      const got: PacketEvent[] = [];
      const src = new NflogSource({
        readerPath: '/x/portcullis-nflog',
        spawn: () => (readers.push(new FakeReader()), readers[readers.length - 1]!),
        ifName: (i) => (i === 2 ? IFACE : null),
        clock: { now: () => now },
        log: (l) => logged.push(l),
      });
      const started = src.start(() => undefined, (p) => got.push(...p));
      readers[0]!.stdout.write(capture);
      await started;
      expect(got).toHaveLength(8);
      // It dies with its last words: error at once, one line, a new reader 0.5 s later.
      readers[0]!.stderr.write('portcullis-nflog: recvmmsg: Bad address\n');
      await vi.advanceTimersByTimeAsync(0);
      readers[0]!.emit('close', 1, null);
      expect(src.health().error).toMatch(/stopped \(exit code 1\): portcullis-nflog: recvmmsg: Bad address — nothing is read until it is started again \(in 0.5 s\)/);
      expect(logged).toEqual([expect.stringMatching(/^portcullis warn: the NFLOG reader \(\/x\/portcullis-nflog\) stopped \(exit code 1\): portcullis-nflog: recvmmsg: Bad address; starting it again in 0.5 s$/)]);
      await vi.advanceTimersByTimeAsync(499);
      expect(readers).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(readers).toHaveLength(2);
      // The new reader's sequence numbers start at 0 again: a new decoder, no loss counted.
      readers[1]!.stdout.write(capture);
      await vi.advanceTimersByTimeAsync(0);
      expect(got).toHaveLength(16);
      let h = src.health();
      expect(h.error).toBeUndefined();
      expect(h.warning).toMatch(/^read on after the NFLOG reader .* stopped \(exit code 1\): portcullis-nflog: recvmmsg: Bad address \(started again at .*; 1 restart since the start\)$/);
      expect(h).toMatchObject({ recordsRead: 16, recordsLost: 0 });
      // Dies again at once: 1 s; then a start that fails (no READY): 2 s, 4 s …, never more than 30 s.
      readers[1]!.emit('close', null, 'SIGSEGV');
      expect(logged[1]).toMatch(/stopped \(SIGSEGV\); starting it again in 1 s$/);
      await vi.advanceTimersByTimeAsync(1000);
      expect(readers).toHaveLength(3);
      readers[2]!.emit('close', 1, null);
      await vi.advanceTimersByTimeAsync(0);
      expect(logged[2]).toMatch(/^portcullis warn: starting the NFLOG reader again failed: .* stopped \(exit code 1\); starting it again in 2 s$/);
      expect(src.health().error).toMatch(/in 2 s\)$/);
      const delays: number[] = [];
      for (let i = 3; i < 10; i++) {
        const before = readers.length;
        let waited = 0;
        while (readers.length === before) {
          await vi.advanceTimersByTimeAsync(500);
          waited += 500;
        }
        delays.push(waited);
        readers[i]!.emit('close', 1, null);
        await vi.advanceTimersByTimeAsync(0);
      }
      expect(delays).toEqual([2000, 4000, 8000, 16000, 30000, 30000, 30000]);
      // One that reads for a minute and then dies is started again after 0.5 s.
      await vi.advanceTimersByTimeAsync(30_000);
      readers[10]!.stdout.write(capture);
      await vi.advanceTimersByTimeAsync(0);
      expect(src.health().error).toBeUndefined();
      now += 60_000;
      readers[10]!.emit('close', null, 'SIGKILL');
      expect(logged[logged.length - 1]).toMatch(/starting it again in 0.5 s$/);
      // stop() cancels a restart on its way.
      await src.stop();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(readers).toHaveLength(11);
      h = src.health();
      expect(h).toMatchObject({ recordsRead: 24, recordsLost: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('stop() does not wait for an exit that will not come: after a failed spawn, or from a reader deaf to SIGTERM', async () => {
    vi.useFakeTimers();
    try {
      // A spawn that failed emits 'error' and no 'exit'.
      const failed = new FakeReader();
      failed.kill = () => true;
      const src = source(failed);
      const start = src.start(() => undefined, () => undefined);
      failed.emit('error', new Error('spawn /x/portcullis-nflog ENOENT'));
      await expect(start).rejects.toThrow(/ENOENT/);
      await src.stop(); // resolves at once: nothing to stop
      // A reader that ignores SIGTERM is killed.
      const deaf = new FakeReader();
      deaf.kill = function (signal: NodeJS.Signals = 'SIGTERM') {
        this.killed.push(signal);
        if (signal === 'SIGKILL') setImmediate(() => this.emit('close', null, signal));
        return true;
      };
      const src2 = source(deaf);
      const start2 = src2.start(() => undefined, () => undefined);
      deaf.stdout.write(capture);
      await start2;
      const stopping = src2.stop();
      await vi.advanceTimersByTimeAsync(5_000);
      await stopping;
      expect(deaf.killed).toEqual(['SIGTERM', 'SIGKILL']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a second start (a new reader: sequence numbers from 0 again) counts no loss from the first reader\'s numbers', async () => {
    const readers = [new FakeReader(), new FakeReader()];
    let n = 0;
    const src = new NflogSource({ readerPath: '/x/portcullis-nflog', spawn: () => readers[n++]!, ifName: (i) => (i === 2 ? IFACE : null) });
    const first = src.start(() => undefined, () => undefined);
    readers[0]!.stdout.write(capture);
    await first;
    await src.stop();
    const second = src.start(() => undefined, () => undefined);
    readers[1]!.stdout.write(capture);
    await second;
    expect(src.health()).toMatchObject({ recordsRead: 8, recordsLost: 0 });
  });

  it('a restarted reader that never says READY is killed after 10 s and started again once (its exit is that start\'s failure, not a second restart); stop() while the counters are read starts no reader', async () => {
    vi.useFakeTimers();
    try {
      const readers: FakeReader[] = [];
      const logged: string[] = [];
      let release: (() => void) | null = null;
      const ledger = { lost: 0, unknown: null, newRun: () => undefined, accounted: () => undefined, readerStarting: () => (readers.length < 3 ? Promise.resolve() : new Promise<void>((r) => (release = r))) };
      const src = new NflogSource({
        readerPath: '/x/portcullis-nflog',
        spawn: () => (readers.push(new FakeReader()), readers[readers.length - 1]!),
        ifName: () => null,
        log: (l) => logged.push(l),
        ledger,
      });
      const started = src.start(() => undefined, () => undefined);
      await vi.advanceTimersByTimeAsync(0);
      readers[0]!.stdout.write(capture);
      await started;
      readers[0]!.emit('close', null, 'SIGKILL');
      await vi.advanceTimersByTimeAsync(500);
      expect(readers).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(10_000); // no READY: killed, its exit follows
      expect(readers[1]!.killed).toEqual(['SIGTERM']);
      expect(logged).toHaveLength(2);
      expect(logged[1]).toMatch(/starting the NFLOG reader again failed: .* did not bind NFLOG group 5417 within 10 s; starting it again in 1 s$/);
      await vi.advanceTimersByTimeAsync(1000);
      expect(readers).toHaveLength(3);
      readers[2]!.emit('close', 1, null);
      await vi.advanceTimersByTimeAsync(2000); // the next restart is reading the counters…
      expect(release).not.toBeNull();
      const stopping = src.stop();
      release!();
      await vi.advanceTimersByTimeAsync(10);
      await stopping;
      expect(readers).toHaveLength(3); // …and starts no reader once stopped
      await vi.advanceTimersByTimeAsync(60_000);
      expect(readers).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('stop() then start() while a restart reads the counters: the restart starts no reader (one reader, not two fighting for the group)', async () => {
    vi.useFakeTimers();
    try {
      const readers: FakeReader[] = [];
      const releases: (() => void)[] = [];
      let hold = false;
      const ledger = {
        lost: 0,
        unknown: null,
        newRun: () => undefined,
        accounted: () => undefined,
        readerStarting: () => (hold ? new Promise<void>((r) => releases.push(r)) : Promise.resolve()),
      };
      const src = new NflogSource({
        readerPath: '/x/portcullis-nflog',
        spawn: () => (readers.push(new FakeReader()), readers[readers.length - 1]!),
        ifName: () => null,
        log: () => undefined,
        ledger,
      });
      const first = src.start(() => undefined, () => undefined);
      await vi.advanceTimersByTimeAsync(0);
      readers[0]!.stdout.write(capture);
      await first;
      hold = true;
      readers[0]!.emit('close', null, 'SIGKILL');
      await vi.advanceTimersByTimeAsync(500); // the restart reads the counters (held)
      expect(releases).toHaveLength(1);
      await src.stop();
      hold = false;
      const second = src.start(() => undefined, () => undefined);
      await vi.advanceTimersByTimeAsync(0);
      expect(readers).toHaveLength(2);
      readers[1]!.stdout.write(capture);
      await second;
      releases[0]!(); // the old restart's read answers now
      await vi.advanceTimersByTimeAsync(10);
      expect(readers).toHaveLength(2);
      expect(src.health().error).toBeUndefined();
      const stopping = src.stop();
      await vi.advanceTimersByTimeAsync(10);
      await stopping;
    } finally {
      vi.useRealTimers();
    }
  });

  it('asks the ledger before every reader binds (start and restart), tells it each reader\'s account, and reports what it counted as lost while unbound', async () => {
    vi.useFakeTimers();
    try {
      const events: string[] = [];
      const readers: FakeReader[] = [];
      const ledger = {
        lost: 0,
        unknown: null as string | null,
        readerStarting: async () => {
          events.push(`starting (readers so far: ${readers.length})`);
          ledger.lost += 200;
        },
        accounted: (n: number) => void events.push(`accounted ${n}`),
        newRun: () => void events.push('new run'),
      };
      const src = new NflogSource({
        readerPath: '/x/portcullis-nflog',
        spawn: () => (readers.push(new FakeReader()), readers[readers.length - 1]!),
        ifName: (i) => (i === 2 ? IFACE : null),
        log: () => undefined,
        ledger,
      });
      const started = src.start(() => undefined, () => undefined);
      await vi.advanceTimersByTimeAsync(0);
      readers[0]!.stdout.write(capture);
      await started;
      expect(events).toEqual(['new run', 'starting (readers so far: 0)', 'accounted 8']);
      expect(src.health()).toMatchObject({ recordsRead: 8, recordsLost: 200 });
      // Over when counted: a warning, not the source's error for the whole run.
      expect(src.health().error).toBeUndefined();
      expect(src.health().warning).toMatch(/^200 NFLOG messages were logged while no reader was bound \(Portcullis not running, or its reader restarting\): never read, counted from the logging rules' counters$/);
      readers[0]!.emit('close', null, 'SIGKILL');
      await vi.advanceTimersByTimeAsync(500);
      readers[1]!.stdout.write(capture);
      await vi.advanceTimersByTimeAsync(0);
      expect(events).toEqual(['new run', 'starting (readers so far: 0)', 'accounted 8', 'starting (readers so far: 1)', 'accounted 8']);
      expect(src.health()).toMatchObject({ recordsRead: 16, recordsLost: 400 });
      ledger.unknown = 'unknown how many NFLOG messages were logged while no reader was bound: the logging rules\' counters went down';
      expect(src.health().error).toBeUndefined();
      expect(src.health().warning).toMatch(/^read on after .*; 400 NFLOG messages were logged while no reader was bound .*; unknown how many NFLOG messages were logged while no reader was bound/);
      const stopping = src.stop();
      await vi.advanceTimersByTimeAsync(10);
      await stopping;
    } finally {
      vi.useRealTimers();
    }
  });

  it('messages the kernel dropped are the source\'s recordsLost and an error naming them', async () => {
    const reader = new FakeReader();
    const src = source(reader);
    const started = src.start(() => undefined, () => undefined);
    // The capture, then an OVERRUN frame and its first packet message again with its sequence number 10 past the last.
    reader.stdout.write(capture);
    await started;
    const over = Buffer.alloc(8);
    over.writeUInt32LE(3, 0);
    reader.stdout.write(over);
    const first = firstDatagramWithSeq(capture, src.counts.packets - 1 + 11);
    reader.stdout.write(first);
    await new Promise((r) => setImmediate(r));
    expect(src.health()).toMatchObject({ recordsLost: 10, recordsRead: 9 });
    expect(src.health().error).toMatch(/^10 NFLOG messages were dropped by the kernel: the reader's socket was full \(1 times\)/);
  });

  it('names interfaces from /sys/class/net and reads it again (at most once a second) for an index it does not know', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'portcullis-sysnet-'));
    try {
      mkdirSync(path.join(root, 'lo'));
      writeFileSync(path.join(root, 'lo/ifindex'), '1\n');
      let now = 0;
      const names = sysfsInterfaceNames({ now: () => now }, root);
      expect(names(1)).toBe('lo');
      mkdirSync(path.join(root, 'eth0'));
      writeFileSync(path.join(root, 'eth0/ifindex'), '2\n');
      expect(names(2)).toBe(null); // read less than a second ago
      now = 1000;
      expect(names(2)).toBe('eth0');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** The capture's first DATAGRAM frame with its NFULA_SEQ set to `seq`. */
function firstDatagramWithSeq(stream: Buffer, seq: number): Buffer {
  for (let p = 0; p < stream.length; ) {
    const len = stream.readUInt32LE(p + 4);
    if (stream.readUInt32LE(p) === 2) {
      const f = Buffer.from(stream.subarray(p, p + 8 + len));
      for (let a = 8 + 20; a + 4 <= f.length; ) {
        const alen = f.readUInt16LE(a);
        if ((f.readUInt16LE(a + 2) & 0x3fff) === 12) f.writeUInt32BE(seq, a + 4);
        a += (alen + 3) & ~3;
      }
      return f;
    }
    p += 8 + len;
  }
  throw new Error('no datagram');
}
