/**
 * Ban latency and ban/unban throughput, in network namespaces against real ufw (needs root):
 *   (a) ban and unban ops/s with 1k and 10k active bans, per backend;
 *   (b) the issue's figure, end to end: median time from the threshold-crossing (5th) probe to the
 *       scanner being blocked on the OPEN port 22, with the real `portcullis run` (kmsg source, each
 *       backend) in the firewall namespace — the kernel logging the probe, the runner reading and
 *       parsing it, detecting, banning and cutting;
 *   (b') the ban call alone: backend.ban() called → blocked, per backend (what (b) spends in the firewall);
 *   (c) the same scenario under Debian's fail2ban with the seed's portscan jail (filter
 *       `UFW BLOCK.* SRC=<HOST>`, maxretry 5, pyinotify backend, action `ufw prepend deny from <ip>`),
 *       run inside the firewall namespace: median time from the 5th probe to blocked.
 * Prints figures, asserts nothing. `./node_modules/.bin/node bench/ban-latency.bench.ts` (or `npm run bench`).
 *
 * Blocked = a connect() to port 22 gets no answer within 50 ms (it is answered in < 1 ms otherwise).
 * Probes run from a long-lived process in the scanner namespace (tests/support/netns.ts), so a probe
 * costs a pipe round trip, not a process start. The backends run in a child process started inside
 * the firewall namespace, as the helper would be, so no figure carries `ip netns exec` overhead.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { installSetBlock } from '../electron/helper/firewall/index.ts';
import { createLab, type Lab } from '../tests/support/netns.ts';
import { cliOnce, removeDir, startCli, tempStateDir, writeConfig } from '../tests/system/runner-support.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
/** Filler addresses for pre-existing bans: 100.64.0.0/10 (shared address space), never the lab's. */
const filler = (i: number) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

if (process.getuid?.() !== 0) {
  console.log('ban-latency: SKIPPED — needs root (network namespaces, ufw, ipset)');
  process.exit(0);
}

const BLOCK_TIMEOUT_MS = 50;

/**
 * Probes port 22 back to back; resolves with the time the first probe of the final unanswered run was
 * sent — blocked means blocked from then on (CONFIRM more probes unanswered), not one lost answer.
 */
const CONFIRM = 3;
async function blockedAt(lab: Lab, deadlineMs = 10_000): Promise<number> {
  const s = lab.scanner;
  const end = performance.now() + deadlineMs;
  let firstDropped = NaN;
  let dropped = 0;
  while (performance.now() < end) {
    const sent = performance.now();
    const r = await lab.probe(s.ns, s.fwV4, 22, { timeoutMs: BLOCK_TIMEOUT_MS });
    if (r === 'timeout') {
      if (dropped++ === 0) firstDropped = sent;
      if (dropped > CONFIRM) return firstDropped;
    } else dropped = 0;
  }
  return NaN;
}

async function reachable(lab: Lab): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await lab.canConnect(lab.scanner.ns, lab.scanner.fwV4, 22, 200)) return;
    await sleep(20);
  }
  throw new Error('port 22 never became reachable again');
}

// ---- the helper's side, run INSIDE the firewall namespace --------------------------------------------
// A real helper lives in the namespace it protects and runs ipset/ufw directly; measuring through one
// `ip netns exec` per command would add its ~5–10 ms to every figure. So the backends run in a child
// started once inside the namespace, driven by JSON lines; ban() is timed from the bench's side.

const AGENT = String.raw`
import { createInterface } from 'node:readline';
const fw = await import(process.env.PC_FIREWALL);
const { execArgv } = await import(process.env.PC_EXEC);
const backends = {
  set: fw.createBanBackend('set', execArgv), ufw: fw.createBanBackend('ufw', execArgv),
  'set-nocut': fw.createBanBackend('set', execArgv, { cutConnections: false }),
  'ufw-nocut': fw.createBanBackend('ufw', execArgv, { cutConnections: false }),
};
createInterface({ input: process.stdin }).on('line', async (line) => {
  const q = JSON.parse(line); const b = backends[q.backend];
  try {
    const t = performance.now();
    for (const ip of q.ips) await (q.op === 'ban' ? b.ban(ip, q.timeout, 'bench') : b.unban(ip));
    process.stdout.write(JSON.stringify({ id: q.id, ms: performance.now() - t }) + '\n');
  } catch (e) { process.stdout.write(JSON.stringify({ id: q.id, error: String(e) }) + '\n'); }
});
`;

interface Agent {
  /** Runs ban/unban for each address in turn inside the namespace; resolves with the time it took there. */
  run(backend: string, op: 'ban' | 'unban', ips: string[], timeout?: number | null): Promise<number>;
  close(): void;
}

