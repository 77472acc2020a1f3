/**
 * Views: what the API shows, computed from the engine, the store and the host — packet rows, the
 * offender list (live and remembered), one offender's page, the always-whitelisted list, the log
 * source's health, and "test against my recent log" for the Thresholds screen. Read-only: nothing
 * here changes the firewall, the store or the engine the service runs.
 */
import { ApiError, type ApiResult, type PacketRow, type SourceHealthDto, type ThresholdTest } from '../shared/api.ts';
import type { Clock } from '../shared/domain.ts';
import type { Offender, OffenderState } from '../shared/model.ts';
import { TcpFlag, type PacketEvent } from '../shared/packet.ts';
import { describeZodError, SettingsSchema, type Settings } from '../shared/settings.ts';
import { NEVER_BAN_RANGES } from '../shared/never-ban.ts';
import { errorText } from '../shared/errors.ts';
import type { AllowedPorts, LogSourcePort } from '../engine/ports.ts';
import type { EngineFactory, EngineLike, ServiceStore } from './contracts.ts';
import type { HostInfo } from './hostinfo.ts';
import { LOOPBACK } from './rule-safety.ts';
import { mergePatch } from '../shared/merge-patch.ts';

export function flagsText(bits: number | undefined): string {
  if (bits === undefined) return '';
  return (Object.keys(TcpFlag) as (keyof typeof TcpFlag)[])
    .filter((k) => (bits & TcpFlag[k]) !== 0)
    .reverse()
    .join(' ');
}

export function packetRow(p: PacketEvent, id: number): PacketRow {
  return {
    id,
    time: p.time,
    src: p.src,
    dst: p.dst,
    proto: p.proto,
    spt: p.spt ?? null,
    dpt: p.dpt ?? null,
    prefix: p.prefix,
    in: p.in,
    flags: flagsText(p.tcpFlags),
  };
}

/** The source's health for the state, with how many records per minute were another namespace's. */
export function sourceHealthOf(source: LogSourcePort | null, foreignPerMinute: () => number): SourceHealthDto | null {
  if (!source) return null;
  try {
    return { ...source.health(), foreignPerMinute: foreignPerMinute() };
  } catch (e) {
    return { kind: source.kind, description: 'log source', kernelTrusted: false, lastRecordAt: null, linesPerMinute: 0, rejectsPerMinute: 0, error: errorText(e) };
  }
}

/**
 * The engine's offenders (active bans, then sources in their window) followed by those only the
 * store remembers — after a restart or an unban the engine has forgotten them, but the user still
 * wants to see who scanned yesterday. A remembered one is re-judged now: whitelisted if the
 * whitelist covers it today, expired if it was ever banned, else watching.
 */
export function offenderList(engine: EngineLike, store: ServiceStore, state: OffenderState | undefined, limit: number): Offender[] {
  const live = engine.offenders(state ? 100_000 : limit);
  const matching = state ? live.filter((o) => o.state === state) : live;
  if (!store.storedOffenders) return matching.slice(0, limit);
  const seen = new Set(live.map((o) => o.ip));
  const stored = store.storedOffenders(limit + seen.size);
  // The engine starts a new window when a source comes back after a ban: "first seen" is the
  // earliest sighting the store remembers, not the start of that window.
  const firstSeen = new Map(stored.map((o) => [o.ip, o.firstSeen]));
  const out = matching.map((o) => {
    const first = firstSeen.get(o.ip);
    return first !== undefined && first < o.firstSeen ? { ...o, firstSeen: first } : o;
  });
  if (out.length >= limit) return out.slice(0, limit);
  for (const o of stored) {
    if (out.length >= limit) break;
    if (seen.has(o.ip)) continue;
    const now: OffenderState = engine.isWhitelisted(o.ip)
      ? 'whitelisted'
      : engine.isBanned(o.ip)
        ? 'banned'
        : o.state === 'banned' || o.state === 'expired' || o.strikes > 0
          ? 'expired'
          : 'watching';
    if (!state || now === state) out.push({ ...o, state: now });
  }
  return out;
}

/** One offender's page: the engine's view of it, or one rebuilt from what the store remembers. */
export function offenderDetail(engine: EngineLike, store: ServiceStore, ip: string): ApiResult<'getOffender'> {
  const offender = engine.offender(ip);
  const timeline = store.offenderPackets(ip, 1000);
  const bans = store.banHistory(100, ip);
  if (!offender && timeline.length === 0 && bans.length === 0) throw new ApiError('invalid', `${ip} has not been seen`);
  const ports = new Map<string, { port: number; proto: string; hits: number }>();
  for (const r of timeline) {
    if (r.dpt === null) continue;
    const k = `${r.proto}/${r.dpt}`;
    const e = ports.get(k) ?? { port: r.dpt, proto: r.proto, hits: 0 };
    e.hits++;
    ports.set(k, e);
  }
  const fallback: Offender = {
    ip,
    hits: timeline.length,
    distinctPorts: ports.size,
    ports: [...ports.values()].map((p) => p.port),
    firstSeen: timeline.at(-1)?.time ?? bans.at(-1)?.at ?? 0,
    lastSeen: timeline[0]?.time ?? bans[0]?.at ?? 0,
    scanType: 'OTHER',
    state: engine.isWhitelisted(ip) ? 'whitelisted' : engine.isBanned(ip) ? 'banned' : 'expired',
    strikes: bans[0]?.strikes ?? 0,
  };
  return { offender: offender ?? fallback, ports: [...ports.values()].sort((a, b) => b.hits - a.hits), timeline, bans };
}

