/**
 * The scan rule: what counts as a port scan, and the evidence a ban reason shows.
 *
 * A source is a scanner when, within the last `findtimeSec` seconds (event time), it sent at least
 * `maxretry` probes touching at least `minDistinctPorts` distinct destination ports.
 *
 * What the rule needs of a source, and so all the window records (`source-windows.ts`) keep:
 * - the last `maxretry` probe times. The window holds ≥ maxretry probes exactly when the oldest of
 *   those is inside it, so more times than that are never needed;
 * - the destination ports seen, each with its last probe time and hits. Ports whose last probe
 *   left the window no longer count, and the list is capped at `portCap` (least recently probed
 *   port dropped first), so one source costs O(maxretry + minDistinctPorts) whatever it sends;
 * - hits, first/last seen and the kinds of probe seen (the evidence).
 * A probe is one connection attempt, not one logged packet: an unanswered SYN is sent again after
 * 1 s, 3 s, 7 s … (up to ~1 min with Linux's defaults), and with a DROP policy every resend is
 * logged again. So a probe whose connection key — protocol, source port, destination port and a
 * hash of the source address — equals that of one of the source's last `maxretry` probes less than
 * REPEAT_WINDOW_MS apart is a repeat: counted in the hits and first/last seen (evidence), not as a
 * probe of the rule. Without that, a client trying three closed ports once each (a mail client's
 * autoconfig: 993, 587, 465) made 5 probes on 3 ports within 3 s and was banned. A new attempt
 * from a new source port (what a client does) and probes without ports (pings) always count.
 * A source quiet for a whole window (last seen findtime or more before a probe) starts afresh,
 * unless a ban of it is pending (SourceWindows.restartIfQuiet, which the tracker calls per probe).
 *
 * Pure: times are the packets' event times (ms).
 */
import type { ScanType } from '../../shared/model.ts';

export interface TrackerSettings {
  findtimeSec: number;
  maxretry: number;
  minDistinctPorts: number;
  maxTrackedSources: number;
}

/** How far apart two probes of one connection key are a repeat (scan-rule.ts header). */
export const REPEAT_WINDOW_MS = 120_000;

/*
 * A probe's connection key, exact in a double, is handed over in two small integers (a double
 * passed to a call that is not inlined is a new heap number, one per probe): `ports`, the source
 * and destination port (connectionPorts), and `from`, the protocol and 20 bits of the source
 * address (connectionFrom; -1: the probe has no source port, no key). The address's bits because a
 * network's window holds several members' probes, and two members' attempts from the same ports
 * are two probes; two addresses equal in those bits are taken as one, which can only make a probe less.
 */

/** The ports half of a connection key (an int32). */
export function connectionPorts(spt: number, dpt: number): number {
  return ((spt & 0xffff) << 16) | (dpt & 0xffff);
}

/** The other half: `udp` or TCP and 20 bits of `srcHash` (≥ 0). */
export function connectionFrom(udp: boolean, srcHash: number): number {
  return ((srcHash & 0xfffff) << 1) | (udp ? 1 : 0);
}

/** The key of the two halves (-1 when `from` is -1: no key). */
export function connectionKey(ports: number, from: number): number {
  return from < 0 ? -1 : from * 0x1_0000_0000 + (ports >>> 0);
}

const SCAN_TYPES: readonly ScanType[] = ['SYN', 'UDP', 'FIN', 'NULL', 'XMAS', 'MIXED', 'OTHER'];
/** A kind of probe as a bit of a source's mask of kinds seen. */
export const TYPE_BIT: Record<ScanType, number> = { SYN: 1, UDP: 2, FIN: 4, NULL: 8, XMAS: 16, MIXED: 32, OTHER: 64 };

/** One type, or MIXED when several kinds were seen (OTHER = pings and crafted packets). */
export function scanTypeOf(mask: number): ScanType {
  if (mask === 0) return 'OTHER';
  if ((mask & (mask - 1)) === 0) {
    for (const t of SCAN_TYPES) if (TYPE_BIT[t] === mask) return t;
  }
  // OTHER (pings) alongside one real kind: report the real kind.
  const real = mask & ~TYPE_BIT.OTHER;
  if ((real & (real - 1)) === 0) for (const t of SCAN_TYPES) if (TYPE_BIT[t] === real) return t;
  return 'MIXED';
}

