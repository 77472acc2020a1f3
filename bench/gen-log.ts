/**
 * Deterministic (seeded) generator of a realistic firewall log, for the benchmark and for tests
 * that need volume. What a busy internet-facing host sees in /var/log/ufw.log (or /dev/kmsg):
 * mostly single probes from a large population of sources, SYN-ACK and RST backscatter, late
 * UDP replies from DNS/NTP, ICMP errors quoting a packet, ICMP echo, ALLOW/AUDIT lines, other
 * kernel and program lines, a little garbage — and some real scans: sources probing many ports
 * within seconds (SYN mostly, some FIN/NULL/XMAS/UDP).
 *
 *   ./node_modules/.bin/node bench/gen-log.ts [--lines N] [--seed S] [--framing syslog|kmsg] [--sources N] --out FILE
 *
 * Same options, same bytes. Times start at 2026-11-22 00:00:00 (local) and advance ~12 lines/s.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalIp } from '../electron/shared/domain.ts';

export interface GenOptions {
  lines?: number;
  seed?: number;
  framing?: 'syslog' | 'kmsg';
  /** Distinct background sources (default 100,000). */
  sources?: number;
  /** Share of lines that belong to real scans (default 0.03). */
  scanShare?: number;
  /** Host name in syslog lines. */
  host?: string;
}

export interface GenSummary {
  lines: number;
  /** Sources that ran a real scan (many distinct ports within seconds), canonical form, in order of first probe. */
  scanners: string[];
  /** Lines that are deliberately garbage (truncated, binary, too long, spoofed, other programs). */
  garbage: number;
  firstTime: number;
  lastTime: number;
}