/** What the engine never bans whatever the user's whitelist says — shown on the Whitelist screen. */
export function alwaysWhitelisted(host: HostInfo, settings: Settings): { cidr: string; why: string }[] {
  const hostCidr = (ip: string) => `${ip}/${ip.includes(':') ? 128 : 32}`;
  return [
    ...NEVER_BAN_RANGES.map((r) => ({ cidr: r.cidr, why: r.label })),
    // Loopback addresses are covered by the loopback entries already.
    ...host.addresses.filter((ip) => !LOOPBACK.matches(ip)).map((ip) => ({ cidr: hostCidr(ip), why: 'this host' })),
    ...(settings.whitelist.includeGateway ? host.gateways.map((ip) => ({ cidr: hostCidr(ip), why: 'default gateway' })) : []),
    ...(settings.whitelist.includeNameservers ? (host.nameservers ?? []).map((ip) => ({ cidr: hostCidr(ip), why: 'name server' })) : []),
    ...(settings.whitelist.includeLanSubnets ? (host.lanSubnets ?? []).map((cidr) => ({ cidr, why: 'LAN subnet' })) : []),
  ];
}

export interface ThresholdTestEnv {
  settings: Settings;
  clock: Clock;
  store: ServiceStore;
  createEngine: EngineFactory;
  host: HostInfo;
  isAllowedPort: AllowedPorts;
}

/** "Test against my recent log": a fresh engine over the stored packets with the patched settings. */
export function testThresholds(env: ThresholdTestEnv, patch: Record<string, unknown>, minutes: number): ThresholdTest {
  const r = SettingsSchema.safeParse(mergePatch(env.settings, patch));
  if (!r.success) throw new ApiError('invalid', describeZodError(r.error));
  const now = env.clock.now();
  const packets = env.store.packetsSince(now, minutes, 2_000_000);
  const wouldBan: ThresholdTest['wouldBan'] = [];
  const clock = { t: packets[0]?.time ?? now, now(): number { return this.t; } };
  const trial = env.createEngine(
    {
      settings: r.data,
      clock,
      hostAddresses: env.host.addresses,
      gatewayAddresses: env.host.gateways,
      nameserverAddresses: env.host.nameservers ?? [],
      lanSubnets: env.host.lanSubnets ?? [],
      isAllowedPort: env.isAllowedPort,
      hostFilter: null,
      // A what-if over stored packets, as a replay: every source kept.
      forgetQuiet: false,
    },
    (e) => {
      if (e.type === 'ban') wouldBan.push({ ip: e.ban.ip, at: e.ban.at, ports: e.ban.reason.ports, scanType: e.ban.reason.scanType ?? 'OTHER' });
    },
  );
  const sources = new Map<string, { probes: number; ports: Set<number>; whitelisted: boolean }>();
  for (const p of packets) {
    clock.t = p.time;
    const src = sources.get(p.src) ?? { probes: 0, ports: new Set<number>(), whitelisted: false };
    sources.set(p.src, src);
    const verdict = trial.ingestPacket(p);
    if (verdict === 'counted') {
      src.probes++;
      if (p.dpt !== null && p.dpt !== undefined) src.ports.add(p.dpt);
    } else if (verdict === 'whitelisted') src.whitelisted = true;
  }
  // Why the others would not be banned, most active first.
  const banned = new Set(wouldBan.map((b) => b.ip));
  const d = r.data.detection;
  const notBanned: NonNullable<ThresholdTest['notBanned']> = [...sources]
    .filter(([ip]) => !banned.has(ip))
    .sort((a, b) => b[1].probes - a[1].probes || (a[0] < b[0] ? -1 : 1))
    .slice(0, 20)
    .map(([ip, x]) => ({
      ip,
      probes: x.probes,
      ports: x.ports.size,
      reason: x.whitelisted && x.probes === 0 ? 'whitelisted' : x.probes === 0 ? 'not-probes' : x.probes >= d.maxretry && x.ports.size >= d.minDistinctPorts ? 'spread-out' : 'under-threshold',
    }));
  const packetsNotStored = env.store.packetsNotStoredSince?.(now, minutes) ?? 0;
  return { packets: packets.length, ...(packetsNotStored > 0 ? { packetsNotStored } : {}), sources: sources.size, wouldBan, notBanned };
}
