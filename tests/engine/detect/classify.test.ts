import { describe, expect, it } from 'vitest';
import { classify, isScanType, normalisePrefix } from '../../../electron/engine/detect/classify.ts';
import { TcpFlag } from '../../../electron/shared/packet.ts';
import { pkt } from './packets.ts';

const { SYN, ACK, FIN, RST, PSH, URG, ECE, CWR } = TcpFlag;
const counted = new Set(['UFW BLOCK', 'PORT DENIED:']);
const tcp = (flags: number) => classify(pkt({ tcpFlags: flags }), counted);

describe('classify: TCP scan signatures (psad-like)', () => {
  it('SYN without ACK is a SYN probe, also with ECN bits', () => {
    expect(tcp(SYN)).toBe('SYN');
    expect(tcp(SYN | ECE | CWR)).toBe('SYN');
  });
  it('FIN alone, no flags, FIN+PSH+URG', () => {
    expect(tcp(FIN)).toBe('FIN');
    expect(tcp(0)).toBe('NULL');
    expect(tcp(FIN | PSH | URG)).toBe('XMAS');
  });
  it('crafted mixes without ACK/RST are OTHER probes', () => {
    expect(tcp(SYN | FIN)).toBe('OTHER');
    expect(tcp(FIN | URG)).toBe('OTHER');
    expect(tcp(PSH)).toBe('OTHER');
  });
  it('SYN-ACK backscatter, RST, ACK and anything with ACK are not probes', () => {
    expect(tcp(SYN | ACK)).toBe('not-a-probe');
    expect(tcp(RST)).toBe('not-a-probe');
    expect(tcp(RST | ACK)).toBe('not-a-probe');
    expect(tcp(ACK)).toBe('not-a-probe');
    expect(tcp(ACK | PSH)).toBe('not-a-probe');
    expect(tcp(FIN | ACK)).toBe('not-a-probe');
    expect(classify(pkt({ tcpFlags: undefined }), counted)).toBe('not-a-probe');
  });
});

describe('classify: UDP', () => {
  const u = (spt: number, dpt: number) => classify(pkt({ proto: 'UDP', spt, dpt, tcpFlags: undefined }), counted);
  it('a UDP packet to a port is a probe', () => {
    expect(u(40000, 161)).toBe('UDP');
    expect(u(53, 53)).toBe('UDP'); // to a privileged port: not the answer to one of our queries
    expect(u(40001, 40000)).toBe('UDP');
  });
  it('a reply from a service port to an ephemeral port is a late reply', () => {
    for (const spt of [53, 123, 443, 500, 4500, 1900, 5353, 137, 3478]) expect(u(spt, 51234), String(spt)).toBe('late-reply');
    expect(u(443, 32768)).toBe('late-reply');
    // Below the ephemeral range no reply is due from most service ports: a UDP scan from one (nmap -sU -g 443).
    for (const spt of [443, 500, 1900, 137])
      for (const dpt of [1024, 1434, 3389, 5060, 11211, 27015, 32767]) expect(u(spt, dpt), `${spt}→${dpt}`).toBe('UDP');
    // DNS, NTP and mDNS: resolvers (unbound) and chrony query from any port above 1024, so their late
    // answers there are late replies too (the host's own resolver must not be banned after a conntrack flush).
    for (const spt of [53, 123, 5353]) for (const dpt of [1024, 2011, 9001, 32767]) expect(u(spt, dpt), `${spt}→${dpt}`).toBe('late-reply');
    expect(u(53, 1023)).toBe('UDP');
  });
  it('no destination port is not a probe', () => {
    expect(classify(pkt({ proto: 'UDP', spt: 1, dpt: undefined, tcpFlags: undefined }), counted)).toBe('not-a-probe');
  });
});

describe('classify: ICMP, fragments, other protocols', () => {
  const icmp = (proto: string, icmpType: number) => classify(pkt({ proto, icmpType, icmpCode: 0, spt: undefined, dpt: undefined, tcpFlags: undefined }), counted);
  it('ICMP errors quote someone else\'s packet', () => {
    for (const t of [3, 4, 5, 11, 12]) expect(icmp('ICMP', t)).toBe('icmp-error');
    for (const t of [1, 2, 3, 4]) expect(icmp('ICMPv6', t)).toBe('icmp-error');
  });
  it('echo requests count as port-less probes (OTHER); replies and neighbour discovery do not', () => {
    expect(icmp('ICMP', 8)).toBe('OTHER');
    expect(icmp('ICMP', 13)).toBe('OTHER');
    expect(icmp('ICMPv6', 128)).toBe('OTHER');
    expect(icmp('ICMP', 0)).toBe('not-a-probe');
    expect(icmp('ICMPv6', 129)).toBe('not-a-probe');
    expect(icmp('ICMPv6', 135)).toBe('not-a-probe');
  });
  it('fragments carry no ports', () => {
    expect(classify(pkt({ fragment: true, dpt: undefined, spt: undefined, tcpFlags: undefined }), counted)).toBe('fragment');
  });
  it('other protocols are not probes', () => {
    expect(classify(pkt({ proto: '47', tcpFlags: undefined, dpt: undefined }), counted)).toBe('not-a-probe');
    expect(classify(pkt({ proto: 'SCTP', tcpFlags: undefined }), counted)).toBe('not-a-probe');
  });
});

describe('classify: prefix and direction', () => {
  it('a prefix that is not counted', () => {
    expect(classify(pkt({ prefix: 'UFW ALLOW' }), counted)).toBe('prefix-not-counted');
    expect(classify(pkt({ prefix: 'UFW AUDIT' }), counted)).toBe('prefix-not-counted');
    expect(classify(pkt({ prefix: 'PORT DENIED:' }), counted)).toBe('SYN');
  });
  it('outgoing or forwarded packets are not inbound', () => {
    expect(classify(pkt({ in: '', out: 'eth0' }), counted)).toBe('not-inbound');
    expect(classify(pkt({ in: 'eth0', out: 'eth1' }), counted)).toBe('not-inbound');
  });
  it("forwarded packets count from the forward block's prefix only (issue 12.2)", () => {
    const withForward = new Set([...counted, 'PORTCULLIS FORWARD']);
    expect(classify(pkt({ in: 'eth0', out: 'docker0', prefix: 'PORTCULLIS FORWARD' }), withForward)).toBe('SYN');
    // ufw's own forward records log both directions (a LAN host's blocked outbound too): not evidence.
    expect(classify(pkt({ in: 'eth0', out: 'docker0', prefix: 'UFW BLOCK' }), withForward)).toBe('not-inbound');
    // Outgoing (no IN=) stays outgoing, whatever the prefix; a prefix not counted stays not counted.
    expect(classify(pkt({ in: '', out: 'eth0', prefix: 'PORTCULLIS FORWARD' }), withForward)).toBe('not-inbound');
    expect(classify(pkt({ in: 'eth0', out: 'docker0', prefix: 'PORTCULLIS FORWARD' }), counted)).toBe('prefix-not-counted');
  });
  it('isScanType tells probes from reasons; normalisePrefix strips brackets and blanks', () => {
    expect(isScanType('SYN')).toBe(true);
    expect(isScanType('late-reply')).toBe(false);
    expect(normalisePrefix(' [UFW BLOCK] ')).toBe('UFW BLOCK');
    expect(normalisePrefix('PORT DENIED: ')).toBe('PORT DENIED:');
  });
});
