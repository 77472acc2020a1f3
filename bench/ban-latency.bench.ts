/**
 * Ban latency, ban throughput with many bans, and restore at scale, in network namespaces against real
 * ufw (needs root). What a user sees, through the real `portcullis run --source kmsg`:
 *   (a) 5th probe → blocked: from the SYN of the threshold-crossing (5th) probe to the first NEW
 *       connection to the open port 22 that gets no answer, per backend, IPv4 and IPv6 — the kernel
 *       logging the probe, the runner reading, detecting, banning (the conntrack cut follows the block);
 *   (b) fail2ban with the seed's portscan jail on the same scenario, in the same run;
 *   (c) with 10k active bans: the set backend's ban and unban (the product's path: one long-lived
 *       `ipset restore`), and a ban through the control socket (`portcullis ban`'s API call);
 *   (d) restore after a reboot: a runner starting on a store of 10k active bans with empty kernel sets,
 *       start → ready and → every ban back in the kernel;
 *   (e) the same for the ufw backend (10k bans ufw lacks, as after a crash between store and ufw):
 *       batches written into ufw's rules files, one load (iptables-restore -n, as ufw) each.
 * Prints medians and spreads, asserts nothing. `npm run bench -- ban-latency` (under the system lock);
 * BAN_LATENCY_ONLY=set|ufw|f2b|scale|scale-set|scale-ufw runs one part.
 *
 * `BAN_LATENCY_DEBUG=DIR` keeps each runner's audit log and output lines there (where a ban's time went).
 *
 * Lab hygiene (each of these made an earlier version of this bench report 2.5 s for ufw where a host
 * sees ~250 ms): every backend gets a FRESH lab (no set block while measuring ufw, no rules left by
 * another backend); no `ufw reload` between Portcullis trials — ufw's own log budget (one for all
 * sources, 3/min) is replaced by Portcullis's per-source logging block with a large budget, and ufw's
 * own logging is off so each probe is logged once; every trial ends with the ban lifted and port 22
 * answering again.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../electron/shared/domain.ts';
import type { BanRecord } from '../electron/shared/model.ts';
import { SqliteStore } from '../electron/engine/store/sqlite.ts';
import { ControlClient } from '../electron/headless/control.ts';
import { installPerSourceLogging, installSetBlock } from '../electron/helper/firewall/index.ts';
import { createLab, type Lab } from '../tests/support/netns.ts';
import { cliOnce, removeDir, startCli, tempStateDir, writeConfig, type RunningCli } from '../tests/system/runner-support.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const quantile = (xs: number[], q: number): number => {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  return s[Math.floor(i)]! + (s[Math.ceil(i)]! - s[Math.floor(i)]!) * (i - Math.floor(i));
};
const median = (xs: number[]) => quantile(xs, 0.5);
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const spread = (xs: number[]) => `p10 ${fmt(quantile(xs, 0.1))} p90 ${fmt(quantile(xs, 0.9))} min ${fmt(Math.min(...xs))} max ${fmt(Math.max(...xs))} (n=${xs.length})`;
/** Filler addresses for pre-existing bans: 100.64.0.0/10 (shared address space), never the lab's. */
const filler = (i: number) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

if (process.getuid?.() !== 0) {
  console.log('ban-latency: SKIPPED — needs root (network namespaces, ufw, ipset)');
  process.exit(0);
}

const BLOCK_TIMEOUT_MS = 50;
const CONFIRM = 3;

/**
 * Probes port 22 back to back with NEW connections; resolves with the time the first probe of the final
 * unanswered run was sent — blocked means blocked from then on (CONFIRM more probes unanswered).
 */
async function blockedAt(lab: Lab, dst: string, deadlineMs = 10_000): Promise<number> {
  const end = performance.now() + deadlineMs;
  let firstDropped = NaN;
  let dropped = 0;
  while (performance.now() < end) {
    const sent = performance.now();
    const r = await lab.probe(lab.scanner.ns, dst, 22, { timeoutMs: BLOCK_TIMEOUT_MS });
    if (r === 'timeout') {
      if (dropped++ === 0) firstDropped = sent;
      if (dropped > CONFIRM) return firstDropped;
    } else dropped = 0;
  }
  return NaN;
}

