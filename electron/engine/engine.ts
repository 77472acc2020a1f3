/**
 * ScanEngine: the one object the outer layers drive. Log lines or parsed packets in, engine events
 * (probe, ban, unban, ban-deferred, evicted) out through a sink; questions answered synchronously.
 *
 *   line ─parse─▶ PacketEvent ─host filter─trust─classify─ports─whitelist─already banned─▶ tracker
 *        ─threshold─▶ BanPolicy (strikes, duration, per-minute cap / queue) ─▶ BanBook ─▶ 'ban' event
 *
 * Time: during ingest the engine's "now" is the packet's own time (event time), so replaying a file
 * gives the bans a live run would have made; tick(now) advances with the Clock in live mode (ban
 * expiry, release of bans held back by the cap). Ingest also expires bans and releases deferred
 * bans as event time passes them, so a replay needs no ticks and the result does not depend on
 * how the input was chunked. Pure: no I/O, no timers, no wall clock except the injected Clock.
 *
 * Decisions a caller should know:
 * - Verdict order: not-for-this-host, untrusted, prefix-not-counted, not-inbound, duplicate-record
 *   (a second LOG line of one packet, detect/duplicates.ts), packet kind
 *   (not-a-probe / late-reply / icmp-error / fragment), ignored-port, allowed-port, whitelisted,
 *   already-banned; otherwise 'counted'.
 * - A scan ban is a strike: duration by BanPolicy, counted against the new-bans-per-minute cap;
 *   over the cap it is queued ('ban-deferred') in a bounded queue and made later, strongest and
 *   freshest evidence first (detect/deferred.ts); entries whose evidence aged past findtime, or
 *   that a full queue pushed out, are dropped and counted (stats().deferredDropped).
 * - Prefix scans: every counted probe is also counted under its network (IPv6 /64 by default,
 *   detect/prefix-watch.ts); a network meeting the rule is banned as its CIDR with the members seen,
 *   unless it holds a protected address (whitelist, this host, its gateways): then address by address.
 * - banCapState() / restoreBanCap(): the cap's window and the queue, for the store across restarts.
 * - Manual ban(): not limited by the cap; also a strike (escalation applies when no duration is
 *   given); `durationSec: Infinity` is permanent. Throws (with the reason) for an address that is
 *   not an address or is whitelisted: callers validate at their boundary and report the message.
 * - Configuration — settings, this host's addresses, the ports the firewall allows — is applied in
 *   configuration.ts (EngineConfiguration, which ScanEngine extends: what the per-packet checks read
 *   stays in the engine's own fields). updateSettings() keeps active bans, even of addresses that
 *   are whitelisted now: the caller lifts those (isWhitelisted + unban), so the lifting goes
 *   through its firewall path.
 * - Events are emitted synchronously from inside the call that caused them.
 */
import type { Clock, Ip } from '../shared/domain.ts';
import { isPrefixText, V4_PREFIX_MIN, V6_PREFIX_MIN } from '../shared/prefix.ts';
import { IGNORE_REASONS, type BanReason, type BanRecord, type EngineEvent, type IgnoreReason, type Offender, type ScanType, type UnbanReason } from '../shared/model.ts';
import { REJECT_REASONS, type PacketEvent, type RejectReason } from '../shared/packet.ts';
import { neverBanReason } from '../shared/never-ban.ts';
import { BanBook } from './detect/banbook.ts';
import { classify, isScanType } from './detect/classify.ts';
import { DuplicateRecords } from './detect/duplicates.ts';
import type { BanCapState } from './detect/policy.ts';
import { EngineConfiguration, type ScanEngineOptions } from './configuration.ts';
import { offenderFromBan, offenderFromWindow, watchedOffenders, type WatchedContext } from './offender-view.ts';
import { FORGET_SLACK_MS, ipv4Key, ipv4Text, NO_SLOT } from './detect/tracker.ts';
import { connectionFrom, connectionPorts } from './detect/scan-rule.ts';
import { v6ToWords } from './detect/whitelist.ts';
import { canonicalTarget } from './ban-target.ts';
import { decodeLine } from './parse/bytes.ts';
import { parseRecord, type ParseOptions } from './parse/index.ts';
import { SyslogYear } from './parse/time.ts';

