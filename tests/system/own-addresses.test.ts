/**
 * The ban guard's address list with the real `ip -o monitor link address`, in a network namespace of its
 * own: an address added there is seen by the next check without waiting for the list's age, and the
 * monitor dies with a helper killed by SIGKILL (setpriv --pdeathsig), never left behind.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { requireSystem } from '../support/system.ts';
import { NODE, ROOT, until } from './runner-support.ts';
import { netlinkSubscribed } from '../../electron/helper/own-addresses.ts';

const enabled = requireSystem('root', 'netns');
const NS = `pc-own-${process.pid}`;
const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });

/** A stand-in helper in NS: one check per "get" line on stdin, answered as JSON; first the monitor's pid. */
const HELPER = `
import { createInterface } from 'node:readline';
import { ownAddressCache } from ${JSON.stringify(path.join(ROOT, 'electron/helper/own-addresses.ts'))};
import { hostAddresses } from ${JSON.stringify(path.join(ROOT, 'electron/helper/ban-guard.ts'))};
let reads = 0;
const cache = ownAddressCache({ maxAgeMs: 3_600_000, read: () => (reads++, hostAddresses()) });
cache.get();
const { execFileSync } = await import('node:child_process');
// Until setpriv has exec'd ip (on a busy machine ps can still see setpriv itself), for at most 10 s.
let kids = '';
for (let i = 0; i < 200; i++) {
  kids = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  if (/ip -o monitor/.test(kids) && !/setpriv/.test(kids)) break;
  await new Promise((r) => setTimeout(r, 50));
}
console.log(JSON.stringify({ monitor: kids }));
createInterface({ input: process.stdin }).on('line', () => console.log(JSON.stringify({ addresses: cache.get(), reads })));
`;

describe.runIf(enabled)('own addresses, with the real ip monitor (namespace)', () => {
  afterEach(() => {
    try {
      ip('netns', 'del', NS);
    } catch {
      /* not there */
    }
  });

  it('sees an address added after the first check at once, and its monitor dies with a killed helper', async () => {
    ip('netns', 'add', NS);
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    const child = spawn('ip', ['netns', 'exec', NS, NODE, '--input-type=module', '-e', HELPER], { stdio: ['pipe', 'pipe', 'inherit'] });
    const answers: { monitor?: string; addresses?: string[]; reads?: number }[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => answers.push(JSON.parse(l)));
    try {
      await until(() => answers.length >= 1, 20_000, 'the helper to start');
      // setpriv set the parent-death signal and exec'd ip: the helper's child is ip itself.
      const m = /^\s*(\d+)\s+\/usr\/sbin\/ip -o monitor link address$/m.exec(answers[0]!.monitor!);
      expect(m, answers[0]!.monitor).not.toBeNull();
      const monitorPid = Number(m![1]);
      const ask = async () => {
        const n = answers.length;
        child.stdin!.write('get\n');
        await until(() => answers.length > n, 10_000, 'an answer');
        return answers.at(-1)!.addresses!;
      };
      expect(await ask()).toContain('127.0.0.1');
      expect(await ask()).not.toContain('192.0.2.55');
      ip('-n', NS, 'addr', 'add', '192.0.2.55/32', 'dev', 'lo');
      // The monitor's line arrives a moment later: the check sees the address from then on.
      let seen = false;
      for (let i = 0; i < 100 && !seen; i++) seen = (await ask()).includes('192.0.2.55');
      expect(seen).toBe(true);
      // The monitor has joined the kernel's groups (as /proc/net/netlink shows it), so the list is kept:
      // without that the guard would read it on every check, which the cache is for.
      expect(netlinkSubscribed(monitorPid, `/proc/${monitorPid}/net/netlink`)).toBe(true);
      await ask();
      const kept = answers.at(-1)!.reads!;
      await ask();
      await ask();
      expect(answers.at(-1)!.reads).toBe(kept);
      // SIGKILL to the node process: no exit handler runs, the kernel's parent-death signal kills the monitor.
      const helperPid = Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(monitorPid)], { encoding: 'utf8' }).trim());
      process.kill(helperPid, 'SIGKILL');
      await until(() => !existsSync(`/proc/${monitorPid}`), 10_000, 'the monitor to die with its helper');
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('sees the address of an interface brought up after the first check: no address event, only a link event', async () => {
    // os.networkInterfaces() lists only interfaces that are up and running. Bringing one up whose IPv4
    // address was configured earlier sends no address event (nor an IPv6 one: IPv6 is off on it), so a
    // monitor of address events alone kept a list without it for maxAgeMs — a ban of it passed the guard.
    ip('netns', 'add', NS);
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    ip('-n', NS, 'link', 'add', 'pcva', 'type', 'veth', 'peer', 'name', 'pcvb');
    execFileSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.pcva.disable_ipv6=1', 'net.ipv6.conf.pcvb.disable_ipv6=1']);
    ip('-n', NS, 'addr', 'add', '192.0.2.66/32', 'dev', 'pcva');
    ip('-n', NS, 'link', 'set', 'pcvb', 'up');
    const child = spawn('ip', ['netns', 'exec', NS, NODE, '--input-type=module', '-e', HELPER], { stdio: ['pipe', 'pipe', 'inherit'] });
    const answers: { monitor?: string; addresses?: string[]; reads?: number }[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => answers.push(JSON.parse(l)));
    try {
      await until(() => answers.length >= 1, 20_000, 'the helper to start');
      const ask = async () => {
        const n = answers.length;
        child.stdin!.write('get\n');
        await until(() => answers.length > n, 10_000, 'an answer');
        return answers.at(-1)!.addresses!;
      };
      expect(await ask()).not.toContain('192.0.2.66'); // pcva is down: not listed
      ip('-n', NS, 'link', 'set', 'pcva', 'up');
      let seen = false;
      for (let i = 0; i < 100 && !seen; i++) seen = (await ask()).includes('192.0.2.66');
      expect(seen).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
