/**
 * Pure replay driver: byte chunks of a log in, the engine run in EVENT time, a summary out. The
 * CLI (electron/headless/replay.ts) does the I/O and the printing; tests and the benchmark drive
 * this directly.
 *
 * - Framing: given, or detected from the first lines (detectFraming) and then fixed for the whole
 *   input, so a stray line of another framing is a counted 'bad-framing' instead of being guessed.
 * - Kernel trust is NOT required: a replayed file is analysed, not acted upon, and a plain syslog
 *   file is spoofable by nature. The caller says so in its output.
 * - This host's addresses are the destinations of the inbound records (not forwarded ones): no
 *   network holding one is banned whole, as live (ScanEngine.addHostAddress).
 * - Proxmox VE guests: a record a guest's inbound chain logged (PacketEvent.guest) counts as
 *   inbound, to that guest (ScanEngineOptions.countGuestRecords): a scan of a VM or container is
 *   seen though this host only bridged it. Its destination is the guest's address, protected as
 *   this host's are. The live engine keeps its rule (a forwarded record is not evidence).
 * - Chunking does not matter: lines are cut by LineSplitter, and bans, expiries and deferred bans
 *   all follow the records' own times.
 */
import type { Clock } from '../shared/domain.ts';
import type { BanRecord, EngineEvent, IgnoreReason } from '../shared/model.ts';
import { REJECT_REASONS, type Framing, type PacketEvent, type RejectReason } from '../shared/packet.ts';
import type { Settings } from '../shared/settings.ts';
import { neverBanReason } from '../shared/never-ban.ts';
import { ipv4Key } from './detect/tracker.ts';
import { MAX_LEARNED_HOST_ADDRESSES } from './configuration.ts';
import { ScanEngine } from './engine.ts';
import { newPacket } from './parse/index.ts';
import { C_TAG, RECORD_INTS, RecordReader, TAG_REJECTED, type RecordBatch } from './records.ts';
import type { AllowedPorts } from './ports.ts';
import { ReplayParser, type ReplayParseOptions } from './replay-parse.ts';
import { V4Set } from './detect/v4-set.ts';

export type { ReplayParseOptions } from './replay-parse.ts';

export interface ReplayOptions extends ReplayParseOptions {
  settings: Settings;
  /** Ports the firewall allowed, by address family (probes to them are not evidence); none by default. */
  isAllowedPort?: AllowedPorts;
  /** Every engine event except per-probe ones, as it happens (ban, ban-deferred, unban, evicted). */
  onEvent?: (e: EngineEvent) => void;
}

/**
 * What the event times count from: 'wall' — ms since the epoch; 'boot' — ms since the machine
 * booted (kmsg/dmesg monotonic stamps without ReplayParseOptions.bootTimeMs), which an ISO date
 * shows as 1970-01-01T00:00:00Z = boot.
 */
export type TimeBase = 'wall' | 'boot';

export interface ReplaySummary {
  lines: number;
  packets: number;
  rejected: Record<RejectReason, number>;
  ignored: Record<IgnoreReason, number>;
  /** Packet records that counted as probes. */
  counted: number;
  /** Packet records of a Proxmox VE guest's inbound chain (PacketEvent.guest), counted or not. */
  guestRecords: number;
  /** Distinct SRC addresses among the packet records. */
  distinctSources: number;
  /** Framing used (detected or given); null when none could be recognised. */
  framing: Framing | null;
  /** Event time (ms) of the earliest and the latest packet record (not the first and last lines), null without packets. */
  firstTime: number | null;
  lastTime: number | null;
  /** What those times, and the bans', count from. */
  timeBase: TimeBase;
  /** Every ban made, in order (a source banned twice appears twice). */
  bans: BanRecord[];
  /** Bans still held back by the new-bans-per-minute cap at the end of the input, in release order. */
  deferred: string[];
  /** How many ban-deferred events happened (bans the cap delayed). */
  deferredEvents: number;
  /** Bans that expired within the replayed time span. */
  expired: number;
  trackedSources: number;
  evicted: number;
  /**
   * Prefixes of packet records ignored as 'prefix-not-counted', most frequent first (at most
   * UNCOUNTED_PREFIXES_SHOWN): what to pass to --prefix when the log uses one of its own.
   */
  uncountedPrefixes: { prefix: string; records: number }[];
}

/** Distinct uncounted prefixes remembered (a log of garbage cannot grow the map), and shown. */
const UNCOUNTED_PREFIXES_KEPT = 64;
const UNCOUNTED_PREFIXES_SHOWN = 10;