export type { ScanEngineOptions } from './configuration.ts';
export type { HostFilter } from './host-filter.ts';

export interface EngineStats {
  lines: number;
  packets: number;
  rejected: Record<RejectReason, number>;
  ignored: Record<IgnoreReason, number>;
  trackedSources: number;
  activeBans: number;
  deferredBans: number;
  /** Held-back bans dropped: evidence aged past findtime, or pushed out of the full queue. */
  deferredDropped: { aged: number; full: number };
  evicted: number;
}

/** Ports listed in a ban reason (ascending). */
const REASON_PORT_LIMIT = 64;
/** How often (event time) forgotten strikes are dropped from memory. */
const STRIKE_SWEEP_MS = 3600_000;

export class ScanEngine extends EngineConfiguration {
  private readonly clock: Clock;
  private readonly sink: (e: EngineEvent) => void;
  private readonly parseOptions: ParseOptions;
  private readonly probeEvents: boolean;
  private readonly book = new BanBook();
  private readonly duplicates = new DuplicateRecords();
  /** End of the ban that expires first (Infinity when none): checked on every packet. */
  private nextExpiry = Infinity;
  private lastStrikeSweep = -Infinity;
  /**
   * Event time at or after which the trackers next forget the sources whose window is over
   * (forgetQuiet); Infinity while forgetting is off: the caller's say (ScanEngineOptions.forgetQuiet),
   * and for good once a record came more than FORGET_SLACK_MS before the latest (a source forgotten
   * by a later time may still be probed at an earlier one, in its window).
   */
  private nextForget: number;
  /** The latest event time of a packet, and the time of the packet before this one. */
  private latestTime = -Infinity;
  private previousTime = -Infinity;
  /**
   * Targets not to scan-ban now (setBanHoldOff): the firewall refused their last ban for a rule of the
   * user's own, and banning again would only be refused again, every few probes.
   */
  private holdOff: (target: string, time: number) => boolean = neverHeldOff;

  private lines = 0;
  private packets = 0;
  private readonly rejected: Record<RejectReason, number>;
  private readonly ignored: Record<IgnoreReason, number>;

  constructor(opts: ScanEngineOptions, sink: (e: EngineEvent) => void) {
    super(opts);
    this.clock = opts.clock;
    this.sink = sink;
    this.parseOptions = { ...(opts.parse ?? {}) };
    // A live syslog file: year-less stamps take the clock's year and roll over at New Year.
    this.parseOptions.syslogYear ??= new SyslogYear(this.parseOptions.year, () => this.clock.now());
    this.probeEvents = opts.probeEvents ?? true;
    this.nextForget = opts.forgetQuiet === false ? Infinity : -Infinity;
    this.rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
    this.ignored = Object.fromEntries(IGNORE_REASONS.map((r) => [r, 0])) as Record<IgnoreReason, number>;
    this.tracker.onEvict = (ip, time) => this.sink({ type: 'evicted', ip, time });
  }

  // ------------------------------------------------------------------ ingest

  /** Parses and ingests one log record; a line that is not a packet record is counted by reason. */
  ingestLine(line: string): void {
    this.lines++;
    const r = parseRecord(line, this.parseOptions);
    if (r.ok) this.ingestPacket(r.packet);
    else this.rejected[r.reason]++;
  }

  /**
   * ingestLine for a line still in bytes (`buf[start, end)`, UTF-8, as LineSplitter hands it to a
   * bytes sink): ingestLine of the decoded text.
   */
  ingestBytes(buf: Uint8Array, start: number, end: number): void {
    this.ingestLine(decodeLine(buf, start, end));
  }

  /** Counts a line the caller refused before parsing (e.g. the line splitter dropped an over-long line). */
  countRejectedLine(reason: RejectReason): void {
    this.lines++;
    this.rejected[reason]++;
  }