async function reachable(lab: Lab, dst: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await lab.canConnect(lab.scanner.ns, dst, 22, 200)) return;
    await sleep(20);
  }
  throw new Error('port 22 never became reachable again');
}

async function ufwLab(): Promise<Lab> {
  const lab = await createLab({ scanners: 1 });
  // One log line per probe, per-source budget: no reload needed between trials.
  // ufw's own logging off FIRST: `ufw logging off` left the block's LOG rule unloaded until the next reload.
  await lab.ufw('logging', 'off');
  await installPerSourceLogging(lab.fwExec, { etcDir: lab.ufwDir, ratePerMinute: 10_000, burst: 1_000 });
  return lab;
}

const runnerConfig = (backend: 'set' | 'ufw') => ({
  detection: { findtimeSec: 600, maxretry: 5, minDistinctPorts: 3 },
  ban: { backend, bantimeSec: 600, maxbantimeSec: 3600, increment: false },
  logs: { source: 'kmsg' },
});

// ---- (a) 5th probe → blocked, through the real runner ---------------------------------------------------

async function portcullisLatency(lab: Lab, backend: 'set' | 'ufw', family: 4 | 6, trials: number): Promise<{ e2e: number[]; runnerMs: number[] }> {
  const stateDir = tempStateDir();
  const config = writeConfig(stateDir, runnerConfig(backend));
  const cli = await startCli(lab, ['run', '--source', 'kmsg', '--backend', backend, '--config', config], stateDir);
  const s = lab.scanner;
  const dst = family === 4 ? s.fwV4 : s.fwV6;
  const e2e: number[] = [];
  const runnerMs: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      await reachable(lab, dst);
      const base = 41_000 + family * 1000 + i * 10;
      for (let p = 0; p < 4; p++) await lab.probe(s.ns, dst, base + p, { timeoutMs: 20 });
      // The 5th probe is not awaited: a dropped probe only "returns" at its timeout.
      const t5 = performance.now();
      const fifth = lab.probe(s.ns, dst, base + 4, { timeoutMs: 20 });
      const blocked = await blockedAt(lab, dst, 15_000);
      await fifth;
      if (!Number.isFinite(blocked)) throw new Error(`trial ${i}: the scanner was never blocked (runner output: ${JSON.stringify(cli.lines.slice(-3))} ${cli.stderr.slice(-3).join(' | ')})`);
      e2e.push(blocked - t5);
      await cli.waitFor(() => cli.lines.filter((x) => x.type === 'ban').length === i + 1, 15_000, `ban line ${i + 1}`);
      const banLine = cli.lines.filter((x) => x.type === 'ban')[i]!;
      if (typeof banLine.latencyMs === 'number') runnerMs.push(banLine.latencyMs);
      const scannerIp = cli.lines.filter((l) => l.type === 'ban').at(-1)!.ip!;
      const r = await cliOnce(lab, ['unban', scannerIp, '--state-dir', stateDir]);
      if (r.code !== 0) throw new Error(`unban failed: ${r.stderr}`);
    }
  } finally {
    await cli.stop();
    if (process.env.BAN_LATENCY_DEBUG) {
      const fs = await import('node:fs');
      // One pair of files per runner (backend, family, the runner's pid): a later runner must not overwrite an earlier one's.
      const tag = `${backend}${family}-${cli.lines.find((l) => l.type === 'ready')?.pid ?? 'x'}`;
      fs.copyFileSync(`${stateDir}/audit.log`, `${process.env.BAN_LATENCY_DEBUG}/audit-${tag}.log`);
      fs.writeFileSync(`${process.env.BAN_LATENCY_DEBUG}/lines-${tag}.json`, JSON.stringify({ lines: cli.lines, stderr: cli.stderr, e2e, runnerMs }, null, 1));
    }
    removeDir(stateDir);
  }
  return { e2e, runnerMs };
}

