/**
 * Drives the REAL CLI inside a lab's firewall namespace:
 *   ip netns exec <fw> node bin/portcullis.js run --source kmsg --json …
 * and reads its JSON lines (ready, ban, unban). Also helpers to query the firewall from inside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach } from 'vitest';
import { createLab, type Lab, type LabOptions } from '../support/netns.ts';
import { systemClock } from '../../electron/shared/domain.ts';
import type { BanRecord } from '../../electron/shared/model.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
/** Node 24 (type stripping): the project's own, whatever node runs vitest. */
export const NODE = existsSync(path.join(ROOT, 'node_modules/.bin/node')) ? path.join(ROOT, 'node_modules/.bin/node') : process.execPath;
const CLI = path.join(ROOT, 'bin/portcullis.js');
const CLEAN_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' };

export interface RunnerLine {
  type: string;
  ip?: string;
  [k: string]: unknown;
}

export interface RunningCli {
  child: ChildProcess;
  lines: RunnerLine[];
  stderr: string[];
  stateDir: string;
  waitFor(pred: (l: RunnerLine) => boolean, timeoutMs?: number, what?: string): Promise<RunnerLine>;
  bans(): string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempStateDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'pc-run-'));
}

export function writeConfig(dir: string, config: unknown): string {
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** `nodeArgs`: options for node itself (a bench's --cpu-prof); `opts`: another checkout's bin/portcullis.js, more environment, a wrapping command (benches). */
export async function startCli(lab: Lab, args: string[], stateDir: string, nodeArgs: string[] = [], opts: { cli?: string; env?: Record<string, string>; wrap?: string[] } = {}): Promise<RunningCli> {
  // `wrap`: a command that execs the rest (a bench's setpriv, to run node with the unit's capabilities).
  const child = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, ...(opts.wrap ?? []), NODE, ...nodeArgs, opts.cli ?? CLI, ...args, '--state-dir', stateDir, '--json'], {
    env: { ...CLEAN_ENV, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: RunnerLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  let exited: number | null | undefined;
  const exitP = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      for (const w of waiters) w();
      resolve(code);
    }),
  );
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as RunnerLine);
    } catch {
      lines.push({ type: 'text', text: l });
    }
    for (const w of waiters) w();
  });
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const waitFor = (pred: (l: RunnerLine) => boolean, timeoutMs = 15_000, what = 'a line'): Promise<RunnerLine> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit) {
          done();
          resolve(hit);
        } else if (exited !== undefined) {
          done();
          reject(new Error(`portcullis exited (${exited}) before ${what}.\nstdout: ${JSON.stringify(lines)}\nstderr: ${stderr.join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}.\nstdout: ${JSON.stringify(lines)}\nstderr: ${stderr.join('\n')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const cli: RunningCli = {
    child,
    lines,
    stderr,
    stateDir,
    waitFor,
    bans: () => lines.filter((l) => l.type === 'ban').map((l) => l.ip!),
    stop: async (signal = 'SIGTERM') => {
      if (exited !== undefined) return exited;
      // `ip netns exec` execs node (same pid), so the signal reaches portcullis itself.
      child.kill(signal);
      return exitP;
    },
  };
  await waitFor((l) => l.type === 'ready', 30_000, 'the ready line');
  return cli;
}

/** One-shot CLI command (status, bans, ban, unban, doctor) in the firewall namespace. */
export async function cliOnce(lab: Lab, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await lab.exec(lab.fwNs, [NODE, CLI, ...args], { timeoutMs: 60_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** Portcullis-tagged rules in `ufw status` (one line per rule, v4 and v6). */
export async function taggedUfwRules(lab: Lab): Promise<string[]> {
  const out = await lab.ufw('status');
  return out.split('\n').filter((l) => l.includes('portcullis-ban'));
}

export async function setMembers(lab: Lab, family: 4 | 6): Promise<string[]> {
  const r = await lab.exec(lab.fwNs, ['ipset', 'list', family === 4 ? 'portcullis-ban4' : 'portcullis-ban6']);
  if (r.code !== 0) return [];
  const body = r.stdout.split('Members:\n')[1] ?? '';
  return body
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0]!)
    .filter(Boolean);
}

export async function until(pred: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * One lab, its state directory and the CLI running in it, per test (what the runner and serve
 * system tests all set up the same way): `lab()` creates the lab and a state directory, `start()`
 * writes the settings file there and starts the CLI in the lab with `--config` on it, `run()` does
 * both. After each test the CLI is killed (SIGKILL), the lab cleaned up and the state dir removed.
 * Call it at the top of a describe block.
 */
export function labPerTest() {
  let lab: Lab | null = null;
  let stateDir: string | null = null;
  let cli: RunningCli | null = null;
  afterEach(async () => {
    await cli?.stop('SIGKILL');
    cli = null;
    await lab?.cleanup();
    lab = null;
    if (stateDir) removeDir(stateDir);
    stateDir = null;
  });
  const t = {
    async lab(opts?: LabOptions): Promise<{ lab: Lab; stateDir: string }> {
      lab = await createLab(opts);
      stateDir = tempStateDir();
      return { lab, stateDir };
    },
    /** Starts `argv` plus `--config FILE` (the settings written to the state dir) in the lab of lab(). */
    async start(argv: string[], settings: unknown): Promise<RunningCli> {
      if (!lab || !stateDir) throw new Error('labPerTest: lab() first');
      cli = await startCli(lab, [...argv, '--config', writeConfig(stateDir, settings)], stateDir);
      return cli;
    },
    async run(argv: string[], settings: unknown, opts?: LabOptions): Promise<{ lab: Lab; stateDir: string; cli: RunningCli }> {
      const made = await t.lab(opts);
      return { ...made, cli: await t.start(argv, settings) };
    },
  };
  return t;
}

/** Addresses for stored bans: 100.64.0.0/10 and 2001:db8:ffff::/48, never the lab's. */
export const storedBanV4 = (i: number) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
export const storedBanV6 = (i: number) => `2001:db8:ffff::${(i + 1).toString(16)}`;

/**
 * The restore tests' start: `n4` + `n6` active manual bans written into the state dir's store (as an
 * earlier run left them, while the firewall lacks them: a reboot, a crash), then `portcullis run`
 * with `backend` and fast detection; the ready line must count every stored ban.
 */
export async function startOnStoredBans(t: ReturnType<typeof labPerTest>, backend: 'set' | 'ufw', n4: number, n6: number): Promise<{ lab: Lab; stateDir: string; cli: RunningCli }> {
  const { lab, stateDir } = await t.lab();
  const now = Date.now();
  const store = new SqliteStore({ path: path.join(stateDir, 'portcullis.db'), clock: systemClock });
  const ban = (ip: string): BanRecord => ({ ip, at: now - 60_000, until: now + 3_600_000, strikes: 1, reason: { kind: 'manual', ports: [], hits: 0, firstSeen: now - 60_000, lastSeen: now - 60_000 } });
  store.recordBans([...Array.from({ length: n4 }, (_, i) => ban(storedBanV4(i))), ...Array.from({ length: n6 }, (_, i) => ban(storedBanV6(i)))]);
  store.close();
  const cli = await t.start(['run', '--source', 'kmsg', '--backend', backend], {
    detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
    ban: { backend, bantimeSec: 600, maxbantimeSec: 3600, increment: false },
    logs: { source: 'kmsg' },
  });
  const ready = cli.lines.find((l) => l.type === 'ready');
  if (ready?.activeBans !== n4 + n6) throw new Error(`the ready line counted ${String(ready?.activeBans)} active bans, not the ${n4 + n6} stored`);
  return { lab, stateDir, cli };
}