  /**
   * Whether the source of the packet the last ingestPacket() took was tracked already (so it was
   * seen before): the replay's distinct-source count skips its own lookup then.
   */
  sourceWasTracked = false;

  /**
   * One parsed packet record. Returns 'counted' when it counted as a probe, else why not. The engine
   * keeps no reference to `p`. `srcV4`: the 32-bit value of p.src when the caller has it (the byte
   * replay's records carry it), so a known source is looked up without reading its text; else -1.
   * With srcV4 given, p.src may be '' (a replay record, records.ts): the engine then makes the text
   * itself, and only for a source it does not track yet. `src6`: the four 32-bit words of an IPv6
   * p.src when the caller has them (the replay's records carry them; they must be p.src's), so that
   * prefix tracking finds its network without parsing the text; else null.
   */
  ingestPacket(p: PacketEvent, srcV4 = -1, src6: Uint32Array | null = null): 'counted' | IgnoreReason {
    this.packets++;
    this.sourceWasTracked = false;
    const time = p.time;
    if (time >= this.nextExpiry || this.policy.deferredCount > 0) this.advance(time);
    if (time >= this.latestTime) this.latestTime = time;
    else if (time < this.latestTime - FORGET_SLACK_MS) this.outOfOrder();
    if (time >= this.nextForget) this.forgetQuiet(time);
    this.previousTime = time;

    if (this.hostRecords !== null && !this.hostRecords.isThisHosts(p)) return this.ignore('not-for-this-host');
    if (p.trust !== 'kernel' && this.settings.detection.requireKernelTrust) return this.ignore('untrusted');
    const verdict = classify(p, this.prefixes, this.countGuestRecords);
    // One packet, one probe: the per-source logging block and ufw's own rule both log a blocked packet.
    if (verdict !== 'prefix-not-counted' && verdict !== 'not-inbound' && this.duplicates.seen(p, srcV4)) return this.ignore('duplicate-record');
    if (!isScanType(verdict)) return this.ignore(verdict);

    let port: number | null = null;
    const dpt = p.dpt;
    if (dpt !== undefined && (p.proto === 'TCP' || p.proto === 'UDP')) {
      port = dpt;
      if (this.ignoredPorts.size !== 0 && this.ignoredPorts.has(dpt)) return this.ignore('ignored-port');
      // ufw's allow rules are this host's own ports: a forwarded probe (OUT= set) is for a host behind it.
      // Asked for the probe's own family: a port may be open to IPv4 only, or to IPv6 only.
      if (this.settings.detection.ignoreAllowedPorts && p.out === '' && this.isAllowedPort(p.family, p.proto === 'TCP' ? 'tcp' : 'udp', dpt)) {
        return this.ignore('allowed-port');
      }
    }
    const src = p.src;
    // Invariant: a tracked source is neither whitelisted nor banned (banning and whitelist changes
    // drop it), so only a source seen for the first time pays for these two checks.
    const known = srcV4 >= 0 ? this.tracker.getV4(srcV4) : this.tracker.get(src);
    this.sourceWasTracked = known !== NO_SLOT;
    if (known === NO_SLOT) {
      // An IPv4 source by its value (a replay record's text is ''): where a source quiet for findtime is
      // forgotten (forgetQuiet), most probes of a busy host's sources come here, and making the
      // text of each for these checks was ~80 MB of garbage over a day of 100k sources (the
      // bench log's 1M records through the engine, forgetting on).
      if (srcV4 >= 0 ? this.whitelist.hasV4(srcV4) : this.whitelist.has(src, src6)) return this.ignore('whitelisted');
      if (this.book.size !== 0 && (srcV4 >= 0 ? this.book.hasV4(srcV4) || this.book.coversV4(srcV4) : this.book.has(src) || this.book.covering(src, src6) !== null)) return this.ignore('already-banned');
    }

    const scanType = verdict as ScanType;
    if (this.probeEvents) this.sink({ type: 'probe', ip: src !== '' ? src : known !== NO_SLOT ? this.tracker.ipOf(known) : (ipv4Text(srcV4) as Ip), port, time, scanType });
    // A resend of one connection attempt (a retransmitted SYN keeps its ports) is evidence, not a new probe (scan-rule.ts).
    let connPorts = 0;
    let connFrom = -1;
    const spt = p.spt;
    if (port !== null && spt !== undefined) {
      connPorts = connectionPorts(spt, port);
      connFrom = connectionFrom(p.proto === 'UDP', sourceBits(src, srcV4, src6));
    }
    const crossed = this.tracker.probe(src, time, port, scanType, known, srcV4, connPorts, connFrom);
    if (crossed !== NO_SLOT) this.scanDetected(crossed, time);
    // By network too: needsProbe() settles most probes (sources tracked by address only, networks kept in their member) without the time.
    else if (this.networks.needsProbe(src, srcV4, src6, this.tracker.lastSlot)) {
      const net = this.networks.probe(src, srcV4, src6, this.tracker.lastSlot, time, port, scanType, connPorts, connFrom);
      if (net !== null) this.networkScanDetected(net, time);
    }
    return 'counted';
  }

