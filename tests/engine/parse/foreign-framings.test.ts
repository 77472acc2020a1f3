/**
 * Firewall logs from other devices (issue 12 part 3): the parser's anyProgram option (replay only)
 * and the Proxmox VE / OpenWrt logread framings. The live engine's trust rule is unchanged: without
 * anyProgram another program's firewall line stays 'untrusted-transport'.
 */
import { describe, expect, it } from 'vitest';
import { parseRecord, sniffFraming } from '../../../electron/engine/parse/index.ts';

const FIELDS = 'IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=203.0.113.5 DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=49 ID=7 PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0';

describe('anyProgram: a firewall line another program wrote', () => {
  const forwarded = `Dec  6 05:00:01 gw firewall: [WAN DROP] ${FIELDS}`;

  it('is refused without it (the live engine never sets it), read as spoofable with it', () => {
    expect(parseRecord(forwarded, { year: 2026 })).toEqual({ ok: false, reason: 'untrusted-transport' });
    const r = parseRecord(forwarded, { year: 2026, anyProgram: true });
    expect(r).toMatchObject({ ok: true, packet: { src: '203.0.113.5', dpt: 22, prefix: 'WAN DROP', host: 'gw', trust: 'spoofable' } });
  });

  it('a tag with a pid, no tag at all, an RFC 5424 app-name, a kmsg record of the user facility', () => {
    for (const line of [`Dec  6 05:00:01 gw fw[12]: [WAN DROP] ${FIELDS}`, `Dec  6 05:00:01 gw [WAN DROP] ${FIELDS}`, `<4>1 2026-12-06T05:00:01Z gw firewall - - - [WAN DROP] ${FIELDS}`]) {
      expect(parseRecord(line, { year: 2026, anyProgram: true }), line).toMatchObject({ ok: true, packet: { prefix: 'WAN DROP', trust: 'spoofable' } });
    }
    const kmsg = `12,5,1000,-;[WAN DROP] ${FIELDS}`;
    expect(parseRecord(kmsg)).toEqual({ ok: false, reason: 'untrusted-transport' });
    expect(parseRecord(kmsg, { anyProgram: true })).toMatchObject({ ok: true, packet: { trust: 'spoofable', framing: 'kmsg' } });
  });

  it('a kernel line keeps its trust with anyProgram; another program line without LOG fields stays not-firewall', () => {
    expect(parseRecord(`Dec  6 05:00:01 gw kernel: [WAN DROP] ${FIELDS}`, { year: 2026, anyProgram: true })).toMatchObject({ ok: true, packet: { trust: 'spoofable', prefix: 'WAN DROP' } });
    expect(parseRecord('Dec  6 05:00:01 gw dnsmasq[3]: query[A] example.org', { year: 2026, anyProgram: true })).toEqual({ ok: false, reason: 'not-firewall' });
  });
});

describe('Proxmox VE firewall log', () => {
  it('is sniffed, dated in its own zone, and read as spoofable', () => {
    const line = `0 5 - 06/Dec/2026:06:00:01 +0100 policy DROP: ${FIELDS}`;
    expect(sniffFraming(line)).toBe('pve');
    expect(parseRecord(line)).toMatchObject({ ok: true, packet: { framing: 'pve', trust: 'spoofable', prefix: 'policy DROP:', time: Date.UTC(2026, 11, 6, 5, 0, 1) } });
    expect(parseRecord(`101 6 tap101i0-IN 06/Dec/2026:06:00:01 -0230 ACCEPT: ${FIELDS}`)).toMatchObject({ ok: true, packet: { time: Date.UTC(2026, 11, 6, 8, 30, 1) } });
  });

  it('a stamp that is not one is bad-framing', () => {
    for (const stamp of ['31/Nov/2026:06:00:01 +0100', '06/Dez/2026:06:00:01 +0100', '06/Dec/2026:24:00:01 +0100', '06/Dec/2026:06:00:01 0100', '06/Dec/2026:06:00:01']) {
      expect(parseRecord(`0 5 - ${stamp} policy DROP: ${FIELDS}`), stamp).toEqual({ ok: false, reason: 'bad-framing' });
    }
  });
});

