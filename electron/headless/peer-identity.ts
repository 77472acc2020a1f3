/**
 * Who is on the other end of a local connection, as the kernel tells it (for the audit log).
 *
 * Unix sockets (the control socket): Node has no getsockopt(SO_PEERCRED), and no well-kept npm
 * package offers it without a native build. /proc/net/unix lists sockets but not which two are
 * connected; the kernel's sock_diag does (UNIX_DIAG_PEER), and `ss` (iproute2, already needed for
 * `ip`) prints it. We ask `ss -xn src <our socket path>` — only sockets bound to OUR path, whose
 * name we chose, so no other socket's name (which may hold spaces or a newline) reaches the parser —
 * and take from it one number: the peer inode of our side (our inode from /proc/self/fd/<fd>).
 * Who holds that peer inode is then read from the kernel directly: the /proc/PID/fd links that read
 * "socket:[INODE]", and /proc/PID/status's real uid. Once per connection (CLI commands open one
 * each), so it costs nothing on the hot path. Unlike SO_PEERCRED (credentials at connect time) it
 * names the process holding the socket now.
 *
 * Loopback TCP (serve's HTTP and WebSocket): /proc/net/tcp{,6} has a uid column; the client's socket
 * is the ESTABLISHED one (state 01, inode ≠ 0) whose local address:port is the client's and whose
 * remote address:port is ours — both ends compared in full.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type net from 'node:net';
import ipaddr from 'ipaddr.js';
import { execArgv, type Exec } from '../helper/exec.ts';

/**
 * `ss -xn src PATH` output → our socket's peer inode. Read from the END of each line (peer inode
 * last, our inode third from last), so a path with spaces cannot shift the columns; null when no
 * line is our socket.
 */
export function peerInodeFromSs(text: string, ourInode: number): number | null {
  for (const line of text.split('\n').slice(1)) {
    const t = line.trim().split(/\s+/);
    if (t.length < 8) continue;
    const local = Number(t[t.length - 3]);
    const peer = Number(t[t.length - 1]);
    if (local === ourInode && Number.isInteger(peer) && peer > 0) return peer;
  }
  return null;
}

/** The processes holding socket `inode`: every /proc/PID/fd/N that links to "socket:[inode]". */
export function holdersOfSocket(inode: number, proc = '/proc'): { pid: number; comm: string }[] {
  const want = `socket:[${inode}]`;
  const out: { pid: number; comm: string }[] = [];
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`${proc}/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${proc}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target !== want) continue;
      let comm = '?';
      try {
        comm = readFileSync(`${proc}/${pid}/comm`, 'utf8').trim();
      } catch {
        /* gone meanwhile: the pid still says who */
      }
      out.push({ pid: Number(pid), comm });
      break;
    }
  }
  return out;
}

function uidOfPid(pid: number, proc = '/proc'): number | null {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`${proc}/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function inodeOfFd(fd: number): number | null {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function fdOf(socket: net.Socket): number | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/**
 * "uid 0 pid 4242 (node)" for the process at the other end of an accepted connection on the unix
 * socket bound at `socketPath`.
 */
export async function unixPeerIdentity(socket: net.Socket, socketPath: string, exec: Exec = execArgv, proc = '/proc'): Promise<string> {
  const fd = fdOf(socket);
  const inode = fd === null ? null : inodeOfFd(fd);
  if (inode === null) return 'peer unknown (no socket descriptor)';
  const r = await exec('ss', ['-xn', 'src', socketPath]);
  if (r.code !== 0) return `peer unknown (ss failed: ${r.stderr.trim() || r.code})`;
  const peer = peerInodeFromSs(r.stdout, inode);
  const holders = peer === null ? [] : holdersOfSocket(peer, proc);
  if (holders.length === 0) return 'peer unknown (gone, or in another namespace)';
  return holders.map((h) => `uid ${uidOfPid(h.pid, proc) ?? '?'} pid ${h.pid} (${h.comm})`).join(', ');
}

/** An address as /proc/net/tcp{,6} prints it: each 32-bit word in host (little-endian) byte order, hex. */
export function procNetAddress(ip: string, family: 4 | 6): string | null {
  let bytes: number[];
  try {
    let a = ipaddr.parse(ip);
    if (family === 6 && a.kind() === 'ipv4') a = (a as ipaddr.IPv4).toIPv4MappedAddress();
    if (family === 4 && a.kind() === 'ipv6') {
      if (!(a as ipaddr.IPv6).isIPv4MappedAddress()) return null;
      a = (a as ipaddr.IPv6).toIPv4Address();
    }
    bytes = a.toByteArray();
  } catch {
    return null;
  }
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    for (let j = 3; j >= 0; j--) out += bytes[i + j]!.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export interface TcpEnd {
  address: string;
  port: number;
}

/**
 * The uid owning the ESTABLISHED loopback TCP socket whose local end is `client` and whose remote
 * end is `server` (full address and port on both ends; state 01; a real inode).
 */
export function tcpPeerUid(client: TcpEnd, server: TcpEnd, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): number | null {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const [file, family] of [['/proc/net/tcp', 4], ['/proc/net/tcp6', 6]] as const) {
    const c = procNetAddress(client.address, family);
    const s = procNetAddress(server.address, family);
    if (c === null || s === null) continue;
    const local = `${c}:${hex(client.port)}`;
    const remote = `${s}:${hex(server.port)}`;
    let text: string;
    try {
      text = read(file);
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const t = line.trim().split(/\s+/);
      if (t.length < 10) continue;
      if (t[1] === local && t[2] === remote && t[3] === '01' && t[9] !== '0') return Number(t[7]);
    }
  }
  return null;
}

/** "127.0.0.1:51234 uid 1000" for a loopback HTTP/WebSocket client. */
export function tcpPeerIdentity(socket: net.Socket): string {
  const addr = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  const uid = remoteAddress && remotePort && localAddress && localPort ? tcpPeerUid({ address: remoteAddress, port: remotePort }, { address: localAddress, port: localPort }) : null;
  return uid === null ? `${addr} uid unknown` : `${addr} uid ${uid}`;
}
