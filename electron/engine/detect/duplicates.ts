/**
 * One packet, one probe: tells a record that is a second LOG line of a packet already seen.
 *
 * Why: with Portcullis's per-source logging block installed (helper/firewall/blocks.ts) a blocked
 * packet passes two LOG rules — the block's at the start of ufw-after-input ("PORTCULLIS BLOCK"),
 * then ufw's own rate-limited one in ufw-after-logging-input ("UFW BLOCK") — and the kernel prints
 * both. Neither can be dropped in the firewall: the block must come first (ufw's after.rules sends
 * 445, 137-139, 67/68 to the policy unlogged right after it) and ufw's rule is ufw's. So the engine
 * drops the later line here, by packet identity.
 *
 * Identity: source, destination, protocol, ports, IPv4 ID, length, TTL, TCP flags and window, and a
 * DIFFERENT log prefix, within DUPLICATE_WINDOW_MS of event time. The different prefix is what makes
 * this safe: a retransmitted SYN (same ports, maybe same ID) logged twice by the same rule is two
 * packets and stays two. The two lines of one packet are printed one after the other (the same
 * softirq walks both rules), so a short ring of recent records is enough; other CPUs' records may
 * come between, hence more than one slot. Bounded: RING slots, overwritten in turn.
 *
 * Cost: a record is compared with the ring only when it carries a counted prefix and came in (the
 * caller checks), and the comparison starts with the destination port, which rarely matches.
 */
import type { PacketEvent } from '../../shared/packet.ts';
import { ipv4Key } from './tracker.ts';

/** Event-time distance within which two lines can be one packet: syslog stamps have whole seconds. */
export const DUPLICATE_WINDOW_MS = 2000;
const RING = 16;
/** A field the record does not carry (ports of ICMP, ID of IPv6), stored as a number that never is one. */
const NONE = -1;

export class DuplicateRecords {
  private readonly time = new Float64Array(RING).fill(-Infinity);
  private readonly dpt = new Int32Array(RING).fill(-2);
  private readonly spt = new Int32Array(RING);
  private readonly id = new Int32Array(RING);
  private readonly len = new Int32Array(RING);
  private readonly ttl = new Int32Array(RING);
  private readonly flags = new Int32Array(RING);
  private readonly window = new Int32Array(RING);
  private readonly srcV4 = new Float64Array(RING);
  private readonly src: string[] = new Array<string>(RING).fill('');
  private readonly dst: string[] = new Array<string>(RING).fill('');
  private readonly proto: string[] = new Array<string>(RING).fill('');
  private readonly prefix: string[] = new Array<string>(RING).fill('');
  private next = 0;

  /**
   * True when `p` is another LOG line of a packet in the ring (it is then not remembered); else
   * remembers it and returns false. `srcV4`: p.src's 32-bit value when the caller has it (p.src may
   * then be ''), else -1 (it is then read from p.src's text).
   */
  seen(p: PacketEvent, srcV4: number): boolean {
    // One key for an IPv4 source whichever lane read it (the replay's text lane gives its text, the
    // bytes lane its value): the two lines of one packet can straddle the switch between lanes.
    if (srcV4 < 0 && p.family === 4) srcV4 = ipv4Key(p.src);
    const dpt = p.dpt ?? NONE;
    const spt = p.spt ?? NONE;
    const id = p.id ?? NONE;
    const t = p.time;
    for (let i = 0; i < RING; i++) {
      if (
        this.dpt[i] === dpt &&
        this.spt[i] === spt &&
        this.id[i] === id &&
        this.prefix[i] !== p.prefix &&
        Math.abs(t - this.time[i]!) <= DUPLICATE_WINDOW_MS &&
        this.len[i] === (p.len ?? NONE) &&
        this.ttl[i] === (p.ttl ?? NONE) &&
        this.flags[i] === (p.tcpFlags ?? NONE) &&
        this.window[i] === (p.window ?? NONE) &&
        (srcV4 >= 0 ? this.srcV4[i] === srcV4 : this.srcV4[i]! < 0 && this.src[i] === p.src) &&
        this.dst[i] === p.dst &&
        this.proto[i] === p.proto
      ) {
        // Forget it: a third line with yet another prefix is a third rule's, still the same packet,
        // but two rules are what exists; and a later packet with this identity is a new packet.
        this.time[i] = -Infinity;
        return true;
      }
    }
    const k = this.next;
    this.next = k === RING - 1 ? 0 : k + 1;
    this.time[k] = t;
    this.dpt[k] = dpt;
    this.spt[k] = spt;
    this.id[k] = id;
    this.len[k] = p.len ?? NONE;
    this.ttl[k] = p.ttl ?? NONE;
    this.flags[k] = p.tcpFlags ?? NONE;
    this.window[k] = p.window ?? NONE;
    this.srcV4[k] = srcV4;
    this.src[k] = srcV4 >= 0 ? '' : p.src;
    this.dst[k] = p.dst;
    this.proto[k] = p.proto;
    this.prefix[k] = p.prefix;
    return false;
  }
}