/**
 * The packet records are read into: newPacket() with its time made a fractional number first. The
 * reader writes event times with milliseconds' fractions; a time field that starts as a small
 * integer changes the object's shape at the first such write, which deoptimized the code reading
 * records (compiled again on the other core, during the replay's first batches).
 */
function scratchPacket(): PacketEvent {
  const p = newPacket();
  p.time = 0.5;
  p.time = 0;
  return p;
}

/**
 * A replay's detect stage and summary: records in (from its own ReplayParser through push(), or
 * from a parse stage elsewhere through ingest()), the engine run in event time, the summary out.
 */
export class ReplaySession {
  private readonly engine: ScanEngine;
  private parser: ReplayParser | null = null;
  private readonly parseOptions: ReplayParseOptions;
  private readonly reader = new RecordReader();
  private framing: Framing | null;
  /**
   * Distinct sources: IPv4 ones by their 32-bit value (the records carry it, so a line makes no
   * string hash and a source keeps no string here), others by their text.
   */
  private readonly v4Sources = new V4Set();
  private readonly otherSources = new Set<string>();
  /** The packet records are read into (nothing here or in the engine keeps it). */
  private readonly scratch: PacketEvent = scratchPacket();
  private readonly rejected: Record<RejectReason, number>;
  private lines = 0;
  private packets = 0;
  private counted = 0;
  private guestRecords = 0;
  private firstTime: number | null = null;
  private lastTime: number | null = null;
  /** Framing of the first packet record: what its time counts from (an input of no recognised framing is framed line by line). */
  private timeFraming: Framing | null = null;
  private readonly bans: BanRecord[] = [];
  private readonly uncounted = new Map<string, number>();
  private deferredEvents = 0;
  /** This host's addresses learned from inbound records' destinations (addHostAddress), and the last one seen. */
  private readonly hostDsts = new Set<string>();
  private hostsLearned = 0;
  private lastDst = '';
  private expired = 0;
  private ended = false;

  constructor(opts: ReplayOptions) {
    const settings: Settings = { ...opts.settings, detection: { ...opts.settings.detection, requireKernelTrust: false } };
    this.parseOptions = { ...(opts.framing !== undefined ? { framing: opts.framing } : {}), ...(opts.year !== undefined ? { year: opts.year } : {}), ...(opts.bootTimeMs !== undefined ? { bootTimeMs: opts.bootTimeMs } : {}), ...(opts.anyProgram === true ? { anyProgram: true } : {}) };
    this.framing = opts.framing === undefined || opts.framing === 'auto' ? null : opts.framing;
    this.rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
    // Manual operations never happen in a replay; the clock only answers "now" as the last event time.
    const clock: Clock = { now: () => this.lastTime ?? 0 };
    const onEvent = opts.onEvent;
    // Every source is kept (no forgetQuiet): forgetting changes no decision only for records in time
    // order, and a replay's input often is not — files concatenated newest first (`cat ufw.log*`), in
    // any order, across New Year or a DST change; no look at its ends tells them apart.
    this.engine = new ScanEngine({ settings, clock, probeEvents: false, countGuestRecords: true, forgetQuiet: false, ...(opts.isAllowedPort ? { isAllowedPort: opts.isAllowedPort } : {}) }, (e) => {
      if (e.type === 'ban') this.bans.push(e.ban);
      else if (e.type === 'ban-deferred') this.deferredEvents++;
      else if (e.type === 'unban' && e.why === 'expired') this.expired++;
      onEvent?.(e);
    });
  }

  /** The options a parse stage feeding ingest() is to use (those this session was given). */
  get parseStageOptions(): ReplayParseOptions {
    return this.parseOptions;
  }

  /** Next chunk of the input, parsed in this thread. */
  push(chunk: Uint8Array): void {
    this.ownParser().push(chunk);
  }

  /** One already-split line (tests, live "test against my recent log"). */
  pushLine(text: string): void {
    this.ownParser().pushLine(text);
  }

  private ownParser(): ReplayParser {
    this.parser ??= new ReplayParser(this.parseOptions, (b) => this.ingest(b));
    return this.parser;
  }

