/**
 * Real-packet test lab: a firewall namespace running its own ufw, and one or two scanner namespaces
 * joined to it by veth pairs carrying IPv4 (TEST-NET) and IPv6 (a random ULA prefix) addresses.
 *
 *   pc-scan-…  [veth s0] ─── [veth f0]  pc-fw-…  (ufw enabled, default deny in, allow 22/tcp, echo on :22)
 *   pc-scan2-… [veth s1] ─── [veth f1]
 *
 * WHY it is built this way:
 * - Every firewall command runs inside `ip netns exec <fw>`, never in the machine's own namespace:
 *   changing the host firewall could cut the machine off.
 * - `ip netns exec` bind-mounts each entry of /etc/netns/<ns>/ over /etc/<entry>, so a copy of
 *   /etc/ufw under /etc/netns/<fw>/ufw gives that ufw private rules and state.
 * - LOG targets in a non-initial namespace are silent unless net.netfilter.nf_log_all_netns=1. The
 *   value is global, and several labs (other test files, the benchmark) may overlap, so the lab keeps
 *   a holder file per lab and restores the original value only when the last holder is gone.
 * - /dev/kmsg is one ring for the whole machine: `kmsg()` keeps only lines whose IN= is one of this
 *   lab's interfaces (random names, so unique per lab).
 * - Probes go through one long-lived prober process per namespace (a small node script fed JSON on
 *   stdin) so a probe costs a socket round trip, not a process start; that matters when probing many
 *   ports fast enough to exhaust ufw's shared log budget, and for latency measurements.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BINARIES, type Exec, type ExecResult } from '../../electron/helper/exec.ts';

export interface LabOptions {
  /** Number of scanner namespaces (each on its own veth link and subnets). Default 1. */
  scanners?: 1 | 2;
  /** Enable ufw in the firewall namespace (default deny incoming, allow 22/tcp, logging low). Default true. */
  ufw?: boolean;
  /** Run a TCP echo server on port 22 (v4 and v6) in the firewall namespace. Default true. */
  listen?: boolean;
  /** Set net.netfilter.nf_log_all_netns=1 for the lab's lifetime (needed to see LOG lines). Default true. */
  kernelLog?: boolean;
}

export interface LabLink {
  /** Scanner namespace name. */
  ns: string;
  /** Scanner's addresses and interface. */
  v4: string;
  v6: string;
  iface: string;
  /** The firewall's addresses and interface on this link (what the scanner probes). */
  fwV4: string;
  fwV6: string;
  fwIface: string;
}

export type ProbeResult = 'open' | 'refused' | 'timeout' | 'error';

export interface ProbeOptions {
  proto?: 'tcp' | 'udp';
  /** How long to wait for an answer; a dropped probe costs exactly this. Default 300 ms. */
  timeoutMs?: number;
}

export interface HeldConnection {
  /** Sends a line and waits for its echo: true while the connection still carries data. */
  alive(timeoutMs?: number): Promise<boolean>;
  /** Resolves when the connection is closed (reset, EOF or closed by us). */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
}

export interface KmsgCapture {
  /** Kernel lines seen so far that concern this lab (IN= one of the lab's interfaces). */
  lines(): string[];
  stop(): void;
}