// ---- (c) fail2ban, the seed's jail -------------------------------------------------------------------

async function fail2banLatency(lab: Lab, trials: number): Promise<{ samples: number[]; note: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-f2b-'));
  const conf = join(dir, 'conf');
  cpSync('/etc/fail2ban', conf, { recursive: true });
  rmSync(join(conf, 'jail.d'), { recursive: true, force: true }); // Debian enables sshd there
  const logpath = join(dir, 'ufw.log');
  writeFileSync(logpath, '');
  writeFileSync(join(conf, 'fail2ban.local'), `[Definition]\nloglevel = INFO\nlogtarget = ${dir}/fail2ban.log\nsocket = ${dir}/f2b.sock\npidfile = ${dir}/f2b.pid\ndbfile = ${dir}/f2b.sqlite3\n`);
  writeFileSync(join(conf, 'filter.d', 'portscan.conf'), '[Definition]\nfailregex = UFW BLOCK.* SRC=<HOST>\nignoreregex =\n');
  writeFileSync(
    join(conf, 'action.d', 'ufw-prepend.conf'),
    '[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban = ufw prepend deny from <ip>\nactionunban = ufw delete deny from <ip>\n',
  );
  writeFileSync(
    join(conf, 'jail.local'),
    `[DEFAULT]\nignoreip = 127.0.0.1/8 ::1\n\n[portscan]\nenabled = true\nfilter = portscan\naction = ufw-prepend\nlogpath = ${logpath}\nbackend = pyinotify\nmaxretry = 5\nfindtime = 600\nbantime = 600\n`,
  );
  const server = spawn('ip', ['netns', 'exec', lab.fwNs, 'fail2ban-server', '-f', '-x', '-c', conf, '-s', `${dir}/f2b.sock`, '-p', `${dir}/f2b.pid`], {
    stdio: 'ignore',
  });
  const client = (...args: string[]) => lab.exec(lab.fwNs, ['fail2ban-client', '-c', conf, '-s', `${dir}/f2b.sock`, ...args]);
  // The kernel lines, written like rsyslog writes /var/log/ufw.log (fail2ban needs a date per line).
  const cap = lab.kmsg();
  let forwarded = cap.lines().length;
  const forward = setInterval(() => {
    const lines = cap.lines();
    for (; forwarded < lines.length; forwarded++) {
      const msg = lines[forwarded]!.replace(/^<\d+>\[\s*[\d.]+\]\s*/, '');
      const d = new Date();
      const stamp = `${d.toLocaleString('en-US', { month: 'short' })} ${String(d.getDate()).padStart(2, ' ')} ${d.toTimeString().slice(0, 8)}`;
      appendFileSync(logpath, `${stamp} ${lab.fwNs} kernel: ${msg}\n`);
    }
  }, 1); // polling every ms: adds < 1 ms to what fail2ban sees, where rsyslog would add its own delay
  const samples: number[] = [];
  let note = '';
  let missed = 0;
  try {
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = (await client('status', 'portscan')).code === 0;
      if (!up) await sleep(100);
    }
    if (!up) return { samples, note: `fail2ban did not start: ${readFileSync(`${dir}/fail2ban.log`, 'utf8').slice(-500)}` };
    const s = lab.scanner;
    for (let i = 0; i < trials; i++) {
      await reachable(lab, lab.scanner.fwV4);
      // ufw logs through one budget (burst 10, 3/min): a reload refills it, so every trial is logged.
      await lab.ufw('reload');
      for (let p = 0; p < 4; p++) await lab.probe(s.ns, s.fwV4, 40_000 + i * 10 + p, { timeoutMs: 20 });
      const t5 = performance.now(); // as for Portcullis: port 22 is watched from the 5th probe on
      const fifth = lab.probe(s.ns, s.fwV4, 40_000 + i * 10 + 4, { timeoutMs: 20 });
      const blocked = await blockedAt(lab, lab.scanner.fwV4, 15_000);
      await fifth;
      // A trial that never blocked is counted in the note, not averaged in (a NaN made min/max "n/a").
      if (Number.isFinite(blocked)) samples.push(blocked - t5);
      else missed++;
      await client('set', 'portscan', 'unbanip', s.v4);
    }
    if (missed > 0) note = `${missed} of ${trials} trials never blocked within 15 s`;
  } finally {
    clearInterval(forward);
    cap.stop();
    await client('stop');
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  return { samples, note };
}