function startAgent(lab: Lab): Agent {
  const root = new URL('..', import.meta.url).pathname;
  const child = spawn('ip', ['netns', 'exec', lab.fwNs, process.execPath, '--input-type=module', '-e', AGENT], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', PC_FIREWALL: `${root}electron/helper/firewall/index.ts`, PC_EXEC: `${root}electron/helper/exec.ts` },
  });
  const pending = new Map<number, { resolve: (ms: number) => void; reject: (e: Error) => void }>();
  let next = 1;
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const r = JSON.parse(l) as { id: number; ms?: number; error?: string };
    const p = pending.get(r.id);
    pending.delete(r.id);
    if (r.error !== undefined) p?.reject(new Error(r.error));
    else p?.resolve(r.ms!);
  });
  return {
    run: (backend, op, ips, timeout = 600) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        child.stdin!.write(JSON.stringify({ id, backend, op, ips, timeout }) + '\n');
      }),
    close: () => child.kill('SIGKILL'),
  };
}

// ---- (a) ops/s with many active bans -----------------------------------------------------------------

async function prefillSet(lab: Lab, n: number): Promise<void> {
  const lines = Array.from({ length: n }, (_, i) => `add portcullis-ban4 ${filler(i)} timeout 0 comment "portcullis-ban filler"`);
  await lab.run(lab.fwNs, ['ipset', 'restore', '-exist'], { input: lines.join('\n') + '\n' });
}

/** Writes n tagged deny rules straight into user.rules (what n `ufw prepend` calls would leave) and reloads. */
async function prefillUfw(lab: Lab, from: number, to: number): Promise<void> {
  const path = `${lab.ufwDir}/user.rules`;
  const text = readFileSync(path, 'utf8');
  const hexTag = Buffer.from('portcullis-ban filler').toString('hex');
  const rules = Array.from({ length: to - from }, (_, k) => from + k).map((i) => `### tuple ### deny any any 0.0.0.0/0 any ${filler(i)} in comment=${hexTag}\n-A ufw-user-input -s ${filler(i)} -j DROP\n`);
  writeFileSync(path, text.replace('### RULES ###\n', `### RULES ###\n\n${rules.join('\n')}`));
  await lab.run(lab.fwNs, ['ufw', 'reload'], { timeoutMs: 600_000 });
}

async function opsPerSec(agent: Agent, backend: string, n: number, offset: number): Promise<{ ban: number; unban: number }> {
  const ips = Array.from({ length: n }, (_, i) => filler(offset + i));
  const banMs = await agent.run(backend, 'ban', ips, 3600);
  const unbanMs = await agent.run(backend, 'unban', ips);
  return { ban: n / (banMs / 1000), unban: n / (unbanMs / 1000) };
}

// ---- (b) ban decision → blocked ----------------------------------------------------------------------

async function banLatency(lab: Lab, agent: Agent, backend: 'set' | 'ufw', trials: number): Promise<number[]> {
  const out: number[] = [];
  const ip = lab.scanner.v4;
  for (let i = 0; i < trials; i++) {
    await reachable(lab);
    const t0 = performance.now();
    const [blocked] = await Promise.all([blockedAt(lab), agent.run(backend, 'ban', [ip])]);
    out.push(blocked - t0);
    await agent.run(backend, 'unban', [ip]);
  }
  return out;
}

// ---- (b) 5th probe → blocked, through the real runner ---------------------------------------------------

async function portcullisLatency(lab: Lab, backend: 'set' | 'ufw', trials: number): Promise<number[]> {
  const stateDir = tempStateDir();
  const config = writeConfig(stateDir, {
    detection: { findtimeSec: 600, maxretry: 5, minDistinctPorts: 3 },
    ban: { backend, bantimeSec: 600, maxbantimeSec: 3600, increment: false },
    logs: { source: 'kmsg' },
  });
  const cli = await startCli(lab, ['run', '--source', 'kmsg', '--backend', backend, '--config', config], stateDir);
  const s = lab.scanner;
  const samples: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      await reachable(lab);
      // ufw logs through one budget (burst 10, 3/min): a reload refills it, so every trial is logged (as for fail2ban).
      await lab.ufw('reload');
      for (let p = 0; p < 4; p++) await lab.probe(s.ns, s.fwV4, 41_000 + i * 10 + p, { timeoutMs: 20 });
      // The 5th probe is not awaited: a dropped probe only "returns" at its timeout, and watching port
      // 22 from then on put a 20 ms floor under every figure.
      const t5 = performance.now();
      const fifth = lab.probe(s.ns, s.fwV4, 41_000 + i * 10 + 4, { timeoutMs: 20 });
      const blocked = await blockedAt(lab, 15_000);
      await fifth;
      if (!Number.isFinite(blocked)) throw new Error(`trial ${i}: the scanner was never blocked (runner output: ${JSON.stringify(cli.lines.slice(-5))})`);
      samples.push(blocked - t5);
      const r = await cliOnce(lab, ['unban', s.v4, '--state-dir', stateDir]);
      if (r.code !== 0) throw new Error(`unban failed: ${r.stderr}`);
    }
  } finally {
    await cli.stop();
    removeDir(stateDir);
  }
  return samples;
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
      await reachable(lab);
      // ufw logs through one budget (burst 10, 3/min): a reload refills it, so every trial is logged.
      await lab.ufw('reload');
      for (let p = 0; p < 4; p++) await lab.probe(s.ns, s.fwV4, 40_000 + i * 10 + p, { timeoutMs: 20 });
      const t5 = performance.now(); // as for Portcullis: port 22 is watched from the 5th probe on
      const fifth = lab.probe(s.ns, s.fwV4, 40_000 + i * 10 + 4, { timeoutMs: 20 });
      const blocked = await blockedAt(lab, 15_000);
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

