/** PacketEvent builders for detector tests: a blocked inbound TCP SYN unless told otherwise. */
import type { Ip } from '../../../electron/shared/domain.ts';
import type { PacketEvent } from '../../../electron/shared/packet.ts';
import { TcpFlag } from '../../../electron/shared/packet.ts';

export const T0 = Date.UTC(2025, 10, 22, 10, 0, 0);

export function pkt(over: Partial<PacketEvent> = {}): PacketEvent {
  const src = (over.src ?? '203.0.113.7') as Ip;
  const family = src.includes(':') ? 6 : 4;
  return {
    time: T0,
    framing: 'kmsg',
    trust: 'kernel',
    prefix: 'UFW BLOCK',
    in: 'eth0',
    out: '',
    src,
    dst: (family === 6 ? '2001:db8::10' : '192.0.2.10') as Ip,
    family,
    proto: 'TCP',
    spt: 40000,
    dpt: 22,
    tcpFlags: TcpFlag.SYN,
    ...over,
  } as PacketEvent;
}

export const syn = (src: string, dpt: number, time: number, over: Partial<PacketEvent> = {}): PacketEvent =>
  pkt({ src: src as Ip, dpt, time, ...over });

export const udp = (src: string, dpt: number, time: number, spt = 40000): PacketEvent =>
  pkt({ src: src as Ip, proto: 'UDP', spt, dpt, time, tcpFlags: undefined });

/** `n` SYN probes from `src` to ports base, base+1, …, one every `stepMs`. */
export function sweep(src: string, n: number, start: number, stepMs = 1000, base = 20): PacketEvent[] {
  return Array.from({ length: n }, (_, i) => syn(src, base + i, start + i * stepMs));
}