// ---- (c) 10k active bans: the backend's ban/unban and the API's ban -----------------------------------

const AGENT = String.raw`
import { createInterface } from 'node:readline';
const fw = await import(process.env.PC_FIREWALL);
const { execArgv } = await import(process.env.PC_EXEC);
const session = fw.ipsetRestoreSession();
const set = fw.createBanBackend('set', execArgv, { cutConnections: false, ipsetSession: session });
const forked = fw.createBanBackend('set', execArgv, { cutConnections: false });
createInterface({ input: process.stdin }).on('line', async (line) => {
  const q = JSON.parse(line); const b = q.backend === 'set' ? set : forked;
  try {
    const per = [];
    if (q.op === 'banMany') { const t = performance.now(); await b.banMany(q.ips.map((ip) => ({ ip, timeoutSec: 3600, comment: 'bench' }))); per.push(performance.now() - t); }
    else for (const ip of q.ips) { const t = performance.now(); await (q.op === 'ban' ? b.ban(ip, 3600, 'bench') : b.unban(ip)); per.push(performance.now() - t); }
    process.stdout.write(JSON.stringify({ id: q.id, per }) + '\n');
  } catch (e) { process.stdout.write(JSON.stringify({ id: q.id, error: String(e) }) + '\n'); }
});
`;

function startAgent(lab: Lab) {
  const root = new URL('..', import.meta.url).pathname;
  const child = spawn('ip', ['netns', 'exec', lab.fwNs, process.execPath, '--input-type=module', '-e', AGENT], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', PC_FIREWALL: `${root}electron/helper/firewall/index.ts`, PC_EXEC: `${root}electron/helper/exec.ts` },
  });
  const pending = new Map<number, { resolve: (per: number[]) => void; reject: (e: Error) => void }>();
  let next = 1;
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const r = JSON.parse(buf.slice(0, nl)) as { id: number; per?: number[]; error?: string };
      buf = buf.slice(nl + 1);
      const p = pending.get(r.id);
      pending.delete(r.id);
      if (r.error !== undefined) p?.reject(new Error(r.error));
      else p?.resolve(r.per!);
    }
  });
  return {
    run: (backend: 'set' | 'forked', op: 'ban' | 'unban' | 'banMany', ips: string[]) =>
      new Promise<number[]>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        child.stdin!.write(JSON.stringify({ id, backend, op, ips }) + '\n');
      }),
    close: () => child.kill('SIGKILL'),
  };
}

async function setCount(lab: Lab, family: 4 | 6): Promise<number> {
  const r = await lab.exec(lab.fwNs, ['ipset', 'list', '-t', family === 4 ? 'portcullis-ban4' : 'portcullis-ban6']);
  const m = /Number of entries: (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : -1;
}

function seedStore(stateDir: string, n: number): void {
  const now = Date.now();
  const store = new SqliteStore({ path: join(stateDir, 'portcullis.db'), clock: systemClock });
  const bans: BanRecord[] = Array.from({ length: n }, (_, i) => ({
    ip: filler(i),
    at: now - 60_000,
    until: now + 3_600_000,
    strikes: 1,
    reason: { kind: 'manual', ports: [], hits: 0, firstSeen: now - 60_000, lastSeen: now - 60_000 },
  }));
  store.recordBans(bans);
  store.close();
}

/** Starts a runner on a store of n active bans (sets empty, as after a reboot); times ready and the restore. */
async function restoreRun(lab: Lab, backend: 'set' | 'ufw', n: number, waitAll: boolean): Promise<{ cli: RunningCli; stateDir: string; readyMs: number; allInMs: number }> {
  const stateDir = tempStateDir();
  seedStore(stateDir, n);
  const config = writeConfig(stateDir, runnerConfig(backend));
  const t0 = performance.now();
  const prof = process.env.BAN_LATENCY_CPU_PROF; // the runner's CPU profile (where the API ban's time goes)
  const cli = await startCli(lab, ['run', '--source', 'kmsg', '--backend', backend, '--config', config], stateDir, prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []);
  const readyMs = performance.now() - t0;
  let allInMs = NaN;
  if (waitAll) {
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline) {
      if ((await setCount(lab, 4)) >= n) {
        allInMs = performance.now() - t0;
        break;
      }
      await sleep(20);
    }
  }
  return { cli, stateDir, readyMs, allInMs };
}

