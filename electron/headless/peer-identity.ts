/**
 * Who is on the other end of a local connection, as the kernel tells it (for the audit log).
 *
 * Unix sockets (the control socket): Node has no getsockopt(SO_PEERCRED), and no well-kept npm
 * package offers it without a native build. /proc/net/unix lists sockets but not which two are
 * connected; the kernel's sock_diag does (UNIX_DIAG_PEER), and `ss` (iproute2, already needed for
 * `ip`) prints it: `ss -xpn` gives every unix socket's inode, its peer's inode and the processes
 * holding it. Our side's inode comes from /proc/self/fd/<fd>; the peer's holder pid gives the uid
 * (/proc/PID/status, real uid). Measured: 20–80 ms per call on this machine with ~80 sockets, once
 * per connection (CLI commands open one connection each), so it costs nothing on the hot path.
 * Unlike SO_PEERCRED (credentials at connect time) it names the process holding the socket now.
 *
 * Loopback TCP (serve's HTTP and WebSocket): /proc/net/tcp{,6} has a uid column; the client's socket
 * is the one whose local port is the client's port and whose remote port is ours.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import type net from 'node:net';
import { execArgv, type Exec } from '../helper/exec.ts';

interface UnixSocketLine {
  peer: number;
  users: { comm: string; pid: number }[];
}

/** `ss -xpn` output → local inode → its peer's inode and holders. */
export function parseSsUnix(text: string): Map<number, UnixSocketLine> {
  const out = new Map<number, UnixSocketLine>();
  for (const line of text.split('\n').slice(1)) {
    const t = line.trim().split(/\s+/);
    if (t.length < 8) continue;
    const local = Number(t[5]);
    const peer = Number(t[7]);
    if (!Number.isInteger(local) || !Number.isInteger(peer)) continue;
    const users = [...line.matchAll(/\("([^"]*)",pid=(\d+),fd=\d+\)/g)].map((m) => ({ comm: m[1]!, pid: Number(m[2]) }));
    out.set(local, { peer, users });
  }
  return out;
}

function uidOfPid(pid: number): number | null {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
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

/** "uid 0 pid 4242 (node)" for the process at the other end of an accepted unix-socket connection. */
export async function unixPeerIdentity(socket: net.Socket, exec: Exec = execArgv): Promise<string> {
  const fd = fdOf(socket);
  const inode = fd === null ? null : inodeOfFd(fd);
  if (inode === null) return 'peer unknown (no socket descriptor)';
  const r = await exec('ss', ['-xpn']);
  if (r.code !== 0) return `peer unknown (ss failed: ${r.stderr.trim() || r.code})`;
  const table = parseSsUnix(r.stdout);
  const peer = table.get(inode)?.peer;
  const holders = peer === undefined ? [] : (table.get(peer)?.users ?? []);
  if (holders.length === 0) return 'peer unknown (gone, or in another namespace)';
  return holders.map((h) => `uid ${uidOfPid(h.pid) ?? '?'} pid ${h.pid} (${h.comm})`).join(', ');
}

/** The uid owning the loopback TCP socket whose local port is `clientPort` and remote port `serverPort`. */
export function tcpPeerUid(clientPort: number, serverPort: number, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): number | null {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = read(file);
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const t = line.trim().split(/\s+/);
      if (t.length < 8) continue;
      if (t[1]!.endsWith(`:${hex(clientPort)}`) && t[2]!.endsWith(`:${hex(serverPort)}`)) return Number(t[7]);
    }
  }
  return null;
}

/** "127.0.0.1:51234 uid 1000" for a loopback HTTP/WebSocket client. */
export function tcpPeerIdentity(socket: net.Socket): string {
  const addr = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const uid = socket.remotePort && socket.localPort ? tcpPeerUid(socket.remotePort, socket.localPort) : null;
  return uid === null ? `${addr} uid unknown` : `${addr} uid ${uid}`;
}
