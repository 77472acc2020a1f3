/**
 * The packet path: raw log lines from the source → parse → engine → stored packets, offender rows and
 * UI rows. Ban decisions leave the engine as events (the service hands them to the ban pipeline);
 * this only counts, stores and shows. Never throws: a bad line is a counted reject.
 */
import type { Clock } from '../shared/domain.ts';
import type { Offender } from '../shared/model.ts';
import type { PacketEvent, RejectReason } from '../shared/packet.ts';
import type { LogSourcePort } from '../engine/ports.ts';
import { MinuteRate } from '../engine/logs/stats.ts';
import type { EngineLike, LineParser, ServiceStore } from './contracts.ts';
import type { EventBatcher } from './events.ts';
import { PrefixTally } from './server-doctor.ts';
import { packetRow } from './views.ts';
import { NotStoredTally, PacketStorageCap } from './packet-cap.ts';

/** Packets whose engine verdict is one of these are not blocked traffic of this host: not stored. */
const NOT_STORED = new Set(['not-for-this-host', 'prefix-not-counted', 'untrusted', 'not-inbound', 'duplicate-record']);
/** Parser refusals that are not rejects: the kernel log carries every other kernel message too. */
const IGNORED_REJECTS: ReadonlySet<RejectReason> = new Set<RejectReason>(['not-firewall', 'empty']);

export interface IntakeDeps {
  clock: Clock;
  parseLine: LineParser;
  store: ServiceStore;
  source: LogSourcePort | null;
  events: EventBatcher;
  engine(): EngineLike;
  recordMode?: (p: PacketEvent) => 'live' | 'replay' | 'skip';
  /** Packet rows stored per second at most (logs.maxStoredPacketsPerSecond); the rest are counted. */
  storedPerSecond?: () => number;
  /** The store's own flush (a full buffer) failed: the state's store health goes not ok at once, not at the next tick. */
  storeFailed?: (error: string) => void;
}

export class PacketIntake {
  private readonly d: IntakeDeps;
  /** Blocked packets seen by this run (the count shown when the store cannot answer). */
  blockedPackets = 0;
  /** Of those, the ones over the storage cap (counted, not stored) by this run. */
  packetsNotStored = 0;
  /** Prefixes of live records not counted as blocked, for the Doctor. */
  readonly uncountedPrefixes = new PrefixTally();
  private foreignRateOf: MinuteRate | null = null;
  private readonly cap = new PacketStorageCap();

  constructor(deps: IntakeDeps) {
    this.d = deps;
  }

  /** Records per minute that were another namespace's (the shared kernel log). */
  get foreignRate(): MinuteRate {
    return (this.foreignRateOf ??= new MinuteRate(this.d.clock));
  }

  /** One chunk of raw log lines from the source. */
  ingestLines(lines: string[]): void {
    this.ingest(lines, true);
  }

  /** One chunk of packets from a source that decodes its own records (nflog): the lines' path after the parse. */
  ingestPackets(packets: PacketEvent[]): void {
    this.ingest(packets, false);
  }

  private ingest(items: readonly (string | PacketEvent)[], parse: boolean): void {
    const d = this.d;
    const engine = d.engine();
    const stored: PacketEvent[] = [];
    const touched = new Set<string>();
    /** Counted sources whose record was over the storage cap (not stored). */
    let touchedUnstored: Set<string> | null = null;
    let notStored: NotStoredTally | null = null;
    const perSecond = d.storedPerSecond?.() ?? Infinity;
    const wantRows = d.events.listenerCount > 0;
    let rejects = 0;
    let foreign = 0;
    for (const item of items) {
      let p: PacketEvent;
      if (parse) {
        let res;
        try {
          res = d.parseLine(item as string);
        } catch {
          rejects++;
          continue;
        }
        if (!res.ok) {
          // Other kernel messages (a USB device, a driver) are not firewall lines: not rejects.
          if (!IGNORED_REJECTS.has(res.reason)) rejects++;
          continue;
        }
        p = res.packet;
      } else p = item as PacketEvent;
      const mode = d.recordMode ? d.recordMode(p) : 'live';
      if (mode === 'skip') continue;
      const verdict = engine.ingestPacket(p);
      if (verdict === 'not-for-this-host') foreign++;
      if (verdict === 'prefix-not-counted') this.uncountedPrefixes.note(p.prefix);
      if (mode === 'replay' || NOT_STORED.has(verdict)) continue;
      this.blockedPackets++;
      if (!this.cap.admit(p.time, perSecond)) {
        (notStored ??= new NotStoredTally()).add(p.time);
        this.packetsNotStored++;
        if (verdict === 'counted') (touchedUnstored ??= new Set()).add(p.src);
        continue;
      }
      stored.push(p);
      if (verdict === 'counted') touched.add(p.src);
    }
    // The source's health shows rejects per minute: lines that looked like firewall records but were refused.
    if (rejects) d.source?.noteRejects?.(rejects);
    // Lines / min counts every record of the shared kernel log; the UI says how many were this host's.
    if (foreign) this.foreignRate.add(foreign);
    if (stored.length) {
      // A live row carries its stored row's id: the window merges the rows it pages from the store
      // (backfill, a reload) with the streamed ones by id, across restarts of the service too.
      const first = d.store.addPackets(stored);
      // addPackets never throws: a flush of its own that failed is only in the store's writeError.
      const failed = d.store.writeError?.() ?? null;
      if (failed !== null) d.storeFailed?.(failed);
      if (wantRows) d.events.push({ type: 'packets', rows: stored.map((p, i) => packetRow(p, first + i)) });
    }
    if (notStored) d.store.countNotStored?.(notStored.entries());
    if (touchedUnstored) {
      // A source seen once, in a record over the cap, is not written either: a spoofed flood makes
      // every record a new source, and its offender row would cost the B-tree writes the cap saves.
      // It is counted with the packets not stored; from its second record (or a ban) on it is written.
      for (const ip of touchedUnstored) {
        if (touched.has(ip)) continue;
        const o = engine.offender(ip);
        if (o && (o.hits > 1 || o.state !== 'watching' || o.strikes > 0)) touched.add(ip);
      }
    }
    if (touched.size) {
      const offenders = [...touched].map((ip) => engine.offender(ip)).filter((x): x is Offender => x !== null);
      d.store.upsertOffenders(offenders);
      if (wantRows && offenders.length) d.events.push({ type: 'offenders', offenders });
    }
  }
}