/** API ban calls over the control socket (what `portcullis ban` sends), one after another. */
async function apiBans(stateDir: string, n: number, offset: number): Promise<number[]> {
  const c = new ControlClient(join(stateDir, 'control.sock'));
  const per: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await c.call('ban', { ip: filler(offset + i), durationSec: 3600 });
      per.push(performance.now() - t);
    }
    const t = performance.now();
    const r = await c.call('banMany', { ips: Array.from({ length: 1000 }, (_, i) => filler(offset + n + i)), durationSec: 3600 });
    const bulk = performance.now() - t;
    if (r.banned !== 1000) throw new Error(`banMany banned ${r.banned}`);
    per.push(-bulk); // the last entry: the bulk call, negative to tell it apart
  } finally {
    c.close();
  }
  return per;
}

// ---- run ---------------------------------------------------------------------------------------------

const started = performance.now();
const rows: string[][] = [];
const latency: Record<string, number> = {};
const row = (...r: string[]) => {
  rows.push(r);
  console.log(`  ${r.filter(Boolean).join(' | ')}`); // as it comes: a later failure keeps the figures so far
};
const only = process.env.BAN_LATENCY_ONLY ?? ''; // e.g. "set", "ufw", "f2b", "scale": run one part

if (!only || only === 'set') {
  const lab = await ufwLab();
  try {
    await installSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
    for (const family of [4, 6] as const) {
      // Three runners of seven trials each: the first ban after a start (the first scanner after a
      // boot) pays whatever the service still starts lazily, so it gets a row of its own.
      const r = { e2e: [] as number[], runnerMs: [] as number[] };
      const first = { e2e: [] as number[], runnerMs: [] as number[] };
      for (let start = 0; start < 3; start++) {
        const one = await portcullisLatency(lab, 'set', family, 7);
        r.e2e.push(...one.e2e);
        r.runnerMs.push(...one.runnerMs);
        first.e2e.push(one.e2e[0]!);
        if (one.runnerMs.length) first.runnerMs.push(one.runnerMs[0]!);
      }
      latency[`set${family}`] = median(r.e2e);
      row(`5th probe → blocked on :22, portcullis run, set, IPv${family}`, `${fmt(median(r.e2e))} ms`, spread(r.e2e), '≤ 10 ms');
      row(`  runner's BAN line: decision → block confirmed (ipset's answer), set, IPv${family}`, `${fmt(median(r.runnerMs))} ms`, spread(r.runnerMs), '');
      row(`  the first ban after each of the 3 starts: 5th probe → blocked; BAN line, IPv${family}`, `${first.e2e.map((x) => fmt(x)).join(' / ')} ms`, `BAN line ${first.runnerMs.map((x) => fmt(x)).join(' / ')} ms`, '');
    }
  } finally {
    await lab.cleanup();
  }
}

