/**
 * Audit F7: the peer of a serve/control connection is found by exact matches only — both TCP ends
 * in full (address and port), ESTABLISHED, a real inode; on the control socket only our own
 * socket's line of `ss` is read (its peer inode), and who holds that inode comes from /proc.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { holdersOfSocket, peerInodeFromSs, procNetAddress, tcpPeerUid, unixPeerIdentity } from '../../electron/headless/peer-identity.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';

const procTemp = tempDirsPerTest('pc-proc-');
const sockTemp = tempDirsPerTest('pc-sock-');

/** A real connection of this process to itself (loopback TCP, or a unix socket at `sockPath`): `s` is the server's side of it. */
async function acceptedConnection(kind: 'tcp' | 'unix'): Promise<{ sockPath: string; s: net.Socket; close(): void }> {
  const sockPath = kind === 'unix' ? path.join(sockTemp(), 'control.sock') : '';
  const srv = net.createServer();
  await new Promise<void>((r) => (kind === 'unix' ? srv.listen(sockPath, r) : srv.listen(0, '127.0.0.1', r)));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const c = kind === 'unix' ? net.connect(sockPath) : net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const s = await accepted;
  return {
    sockPath,
    s,
    close: () => {
      c.destroy();
      s.destroy();
      srv.close();
    },
  };
}

const HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const row = (local: string, remote: string, st: string, uid: number, inode: number) => `   0: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000  ${uid}        0 ${inode} 1 0`;

describe('tcpPeerUid', () => {
  const client = { address: '127.0.0.1', port: 0xc350 };
  const server = { address: '127.0.0.1', port: 0x2253 };
  const only4 = (text: string) => (f: string) => (f.endsWith('tcp') ? text : HEAD);

  it('encodes addresses as /proc/net/tcp prints them', () => {
    expect(procNetAddress('127.0.0.1', 4)).toBe('0100007F');
    expect(procNetAddress('::1', 6)).toBe('00000000000000000000000001000000');
    expect(procNetAddress('127.0.0.1', 6)).toBe('0000000000000000FFFF00000100007F');
  });

  it('matches the full address:port of both ends, ESTABLISHED, with an inode', () => {
    expect(tcpPeerUid(client, server, only4([HEAD, row('0100007F:C350', '0100007F:2253', '01', 1000, 2)].join('\n')))).toBe(1000);
  });

  it('a socket whose ports match but whose addresses differ is not the peer (the old "ends with :PORT" match took it)', () => {
    // Another user's socket 127.0.0.2:C350 → 127.0.0.3:2253 (or an IPv6 one) listed first.
    const text = [HEAD, row('0200007F:C350', '0300007F:2253', '01', 666, 9), row('0100007F:C350', '0100007F:2253', '01', 1000, 2)].join('\n');
    expect(tcpPeerUid(client, server, only4(text))).toBe(1000);
    expect(tcpPeerUid(client, server, only4([HEAD, row('0200007F:C350', '0300007F:2253', '01', 666, 9)].join('\n')))).toBeNull();
  });

  it('a non-ESTABLISHED socket or one without an inode (TIME_WAIT) is not the peer', () => {
    expect(tcpPeerUid(client, server, only4([HEAD, row('0100007F:C350', '0100007F:2253', '06', 666, 0)].join('\n')))).toBeNull();
    expect(tcpPeerUid(client, server, only4([HEAD, row('0100007F:C350', '0100007F:2253', '01', 666, 0)].join('\n')))).toBeNull();
    expect(tcpPeerUid(client, server, only4([HEAD, row('0100007F:C350', '0100007F:2253', '0A', 666, 5)].join('\n')))).toBeNull();
  });

  it('finds a real loopback connection of this process', async () => {
    const { s, close } = await acceptedConnection('tcp');
    try {
      expect(tcpPeerUid({ address: s.remoteAddress!, port: s.remotePort! }, { address: s.localAddress!, port: s.localPort! })).toBe(process.getuid!());
    } finally {
      close();
    }
  });
});

describe('control socket peer', () => {
  it('reads only our own socket line of ss, from the end (a path with spaces cannot shift columns)', () => {
    const ss = `Netid State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
u_str LISTEN 0 511 /var/lib/port cullis/control.sock 1000 * 0
u_str ESTAB 0 0 /var/lib/port cullis/control.sock 1001 * 1002`;
    expect(peerInodeFromSs(ss, 1001)).toBe(1002);
    expect(peerInodeFromSs(ss, 1000)).toBeNull(); // the listener has no peer
    expect(peerInodeFromSs(ss, 4242)).toBeNull();
  });

  it('asks ss about our socket path only, and finds the holder of the peer inode in /proc (never from ss text)', async () => {
    const proc = procTemp();
    const fake = (pid: number, comm: string, uid: number, links: string[]) => {
      mkdirSync(path.join(proc, String(pid), 'fd'), { recursive: true });
      writeFileSync(path.join(proc, String(pid), 'comm'), `${comm}\n`);
      writeFileSync(path.join(proc, String(pid), 'status'), `Name:\t${comm}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
      links.forEach((l, i) => symlinkSync(l, path.join(proc, String(pid), 'fd', String(i))));
    };
    fake(4242, 'portcullis', 1000, ['/dev/null', 'socket:[1002]']);
    fake(777, 'other', 666, ['socket:[10020]', 'pipe:[1002]']);
    expect(holdersOfSocket(1002, proc)).toEqual([{ pid: 4242, comm: 'portcullis' }]);

    // A real accepted connection, so our side's inode is real; ss is faked to name its peer 1002.
    const { sockPath, s, close } = await acceptedConnection('unix');
    const { readlinkSync } = await import('node:fs');
    const ours = Number(/\d+/.exec(readlinkSync(`/proc/self/fd/${(s as unknown as { _handle: { fd: number } })._handle.fd}`))![0]);
    const asked: string[][] = [];
    // A forged line (as a socket name with a newline could print under `ss -xpn`) names another inode; it is not ours, so it is ignored.
    const exec = async (cmd: string, args: readonly string[]) => {
      asked.push([cmd, ...args]);
      return { code: 0, stdout: `Netid State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\nu_str ESTAB 0 0 ${sockPath} ${ours} * 1002\nu_str ESTAB 0 0 @x ${ours + 1} * 10020 users:(("x",pid=777,fd=3))\n`, stderr: '' };
    };
    try {
      expect(await unixPeerIdentity(s, sockPath, exec, proc)).toBe('uid 1000 pid 4242 (portcullis)');
      expect(asked).toEqual([['ss', '-xn', 'src', sockPath]]);
    } finally {
      close();
    }
  });

  it('names this very process as the peer of a real connection (real ss and /proc)', async () => {
    const { sockPath, s, close } = await acceptedConnection('unix');
    try {
      expect(await unixPeerIdentity(s, sockPath)).toMatch(new RegExp(`^uid ${process.getuid!()} pid ${process.pid} \\(`));
    } finally {
      close();
    }
  });
});
