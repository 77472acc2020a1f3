/**
 * Captures the fixtures of tests/engine/parse/nflog.test.ts from the kernel (root): in a namespace
 * lab, each packet into the firewall namespace is logged twice — by a LOG rule (kmsg text, read
 * through dmesg) and by its NFLOG twin (read by dist/native/portcullis-nflog) — so the decoder's
 * record of every message can be compared with the text parser's record of the same packet.
 *
 *   node tests/support/nflog-capture.ts        (writes tests/fixtures/nflog/capture.{bin,txt})
 *
 * The packets: TCP SYNs (IPv4, IPv6), UDP datagrams (both), ICMP echo (both), an ICMP port
 * unreachable quoting a packet (IPv4) and whatever IPv6 neighbour discovery the link does meanwhile.
 * capture.bin is the reader's stdout as it came (frames: electron/engine/parse/nflog.ts); capture.txt
 * the LOG lines of the same packets in the same order, as /dev/kmsg records (what the kmsg source
 * parses; dmesg --raw's `<4>[ s.us] text` made back into `4,SEQ,USEC,-;text`).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab } from './netns.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const OUT = path.join(ROOT, 'tests/fixtures/nflog');
export const CAPTURE_GROUP = 7;
export const CAPTURE_PREFIX = '[PORTCULLIS BLOCK]';

/** One ICMP/ICMPv6 echo request through a raw socket (no ping on these machines; python3 comes with ufw). */
const ECHO_REQUEST = `
import socket, struct, sys
v6 = sys.argv[1] == '6'
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
body = struct.pack('!HH', 0x1234, 1) + b'portcullis'
if v6:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    sock.sendto(struct.pack('!BBH', 128, 0, 0) + body, (sys.argv[2], 0))  # the kernel sums ICMPv6
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.sendto(struct.pack('!BBH', 8, 0, csum(struct.pack('!BBH', 8, 0, 0) + body)) + body, (sys.argv[2], 0))
`;

/** dmesg --raw's `<P>[ S.U] text` as the /dev/kmsg record it was (`P,SEQ,USEC,-;text`; SEQ: its place in the capture). */
export function asKmsgRecord(line: string, i: number): string {
  const m = /^<(\d+)>\[\s*(\d+)\.(\d+)\] (.*)$/.exec(line);
  if (!m) throw new Error(`not a dmesg --raw line: ${line}`);
  return `${m[1]},${i},${Number(m[2]) * 1_000_000 + Number(m[3])},-;${m[4]}`;
}

async function main(): Promise<void> {
  const lab = await createLab({ ufw: false, listen: false });
  try {
    const s = lab.scanner;
    for (const [tool, src] of [['iptables', s.v4], ['ip6tables', s.v6]] as const) {
      await lab.run(lab.fwNs, [tool, '-A', 'INPUT', '-i', s.fwIface, '-s', src, '-j', 'LOG', '--log-prefix', `${CAPTURE_PREFIX} `]);
      await lab.run(lab.fwNs, [tool, '-A', 'INPUT', '-i', s.fwIface, '-s', src, '-j', 'NFLOG', '--nflog-group', String(CAPTURE_GROUP), '--nflog-prefix', CAPTURE_PREFIX, '--nflog-size', '128', '--nflog-threshold', '1']);
    }
    const kmsg = lab.kmsg();
    const reader = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, path.join(ROOT, 'dist/native/portcullis-nflog'), String(CAPTURE_GROUP), String(4 << 20)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (c: Buffer) => chunks.push(c));
    await sleep(500);
    await lab.probe(s.ns, s.fwV4, 4444, { timeoutMs: 200 });
    await lab.probe(s.ns, s.fwV6, 4445, { timeoutMs: 200 });
    await lab.probe(s.ns, s.fwV4, 5353, { proto: 'udp', timeoutMs: 200 });
    await lab.probe(s.ns, s.fwV6, 5354, { proto: 'udp', timeoutMs: 200 });
    await lab.run(s.ns, ['python3', '-c', ECHO_REQUEST, '4', s.fwV4]);
    await lab.run(s.ns, ['python3', '-c', ECHO_REQUEST, '6', s.fwV6]);
    // The scanner answers a datagram to its closed port with ICMP port unreachable, which quotes it.
    await lab.probe(lab.fwNs, s.v4, 6666, { proto: 'udp', timeoutMs: 200 });
    await sleep(1000);
    reader.kill('SIGTERM');
    await new Promise((r) => reader.once('close', r));
    kmsg.stop();
    writeFileSync(path.join(OUT, 'capture.bin'), Buffer.concat(chunks));
    writeFileSync(path.join(OUT, 'capture.txt'), kmsg.lines().filter((l) => l.includes(CAPTURE_PREFIX)).map(asKmsgRecord).join('\n') + '\n');
    console.log(`${kmsg.lines().length} LOG lines, ${Buffer.concat(chunks).length} bytes of NFLOG frames`);
  } finally {
    await lab.cleanup();
  }
}

if (import.meta.main && !process.argv.includes('--corners')) await main();