export interface Lab {
  id: string;
  /** Firewall namespace name. */
  fwNs: string;
  /** /etc/netns/<fw>/ufw — the private ufw directory as seen from the host (etcDir for unit-injected paths). */
  ufwDir: string;
  scanners: LabLink[];
  /** The first scanner. */
  scanner: LabLink;
  /** Run argv inside a namespace; never throws, returns the exit code and output. */
  exec(ns: string, argv: readonly string[], opts?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  /** Like exec, but throws with the output when the command fails. */
  run(ns: string, argv: readonly string[], opts?: { timeoutMs?: number; input?: string }): Promise<string>;
  /** An `Exec` (the helper's type) whose binaries run inside the firewall namespace. */
  fwExec: Exec;
  /** `ufw …` inside the firewall namespace; throws on failure. */
  ufw(...args: string[]): Promise<string>;
  /** One TCP SYN (connect attempt) or one UDP datagram from `fromNs` to dstIp:port. */
  probe(fromNs: string, dstIp: string, port: number, opts?: ProbeOptions): Promise<ProbeResult>;
  /** Probes many ports concurrently (one process, no per-probe spawn). */
  probeMany(fromNs: string, dstIp: string, ports: readonly number[], opts?: ProbeOptions): Promise<ProbeResult[]>;
  /** Opens a TCP connection to an echo server and keeps it open. Rejects if it cannot connect. */
  connect(fromNs: string, dstIp: string, port?: number, timeoutMs?: number): Promise<HeldConnection>;
  /** True when a NEW TCP connection from fromNs to dstIp:port succeeds (waits 3 s by default: pass a short timeout where no answer is expected). */
  canConnect(fromNs: string, dstIp: string, port?: number, timeoutMs?: number): Promise<boolean>;
  /** Starts collecting kernel log lines that concern this lab. */
  kmsg(): KmsgCapture;
  cleanup(): Promise<void>;
}

const IP = '/usr/sbin/ip';
const SYSCTL_KEY = 'net.netfilter.nf_log_all_netns';
const SYSCTL_PATH = '/proc/sys/net/netfilter/nf_log_all_netns';
const HOLDERS_DIR = '/run/portcullis-lab';
const ORIG_FILE = `${HOLDERS_DIR}/nf_log_all_netns.orig`;
const CLEAN_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' };
const STALE_MS = 60 * 60 * 1000;

function execHost(file: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { env: CLEAN_ENV, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stderr ? err.message : '') });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

