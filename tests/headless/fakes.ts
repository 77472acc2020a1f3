/**
 * Small fakes for the service's ports: a firewall recording every call (and the order relative to
 * store writes), one that can be made to fail, an in-memory store, a minimal engine (N distinct ports → ban), a pushable log
 * source, a settings repo in memory, and a trivial line parser ("SRC DST DPT" lines).
 */
import type { Dashboard, PacketFilter, PacketRow, RuleOp, UfwRule } from '../../electron/shared/api.ts';
import type { Clock, Ip } from '../../electron/shared/domain.ts';
import type { BanRecord, EngineEvent, IgnoreReason, Offender } from '../../electron/shared/model.ts';
import type { PacketEvent, ParseResult } from '../../electron/shared/packet.ts';
import type { Settings } from '../../electron/shared/settings.ts';
import type { FirewallPort, LogSourcePort, SourceHealth } from '../../electron/engine/ports.ts';
import type { EngineFactoryOptions, EngineLike, HelperOpsPort, ServiceStore, SettingsRepo } from '../../electron/app/contracts.ts';
import { packetRow } from '../../electron/app/views.ts';
import type { SkippedBan } from '../../electron/shared/helper-protocol.ts';

export class Journal {
  entries: string[] = [];
  add(e: string): void {
    this.entries.push(e);
  }
}

export class FakeFirewall implements FirewallPort {
  bans = new Map<string, number | null>();
  /** Extra (duplicate) entries, as ufw could hold after a crash. */
  duplicates: string[] = [];
  calls: string[] = [];
  /** Sources the firewall skips (the ufw backend: a rule of the user's own for them): answered as skipped 'users-rule'. */
  usersRules = new Set<string>();
  readonly usersRulesDecide = true;
  private readonly journal: Journal;
  constructor(journal: Journal) {
    this.journal = journal;
  }
  async ban(ip: string, until: number | null): Promise<SkippedBan | void> {
    this.calls.push(`ban ${ip}`);
    this.journal.add(`fw.ban ${ip}`);
    if (this.usersRules.has(ip)) return { ip, why: 'users-rule' };
    this.bans.set(ip, until);
  }
  /** Why each unban() was asked for, in call order: 'IP REASON' ('-' when no reason was given). */
  readonly unbanWhy: string[] = [];
  async unban(ip: string, why?: string): Promise<void> {
    this.calls.push(`unban ${ip}`);
    this.unbanWhy.push(`${ip} ${why ?? '-'}`);
    this.journal.add(`fw.unban ${ip}`);
    const d = this.duplicates.indexOf(ip);
    if (d >= 0) this.duplicates.splice(d, 1);
    else this.bans.delete(ip);
  }
  async listBans(): Promise<{ ip: string; until: number | null }[]> {
    return [...[...this.bans].map(([ip, until]) => ({ ip, until })), ...this.duplicates.map((ip) => ({ ip, until: this.bans.get(ip) ?? null }))];
  }
  async cutConnections(ip: string): Promise<void> {
    this.calls.push(`cut ${ip}`);
    this.journal.add(`fw.cut ${ip}`);
  }
}

/** A firewall that takes batches (as the helper adapter does) and records each call in order. */
export class BatchFirewall extends FakeFirewall {
  /** Every call in order; tests may share one array between two firewalls. */
  log: string[] = [];
  /** While set, a batch waits for it (a slow restore). */
  gate: Promise<void> | null = null;
  async banMany(bans: readonly { ip: string; until: number | null }[]): Promise<SkippedBan[]> {
    this.log.push(`banMany ${bans.length}`);
    if (this.gate) await this.gate;
    const skipped: SkippedBan[] = [];
    for (const b of bans) {
      if (this.usersRules.has(b.ip)) skipped.push({ ip: b.ip, why: 'users-rule' });
      else this.bans.set(b.ip, b.until);
    }
    return skipped;
  }
  /** The reason of each unbanMany, in order (what the helper's audit log writes with the batch). */
  unbanReasons: string[] = [];
  /** What each unbanMany answers besides lifting its bans (the ufw backend: a put-back of its files skipped). */
  unbanWarnings: string[] = [];
  async unbanMany(ips: readonly string[], why: string): Promise<string[]> {
    this.log.push(`unbanMany ${ips.length}`);
    this.unbanReasons.push(why);
    if (this.gate) await this.gate;
    for (const ip of ips) this.bans.delete(ip);
    return this.unbanWarnings;
  }
  override async ban(ip: string, until: number | null): Promise<SkippedBan | void> {
    this.log.push(`ban ${ip}`);
    return super.ban(ip, until);
  }
}

