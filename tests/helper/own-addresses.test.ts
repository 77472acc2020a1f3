/**
 * The ban guard's list of this host's addresses (helper/own-addresses.ts): read once and kept while
 * the change monitor is quiet; a change line, the monitor's end or the list's age makes the next
 * check read it again. The real `ip monitor` in a namespace: tests/system/own-addresses.test.ts.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ownAddressCache } from '../../electron/helper/own-addresses.ts';

/** A stand-in for `ip -o monitor address`: a process with stdio that a test can write to and end. */
function fakeMonitor() {
  const proc = Object.assign(new EventEmitter(), {
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    killed: false,
    kill() {
      proc.killed = true;
      proc.emit('exit', null, 'SIGTERM');
      return true;
    },
    unref() {},
  });
  return proc;
}

function setup(maxAgeMs = 60_000) {
  let addresses = ['127.0.0.1', '192.0.2.10'];
  let reads = 0;
  let t = 0;
  let subscribed = true;
  const monitors: ReturnType<typeof fakeMonitor>[] = [];
  const cache = ownAddressCache({
    read: () => (reads++, [...addresses]),
    monitor: () => {
      const m = fakeMonitor();
      monitors.push(m);
      return m as unknown as ChildProcess;
    },
    subscribed: () => subscribed,
    maxAgeMs,
    now: () => t,
  });
  return {
    cache,
    monitors,
    get reads() {
      return reads;
    },
    set addresses(a: string[]) {
      addresses = a;
    },
    set subscribed(v: boolean) {
      subscribed = v;
    },
    advance: (ms: number) => void (t += ms),
  };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('ownAddressCache', () => {
  it('reads once while the monitor is quiet, starting the monitor once', () => {
    const s = setup();
    expect(s.cache.get()).toEqual(['127.0.0.1', '192.0.2.10']);
    for (let i = 0; i < 100; i++) s.cache.get();
    expect(s.reads).toBe(1);
    expect(s.monitors).toHaveLength(1);
  });

  it('warm starts the monitor without reading the list; the first check then starts no second one', () => {
    const s = setup();
    s.cache.warm();
    expect(s.monitors).toHaveLength(1);
    expect(s.reads).toBe(0);
    s.cache.warm();
    s.cache.get();
    s.cache.get();
    expect(s.monitors).toHaveLength(1);
    expect(s.reads).toBe(1);
  });

  it('an address change the monitor prints makes the next check read the new list', async () => {
    const s = setup();
    s.cache.get();
    s.addresses = ['127.0.0.1', '192.0.2.10', '198.51.100.7'];
    s.monitors[0]!.stdout.write('3: eth0    inet 198.51.100.7/24 scope global eth0\n');
    await tick();
    expect(s.cache.get()).toContain('198.51.100.7');
    expect(s.reads).toBe(2);
  });

  it('without a running monitor every check reads the list (as before the cache)', async () => {
    const s = setup();
    s.cache.get();
    s.monitors[0]!.emit('exit', 1, null);
    s.cache.get();
    s.cache.get();
    expect(s.reads).toBe(3);
    expect(s.monitors).toHaveLength(1); // not restarted in a loop
  });

  it('a monitor that cannot start leaves the guard reading every time', () => {
    let reads = 0;
    const cache = ownAddressCache({
      read: () => (reads++, ['127.0.0.1']),
      monitor: () => {
        throw new Error('spawn ENOENT');
      },
    });
    cache.get();
    cache.get();
    expect(reads).toBe(2);
  });

  it('a list older than maxAgeMs is read again even when the monitor said nothing (its first moments)', () => {
    const s = setup(10_000);
    s.cache.get();
    s.advance(9_999);
    s.cache.get();
    expect(s.reads).toBe(1);
    s.advance(2);
    s.cache.get();
    expect(s.reads).toBe(2);
  });

  it('close stops the monitor; no monitor at all reads every time', () => {
    const s = setup();
    s.cache.get();
    s.cache.close();
    expect(s.monitors[0]!.killed).toBe(true);
    let reads = 0;
    const none = ownAddressCache({ read: () => (reads++, []), monitor: null });
    none.get();
    none.get();
    expect(reads).toBe(2);
  });

  it('reads every time until the monitor has joined the kernel\'s groups, then keeps the list read after that', () => {
    // A change between the first read and the monitor's subscription would never be printed: the
    // list read then could stay wrong for maxAgeMs, and a ban of a new address of this host pass.
    const s = setup();
    s.subscribed = false;
    s.cache.get();
    s.cache.get();
    expect(s.reads).toBe(2);
    s.subscribed = true;
    s.addresses = ['127.0.0.1', '192.0.2.10', '198.51.100.7'];
    expect(s.cache.get()).toContain('198.51.100.7'); // read once subscribed
    s.cache.get();
    expect(s.reads).toBe(3);
  });

  it('anything the monitor writes to stderr (a netlink overrun: changes lost) drops the list', async () => {
    const s = setup();
    s.cache.get();
    s.addresses = ['127.0.0.1', '192.0.2.10', '198.51.100.8'];
    s.monitors[0]!.stderr.write('netlink receive error No buffer space available (105)\n');
    await tick();
    expect(s.cache.get()).toContain('198.51.100.8');
    expect(s.reads).toBe(2);
  });

  it('after close (the socket helper closes the dispatcher whenever its client leaves) the next check starts a new monitor and keeps its list again', () => {
    const s = setup();
    s.cache.get();
    s.cache.close();
    expect(s.monitors[0]!.killed).toBe(true);
    s.cache.get();
    s.cache.get();
    s.cache.get();
    expect(s.monitors).toHaveLength(2);
    expect(s.reads).toBe(2);
  });
});
