/**
 * Captures tests/fixtures/nflog/corners.{bin,txt} (root): the decoder's corner cases as the kernel
 * logs them, each packet logged by a LOG rule and by its NFLOG twin like capture.bin (nflog-capture.ts),
 * so the decoder's record of each can be compared with the text parser's record of its LOG line.
 *
 *   node tests/support/nflog-capture-corners.ts
 *
 * The packets, raw from the scanner's namespace (python3; checksums of the transport left 0: LOG and
 * NFLOG read them before anything checks them):
 * - IPv4: a first fragment (MF, offset 0) carrying a TCP SYN with ECE and CWR, and a later fragment;
 *   AH followed by TCP; ESP;
 * - IPv6: a source that is an IPv4-mapped address; AH followed by TCP; ESP; a first fragment (fragment
 *   header, offset 0, M) carrying a TCP SYN; ICMPv6 destination unreachable, packet too big and time
 *   exceeded quoting a packet, and type 100 (private experimentation) whose body looks like one.
 * The twins sit in the raw table's PREROUTING: fragments reach INPUT only reassembled (ip_local_deliver),
 * and the lab's firewall namespace runs no conntrack (whose defrag would reassemble them there too).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab } from './netns.ts';
import { asKmsgRecord, CAPTURE_GROUP, CAPTURE_PREFIX } from './nflog-capture.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const OUT = path.join(ROOT, 'tests/fixtures/nflog');

const PACKETS = `
import socket, struct, sys
v4src, v4dst, v6src, v6dst = sys.argv[1:5]
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def syn(sport, dport, flags=0x02):
    return struct.pack('!HHIIBBHHH', sport, dport, 1, 0, 5 << 4, flags, 64240, 0, 0)
s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def ip4(proto, payload, frag=0, ident=0x1234):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, socket.inet_aton(v4src), socket.inet_aton(v4dst))
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + payload
s4.sendto(ip4(6, syn(40001, 7201, 0xC2) + bytes(16), frag=0x2000, ident=0x1111), (v4dst, 0))
s4.sendto(ip4(6, bytes(16), frag=0x0005, ident=0x1112), (v4dst, 0))
s4.sendto(ip4(51, struct.pack('!BBHII', 6, 4, 0, 0x1000, 1) + bytes(12) + syn(40002, 7202)), (v4dst, 0))
s4.sendto(ip4(50, struct.pack('!II', 0x2000, 1) + bytes(24)), (v4dst, 0))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
def ip6(nxt, payload, src=v6src, dst=v6dst):
    return struct.pack('!IHBB', 6 << 28, len(payload), nxt, 64) + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + payload
def send6(pkt): s6.sendto(pkt, (v6dst, 0))
send6(ip6(6, syn(40003, 7203), src='::ffff:198.51.100.7'))
send6(ip6(51, struct.pack('!BBHII', 6, 4, 0, 0x3000, 1) + bytes(12) + syn(40004, 7204)))
send6(ip6(50, struct.pack('!II', 0x4000, 1) + bytes(24)))
send6(ip6(44, struct.pack('!BBHI', 6, 0, 0x0001, 0xabcd) + syn(40005, 7205, 0xC2) + bytes(8)))
quoted = ip6(17, struct.pack('!HHHH', 5555, 6666, 8, 0), src=v6dst, dst='2001:db8::77')
for t, c, word in ((1, 4, 0), (2, 0, 1280), (3, 0, 0), (100, 0, 0)):
    send6(ip6(58, struct.pack('!BBHI', t, c, 0, word) + quoted))
`;

async function main(): Promise<void> {
  const lab = await createLab({ ufw: false, listen: false });
  try {
    const s = lab.scanner;
    for (const tool of ['iptables', 'ip6tables'] as const) {
      await lab.run(lab.fwNs, [tool, '-t', 'raw', '-A', 'PREROUTING', '-i', s.fwIface, '-j', 'LOG', '--log-prefix', `${CAPTURE_PREFIX} `]);
      await lab.run(lab.fwNs, [tool, '-t', 'raw', '-A', 'PREROUTING', '-i', s.fwIface, '-j', 'NFLOG', '--nflog-group', String(CAPTURE_GROUP), '--nflog-prefix', CAPTURE_PREFIX, '--nflog-size', '2048', '--nflog-threshold', '1']);
    }
    const kmsg = lab.kmsg();
    const reader = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, path.join(ROOT, 'dist/native/portcullis-nflog'), String(CAPTURE_GROUP), String(4 << 20)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (c: Buffer) => chunks.push(c));
    // The links' IPv6 link-local addresses are tentative for a while after the lab comes up: a packet
    // sent earlier waits on neighbour discovery that cannot start yet, and is lost.
    await sleep(3000);
    await lab.run(s.ns, ['python3', '-c', PACKETS, s.v4, s.fwV4, s.v6, s.fwV6]);
    await sleep(1000);
    reader.kill('SIGTERM');
    await new Promise((r) => reader.once('close', r));
    kmsg.stop();
    const lines = kmsg.lines().filter((l) => l.includes(CAPTURE_PREFIX));
    writeFileSync(path.join(OUT, 'corners.bin'), Buffer.concat(chunks));
    writeFileSync(path.join(OUT, 'corners.txt'), lines.map(asKmsgRecord).join('\n') + '\n');
    console.log(`${lines.length} LOG lines, ${Buffer.concat(chunks).length} bytes of NFLOG frames`);
    for (const l of lines) console.log(l.replace(/^.*\] \[PORTCULLIS BLOCK\] /, ''));
  } finally {
    await lab.cleanup();
  }
}

if (import.meta.main) await main();
