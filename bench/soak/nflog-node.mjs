/**
 * The soak bench's NFLOG consumer in Node (SOAK_NFLOG_READER=node, an experiment for issue 16 item 1):
 * what a runner would spend on NFLOG messages handed over by a small reader process through a pipe.
 * Reads from stdin what `nflog-count GROUP BUF - pipe` writes (each netlink message the kernel sent,
 * preceded by its length as a little-endian u32), and decodes each NFLOG packet message into the
 * fields the engine takes from a LOG line today: prefix, input interface index, source MAC, and from
 * the packet (copy range 128) family, SRC, DST, LEN, TTL, ID, protocol, SPT, DPT, TCP flags and
 * window; counts gaps in the instance's sequence numbers. The fields go into one reused object (as
 * the engine's reused packet), so the cost is the decoding, not garbage.
 *
 * At stdin's end prints "NODE msgs N lost L lat_us p50 X p99 Y max Z cpu_us USER SYS": latency from
 * the generator's send (its stamp in the TCP sequence number) to this process's decoding.
 */
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
const NFULA_IFINDEX_INDEV = 4;
const NFULA_HWADDR = 8;
const NFULA_SEQ = 11;
const NFLOG_PACKET = (4 << 8) | 0;

const pkt = { prefix: '', indev: 0, mac: 0n, family: 0, src: 0, dst: 0, len: 0, ttl: 0, id: 0, proto: 0, spt: 0, dpt: 0, flags: 0, window: 0 };
const prefixes = new Map();
let msgs = 0;
let lost = 0;
let lastSeq = -1;
const lat = new Uint32Array(1 << 22);
let latN = 0;
let nowLow = 0;

function decode(b, off, end) {
  const type = b.readUInt16LE(off + 4);
  if (type !== NFLOG_PACKET) return;
  msgs++;
  pkt.family = b[off + 16];
  let a = off + 20;
  let payload = -1;
  let plen = 0;
  while (a + 4 <= end) {
    const alen = b.readUInt16LE(a);
    const atype = b.readUInt16LE(a + 2) & 0x3fff;
    if (alen < 4 || a + alen > end) break;
    const d = a + 4;
    switch (atype) {
      case NFULA_PREFIX: {
        let z = d;
        while (z < a + alen && b[z] !== 0) z++;
        // One string per distinct prefix (there are few): compare bytes before making one.
        pkt.prefix = prefixOf(b, d, z);
        break;
      }
      case NFULA_IFINDEX_INDEV:
        pkt.indev = b.readUInt32BE(d);
        break;
      case NFULA_HWADDR:
        pkt.mac = b.readUIntBE(d + 4, 6);
        break;
      case NFULA_SEQ: {
        const s = b.readUInt32BE(d);
        if (lastSeq >= 0 && s !== ((lastSeq + 1) >>> 0)) lost += (s - lastSeq - 1) >>> 0;
        lastSeq = s;
        break;
      }
      case NFULA_PAYLOAD:
        payload = d;
        plen = alen - 4;
        break;
    }
    a += (alen + 3) & ~3;
  }
  if (payload < 0 || plen < 20 || b[payload] >> 4 !== 4) return;
  const ihl = (b[payload] & 15) * 4;
  pkt.len = b.readUInt16BE(payload + 2);
  pkt.id = b.readUInt16BE(payload + 4);
  pkt.ttl = b[payload + 8];
  pkt.proto = b[payload + 9];
  pkt.src = b.readUInt32BE(payload + 12);
  pkt.dst = b.readUInt32BE(payload + 16);
  if ((pkt.proto === 6 || pkt.proto === 17) && plen >= ihl + 4) {
    pkt.spt = b.readUInt16BE(payload + ihl);
    pkt.dpt = b.readUInt16BE(payload + ihl + 2);
  }
  if (pkt.proto === 6 && plen >= ihl + 16) {
    pkt.flags = b[payload + ihl + 13];
    pkt.window = b.readUInt16BE(payload + ihl + 14);
    const sent = b.readUInt32BE(payload + ihl + 4);
    if (latN < lat.length) lat[latN++] = (nowLow - sent) >>> 0;
  }
  prefixes.set(pkt.prefix, (prefixes.get(pkt.prefix) ?? 0) + 1);
}

const known = [];
function prefixOf(b, start, end) {
  for (const k of known) if (k.bytes.length === end - start && b.compare(k.bytes, 0, k.bytes.length, start, end) === 0) return k.text;
  const bytes = Buffer.from(b.subarray(start, end));
  const text = bytes.toString('latin1');
  known.push({ bytes, text });
  return text;
}

let rest = null;
process.stdin.on('data', (chunk) => {
  nowLow = Number((process.hrtime.bigint() / 1000n) & 0xffffffffn);
  let b = rest ? Buffer.concat([rest, chunk]) : chunk;
  let off = 0;
  while (off + 4 <= b.length) {
    const len = b.readUInt32LE(off);
    if (off + 4 + len > b.length) break;
    // A datagram may hold several netlink messages (not with a queue threshold of 1).
    let m = off + 4;
    const end = off + 4 + len;
    while (m + 16 <= end) {
      const mlen = b.readUInt32LE(m);
      if (mlen < 16 || m + mlen > end) break;
      decode(b, m, m + mlen);
      m += (mlen + 3) & ~3;
    }
    off = end;
  }
  rest = off < b.length ? Buffer.from(b.subarray(off)) : null;
});
process.stdin.on('end', () => {
  const sorted = lat.subarray(0, latN).sort();
  const cpu = process.cpuUsage();
  const pct = (q) => (latN ? sorted[Math.min(latN - 1, Math.floor(latN * q))] : '-');
  process.stdout.write(
    `NODE msgs ${msgs} lost ${lost} prefixes ${[...prefixes].map(([k, v]) => `${k.replaceAll(' ', '_')}=${v}`).join(',')} lat_us p50 ${pct(0.5)} p99 ${pct(0.99)} max ${latN ? sorted[latN - 1] : '-'} cpu_us ${cpu.user} ${cpu.system}\n`,
  );
});