if (!only || only === 'ufw' || only === 'f2b') {
  const lab = await ufwLab(); // fresh: no set block, no rules of another backend
  try {
    if (only !== 'f2b') {
      const r = await portcullisLatency(lab, 'ufw', 4, 7);
      latency.ufw = median(r.e2e);
      row('5th probe → blocked on :22, portcullis run, ufw, IPv4', `${fmt(median(r.e2e))} ms`, spread(r.e2e), '≤ 300 ms');
      row("  runner's BAN line: decision → ufw's rule written", `${fmt(median(r.runnerMs))} ms`, spread(r.runnerMs), '');
      const cliCost: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await lab.ufw('prepend', 'deny', 'from', `203.0.113.${10 + i}`, 'comment', 'portcullis-ban bench');
        cliCost.push(performance.now() - t);
      }
      for (let i = 0; i < 5; i++) await lab.ufw('delete', 'deny', 'from', `203.0.113.${10 + i}`);
      row('  the ufw CLI alone: ufw prepend deny (ip netns exec included)', `${fmt(median(cliCost))} ms`, spread(cliCost), '');
      // The same command while the scanner keeps probing the open port, as during a trial (blockedAt):
      // what the product's ban pays when it runs the ufw CLI (issue 14: ~30 iptables forks each).
      const busyCost: number[] = [];
      let probing = true;
      const loop = (async () => {
        while (probing) await lab.probe(lab.scanner.ns, lab.scanner.fwV4, 22, { timeoutMs: BLOCK_TIMEOUT_MS });
      })();
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await lab.ufw('prepend', 'deny', 'from', `203.0.113.${10 + i}`, 'comment', 'portcullis-ban bench');
        busyCost.push(performance.now() - t);
      }
      probing = false;
      await loop;
      for (let i = 0; i < 5; i++) await lab.ufw('delete', 'deny', 'from', `203.0.113.${10 + i}`);
      row('  the same while the scanner probes the open port (as in a trial)', `${fmt(median(busyCost))} ms`, spread(busyCost), '');
    }
    if (!only || only === 'f2b') {
      // fail2ban reads ufw's own [UFW BLOCK] lines: ufw logging back on (budget refilled by a reload per trial).
      await lab.ufw('logging', 'low');
      const f2b = await fail2banLatency(lab, 5);
      latency.fail2ban = median(f2b.samples);
      row('5th probe → blocked, fail2ban + ufw (seed jail)', `${fmt(latency.fail2ban)} ms`, f2b.samples.length ? `${spread(f2b.samples)}${f2b.note ? `; ${f2b.note}` : ''}` : f2b.note, '');
    }
  } finally {
    await lab.cleanup();
  }
}

if (!only || only === 'scale' || only === 'scale-set') {
  const N = 10_000;
  const lab = await ufwLab();
  try {
    await installSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
    // (d) restore after a reboot, set backend, and the API at 10k active bans on that runner.
    const run = await restoreRun(lab, 'set', N, true);
    row(`restore ${N} bans after a reboot, set: start → ready line`, `${fmt(run.readyMs)} ms`, 'ready does not wait for the restore', '');
    row(`restore ${N} bans after a reboot, set: start → all ${N} in the kernel`, `${fmt(run.allInMs)} ms`, `ready → all in: ${fmt(run.allInMs - run.readyMs)} ms`, '≤ 1 s after start of restore');
    const api = await apiBans(run.stateDir, 200, 20_000);
    const bulk = -api.pop()!;
    row(`API ban over the control socket at ${N} active bans (200 in a row)`, `${fmt(median(api), 2)} ms`, `${spread(api)}; ${fmt(1000 / (api.reduce((a, b) => a + b, 0) / api.length), 0)} bans/s`, '≤ 5 ms');
    row(`API banMany of 1,000 at ${N + 200} active bans (one firewall batch)`, `${fmt(bulk)} ms`, `${fmt(bulk / 1000, 3)} ms per ban`, '');
    await run.cli.stop();
    if (process.env.BAN_LATENCY_DEBUG) (await import('node:fs')).copyFileSync(`${run.stateDir}/audit.log`, `${process.env.BAN_LATENCY_DEBUG}/audit-scale.log`);
    removeDir(run.stateDir);
    // (c) the backend's own ban/unban at 10k+ active: the session (product path) and one fork per op (before).
    const agent = startAgent(lab);
    try {
      const ips = Array.from({ length: 300 }, (_, i) => filler(40_000 + i));
      for (const b of ['set', 'forked'] as const) {
        const ban = await agent.run(b, 'ban', ips);
        const unban = await agent.run(b, 'unban', ips);
        row(`set backend ban / unban at ${N}+ active bans, ${b === 'set' ? 'ipset session (now)' : 'one ipset process each (before)'}`, `${fmt(median(ban), 2)} / ${fmt(median(unban), 2)} ms`, `ban ${spread(ban)}`, b === 'set' ? '≤ 5 ms' : '');
      }
      const many = await agent.run('set', 'banMany', Array.from({ length: N }, (_, i) => filler(60_000 + i)));
      row(`set backend banMany of ${N} (one session batch)`, `${fmt(many[0]!)} ms`, '', '');
    } finally {
      agent.close();
    }
  } finally {
    await lab.cleanup();
  }
}