/** Small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HOST_V4 = '192.0.2.10';
const HOST_V6 = '2001:0db8:0000:0000:0000:0000:0000:000a';
const MACS = [
  '52:54:00:12:34:56:52:54:00:65:43:21:08:00',
  '52:54:00:12:34:56:00:1b:21:0a:bc:de:08:00',
  '52:54:00:12:34:56:52:54:00:aa:bb:cc:86:dd',
];
const COMMON_PORTS = [22, 23, 25, 53, 80, 81, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1433, 1723, 3306, 3389, 5060, 5432, 5900, 6379, 8000, 8080, 8443, 8888, 9200, 11211, 27017];
const OTHER_KERNEL = [
  'usb 1-1: new high-speed USB device number 2 using xhci_hcd',
  'EXT4-fs (sda1): re-mounted. Opts: errors=remount-ro',
  'audit: type=1400 audit(1763800000.123:42): apparmor="STATUS" operation="profile_load"',
  'e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx',
  'TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.',
  'nf_conntrack: default automatic helper assignment has been turned off for security reasons',
];
const OTHER_PROGRAMS = [
  'sshd[1234]: Accepted publickey for admin from 198.51.100.7 port 50522 ssh2',
  'CRON[5678]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)',
  'systemd[1]: Started Daily apt download activities.',
];

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** Generate the log, handing it out in chunks of text (each ends with a newline). */
export function generateLog(options: GenOptions, write: (text: string) => void): GenSummary {
  const total = options.lines ?? 1_000_000;
  const rnd = prng(options.seed ?? 1);
  const framing = options.framing ?? 'syslog';
  const host = options.host ?? 'gateway';
  const sourceCount = options.sources ?? 100_000;
  const scanShare = options.scanShare ?? 0.03;
  const int = (n: number) => Math.floor(rnd() * n);

  // Background population: 80% IPv4, 20% IPv6 (printed expanded, as the kernel's %pI6 does).
  const sources: string[] = new Array(sourceCount);
  for (let i = 0; i < sourceCount; i++) {
    if (rnd() < 0.8) sources[i] = `${1 + int(223)}.${int(256)}.${int(256)}.${1 + int(254)}`;
    else sources[i] = `2001:0db8:${hex4(int(65536))}:${hex4(int(65536))}:0000:0000:${hex4(int(65536))}:${hex4(1 + int(65535))}`;
  }

  const startMs = new Date(2026, 10, 22, 0, 0, 0).getTime();
  let now = startMs;
  let stampSecond = -1;
  let stamp = '';
  const bootMs = startMs - 3 * 86_400_000;
  let seq = 1000;

  const frame = (message: string): string => {
    if (framing === 'kmsg') {
      const usec = Math.floor((now - bootMs) * 1000);
      return `4,${seq++},${usec},-;${message}`;
    }
    const second = Math.floor(now / 1000);
    if (second !== stampSecond) {
      stampSecond = second;
      const d = new Date(second * 1000);
      const hh = String(d.getHours()).padStart(2, '0');
      const mm = String(d.getMinutes()).padStart(2, '0');
      const ss = String(d.getSeconds()).padStart(2, '0');
      stamp = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${hh}:${mm}:${ss} ${host} kernel: `;
    }
    const uptime = ((now - bootMs) / 1000).toFixed(6);
    return `${stamp}[${uptime.padStart(12, ' ')}] ${message}`;
  };
  const frameProgram = (message: string): string => {
    if (framing === 'kmsg') return `14,${seq++},${Math.floor((now - bootMs) * 1000)},-;${message}`;
    return frame('').replace(' kernel: ', ' ').replace(/\[[ \d.]+\] $/, '') + message;
  };

  const ipHeader = (src: string, len: number, proto: string, df: boolean): string => {
    if (src.indexOf(':') >= 0) {
      return `SRC=${src} DST=${HOST_V6} LEN=${len + 20} TC=0 HOPLIMIT=${32 + int(32)} FLOWLBL=${int(1048576)} PROTO=${proto === 'ICMP' ? 'ICMPv6' : proto} `;
    }
    return `SRC=${src} DST=${HOST_V4} LEN=${len} TOS=0x00 PREC=0x00 TTL=${32 + int(220)} ID=${int(65536)} ${df ? 'DF ' : ''}PROTO=${proto} `;
  };
  const mac = () => MACS[int(MACS.length)]!;
  const tcp = (prefix: string, src: string, spt: number, dpt: number, flags: string): string =>
    `[${prefix}] IN=eth0 OUT= MAC=${mac()} ${ipHeader(src, 40 + (flags === 'SYN' ? 4 : 0), 'TCP', rnd() < 0.5)}SPT=${spt} DPT=${dpt} WINDOW=${flags === 'SYN' ? 1024 : int(65536)} RES=0x00 ${flags} URGP=0 `;
  const udp = (prefix: string, src: string, spt: number, dpt: number): string =>
    `[${prefix}] IN=eth0 OUT= MAC=${mac()} ${ipHeader(src, 28 + 40, 'UDP', false)}SPT=${spt} DPT=${dpt} LEN=${8 + 40} `;

  // Real scans: each runs a burst of probes to distinct ports, interleaved with the background.
  interface Scan {
    src: string;
    ports: number[];
    next: number;
    kind: string;
  }
  const active: Scan[] = [];
  const scanners: string[] = [];
  const newScan = (): Scan => {
    const v6 = rnd() < 0.2;
    const src = v6
      ? `2001:0db8:ffff:${hex4(int(65536))}:0000:0000:0000:${hex4(1 + int(65535))}`
      : `${1 + int(223)}.${int(256)}.${int(256)}.${1 + int(254)}`;
    const count = 20 + int(180);
    const ports: number[] = [];
    const base = int(60000);
    for (let i = 0; i < count; i++) ports.push(i < COMMON_PORTS.length && rnd() < 0.5 ? COMMON_PORTS[i]! : 1 + ((base + i * 7) % 65535));
    const r = rnd();
    const kind = r < 0.75 ? 'SYN' : r < 0.82 ? 'FIN' : r < 0.87 ? '' : r < 0.92 ? 'URG PSH FIN' : 'UDP';
    scanners.push(canonicalIp(src) ?? src);
    return { src, ports, next: 0, kind };
  };

  let garbage = 0;
  let buffer = '';
  for (let line = 0; line < total; line++) {
    now += -Math.log(1 - rnd()) * 85; // ~12 lines per second, Poisson
    let text: string;
    const r = rnd();
    if (r < scanShare) {
      if (active.length < 4 && (active.length === 0 || rnd() < 0.02)) active.push(newScan());
      const k = int(active.length);
      const scan = active[k]!;
      const port = scan.ports[scan.next++]!;
      text = frame(
        scan.kind === 'UDP'
          ? udp('UFW BLOCK', scan.src, 40000 + int(20000), port)
          : tcp('UFW BLOCK', scan.src, 40000 + int(20000), port, scan.kind),
      );
      if (scan.next >= scan.ports.length) active.splice(k, 1);
    } else {
      const src = sources[int(sourceCount)]!;
      const b = rnd();
      if (b < 0.55) text = frame(tcp('UFW BLOCK', src, 1024 + int(64000), rnd() < 0.5 ? COMMON_PORTS[int(COMMON_PORTS.length)]! : 1 + int(65535), 'SYN'));
      else if (b < 0.63) text = frame(tcp('UFW BLOCK', src, rnd() < 0.5 ? 80 : 443, 32768 + int(28000), 'ACK SYN')); // backscatter
      else if (b < 0.66) text = frame(tcp('UFW BLOCK', src, 1024 + int(64000), 1 + int(65535), 'RST'));
      else if (b < 0.74) text = frame(udp('UFW BLOCK', src, rnd() < 0.6 ? 53 : 123, 32768 + int(28000))); // late replies
      else if (b < 0.82) text = frame(udp('UFW BLOCK', src, 1024 + int(64000), COMMON_PORTS[int(COMMON_PORTS.length)]!));
      else if (b < 0.85) {
        // ICMP port unreachable quoting the UDP packet we sent to that host earlier
        if (src.indexOf(':') >= 0) {
          text = frame(
            `[UFW BLOCK] IN=eth0 OUT= MAC=${mac()} ${ipHeader(src, 96, 'ICMP', false)}TYPE=1 CODE=4 [SRC=${HOST_V6} DST=${src} LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=UDP SPT=${32768 + int(28000)} DPT=53 LEN=8 ] `,
          );
        } else {
          text = frame(
            `[UFW BLOCK] IN=eth0 OUT= MAC=${mac()} ${ipHeader(src, 56, 'ICMP', false)}TYPE=3 CODE=3 [SRC=${HOST_V4} DST=${src} LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=${int(65536)} PROTO=UDP SPT=${32768 + int(28000)} DPT=53 LEN=8 ] `,
          );
        }
      } else if (b < 0.88) {
        text = frame(`[UFW BLOCK] IN=eth0 OUT= MAC=${mac()} ${ipHeader(src, 84, 'ICMP', false)}TYPE=${src.indexOf(':') >= 0 ? 128 : 8} CODE=0 ID=${int(65536)} SEQ=${int(100)} `);
      } else if (b < 0.9) text = frame(tcp('UFW ALLOW', src, 1024 + int(64000), 22, 'SYN'));
      else if (b < 0.92) text = frame(tcp('UFW AUDIT', src, 1024 + int(64000), 443, 'SYN'));
      else if (b < 0.96) text = frame(OTHER_KERNEL[int(OTHER_KERNEL.length)]!);
      else if (b < 0.98) {
        text = frameProgram(OTHER_PROGRAMS[int(OTHER_PROGRAMS.length)]!);
        garbage++;
      } else if (b < 0.999) text = frame(tcp('UFW LIMIT BLOCK', src, 1024 + int(64000), 22, 'SYN'));
      else {
        garbage++;
        const g = int(5);
        const good = frame(tcp('UFW BLOCK', src, 1024 + int(64000), 1 + int(65535), 'SYN'));
        if (g === 0) text = good.slice(0, 40 + int(good.length - 60)); // truncated
        else if (g === 1) text = good.slice(0, 80) + '\u0000\u0000' + good.slice(82); // NUL bytes
        else if (g === 2) text = frameProgram(`[UFW BLOCK] SRC=${src} DST=${HOST_V4} PROTO=TCP DPT=22`).replace(host + ' ', `${host} root: `); // logger spoof
        else if (g === 3) text = good.slice(0, 100) + frame('[UFW BLOCK] IN=eth0 OUT= SRC=10.9.9.9 DST=192.0.2.10'); // spliced
        else text = line % 50 === 0 ? 'x'.repeat(10_000) : good.replace('SRC=', 'SRC=999.'); // too long / bad address
      }
    }
    buffer += text + '\n';
    if (buffer.length > 1 << 20) {
      write(buffer);
      buffer = '';
    }
  }
  if (buffer.length > 0) write(buffer);
  return { lines: total, scanners, garbage, firstTime: startMs, lastTime: now };
}

/** All lines of a small generated log (tests). */
export function generateLines(options: GenOptions): string[] {
  let text = '';
  generateLog(options, (chunk) => {
    text += chunk;
  });
  return text.split('\n').slice(0, -1);
}

function main(argv: string[]): number {
  const opts: GenOptions = {};
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--lines' && v) (opts.lines = Number(v)), i++;
    else if (a === '--seed' && v) (opts.seed = Number(v)), i++;
    else if (a === '--sources' && v) (opts.sources = Number(v)), i++;
    else if (a === '--framing' && (v === 'syslog' || v === 'kmsg')) (opts.framing = v), i++;
    else if (a === '--out' && v) (out = v), i++;
    else {
      console.error(`gen-log: unknown or incomplete argument ${a}\nusage: gen-log.ts [--lines N] [--seed S] [--framing syslog|kmsg] [--sources N] --out FILE`);
      return 2;
    }
  }
  if (!out) {
    console.error('gen-log: --out FILE is required');
    return 2;
  }
  const fd = openSync(out, 'w');
  const summary = generateLog(opts, (chunk) => {
    writeSync(fd, chunk);
  });
  closeSync(fd);
  console.log(JSON.stringify({ out, lines: summary.lines, scanners: summary.scanners.length, garbage: summary.garbage }));
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