  private ignore(reason: IgnoreReason): IgnoreReason {
    this.ignored[reason]++;
    return reason;
  }

  // ------------------------------------------------------------------ bans

  /** Ban reason from a tracked source's window (`slot` from the tracker). */
  private reasonOf(slot: number): BanReason {
    const s = this.tracker.summary(slot, REASON_PORT_LIMIT);
    return { kind: 'scan', scanType: s.scanType, ports: s.ports, hits: s.hits, firstSeen: s.firstSeen, lastSeen: s.lastSeen };
  }

  private scanDetected(slot: number, time: number): void {
    const ip = this.tracker.ipOf(slot);
    // A source inside a banned network (tracked before the network's ban) needs no ban of its own.
    if (this.book.covering(ip) !== null) return void this.tracker.delete(ip);
    if (this.holdOff(ip, time)) return void this.tracker.delete(ip);
    this.banOrDefer(ip, time, this.tracker.portCount(slot), () => this.reasonOf(slot), () => this.tracker.setPending(slot, true));
  }

  /**
   * A network met the scan rule: banned whole — unless it holds a whitelisted address, one of this
   * host's or of its gateways', or only one address was seen: then its addresses are judged one by
   * one, by the address rule, as without prefix tracking (banning every member seen would ban LAN
   * devices that each touched one closed port).
   */
  private networkScanDetected(net: string, time: number): void {
    const members = this.networks.membersOf(net);
    if (members.length < 2 || this.holdsProtected(net) || this.holdOff(net, time)) return void this.networks.forget(net);
    const reasonOf = (): BanReason => {
      const s = this.networks.summary(net, REASON_PORT_LIMIT)!;
      return { kind: 'scan', scanType: s.scanType, ports: s.ports, hits: s.hits, firstSeen: s.firstSeen, lastSeen: s.lastSeen, members };
    };
    this.banOrDefer(net, time, this.networks.portCount(net), reasonOf, () => this.networks.setPending(net, true));
  }

  /** A scan ban of `target` (address or network) within budget, else queued behind the per-minute cap. */
  private banOrDefer(target: string, time: number, ports: number, reasonOf: () => BanReason, markPending: () => void): void {
    if (this.policy.isDeferred(target)) {
      // Already waiting for budget: its evidence grew, and it climbs the queue.
      this.policy.refreshDeferred(target, ports, time);
      return;
    }
    const reason = reasonOf();
    if (this.policy.hasBudget(time)) {
      this.newBan(target, time, reason);
    } else {
      const out = this.policy.defer({ ip: target, queuedAt: time, reason, ports, lastSeen: time }, time, this.findtimeMs(), this.leftQueue);
      if (out !== null) this.leftQueue(out);
      if (out === null || out.ip !== target) {
        markPending();
        this.sink({ type: 'ban-deferred', ip: target, time, queued: this.policy.deferredCount });
      }
    }
  }

