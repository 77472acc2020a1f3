/**
 * What `portcullis replay` prints: the JSON lines (each ban event, then the summary) and the human
 * report. Apart from the command (replay.ts: arguments, input, the pipeline) so that a change of
 * wording or of a JSON field has one place to go.
 */
import type { BanRecord, EngineEvent, IgnoreReason } from '../shared/model.ts';
import type { RejectReason } from '../shared/packet.ts';
import type { Settings } from '../shared/settings.ts';
import type { ReplaySummary, TimeBase } from '../engine/replay.ts';
import { groupDigits } from '../shared/digits.ts';

/** Bans listed one per line in the human report; --json always has them all. */
const HUMAN_BAN_LINES = 200;

const iso = (t: number | null): string | null => (t === null ? null : Number.isFinite(t) ? new Date(t).toISOString() : null);

function banJson(b: BanRecord): Record<string, unknown> {
  return {
    ip: b.ip,
    at: iso(b.at),
    until: iso(b.until),
    strikes: b.strikes,
    scanType: b.reason.scanType ?? null,
    ports: b.reason.ports,
    hits: b.reason.hits,
    firstSeen: iso(b.reason.firstSeen),
    lastSeen: iso(b.reason.lastSeen),
    // A prefix ban: its ip is the network, and these are the addresses seen probing from it.
    ...(b.reason.members ? { prefix: true, members: b.reason.members } : {}),
  };
}

/** An event as its JSON line; `timeBase` says what its times count from (each line says it: a stream reader need not wait for the summary). */
export function eventJson(e: EngineEvent, timeBase: TimeBase): Record<string, unknown> | null {
  switch (e.type) {
    case 'ban':
      return { type: 'ban', ...banJson(e.ban), timeBase };
    case 'ban-deferred':
      return { type: 'ban-deferred', ip: e.ip, at: iso(e.time), queued: e.queued, timeBase };
    case 'unban':
      return { type: 'unban', ip: e.ip, at: iso(e.time), why: e.why, timeBase };
    default:
      return null;
  }
}

function nonZero<K extends string>(counts: Record<K, number>): [K, number][] {
  return (Object.entries(counts) as [K, number][]).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
}

/** A count as the report writes it (3,600,000). */
export const num = groupDigits;

function duration(ms: number | null): string {
  if (ms === null) return 'permanently';
  const s = Math.round(ms / 1000);
  if (s % 86400 === 0) return `for ${s / 86400} d`;
  if (s % 3600 === 0) return `for ${s / 3600} h`;
  if (s % 60 === 0) return `for ${s / 60} min`;
  return `for ${s} s`;
}

const IGNORE_TEXT: Record<IgnoreReason, string> = {
  'prefix-not-counted': 'log prefix not counted as blocked (e.g. UFW ALLOW/AUDIT)',
  'not-inbound': 'not inbound (OUT set or IN empty)',
  'not-a-probe': 'not a probe (SYN-ACK backscatter, RST, ACK, echo replies, other protocols)',
  'late-reply': 'late UDP reply from a service port to an ephemeral port',
  'icmp-error': 'ICMP error quoting another packet',
  fragment: 'IP fragment (no ports)',
  'allowed-port': 'to a port the firewall allows',
  'ignored-port': 'to an ignored port',
  whitelisted: 'from a whitelisted source',
  untrusted: 'not provably from the kernel',
  'not-for-this-host': 'addressed to another host',
  'already-banned': 'from a source banned by then (the ban would have dropped them before they were logged)',
  'duplicate-record': 'a second log line of a packet already counted (ufw and the per-source logging block both log it)',
};

/** `boot + 2 d 03:25:46`: a time counted from boot. */
function sinceBoot(ms: number): string {
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((n) => String(n).padStart(2, '0')).join(':');
  return `boot + ${days > 0 ? `${days} d ` : ''}${hms}`;
}