// ---- run ---------------------------------------------------------------------------------------------

const started = performance.now();
const rows: string[][] = [];
const latency: Record<string, number> = {};

{
  const lab = await createLab({ scanners: 1 });
  try {
    await installSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
    for (const [backend, trials, target] of [['set', 9, '≤ 25 ms'], ['ufw', 5, '≤ 350 ms']] as const) {
      const e2e = await portcullisLatency(lab, backend, trials);
      latency[backend] = median(e2e);
      rows.push([`5th probe → blocked on :22, portcullis run, ${backend} (median of ${trials})`, `${fmt(latency[backend])} ms`, `min ${fmt(Math.min(...e2e))} max ${fmt(Math.max(...e2e))}`, target]);
    }
    const agent = startAgent(lab);
    const setLat = await banLatency(lab, agent, 'set', 21);
    const ufwLat = await banLatency(lab, agent, 'ufw', 7);
    agent.close();
    rows.push(['  of which the ban call → blocked, set (median of 21)', `${fmt(median(setLat))} ms`, `min ${fmt(Math.min(...setLat))} max ${fmt(Math.max(...setLat))}`, '']);
    rows.push(['  of which the ban call → blocked, ufw (median of 7)', `${fmt(median(ufwLat))} ms`, `min ${fmt(Math.min(...ufwLat))} max ${fmt(Math.max(...ufwLat))}`, '']);

    const f2b = await fail2banLatency(lab, 5);
    latency.fail2ban = median(f2b.samples);
    rows.push([
      '5th probe → blocked, fail2ban + ufw (median of 5)',
      `${fmt(latency.fail2ban)} ms`,
      f2b.samples.length ? `min ${fmt(Math.min(...f2b.samples))} max ${fmt(Math.max(...f2b.samples))}${f2b.note ? `; ${f2b.note}` : ''}` : f2b.note,
      '~650 ms',
    ]);
  } finally {
    await lab.cleanup();
  }
}

for (const kind of ['set', 'ufw'] as const) {
  const lab = await createLab({ scanners: 1, listen: false });
  try {
    if (kind === 'set') await installSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
    const agent = startAgent(lab);
    let active = 0;
    for (const target of [1000, 10_000]) {
      const t = performance.now();
      if (kind === 'set') await prefillSet(lab, target);
      else await prefillUfw(lab, active, target);
      const prefillMs = performance.now() - t;
      active = target;
      const n = kind === 'set' ? 500 : 5;
      // Throughput of the firewall operation itself, then with the conntrack cut a real ban adds.
      const r = await opsPerSec(agent, `${kind}-nocut`, n, 200_000);
      const c = kind === 'set' ? await opsPerSec(agent, kind, n, 300_000) : null;
      rows.push([
        `${kind}: ban / unban with ${target} active bans (${n} each)`,
        `${fmt(r.ban)} / ${fmt(r.unban)} ops/s`,
        `${fmt(1000 / r.ban)} / ${fmt(1000 / r.unban)} ms per op` + (c ? `; ban+conntrack cut ${fmt(1000 / c.ban)} ms` : '') + `; prefill ${fmt(prefillMs / 1000)} s`,
        '',
      ]);
    }
    agent.close();
  } finally {
    await lab.cleanup();
  }
}

const widths = [0, 1, 2, 3].map((c) => Math.max(...[['measure', 'value', 'detail', 'target'], ...rows].map((r) => (r[c] ?? '').length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log('\nban-latency (network namespaces, real ufw + iptables-nft + ipset, backends run inside the firewall namespace)');
console.log(line(['measure', 'value', 'detail', 'target']));
for (const r of rows) console.log(line(r));
console.log(
  `ratios: fail2ban / set = ${fmt(latency.fail2ban! / latency.set!)}×, fail2ban / ufw = ${fmt(latency.fail2ban! / latency.ufw!)}×, ufw / set = ${fmt(latency.ufw! / latency.set!)}×`,
);
console.log(`(runtime ${fmt((performance.now() - started) / 1000)} s)`);