/** A FakeFirewall whose calls throw while their switch is on, as ufw does when it cannot load its rules. */
export class FailingFirewall extends FakeFirewall {
  failBan = false;
  failUnban = false;
  override async ban(ip: string, until: number | null): Promise<SkippedBan | void> {
    if (this.failBan) throw new Error('ERROR: Could not update running firewall');
    return super.ban(ip, until);
  }
  override async unban(ip: string): Promise<void> {
    if (this.failUnban) throw new Error('ERROR: Could not delete rule');
    return super.unban(ip);
  }
}

export class MemoryStore implements ServiceStore {
  packets: PacketEvent[] = [];
  pending: PacketEvent[] = [];
  bans: (BanRecord & { endedAt?: number; why?: string })[] = [];
  settings = new Map<string, string>();
  closed = false;
  private readonly journal: Journal;
  constructor(journal: Journal) {
    this.journal = journal;
  }
  addPackets(p: PacketEvent[]): number {
    const first = this.pending.length + 1;
    this.pending.push(...p);
    return first;
  }
  upsertOffenders(): void {}
  recordBan(ban: BanRecord): void {
    this.journal.add(`store.ban ${ban.ip}`);
    for (const b of this.bans) if (b.ip === ban.ip && b.endedAt === undefined) b.endedAt = ban.at;
    this.bans.push({ ...ban });
  }
  recordUnban(ip: string, at: number, why: string): void {
    this.journal.add(`store.unban ${ip}`);
    for (const b of this.bans) if (b.ip === ip && b.endedAt === undefined) Object.assign(b, { endedAt: at, why });
  }
  activeBans(now: number): BanRecord[] {
    return this.bans.filter((b) => b.endedAt === undefined && (b.until === null || b.until > now));
  }
  strikes(): { ip: string; strikes: number; lastBanAt: number }[] {
    return [];
  }
  getSetting(key: string): string | null {
    return this.settings.get(key) ?? null;
  }
  setSetting(key: string, value: string): void {
    this.settings.set(key, value);
  }
  flush(): void {
    this.packets.push(...this.pending);
    this.pending = [];
  }
  close(): void {
    this.closed = true;
  }
  packetsPage(offset: number, limit: number, filter: PacketFilter): { total: number; rows: PacketRow[] } {
    const all = this.packets.filter((p) => (!filter.src || p.src === filter.src) && (!filter.port || p.dpt === filter.port));
    return { total: all.length, rows: all.slice(offset, offset + limit).map((p, i) => packetRow(p, offset + i + 1)) };
  }
  dashboard(): Dashboard {
    return { perMinute: [], topPorts: [], topOffenders: [] };
  }
  packetsSince(now: number, minutes: number): PacketEvent[] {
    return this.packets.filter((p) => p.time >= now - minutes * 60_000);
  }
  offenderPackets(ip: string, limit: number): PacketRow[] {
    return this.packets.filter((p) => p.src === ip).slice(0, limit).map((p, i) => packetRow(p, i + 1));
  }
  banHistory(limit: number, ip?: string): BanRecord[] {
    return this.bans.filter((b) => !ip || b.ip === ip).slice(-limit).reverse();
  }
  packetCount(): number {
    return this.packets.length + this.pending.length;
  }
  prune(): void {}
}