  /** A new scan ban within budget: spend, strike, book, tell. */
  private newBan(ip: string, at: number, reason: BanReason): BanRecord {
    this.policy.spend(at);
    const { strikes, until } = this.policy.strike(ip, at);
    const { record } = this.book.add({ ip, at, until, strikes, reason });
    this.tracker.delete(ip);
    // A network's ban: its members' own windows and the network's are done with.
    this.networks.forget(ip);
    for (const m of reason.members ?? []) this.tracker.delete(m);
    this.refreshNextExpiry();
    this.sink({ type: 'ban', ban: record });
    return record;
  }

  /** Expires bans and releases deferred bans up to `now` (event or clock time). */
  private advance(now: number): void {
    if (now >= this.nextExpiry) {
      for (const b of this.book.expire(now)) this.sink({ type: 'unban', ip: b.ip, time: b.until ?? now, why: 'expired' });
      this.refreshNextExpiry();
    }
    while (this.policy.deferredCount > 0 && this.policy.hasBudget(now)) {
      const d = this.policy.nextDeferred(now, this.findtimeMs(), this.leftQueue);
      if (d === null) break;
      const w = this.tracker.get(d.ip);
      if (w !== NO_SLOT) this.tracker.setPending(w, false);
      this.networks.setPending(d.ip, false);
      // Also not when a ban of its network came first (released before it, or made while it waited):
      // that ban blocks it already, and its own would be a second rule, strike and notification.
      if (this.whitelist.has(d.ip) || this.book.has(d.ip) || this.book.covering(d.ip) !== null || (isPrefixText(d.ip) && this.holdsProtected(d.ip)) || this.holdOff(d.ip, now)) continue;
      // The evidence may have grown while it waited: ban with what is known now.
      const reason = w !== NO_SLOT ? this.reasonOf(w) : d.reason;
      this.newBan(d.ip, Math.max(now, d.queuedAt), reason);
    }
  }

  /**
   * The trackers forget the sources (and networks) whose window is over, once every findtime of
   * event time: memory follows the sources of the last two findtimes or so, not every source ever
   * seen. Not more often: each time looks at every tracked source (tracker.forgetQuiet); a sweep
   * every quarter findtime cost ~95 ms of the main thread over a day of 100k sources (1M records),
   * once a findtime ~35–45 ms.
   */
  private forgetQuiet(now: number): void {
    // Not on one record stamped far ahead of the one before (a wrong clock, a merged log): every
    // window in progress would be forgotten by it. The next record that agrees with it sweeps.
    if (now - this.previousTime > this.findtimeMs()) return;
    this.tracker.forgetQuiet(now);
    this.networks.forgetQuiet(now);
    this.nextForget = now + this.findtimeMs();
  }

  private outOfOrder(): void {
    this.nextForget = Infinity;
  }

  private refreshNextExpiry(): void {
    this.nextExpiry = this.book.nextExpiry() ?? Infinity;
  }

  /** Live-mode heartbeat: expire bans, release bans the per-minute cap held back, forget old strikes. */
  tick(now: number = this.clock.now()): void {
    this.advance(now);
    if (now - this.lastStrikeSweep >= STRIKE_SWEEP_MS) {
      this.lastStrikeSweep = now;
      this.policy.forgetOldStrikes(now);
    }
  }