if (!only || only === 'scale' || only === 'scale-ufw') {
  // (e) restore after a crash/reboot, ufw backend: the store holds N bans ufw does not have. The runner
  // restores them in batches of 500, each written into ufw's rules files and loaded once
  // (helper/firewall/ufw-batch.ts); before, one `ufw prepend` per ban (~0.43 s each at 0 rules, more
  // as the rules grow). Timed until every ban is a DROP rule in the kernel, then checked in ufw's list.
  const N = 10_000;
  const lab2 = await ufwLab();
  try {
    const run = await restoreRun(lab2, 'ufw', N, false);
    const t0 = performance.now();
    const deadline = t0 + 900_000;
    const dropRules = async () => {
      let n = 0;
      for (const [bin, chain] of [['iptables', 'ufw-user-input'], ['ip6tables', 'ufw6-user-input']] as const) {
        const r = await lab2.exec(lab2.fwNs, [bin, '-w', '-S', chain]);
        n += (r.stdout.match(/ -j DROP$/gm) ?? []).length;
      }
      return n;
    };
    let done = NaN;
    while (performance.now() < deadline) {
      if ((await dropRules()) >= N) {
        done = performance.now() - t0;
        break;
      }
      await sleep(200);
    }
    const listed = ((await lab2.exec(lab2.fwNs, ['ufw', 'show', 'added'])).stdout.match(/comment 'portcullis-ban/g) ?? []).length;
    row(`restore ${N} bans after a reboot, ufw: start → ready line`, `${fmt(run.readyMs)} ms`, 'ready does not wait for the restore', '');
    row(
      `restore ${N} bans, ufw: ready → all ${N} in the kernel`,
      `${fmt(done)} ms`,
      `${fmt(done / N, 2)} ms per ban; batches of 500 written into ufw's rules files, one load each; ${listed} listed by ufw show added (before: one ufw prepend each, ≥ 0.43 s → 10k ≥ 1.2 h)`,
      'as fast as ufw allows',
    );
    await run.cli.stop();
    removeDir(run.stateDir);
  } finally {
    await lab2.cleanup();
  }
}

const widths = [0, 1, 2, 3].map((c) => Math.max(...[['measure', 'value', 'detail', 'target'], ...rows].map((r) => (r[c] ?? '').length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log('\nban-latency (network namespaces, real ufw + iptables-nft + ipset; the real `portcullis run --source kmsg`)');
console.log(line(['measure', 'value', 'detail', 'target']));
for (const r of rows) console.log(line(r));
if (latency.fail2ban && latency.set4) console.log(`ratios: fail2ban / set = ${fmt(latency.fail2ban / latency.set4)}×${latency.ufw ? `, fail2ban / ufw = ${fmt(latency.fail2ban / latency.ufw)}×` : ''}`);
console.log(`(load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}; runtime ${fmt((performance.now() - started) / 1000)} s)`);