export function humanReport(input: string, s: ReplaySummary, settings: Settings, whitelist: string[], openPorts: string[] = []): string {
  const out: string[] = [];
  const d = settings.detection;
  const fromBoot = s.timeBase === 'boot';
  const when = (t: number | null): string | null => (t !== null && fromBoot ? sinceBoot(t) : iso(t));
  const span = s.firstTime !== null ? `, event time ${when(s.firstTime)} → ${when(s.lastTime)}` : '';
  out.push(`Replay of ${inputName(input)} (framing: ${s.framing ?? 'not recognised'}${span})`);
  if (fromBoot) out.push('The stamps count from boot: times are shown after boot (--boot-time ISO-TIME, or now for this machine, dates them).');
  out.push('Kernel trust not required: a replayed file is analysed, and lines any local user could have written count too (the live engine refuses those).');
  out.push(`Scan rule: ${d.maxretry} probes on ≥ ${d.minDistinctPorts} distinct ports within ${d.findtimeSec} s; counted prefixes: ${d.prefixes.join(', ')}`);
  out.push(`Whitelist: ${whitelist.join(', ')}`);
  if (openPorts.length) out.push(`Open ports (probes to them are not evidence): ${openPorts.join(', ')}`);
  out.push('');
  const rejected = nonZero<RejectReason>(s.rejected);
  const rejectedTotal = rejected.reduce((a, [, n]) => a + n, 0);
  out.push(`Lines:             ${num(s.lines)}`);
  out.push(`Packet records:    ${num(s.packets)}`);
  out.push(`Rejected lines:    ${num(rejectedTotal)}${rejected.length ? ` (${rejected.map(([r, n]) => `${r} ${num(n)}`).join(', ')})` : ''}`);
  if (s.rejected['untrusted-transport'] > 0) {
    out.push(`  (untrusted-transport: firewall lines another program wrote, refused by --kernel-only; without it they count, e.g. a router's log forwarded to a syslog server)`);
  }
  out.push(`Distinct sources:  ${num(s.distinctSources)}`);
  out.push(`Counted probes:    ${num(s.counted)}`);
  if (s.framing === 'pve' || s.guestRecords > 0) {
    out.push(`Proxmox VE guest records: ${num(s.guestRecords)} (logged by a guest's inbound chain, e.g. tap100i0-IN: judged as packets for that guest, though this host only bridged them)`);
  }
  out.push('');
  if (s.bans.length === 0) out.push('Would ban nobody.');
  else {
    out.push(`Would ban ${s.bans.length} time(s):`);
    const shownBans = s.bans.slice(0, HUMAN_BAN_LINES);
    const w = Math.max(...shownBans.map((b) => b.ip.length));
    for (const b of shownBans) {
      const ports = b.reason.ports;
      const shown = ports.length > 12 ? `${ports.slice(0, 12).join(',')},…` : ports.join(',');
      out.push(
        `  ${b.ip.padEnd(w)}  at ${when(b.at)} ${duration(b.until === null ? null : b.until - b.at)}  ${b.reason.scanType ?? ''}  ` +
          `${ports.length} ports (${shown}), ${b.reason.hits} probes, strike ${b.strikes}` +
          (b.reason.members ? `; network ban, ${b.reason.members.length} addresses seen` : ''),
      );
    }
    if (s.bans.length > shownBans.length) out.push(`  … and ${num(s.bans.length - shownBans.length)} more (--json lists them all)`);
  }
  if (s.deferredEvents > 0) {
    out.push(`The new-bans-per-minute cap (${settings.ban.maxNewBansPerMinute}) delayed ${s.deferredEvents} ban(s).`);
  }
  if (s.deferred.length > 0) {
    const shown = s.deferred.slice(0, HUMAN_BAN_LINES);
    const more = s.deferred.length > shown.length ? ` … and ${num(s.deferred.length - shown.length)} more (--json lists them all)` : '';
    out.push(`Still held back by the cap at the end of the log (would be banned as the budget frees): ${shown.join(', ')}${more}`);
  }
  if (s.expired > 0) out.push(`${num(s.expired)} of these bans would have expired within the log's time span.`);
  const ignored = nonZero<IgnoreReason>(s.ignored);
  if (ignored.length) {
    out.push('');
    out.push('Ignored packet records:');
    for (const [r, n] of ignored) out.push(`  ${num(n).padStart(10)}  ${r} — ${IGNORE_TEXT[r]}`);
  }
  if (s.uncountedPrefixes.length) {
    out.push(`Prefixes of the records not counted (add one with --prefix if it marks blocked packets): ${s.uncountedPrefixes.map((u) => `"${u.prefix}" ×${num(u.records)}`).join(', ')}`);
  }
  return out.join('\n');
}

export function summaryJson(s: ReplaySummary, settings: Settings, whitelist: string[], openPorts: string[] = []): Record<string, unknown> {
  return {
    type: 'summary',
    lines: s.lines,
    packets: s.packets,
    rejected: s.rejected,
    ignored: s.ignored,
    counted: s.counted,
    guestRecords: s.guestRecords,
    distinctSources: s.distinctSources,
    bans: s.bans.map(banJson),
    deferred: s.deferred,
    deferredEvents: s.deferredEvents,
    expired: s.expired,
    uncountedPrefixes: s.uncountedPrefixes,
    framing: s.framing,
    firstTime: iso(s.firstTime),
    lastTime: iso(s.lastTime),
    // 'boot': the times above and the bans' are ms since boot shown as dates (1970-01-01T00:00:00Z = boot).
    timeBase: s.timeBase,
    requireKernelTrust: false,
    settings: {
      maxretry: settings.detection.maxretry,
      findtimeSec: settings.detection.findtimeSec,
      minDistinctPorts: settings.detection.minDistinctPorts,
      prefixes: settings.detection.prefixes,
      bantimeSec: settings.ban.bantimeSec,
      maxNewBansPerMinute: settings.ban.maxNewBansPerMinute,
      whitelist,
      openPorts,
    },
  };
}

/** The input as messages name it ("standard input" for -). */
export function inputName(input: string): string {
  return input === '-' ? 'standard input' : input;
}