  /**
   * Manual ban (not limited by the per-minute cap). Counts as a strike; without durationSec the
   * escalated policy duration applies; durationSec Infinity = permanent. Extends an active ban.
   * Throws for text that is not an address and for whitelisted addresses.
   */
  ban(ip: string, opts: { durationSec?: number; note?: string; at?: number; origin?: string } = {}): BanRecord {
    const addr = canonicalTarget(ip);
    if (addr === null) throw new Error(`"${ip}" is not an IPv4 or IPv6 address, nor a network (CIDR)`);
    // A network (a fleet Range decision): as wide as the firewall takes, and holding nothing protected.
    const bits = isPrefixText(addr) ? Number(addr.slice(addr.indexOf('/') + 1)) : null;
    const min = addr.includes(':') ? V6_PREFIX_MIN : V4_PREFIX_MIN;
    if (bits !== null && bits < min) throw new Error(`refusing to ban ${addr}: a banned network is at most a /${min}`);
    if (bits !== null && this.holdsProtected(addr)) throw new Error(`${addr} holds a whitelisted address, this host's or its gateway's: it is never banned whole`);
    const never = neverBanReason(addr);
    if (never) throw new Error(`refusing to ban: ${never}; loopback, unspecified, multicast and broadcast addresses are never banned`);
    if (this.whitelist.has(addr)) throw new Error(`${addr} is whitelisted (loopback, this host, its gateway or a whitelist entry); remove it from the whitelist first`);
    const d = opts.durationSec;
    if (d !== undefined && !(d > 0)) throw new Error(`ban duration must be more than 0 seconds (got ${d})`);
    const at = opts.at ?? this.clock.now();
    // A fleet ban (origin: another host's decision) is no strike of this host's: it never escalates a later local ban.
    const struck = opts.origin === undefined ? this.policy.strike(addr, at) : { strikes: 0, until: at };
    const until = d === undefined ? struck.until : d === Infinity ? null : at + Math.round(d * 1000);
    const w = this.tracker.get(addr);
    const s = w !== NO_SLOT ? this.tracker.summary(w, REASON_PORT_LIMIT) : null;
    const reason: BanReason = {
      kind: 'manual',
      ports: s ? s.ports : [],
      hits: s ? s.hits : 0,
      firstSeen: s ? s.firstSeen : at,
      lastSeen: s ? s.lastSeen : at,
    };
    if (s) reason.scanType = s.scanType;
    if (opts.note !== undefined) reason.note = opts.note;
    if (opts.origin !== undefined) reason.origin = opts.origin;
    this.policy.cancelDeferred(addr);
    const { record } = this.book.add({ ip: addr, at, until, strikes: struck.strikes, reason });
    this.tracker.delete(addr);
    this.networks.forget(addr);
    this.refreshNextExpiry();
    this.sink({ type: 'ban', ban: record });
    return record;
  }

  /**
   * Scan bans the caller holds off (the service: sources whose last ban the firewall refused for a
   * rule of the user's own, until that ban would have ended): their scans are counted as probes but
   * not banned. Manual bans are not held off. null: none.
   */
  setBanHoldOff(holdOff: ((target: string, time: number) => boolean) | null): void {
    this.holdOff = holdOff ?? neverHeldOff;
  }

  /**
   * Lifts a ban (or drops a ban still waiting for budget). False when the address was neither.
   * `why`: 'whitelisted' when the caller lifts it because the whitelist covers it now,
   * 'refused-users-rule' when the firewall refused it (a rule of the user's own for that source).
   */
  unban(ip: string, at: number = this.clock.now(), why: Exclude<UnbanReason, 'expired'> = 'manual'): boolean {
    const addr = canonicalTarget(ip);
    if (addr === null) return false;
    const cancelled = this.policy.cancelDeferred(addr);
    const removed = this.book.remove(addr);
    if (!removed) return cancelled;
    // Refused by the firewall: it never blocked anything, so it is no strike (a fleet ban never was one).
    if (why === 'refused-users-rule' && removed.strikes > 0) this.policy.unstrike(addr, removed.strikes);
    this.tracker.delete(addr);
    this.refreshNextExpiry();
    this.sink({ type: 'unban', ip: addr, time: at, why });
    return true;
  }

  // ------------------------------------------------------------------ saved state

  /** Loads persisted bans (expired ones leave at the next tick, with an 'unban' event) and strikes. */
  restore(bans: BanRecord[], strikes: { ip: string; strikes: number; lastBanAt: number }[]): void {
    this.policy.restoreStrikes(strikes);
    for (const b of bans) {
      const ip = canonicalTarget(b.ip);
      if (ip === null || !Number.isFinite(b.at)) continue;
      this.book.add({ ...b, ip, reason: { ...b.reason, ports: [...b.reason.ports] } });
      this.tracker.delete(ip);
      const rec = this.policy.strikeRecord(ip);
      if (!rec || rec.lastBanAt < b.at) this.policy.restoreStrikes([{ ip, strikes: Math.max(1, b.strikes), lastBanAt: b.at }]);
    }
    this.refreshNextExpiry();
  }