/** Engine stand-in: a source that touches `maxretry` distinct ports is banned for bantime. */
export class FakeEngine implements EngineLike {
  private ports = new Map<string, Set<number>>();
  private active = new Map<string, BanRecord>();
  settings: Settings;
  private readonly opts: EngineFactoryOptions;
  private readonly sink: (e: EngineEvent) => void;
  constructor(opts: EngineFactoryOptions, sink: (e: EngineEvent) => void) {
    this.opts = opts;
    this.sink = sink;
    this.settings = opts.settings;
  }
  ingestPacket(p: PacketEvent): 'counted' | IgnoreReason {
    const hf = this.opts.hostFilter;
    if (hf && !hf.addresses.includes(p.dst) && !hf.interfaces.includes(p.in)) return 'not-for-this-host';
    if (this.isWhitelisted(p.src)) return 'whitelisted';
    if (p.dpt !== undefined && this.opts.isAllowedPort?.(p.family, 'tcp', p.dpt)) return 'allowed-port';
    if (this.active.has(p.src)) return 'already-banned';
    const set = this.ports.get(p.src) ?? new Set();
    set.add(p.dpt ?? 0);
    this.ports.set(p.src, set);
    if (set.size >= this.settings.detection.maxretry) {
      const ban: BanRecord = {
        ip: p.src,
        at: p.time,
        until: p.time + this.settings.ban.bantimeSec * 1000,
        strikes: 1,
        reason: { kind: 'scan', scanType: 'SYN', ports: [...set].sort((a, b) => a - b), hits: set.size, firstSeen: p.time, lastSeen: p.time },
      };
      this.active.set(p.src, ban);
      this.ports.delete(p.src);
      this.sink({ type: 'ban', ban });
    }
    return 'counted';
  }
  tick(now = this.opts.clock.now()): void {
    for (const [ip, b] of this.active) {
      if (b.until !== null && b.until <= now) {
        this.active.delete(ip);
        this.sink({ type: 'unban', ip, time: now, why: 'expired' });
      }
    }
  }
  ban(ip: string, o: { durationSec?: number; note?: string; at?: number } = {}): BanRecord {
    const at = o.at ?? this.opts.clock.now();
    const ban: BanRecord = {
      ip,
      at,
      until: at + (o.durationSec ?? this.settings.ban.bantimeSec) * 1000,
      strikes: 1,
      reason: { kind: 'manual', ports: [], hits: 0, firstSeen: at, lastSeen: at, ...(o.note ? { note: o.note } : {}) },
    };
    this.active.set(ip, ban);
    this.sink({ type: 'ban', ban });
    return ban;
  }
  unban(ip: string, at = this.opts.clock.now()): boolean {
    if (!this.active.delete(ip)) return false;
    this.sink({ type: 'unban', ip, time: at, why: 'manual' });
    return true;
  }
  updateSettings(s: Settings): void {
    this.settings = s;
  }
  setAllowedPorts(): void {}
  setHostAddresses(): void {}
  restore(bans: BanRecord[]): void {
    for (const b of bans) this.active.set(b.ip, b);
  }
  activeBans(): BanRecord[] {
    return [...this.active.values()];
  }
  offenders(): Offender[] {
    return [...this.ports].map(([ip, set]) => ({
      ip,
      hits: set.size,
      distinctPorts: set.size,
      ports: [...set],
      firstSeen: 0,
      lastSeen: 0,
      scanType: 'SYN' as const,
      state: 'watching' as const,
      strikes: 0,
    }));
  }
  offender(ip: string): Offender | null {
    return this.offenders().find((o) => o.ip === ip) ?? null;
  }
  isBanned(ip: string): boolean {
    return this.active.has(ip);
  }
  isWhitelisted(ip: string): boolean {
    return (this.opts.hostAddresses ?? []).includes(ip) || this.settings.whitelist.entries.some((c) => c === `${ip}/32` || c === `${ip}/128`);
  }
  stats() {
    return { trackedSources: this.ports.size, activeBans: this.active.size, deferredBans: 0, packets: 0, lines: 0 };
  }
}

