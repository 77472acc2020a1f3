/**
 * `npx portcullis serve` is npm exec → sh -c → node. A SIGTERM to the command the user started
 * (npx) used to end npm and leave node serving, orphaned (issue 15). Now the command stops what it
 * started. A dry run reading a file needs neither root nor the firewall.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parentOf, startedByNpm, watchParents } from '../../bin/parent-watch.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Every process below `pid`, with its command line. */
function descendants(pid: number): { pid: number; cmd: string }[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const out: { pid: number; cmd: string }[] = [];
  const want = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (want.has(p)) continue;
      const pp = parentOf(p);
      if (pp !== null && want.has(pp)) {
        want.add(p);
        let cmd = '';
        try {
          cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
        } catch {
          /* gone */
        }
        out.push({ pid: p, cmd });
        grew = true;
      }
    }
  }
  return out;
}

const alive = (pid: number) => parentOf(pid) !== null && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

describe('stopping `npx portcullis serve`', () => {
  it('a SIGTERM to npx stops the node process it started (it used to keep serving, orphaned)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pc-npx-'));
    const log = path.join(dir, 'fw.log');
    writeFileSync(log, '');
    let npx: ChildProcess | null = spawn('npx', ['portcullis', 'serve', '--port', '0', '--dry-run', '--state-dir', dir, '--source', `file:${log}`], {
      cwd: ROOT,
      env: { ...process.env, PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npx.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    npx.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    let server: number | null = null;
    cleanups.push(() => {
      if (server !== null && alive(server)) process.kill(server, 'SIGKILL');
      npx?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    await vi.waitFor(() => expect(out).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/m), { timeout: 60_000, interval: 200 });
    const node = descendants(npx.pid!).find((p) => / serve /.test(p.cmd) && !p.cmd.startsWith('npm') && !p.cmd.startsWith('sh '));
    expect(node, `the server under npx: ${JSON.stringify(descendants(npx.pid!))}`).toBeTruthy();
    server = node!.pid;
    expect(server).not.toBe(npx.pid);

    npx.kill('SIGTERM');
    await new Promise((r) => npx!.once('exit', r));
    npx = null;
    await vi.waitFor(() => expect(alive(server!)).toBe(false), { timeout: 15_000, interval: 100 });
  }, 90_000);

  it('the watch fires when the parent is gone, not while it lives; and only npm starts it', async () => {
    // A child `sleep` stands in for the parent (npm's shell).
    const sleeper = spawn('sleep', ['30']);
    cleanups.push(() => sleeper.kill('SIGKILL'));
    let fired = 0;
    const stop = watchParents(() => fired++, { periodMs: 20, pid: sleeper.pid!, ppid: process.pid });
    cleanups.push(stop);
    await new Promise((r) => setTimeout(r, 100));
    expect(fired).toBe(0);
    // The watched process's parent changes (it is re-parented when its parent dies): simulate by watching with a wrong ppid.
    let fired2 = 0;
    const stop2 = watchParents(() => fired2++, { periodMs: 20, pid: sleeper.pid!, ppid: process.pid + 1_000_000 });
    cleanups.push(stop2);
    await vi.waitFor(() => expect(fired2).toBe(1), { timeout: 2000, interval: 20 });
    expect(startedByNpm({ npm_command: 'exec' })).toBe(true);
    expect(startedByNpm({})).toBe(false);
  });
});