describe("Proxmox VE: pvefw-logger's own lines and its guests", () => {
  // What pvefw-logger writes (src/pvefw-logger.c): OUT= only for a packet with an output device,
  // MAC= after PHYSIN=/PHYSOUT=, and its own TCP header: SEQ= ACK= WINDOW= then the flags, no RES=,
  // URGP= only after URG. A line ends with a blank.
  const MAC = 'MAC=bc:24:11:8a:10:00:52:54:00:ab:cd:ef:08:00';
  const IP = 'SRC=198.51.100.23 DST=192.0.2.100 LEN=44 TOS=0x00 PREC=0x00 TTL=49 ID=2002';
  const TCP = 'PROTO=TCP SPT=41000 DPT=22 SEQ=3000002002 ACK=0 WINDOW=1024 SYN ';
  const BRIDGED = `IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=fwln100i0 PHYSOUT=tap100i0 ${MAC} ${IP}`;
  const at = '22/Nov/2026:11:00:01 +0100';

  it("reads the host's record without OUT= and a TCP header without RES=/URGP= (ACK=0 is a number, not the flag)", () => {
    const host = `0 6 PVEFW-HOST-IN ${at} policy DROP: IN=vmbr0 PHYSIN=enp3s0 ${MAC} ${IP} ${TCP}`;
    expect(parseRecord(host)).toMatchObject({ ok: true, packet: { framing: 'pve', in: 'vmbr0', out: '', physIn: 'enp3s0', prefix: 'policy DROP:', dpt: 22, tcpFlags: 0x02, window: 1024, guest: undefined } });
    // …and records with a mark (pvefw-logger writes it last; after UDP's LEN= without a blank).
    expect(parseRecord(`${host}mark=7 `)).toMatchObject({ ok: true, packet: { tcpFlags: 0x02 } });
    const udp = `0 6 PVEFW-HOST-IN ${at} policy DROP: IN=vmbr0 ${IP} PROTO=UDP SPT=40123 DPT=161 LEN=8`;
    expect(parseRecord(`${udp}mark=7 `)).toMatchObject({ ok: true, packet: { proto: 'UDP', dpt: 161 } });
    expect(parseRecord(udp)).toMatchObject({ ok: true, packet: { proto: 'UDP', dpt: 161 } });
    expect(parseRecord(`${udp}x`)).toEqual({ ok: false, reason: 'truncated' });
    expect(parseRecord(`0 6 PVEFW-HOST-IN ${at} policy DROP: IN=vmbr0 ${IP} PROTO=TCP SPT=41000 DPT=22 SEQ=1 ACK=0 WINDOW=1024 URG SYN `)).toEqual({ ok: false, reason: 'truncated' });
    expect(parseRecord(`0 6 PVEFW-HOST-IN ${at} policy DROP: IN=vmbr0 ${IP} PROTO=TCP SPT=41000 DPT=22 SEQ=1 ACK=0 `)).toEqual({ ok: false, reason: 'truncated' });
  });

  it('the kernel\'s own lines keep their rules: OUT= and URGP= are required there', () => {
    expect(parseRecord(`Nov 22 11:00:01 gw kernel: [UFW BLOCK] IN=eth0 ${IP} ${TCP}`, { year: 2026 })).toEqual({ ok: false, reason: 'not-firewall' });
    expect(parseRecord(`Nov 22 11:00:01 gw kernel: [UFW BLOCK] IN=eth0 OUT= ${IP} ${TCP}`, { year: 2026 })).toEqual({ ok: false, reason: 'truncated' });
  });

  it("a guest's inbound chain gives the record its VMID; its outbound chain, the host's chains and VMID 0 do not", () => {
    const guest = (vmid: string, chain: string) => {
      const r = parseRecord(`${vmid} 6 ${chain} ${at} policy DROP: ${BRIDGED} ${TCP}`);
      return r.ok ? r.packet.guest : r.reason;
    };
    expect(guest('100', 'tap100i0-IN')).toBe(100);
    expect(guest('101', 'veth101i0-IN')).toBe(101);
    expect(guest('102', 'guest-102-in')).toBe(102); // the nftables proxmox-firewall's chain
    expect(guest('100', 'tap100i0-OUT')).toBeUndefined();
    expect(guest('0', 'PVEFW-HOST-IN')).toBeUndefined();
    expect(guest('0', 'tap100i0-IN')).toBeUndefined();
    expect(guest('0', '-')).toBeUndefined();
    expect(guest('1000000000', 'tap1000000000i0-IN')).toBeUndefined(); // not a VMID Proxmox VE gives
  });
});

describe('OpenWrt logread', () => {
  it('is sniffed and read; a user line imitating the kernel is untrusted-transport unless anyProgram', () => {
    const line = `Sun Dec  6 05:00:01 2026 kern.warn kernel: [12345.678901] drop wan in: ${FIELDS}`;
    expect(sniffFraming(line)).toBe('logread');
    expect(parseRecord(line)).toMatchObject({ ok: true, packet: { framing: 'logread', prefix: 'drop wan in:', trust: 'spoofable' } });
    const user = `Sun Dec  6 05:00:01 2026 user.notice root: drop wan in: ${FIELDS}`;
    expect(parseRecord(user)).toEqual({ ok: false, reason: 'untrusted-transport' });
    expect(parseRecord(user, { anyProgram: true })).toMatchObject({ ok: true, packet: { prefix: 'drop wan in:' } });
  });
});