  /** A batch of records from a parse stage, in line order. */
  ingest(batch: RecordBatch): void {
    if (batch.framing !== undefined) this.framing = batch.framing;
    const I = batch.ints;
    const f64 = new Float64Array(I.buffer, I.byteOffset, (batch.count * RECORD_INTS) / 2);
    const reader = this.reader;
    const news = batch.news;
    let nextNews = 0;
    for (let i = 0; i < batch.count; i++) {
      if (nextNews < news.length) nextNews = reader.news(batch, i, nextNews);
      this.lines++;
      const o = i * RECORD_INTS;
      if (I[o + C_TAG] === TAG_REJECTED) {
        this.rejected[REJECT_REASONS[I[o + 1]!]!]++;
        continue;
      }
      const p = reader.packet(batch, f64, i, this.scratch);
      const v4 = reader.lastSrcV4;
      this.packet(p, v4 >= 0 ? v4 : ipv4Key(p.src), reader.lastSrc6);
    }
  }

  /** End of input (of this thread's parser): flushes the partial last line and returns the summary. */
  end(): ReplaySummary {
    if (!this.ended) {
      this.ended = true;
      this.parser?.end();
    }
    return this.summary();
  }

  summary(): ReplaySummary {
    const st = this.engine.stats();
    return {
      lines: this.lines,
      packets: this.packets,
      rejected: { ...this.rejected },
      ignored: st.ignored,
      counted: this.counted,
      guestRecords: this.guestRecords,
      distinctSources: this.v4Sources.size + this.otherSources.size,
      framing: this.framing,
      firstTime: this.firstTime,
      lastTime: this.lastTime,
      timeBase: this.timeBase,
      bans: [...this.bans],
      deferred: this.engine.deferredBans(),
      deferredEvents: this.deferredEvents,
      expired: this.expired,
      trackedSources: st.trackedSources,
      evicted: st.evicted,
      uncountedPrefixes: [...this.uncounted]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, UNCOUNTED_PREFIXES_SHOWN)
        .map(([prefix, records]) => ({ prefix, records })),
    };
  }

  /**
   * What the event times count from: boot for kmsg/dmesg stamps without a boot time, else the
   * epoch. Known once the framing is (before the first record reaches the engine, so before any ban).
   */
  get timeBase(): TimeBase {
    const framing = this.timeFraming ?? this.framing;
    return (framing === 'kmsg' || framing === 'dmesg') && this.parseOptions.bootTimeMs === undefined ? 'boot' : 'wall';
  }

  /** Effective whitelist (loopback + entries), for the report. */
  whitelist(): string[] {
    return this.engine.whitelistEntries();
  }

  /**
   * A packet record; `srcV4` the 32-bit value of its source (then p.src may be ''), -1 when not
   * IPv4; `src6` the words of an IPv6 source when the record carries them, else null.
   */
  private packet(p: PacketEvent, srcV4: number, src6: Uint32Array | null = null): void {
    this.packets++;
    // The span covered, earliest to latest: a log is not always in time order (files concatenated newest first).
    const t = p.time;
    if (this.firstTime === null) this.timeFraming = p.framing;
    if (this.firstTime === null || t < this.firstTime) this.firstTime = t;
    if (this.lastTime === null || t > this.lastTime) this.lastTime = t;
    // The destination of an inbound record (not forwarded; or a Proxmox VE guest's, to that guest) is
    // one of this host's (or guest's) addresses: a network holding it is never banned whole, as live.
    // Records repeat the same few destinations (the same string from the string table): a Set is
    // asked only when it changes.
    const dst = p.dst;
    const guest = p.guest !== undefined;
    if (guest) this.guestRecords++;
    if (dst !== this.lastDst && (p.out === '' || guest) && p.in !== '') {
      this.lastDst = dst;
      // Not a multicast, broadcast, loopback or "any" destination (shared/never-ban.ts): none is an
      // address whose network could be banned, so none needs protecting (asked once per destination).
      // Only while the engine still learns (MAX_LEARNED_HOST_ADDRESSES): the check parses the address.
      if (!this.hostDsts.has(dst)) {
        this.hostDsts.add(dst);
        if (this.hostsLearned < MAX_LEARNED_HOST_ADDRESSES && neverBanReason(dst) === null) {
          this.hostsLearned++;
          this.engine.addHostAddress(dst);
        }
      }
    }
    const verdict = this.engine.ingestPacket(p, srcV4, src6);
    // A source the engine tracked already was counted when it was first seen (one lookup fewer a line).
    if (!this.engine.sourceWasTracked) {
      if (srcV4 >= 0) this.v4Sources.add(srcV4);
      else this.otherSources.add(p.src);
    }
    if (verdict === 'counted') this.counted++;
    else if (verdict === 'prefix-not-counted') {
      const n = this.uncounted.get(p.prefix);
      if (n !== undefined) this.uncounted.set(p.prefix, n + 1);
      else if (this.uncounted.size < UNCOUNTED_PREFIXES_KEPT) this.uncounted.set(p.prefix, 1);
    }
  }
}