/** What the rule reads of a source's window (kept by `SourceWindows`, by slot). */
export interface ProbeWindows {
  /** Probes counted into the ring since the window (re)started, the one just recorded included. */
  probesOf(slot: number): number;
  /** The earliest and the latest of the ring's last maxretry times (`time`: the probe just recorded). */
  ringEarliest(slot: number, time: number): number;
  ringLatest(slot: number, time: number): number;
  /** Distinct ports on record (some may have left the window). */
  portCount(slot: number): number;
  /** Drops the ports whose last probe is a whole window before `now`; returns the ports left. */
  prunePorts(slot: number, now: number): number;
}

/** A source's window as plain values: the evidence, and what a re-layout carries over. */
export interface WindowCopy {
  ip: string;
  hits: number;
  first: number;
  last: number;
  mask: number;
  pending: number;
  times: number[]; // oldest first
  keys: number[]; // each time's connection key (connectionKey; -1: none)
  ports: number[]; // triplets [port, last probe time, hits]
}

/** The summary of a window that the ban reason and the offender list show. */
export interface WindowSummary {
  hits: number;
  /** Distinct ports in the window, ascending, at most `limit`. */
  ports: number[];
  distinctPorts: number;
  firstSeen: number;
  lastSeen: number;
  scanType: ScanType;
}

export class ScanRule {
  findtimeMs = 0;
  maxretry = 0;
  minPorts = 1;
  /** Cap of the per-source port list (ports, not array slots): the rule's ports and a margin of evidence. */
  portCap = 1;

  constructor(s: TrackerSettings) {
    this.configure(s);
  }

  configure(s: TrackerSettings): void {
    this.findtimeMs = s.findtimeSec * 1000;
    this.maxretry = s.maxretry;
    this.minPorts = s.minDistinctPorts;
    this.portCap = Math.max(s.maxretry, s.minDistinctPorts) + 8;
  }

  /**
   * Whether the source in `slot` now meets the rule, after the probe at `time` was recorded;
   * `probes`: w.probesOf(slot), which the caller has at hand.
   */
  isScan(w: ProbeWindows, slot: number, time: number, probes = w.probesOf(slot)): boolean {
    if (probes < this.maxretry) return false;
    // The last maxretry probes must lie within findtime of one another. Not "this probe minus the
    // oldest in the ring": a log is not always in time order (files merged or concatenated newest
    // first, `cat ufw.log ufw.log.1`), and a probe dated before the others made that difference
    // negative, so probes an hour apart passed a 10-minute window. The ring's span cannot.
    const latest = w.ringLatest(slot, time);
    if (latest - w.ringEarliest(slot, time) >= this.findtimeMs) return false;
    if (w.portCount(slot) < this.minPorts) return false;
    // Ports are pruned against the newest probe, not the one just read.
    return w.prunePorts(slot, latest) >= this.minPorts;
  }
}

/** Ban-reason / offender view of a window. `limit` caps the port list (ascending). */
export function summarize(c: WindowCopy, limit: number): WindowSummary {
  const ports: number[] = [];
  for (let i = 0; i < c.ports.length; i += 3) ports.push(c.ports[i]!);
  ports.sort((a, b) => a - b);
  return {
    hits: c.hits,
    ports: ports.length > limit ? ports.slice(0, limit) : ports,
    distinctPorts: ports.length,
    firstSeen: c.first,
    lastSeen: c.last,
    scanType: scanTypeOf(c.mask),
  };
}

/** Ports of a window, most probed first (ties: lower port first), at most `limit`. */
export function topPorts(c: WindowCopy, limit: number): number[] {
  const p = c.ports;
  const rows: [number, number][] = [];
  for (let i = 0; i < p.length; i += 3) rows.push([p[i]!, p[i + 2]!]);
  rows.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return rows.slice(0, limit).map((r) => r[0]);
}