/** "SRC DST DPT [IN]" → a packet at the clock's time. */
export function fakeParser(clock: Clock) {
  return (line: string): ParseResult => {
    const [src, dst, dpt, iface] = line.trim().split(/\s+/);
    if (!src || !dst || !dpt) return { ok: false, reason: 'not-firewall' };
    return {
      ok: true,
      packet: {
        time: clock.now(),
        framing: 'kmsg',
        trust: 'kernel',
        prefix: 'UFW BLOCK',
        in: iface ?? 'eth0',
        out: '',
        src: src as Ip,
        dst: dst as Ip,
        family: src.includes(':') ? 6 : 4,
        proto: 'TCP',
        spt: 40000,
        dpt: Number(dpt),
        tcpFlags: 0x02,
      },
    };
  };
}

export class PushSource implements LogSourcePort {
  readonly kind = 'replay' as const;
  private onLines: ((l: string[]) => void) | null = null;
  async start(onLines: (lines: string[]) => void): Promise<void> {
    this.onLines = onLines;
  }
  async stop(): Promise<void> {
    this.onLines = null;
  }
  push(...lines: string[]): void {
    this.onLines?.(lines);
  }
  health(): SourceHealth {
    return { kind: 'replay', description: 'test feed', kernelTrusted: true, lastRecordAt: null, linesPerMinute: 0, rejectsPerMinute: 0 };
  }
}

export class MemorySettings implements SettingsRepo {
  saved: unknown;
  constructor(initial?: unknown) {
    this.saved = initial;
  }
  load(): unknown {
    return this.saved;
  }
  save(s: Settings): void {
    this.saved = JSON.parse(JSON.stringify(s));
  }
  describe(): string {
    return 'memory';
  }
}

export class FakeHelper implements HelperOpsPort {
  calls: string[] = [];
  enabled = true;
  /** The user's rules ufw lists (rule 1: allow 22/tcp). */
  rules: UfwRule[] = [{ number: 1, v6: false, action: 'allow', direction: 'in', from: 'Anywhere', to: 'Anywhere', port: '22', proto: 'tcp', comment: '', portcullis: false }];
  /** The rule changes previewed and applied, as the service sent them. */
  previewed: RuleOp[] = [];
  applied: RuleOp[] = [];
  async status() {
    return {
      firewall: { installed: true, enabled: this.enabled, defaultIncoming: 'deny', defaultOutgoing: 'allow', defaultRouted: 'disabled', loggingLevel: 'low', perSourceLogging: false },
      rules: {
        enabled: this.enabled,
        defaults: { incoming: 'deny', outgoing: 'allow', routed: 'disabled' },
        logging: 'low',
        rules: structuredClone(this.rules),
        portcullisRules: [],
        appProfiles: [],
      },
    };
  }
  async previewRule(op: RuleOp) {
    this.previewed.push(op);
    return [op.kind === 'add' ? 'ufw allow …' : `ufw delete ${op.number}`];
  }
  async applyRule(op: RuleOp) {
    this.calls.push('applyRule');
    this.applied.push(op);
  }
  async setEnabled(e: boolean) {
    this.calls.push(`setEnabled ${e}`);
    this.enabled = e;
  }
  async setDefault() {}
  async setLogging() {}
  async setPerSourceLogging(i: boolean) {
    this.calls.push(`perSource ${i}`);
  }
  async setSetBlock() {}
  async setForwardBlock() {}
  async enableUfwIpv6() {
    this.calls.push('enableUfwIpv6');
  }
  async doctor() {
    return [];
  }
}
