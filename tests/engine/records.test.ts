/**
 * Records (records.ts): a packet written by the JavaScript lane and read back is the same packet —
 * every field, undefined ones included — whatever its values; a value the columns cannot hold
 * sends the whole packet aside; the string table starts again when full without losing a string.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4Key } from '../../electron/engine/detect/tracker.ts';
import { C_GUEST } from '../../electron/engine/parse/layout.ts';
import { newPacket } from '../../electron/engine/parse/index.ts';
import { C_TAG, RECORD_INTS, RecordReader, StringIds, TAG_REJECTED, TAG_SIDE_PACKET, writePacket, writeRejected, type RecordBatch } from '../../electron/engine/records.ts';
import type { Ip } from '../../electron/shared/ip.ts';
import { REJECT_REASONS, type PacketEvent } from '../../electron/shared/packet.ts';

const CAPACITY = 64;

/** Writes `packets` (or rejections) as one batch per CAPACITY, reads them back. */
function roundTrip(items: (PacketEvent | (typeof REJECT_REASONS)[number])[]): { back: (PacketEvent | string)[]; tags: number[] } {
  const ids = new StringIds();
  const reader = new RecordReader();
  const back: (PacketEvent | string)[] = [];
  const tags: number[] = [];
  for (let from = 0; from < items.length; from += CAPACITY) {
    const buf = new ArrayBuffer(CAPACITY * RECORD_INTS * 4);
    const ints = new Int32Array(buf);
    const f64 = new Float64Array(buf);
    const batch: RecordBatch = { ints, count: 0, news: [], sides: [] };
    for (const item of items.slice(from, from + CAPACITY)) {
      const i = batch.count++;
      ids.beforeRecord(i, batch.news);
      if (typeof item === 'string') writeRejected(item, ints, i);
      else writePacket(item, ipv4Key(item.src), ints, f64, i, ids, batch.news, batch.sides);
    }
    let news = 0;
    for (let i = 0; i < batch.count; i++) {
      news = reader.news(batch, i, news);
      tags.push(ints[i * RECORD_INTS + C_TAG]!);
      if (ints[i * RECORD_INTS + C_TAG] === TAG_REJECTED) {
        back.push(REJECT_REASONS[ints[i * RECORD_INTS + 1]!]!);
        continue;
      }
      const p = { ...reader.packet(batch, f64, i, newPacket()) };
      if (p.src === '') p.src = [24, 16, 8, 0].map((s) => (reader.lastSrcV4 >>> s) & 255).join('.') as Ip;
      back.push(p);
    }
  }
  return { back, tags };
}

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const small = fc.nat({ max: 70_000 });
const text = fc.string({ maxLength: 12 });
const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('10.0.0.1', '2001:db8::1', '::ffff:1.2.3.4'));
const packet: fc.Arbitrary<PacketEvent> = fc.record({
  time: fc.double({ noNaN: true, min: 0, max: 4e12 }),
  framing: fc.constantFrom('syslog' as const, 'kmsg' as const, 'journal' as const, 'dmesg' as const, 'pve' as const),
  trust: fc.constantFrom('kernel' as const, 'spoofable' as const),
  seq: opt(fc.maxSafeNat()),
  host: opt(text),
  prefix: text,
  in: text,
  out: text,
  physIn: opt(text),
  physOut: opt(text),
  mac: opt(text),
  src: address.map((a) => a as Ip),
  dst: address.map((a) => a as Ip),
  family: fc.constantFrom(4 as const, 6 as const),
  len: opt(small),
  ttl: opt(small),
  id: opt(small),
  df: opt(fc.boolean()),
  fragment: opt(fc.boolean()),
  proto: fc.constantFrom('TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', '47'),
  spt: opt(small),
  dpt: opt(small),
  icmpType: opt(small),
  icmpCode: opt(small),
  tcpFlags: opt(fc.nat({ max: 255 })),
  window: opt(small),
  innerSrc: opt(address.map((a) => a as Ip)),
  innerDst: opt(address.map((a) => a as Ip)),
  guest: opt(fc.integer({ min: 1, max: 999_999_999 })),
}).map((p) => (p.framing === 'pve' ? p : { ...p, guest: undefined })); // only the Proxmox VE log names a guest (its column is read for it alone)

/** Every field present, undefined ones too. */
const full = (p: PacketEvent | string) => (typeof p === 'string' ? p : { ...newPacket(), ...p });

describe('records', () => {
  it('give back every packet and rejection as written', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(packet, fc.constantFrom(...REJECT_REASONS)), { maxLength: 200 }), (items) => {
        const { back, tags } = roundTrip(items);
        expect(back.map(full)).toStrictEqual(items.map(full));
        expect(tags.filter((t) => t === TAG_SIDE_PACKET)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('send a packet aside whole when a number does not fit the columns', () => {
    const p: PacketEvent = { ...newPacket(), src: '10.0.0.1' as Ip, dst: '10.0.0.2' as Ip, prefix: 'X', proto: 'TCP', len: 2 ** 40, seq: 12 };
    const q: PacketEvent = { ...p, spt: -1, len: 40 };
    const r: PacketEvent = { ...p, len: 40, ttl: 1.5 };
    const { back, tags } = roundTrip([p, q, r]);
    expect(tags).toEqual([TAG_SIDE_PACKET, TAG_SIDE_PACKET, TAG_SIDE_PACKET]);
    expect(back).toStrictEqual([p, q, r]);
  });

  it("a Proxmox VE guest's VMID is read back for a pve record only: the fast lane's syslog records leave its column as it was", () => {
    const pve: PacketEvent = { ...newPacket(), framing: 'pve', src: '10.0.0.1' as Ip, dst: '10.0.0.2' as Ip, prefix: 'policy DROP:', proto: 'TCP', guest: 100 };
    const buf = new ArrayBuffer(2 * RECORD_INTS * 4);
    const ints = new Int32Array(buf);
    const batch: RecordBatch = { ints, count: 2, news: [], sides: [] };
    const ids = new StringIds();
    writePacket(pve, ipv4Key(pve.src), ints, new Float64Array(buf), 0, ids, batch.news, batch.sides);
    // Record 1: a syslog record as the fast lane leaves it, the column still holding an earlier record's VMID.
    writePacket({ ...pve, framing: 'syslog', guest: undefined }, ipv4Key(pve.src), ints, new Float64Array(buf), 1, ids, batch.news, batch.sides);
    ints[RECORD_INTS + C_GUEST] = 100;
    const reader = new RecordReader();
    reader.news(batch, 0, 0);
    expect(reader.packet(batch, new Float64Array(buf), 0, newPacket()).guest).toBe(100);
    expect(reader.packet(batch, new Float64Array(buf), 1, newPacket()).guest).toBeUndefined();
  });

  it('start the string table again when it is full, and every string still reads right', () => {
    const items: PacketEvent[] = [];
    for (let i = 0; i < 10_000; i++) items.push({ ...newPacket(), src: '10.0.0.1' as Ip, dst: `10.1.${i >> 8}.${i & 255}` as Ip, prefix: `P${i % 7}`, in: 'eth0', out: '', proto: 'UDP', host: `h${i}` });
    const { back } = roundTrip(items);
    expect(back.map(full)).toStrictEqual(items.map(full));
  });
});