  /** The per-minute cap's window and the held-back bans, to be saved (the store) and restored after a restart. */
  banCapState(): BanCapState {
    return this.policy.capState();
  }

  /** Takes back a saved cap window and queue (BanPolicy.restoreCap): entries banned or whitelisted now are skipped. */
  restoreBanCap(state: BanCapState, now: number = this.clock.now()): void {
    this.policy.restoreCap(state, now, this.findtimeMs(), this.mayWaitForBudget);
  }

  /** Whether a saved held-back ban may wait again: in canonical form, not banned, not whitelisted, not a network holding a protected address. */
  private readonly mayWaitForBudget = (ip: string): boolean =>
    canonicalTarget(ip) === ip && !this.book.has(ip) && !this.whitelist.has(ip) && !(isPrefixText(ip) && this.holdsProtected(ip));

  // ------------------------------------------------------------------ questions

  activeBans(): BanRecord[] {
    return this.book.list();
  }

  isBanned(ip: string): boolean {
    const addr = canonicalTarget(ip);
    return addr !== null && this.book.has(addr);
  }

  /** Addresses whose ban waits for the per-minute budget, in release order. */
  deferredBans(): string[] {
    return this.policy.deferredIps();
  }

  offender(ip: string): Offender | null {
    const addr = canonicalTarget(ip);
    if (addr === null) return null;
    const ban = this.book.get(addr);
    if (ban) return offenderFromBan(ban);
    if (isPrefixText(addr)) return null;
    const w = this.tracker.get(addr);
    if (w !== NO_SLOT) return offenderFromWindow(this.tracker, w, this.watchedContext);
    const rec = this.policy.strikeRecord(addr);
    if (rec) {
      return { ip: addr, hits: 0, distinctPorts: 0, ports: [], firstSeen: rec.lastBanAt, lastSeen: rec.lastBanAt, scanType: 'OTHER', state: 'expired', strikes: rec.strikes, bannedUntil: null };
    }
    return null;
  }

  /** Banned and watched sources: banned first (latest ban first), then the most active watched ones. */
  offenders(limit = 100): Offender[] {
    const out: Offender[] = [];
    const bans = this.book.list().reverse();
    for (const b of bans) {
      if (out.length >= limit) return out;
      out.push(offenderFromBan(b));
    }
    const left = limit - out.length;
    if (left <= 0) return out;
    out.push(...watchedOffenders(this.tracker, left, this.watchedContext));
    return out;
  }

  private readonly watchedContext: WatchedContext = {
    whitelisted: (ip) => this.whitelist.has(ip),
    strikes: (ip) => this.policy.strikeRecord(ip)?.strikes ?? 0,
    summaryPorts: REASON_PORT_LIMIT,
  };

  stats(): EngineStats {
    return {
      lines: this.lines,
      packets: this.packets,
      rejected: { ...this.rejected },
      ignored: { ...this.ignored },
      trackedSources: this.tracker.size,
      activeBans: this.book.size,
      deferredBans: this.policy.deferredCount,
      deferredDropped: this.policy.deferredDropped,
      evicted: this.tracker.evictedCount,
    };
  }
}

const sourceWords = new Uint32Array(4);

/**
 * Bits of a probe's source for its connection key (scan-rule.ts): the same for one address whichever
 * form it came in (a replay record's value or words, a live record's text). `src` may be '' when
 * `srcV4` is given; `src6`: the words of an IPv6 src, or null.
 */
function sourceBits(src: string, srcV4: number, src6: Uint32Array | null): number {
  if (srcV4 >= 0) return srcV4;
  if (src6 !== null) return src6[2]! ^ src6[3]!;
  const v4 = ipv4Key(src);
  if (v4 >= 0) return v4;
  return v6ToWords(src, sourceWords) ? sourceWords[2]! ^ sourceWords[3]! : 0;
}

/** No scan ban held off (setBanHoldOff(null), and until a caller sets one). */
const neverHeldOff = (): boolean => false;