async function mustHost(file: string, args: readonly string[]): Promise<string> {
  const r = await execHost(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

function rand(n: number): string {
  // base36 from random bytes: short, interface-name safe
  let s = '';
  for (const b of randomBytes(n)) s += (b % 36).toString(36);
  return s;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process inside a namespace we created (they were all started by the lab). */
async function killNsProcesses(ns: string): Promise<void> {
  const r = await execHost(IP, ['netns', 'pids', ns]);
  if (r.code !== 0) return;
  for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    if (pid > 1 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

async function deleteNs(ns: string): Promise<void> {
  await killNsProcesses(ns);
  await execHost(IP, ['netns', 'delete', ns]);
  rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
}

/** Removes pc-* namespaces (and their /etc/netns dirs) left behind by crashed runs more than an hour ago. */
export async function cleanStaleLabs(now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  if (!existsSync('/run/netns')) return removed;
  for (const name of readdirSync('/run/netns')) {
    if (!/^pc-/.test(name)) continue;
    try {
      if (now - statSync(`/run/netns/${name}`).mtimeMs < STALE_MS) continue;
    } catch {
      continue;
    }
    await deleteNs(name);
    removed.push(name);
  }
  if (existsSync('/etc/netns')) {
    for (const name of readdirSync('/etc/netns')) {
      if (/^pc-/.test(name) && !existsSync(`/run/netns/${name}`)) {
        try {
          if (now - statSync(`/etc/netns/${name}`).mtimeMs >= STALE_MS) rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
        } catch {
          /* raced with another cleaner */
        }
      }
    }
  }
  return removed;
}

// ---- nf_log_all_netns, shared by overlapping labs -------------------------------------------------

function liveHolders(): string[] {
  if (!existsSync(HOLDERS_DIR)) return [];
  const live: string[] = [];
  for (const f of readdirSync(HOLDERS_DIR)) {
    if (!f.startsWith('holder-')) continue;
    const pid = Number(readFileSync(`${HOLDERS_DIR}/${f}`, 'utf8').trim());
    if (Number.isInteger(pid) && pidAlive(pid)) live.push(f);
    else rmSync(`${HOLDERS_DIR}/${f}`, { force: true });
  }
  return live;
}

function acquireKernelLog(labId: string): void {
  mkdirSync(HOLDERS_DIR, { recursive: true });
  const holders = liveHolders();
  if (holders.length === 0 || !existsSync(ORIG_FILE)) {
    writeFileSync(ORIG_FILE, readFileSync(SYSCTL_PATH, 'utf8').trim());
  }
  writeFileSync(`${HOLDERS_DIR}/holder-${labId}`, String(process.pid));
  writeFileSync(SYSCTL_PATH, '1');
}

function releaseKernelLog(labId: string): void {
  rmSync(`${HOLDERS_DIR}/holder-${labId}`, { force: true });
  if (liveHolders().length > 0) return;
  if (existsSync(ORIG_FILE)) {
    const orig = readFileSync(ORIG_FILE, 'utf8').trim();
    if (orig === '0' || orig === '1') writeFileSync(SYSCTL_PATH, orig);
    unlinkSync(ORIG_FILE);
  }
}

// ---- the prober: a node child inside a namespace, one JSON request per line -------------------------

const PROBER_SCRIPT = String.raw`
const net = require('node:net'); const dgram = require('node:dgram'); const rl = require('node:readline');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
function tcp(q) {
  const s = new net.Socket(); let done = false;
  const fin = (r) => { if (done) return; done = true; clearTimeout(t); s.destroy(); out({ id: q.id, r }); };
  // setImmediate: if the loop was busy past the deadline, an already-completed connect is handled in
  // this iteration's poll phase first, so CPU contention is not misread as a dropped packet.
  const t = setTimeout(() => setImmediate(() => fin('timeout')), q.timeoutMs);
  s.once('connect', () => fin('open'));
  s.once('error', (e) => fin(e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' ? 'refused' : 'error'));
  s.connect({ host: q.ip, port: q.port });
}
function udp(q) {
  const s = dgram.createSocket(q.ip.includes(':') ? 'udp6' : 'udp4'); let done = false;
  const fin = (r) => { if (done) return; done = true; clearTimeout(t); try { s.close(); } catch {} out({ id: q.id, r }); };
  const t = setTimeout(() => setImmediate(() => fin('timeout')), q.timeoutMs);
  s.on('error', (e) => fin(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));
  s.on('message', () => fin('open'));
  s.connect(q.port, q.ip, () => s.send(Buffer.from('portcullis-probe\n'), (e) => { if (e) fin('error'); }));
}
rl.createInterface({ input: process.stdin }).on('line', (l) => { const q = JSON.parse(l); (q.proto === 'udp' ? udp : tcp)(q); });
`;

class Prober {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (r: ProbeResult) => void>();
  private nextId = 1;
  constructor(ns: string) {
    this.child = spawn(IP, ['netns', 'exec', ns, process.execPath, '-e', PROBER_SCRIPT], { env: CLEAN_ENV, stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const { id, r } = JSON.parse(line) as { id: number; r: ProbeResult };
      this.pending.get(id)?.(r);
      this.pending.delete(id);
    });
    this.child.on('exit', () => {
      for (const resolve of this.pending.values()) resolve('error');
      this.pending.clear();
    });
  }
  probe(ip: string, port: number, proto: 'tcp' | 'udp', timeoutMs: number): Promise<ProbeResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.stdin!.write(JSON.stringify({ id, ip, port, proto, timeoutMs }) + '\n');
    });
  }
  close(): void {
    this.child.kill('SIGKILL');
  }
}

// ---- held connections: socat in the scanner namespace, talking to the echo server on port 22 --------

function holdConnection(ns: string, dstIp: string, port: number, timeoutMs: number): Promise<HeldConnection> {
  const target = dstIp.includes(':') ? `TCP6:[${dstIp}]:${port},connect-timeout=${timeoutMs / 1000}` : `TCP4:${dstIp}:${port},connect-timeout=${timeoutMs / 1000}`;
  const child = spawn(IP, ['netns', 'exec', ns, 'socat', '-', target], { env: CLEAN_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  let closed = false;
  let onClose!: () => void;
  const closedP = new Promise<void>((r) => (onClose = r));
  child.on('exit', () => {
    closed = true;
    onClose();
  });
  const waiters = new Map<string, () => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    waiters.get(line)?.();
    waiters.delete(line);
  });
  let seq = 0;
  const alive = (t = 1000): Promise<boolean> => {
    if (closed) return Promise.resolve(false);
    const token = `ping-${++seq}-${rand(6)}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiters.delete(token);
        resolve(false);
      }, t);
      waiters.set(token, () => {
        clearTimeout(timer);
        resolve(true);
      });
      closedP.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
      child.stdin!.write(token + '\n', () => undefined);
    });
  };
  child.stdin!.on('error', () => undefined);
  const conn: HeldConnection = {
    alive,
    closed: closedP,
    isClosed: () => closed,
    close: () => {
      if (!closed) child.kill('SIGKILL');
    },
  };
  // Connected once the first echo comes back.
  return alive(timeoutMs + 500).then((ok) => {
    if (ok) return conn;
    conn.close();
    throw new Error(`could not open a connection from ${ns} to ${dstIp}:${port}`);
  });
}

// ---- the lab ------------------------------------------------------------------------------------------

export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const nScanners = opts.scanners ?? 1;
  const id = rand(6);
  const fwNs = `pc-fw-${id}`;
  const scanNs = [`pc-scan-${id}`, `pc-scan2-${id}`].slice(0, nScanners);
  const ufwDir = `/etc/netns/${fwNs}/ufw`;
  const children = new Set<ChildProcess>();
  const probers = new Map<string, Prober>();
  const connections = new Set<HeldConnection>();
  const captures = new Set<KmsgCapture>();
  let kernelLogHeld = false;
  let cleaned = false;

  const exec = (ns: string, argv: readonly string[], o: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> =>
    execHost(IP, ['netns', 'exec', ns, ...argv], o);
  const run = async (ns: string, argv: readonly string[], o: { timeoutMs?: number; input?: string } = {}): Promise<string> => {
    const r = await exec(ns, argv, o);
    if (r.code !== 0) throw new Error(`[${ns}] ${argv.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };

  // Random /30s inside TEST-NET-1 and TEST-NET-2 and a random ULA /48: overlapping labs get distinct
  // addresses with high probability, and the interface names (random) make kmsg filtering exact anyway.
  const block = (randomBytes(1)[0]! % 64) * 4;
  // Groups in 0x1000–0xffff: no leading zero, so the text is already canonical — the form ipset, ufw
  // and the engine print — and tests may compare it as a string (a "0a1b" group once made a set
  // listing miss an address it held, about one run in eight).
  const group = () => (0x1000 + randomInt(0xf000)).toString(16);
  const ula = `fd${randomBytes(1)[0]!.toString(16).padStart(2, '0')}:${group()}:${group()}`;
  const links: LabLink[] = scanNs.map((ns, i) => {
    const net = i === 0 ? '192.0.2' : '198.51.100';
    return {
      ns,
      v4: `${net}.${block + 2}`,
      v6: `${ula}:${i + 1}::2`,
      iface: `pc${id}s${i}`,
      fwV4: `${net}.${block + 1}`,
      fwV6: `${ula}:${i + 1}::1`,
      fwIface: `pc${id}f${i}`,
    };
  });

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    for (const c of captures) c.stop();
    for (const c of connections) c.close();
    for (const p of probers.values()) p.close();
    for (const c of children) c.kill('SIGKILL');
    for (const ns of [...scanNs, fwNs]) await deleteNs(ns);
    if (kernelLogHeld) releaseKernelLog(id);
  };

  try {
    await cleanStaleLabs();
    for (const ns of [fwNs, ...scanNs]) {
      await mustHost(IP, ['netns', 'add', ns]);
      await run(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    for (const l of links) {
      await mustHost(IP, ['link', 'add', l.fwIface, 'netns', fwNs, 'type', 'veth', 'peer', 'name', l.iface, 'netns', l.ns]);
      await run(fwNs, ['ip', 'addr', 'add', `${l.fwV4}/30`, 'dev', l.fwIface]);
      await run(fwNs, ['ip', '-6', 'addr', 'add', `${l.fwV6}/64`, 'dev', l.fwIface, 'nodad']);
      await run(fwNs, ['ip', 'link', 'set', l.fwIface, 'up']);
      await run(l.ns, ['ip', 'addr', 'add', `${l.v4}/30`, 'dev', l.iface]);
      await run(l.ns, ['ip', '-6', 'addr', 'add', `${l.v6}/64`, 'dev', l.iface, 'nodad']);
      await run(l.ns, ['ip', 'link', 'set', l.iface, 'up']);
    }

    // Private ufw configuration for the firewall namespace.
    mkdirSync(`/etc/netns/${fwNs}`, { recursive: true });
    cpSync('/etc/ufw', ufwDir, { recursive: true });
    writeFileSync(`${ufwDir}/ufw.conf`, 'ENABLED=no\nLOGLEVEL=low\n');
    // ufw applies sysctl.conf on start; keep the lab from writing any sysctl at all.
    writeFileSync(`${ufwDir}/sysctl.conf`, '# emptied by the Portcullis test lab\n');
    // ALWAYS give the namespace its own /etc/default: `ufw default …` rewrites /etc/default/ufw, and
    // without a private copy the lab would rewrite the host's file. /etc/netns/<ns>/default hides the
    // whole /etc/default, so copy it all and adjust ufw's file.
    const defaults = readFileSync('/etc/default/ufw', 'utf8');
    cpSync('/etc/default', `/etc/netns/${fwNs}/default`, { recursive: true });
    writeFileSync(
      `/etc/netns/${fwNs}/default/ufw`,
      defaults.replace(/^IPV6=.*$/m, 'IPV6=yes').replace(/^IPT_MODULES=.*$/m, 'IPT_MODULES=""'),
    );

    if (opts.kernelLog ?? true) {
      acquireKernelLog(id);
      kernelLogHeld = true;
    }

    if (opts.ufw ?? true) {
      await run(fwNs, ['ufw', 'default', 'deny', 'incoming']);
      await run(fwNs, ['ufw', 'default', 'allow', 'outgoing']);
      await run(fwNs, ['ufw', 'allow', '22/tcp']);
      await run(fwNs, ['ufw', 'logging', 'low']);
      await run(fwNs, ['ufw', '--force', 'enable']);
    }

    if (opts.listen ?? true) {
      // One dual-stack echo server: a held connection proves it is alive by getting its line back.
      const echo = spawn(IP, ['netns', 'exec', fwNs, 'socat', 'TCP6-LISTEN:22,fork,reuseaddr,ipv6only=0,backlog=64', 'EXEC:/bin/cat'], {
        env: CLEAN_ENV,
        stdio: 'ignore',
      });
      children.add(echo);
      // Wait until it listens.
      for (let i = 0; i < 100; i++) {
        const r = await exec(fwNs, ['ss', '-Htln', 'sport = :22']);
        if (r.stdout.trim()) break;
        await new Promise((r2) => setTimeout(r2, 20));
      }
    }
  } catch (e) {
    await cleanup();
    throw e;
  }

  const proberFor = (ns: string): Prober => {
    let p = probers.get(ns);
    if (!p) {
      p = new Prober(ns);
      probers.set(ns, p);
    }
    return p;
  };

  const probe = (fromNs: string, dstIp: string, port: number, o: ProbeOptions = {}): Promise<ProbeResult> =>
    proberFor(fromNs).probe(dstIp, port, o.proto ?? 'tcp', o.timeoutMs ?? 300);

  const ifaces = new Set(links.flatMap((l) => [l.iface, l.fwIface]));
  const kmsg = (): KmsgCapture => {
    const lines: string[] = [];
    // dmesg follows /dev/kmsg and survives ring-buffer overruns (EPIPE) that a plain read would not.
    const child = spawn('/usr/bin/dmesg', ['--follow', '--kernel', '--raw'], { env: CLEAN_ENV, stdio: ['ignore', 'pipe', 'ignore'] });
    children.add(child);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /\bIN=(\S+)/.exec(line);
      if (m && ifaces.has(m[1]!)) lines.push(line);
    });
    const cap: KmsgCapture = {
      lines: () => [...lines],
      stop: () => {
        child.kill('SIGKILL');
        children.delete(child);
        captures.delete(cap);
      },
    };
    captures.add(cap);
    return cap;
  };

  const fwExec: Exec = (bin, args, o = {}) => exec(fwNs, [BINARIES[bin], ...args], o);

  return {
    id,
    fwNs,
    ufwDir,
    scanners: links,
    scanner: links[0]!,
    exec,
    run,
    fwExec,
    ufw: (...args) => run(fwNs, ['ufw', ...args]),
    probe,
    probeMany: (fromNs, dstIp, ports, o = {}) => Promise.all(ports.map((p) => probe(fromNs, dstIp, p, o))),
    // Connections expected to succeed wait 3 s: a lost SYN (or SYN-ACK) is sent again after 1 s, so a
    // shorter wait made a busy machine's one lost packet a failed test (once in CI). A test that
    // expects no answer passes its own short timeout.
    connect: async (fromNs, dstIp, port = 22, timeoutMs = 3000) => {
      const c = await holdConnection(fromNs, dstIp, port, timeoutMs);
      connections.add(c);
      return c;
    },
    canConnect: async (fromNs, dstIp, port = 22, timeoutMs = 3000) => (await probe(fromNs, dstIp, port, { timeoutMs })) === 'open',
    kmsg,
    cleanup,
  };
}
