/**
 * The one settings schema: the settings file, the CLI flags, the IPC "settings update" command and
 * the UI forms are all validated by it. Every field has a default, so `{}` is a complete config;
 * an invalid value is refused with the field's path and the reason (seed mistake 7: a typo must
 * never leave Portcullis half-configured).
 */
import * as z from 'zod';
import { groupDigits } from './digits.ts';
import { LOG_SOURCE_PATTERN, LOG_SOURCE_VALUES } from './log-source.ts';
import { CidrSchema, PortSchema } from './domain.ts';
import { FleetSettingsSchema } from './fleet.ts';
import { V4_PREFIX_MIN, V6_PREFIX_MIN } from './prefix.ts';

const seconds = (what: string) => z.number().int(`${what} is a whole number of seconds`).positive(`${what} must be more than 0 seconds`);

/** A whole number in [min, max], refused in words ("maxNewBansPerMinute is a whole number from 1 to 10,000") rather than zod's "Too small: expected number to be >=1". */
const count = (what: string, min: number, max: number) => {
  const msg = `${what} is a whole number from ${groupDigits(min)} to ${groupDigits(max)}`;
  return z.number({ error: msg }).int(msg).min(min, msg).max(max, msg);
};

/** Portcullis's own LOG prefix, used by its per-source logging block in after.rules. */
export const PORTCULLIS_LOG_PREFIX = 'PORTCULLIS BLOCK';
/**
 * The NFLOG group of the per-source logging block's nflog variant (logs.source "nflog"), which the
 * source's reader binds (one reader per group and namespace). Unused by ufw and ulogd's defaults (0, 1).
 */
export const PORTCULLIS_NFLOG_GROUP = 5417;
/** How the per-source logging block logs: kernel LOG records (kmsg, journald, files) or NFLOG messages (the nflog source). */
export type LoggingVia = 'log' | 'nflog';
/** How the per-source logging block must log for a `logs.source` setting: NFLOG for the nflog source, LOG for the others. */
export function loggingViaFor(source: string): LoggingVia {
  return source === 'nflog' ? 'nflog' : 'log';
}
/**
 * The forward block's LOG prefix (helper/firewall/forward-blocks.ts): new connections routed through
 * this host (a container's unpublished port, a routed host's closed one). Its records carry IN= and
 * OUT= both; the classifier counts them as inbound, where every other prefix with OUT= is not.
 */
export const PORTCULLIS_FORWARD_PREFIX = 'PORTCULLIS FORWARD';

export const DetectionSettingsSchema = z
  .object({
    /** Sliding window over which probes of one source are counted (fail2ban's findtime). */
    findtimeSec: seconds('findtime').max(7 * 86400, 'findtime longer than a week would keep too much state').default(600),
    /** Probes within the window that make a scan (fail2ban's maxretry). */
    maxretry: z.number().int('maxretry is a whole number').min(1, 'maxretry must be at least 1').max(10000, 'maxretry is at most 10,000').default(5),
    /** Distinct destination ports those probes must touch: one port hammered is not a scan. */
    minDistinctPorts: z.number().int('minDistinctPorts is a whole number').min(1, 'minDistinctPorts must be at least 1').max(65535, 'minDistinctPorts is at most 65,535 (there are no more ports)').default(3),
    /** Log prefixes whose records count as blocked probes. */
    prefixes: z
      .array(z.string().trim().min(1, 'a prefix cannot be empty').max(64, 'a log prefix is at most 64 characters'))
      .min(1, 'at least one prefix must count as blocked')
      .default(['UFW BLOCK', 'UFW LIMIT BLOCK', PORTCULLIS_LOG_PREFIX, PORTCULLIS_FORWARD_PREFIX]),
    /** Probes to ports the firewall allows are not evidence of a scan (seed comment). */
    ignoreAllowedPorts: z.boolean().default(true),
    /** Extra ports never counted as probes (e.g. a service behind port knocking). */
    ignoredPorts: z.array(PortSchema).default([]),
    /**
     * Bound on tracked sources. A source quiet for findtime and a minute is forgotten anyway, once
     * every findtime (its next probe would start afresh), so this is reached only by that many
     * sources within about two findtimes. Past it a source whose window is over goes first,
     * then the least recently seen source seen only once; one seen again in its window only when those
     * are gone or take less than a quarter of the bound (engine/detect/source-table.ts): spoofed
     * one-packet sources cannot push out a scanner counted twice (its first probe they can, as before).
     */
    maxTrackedSources: count('maxTrackedSources', 100, 10_000_000).default(100_000),
    /** Act only on kernel-trusted records (kmsg, journald _TRANSPORT=kernel). */
    requireKernelTrust: z.boolean().default(true),
    /**
     * IPv6 sources are also tracked by their network of this length, and a network that meets the
     * scan rule is banned whole (a scanner on a cloud /64 can use a new address for every probe).
     * 128: addresses only.
     */
    ipv6PrefixLength: count('ipv6PrefixLength', V6_PREFIX_MIN, 128).default(64),
    /** The same for IPv4 networks of this length (e.g. 24); null: IPv4 sources are tracked by address only. */
    ipv4PrefixLength: count('ipv4PrefixLength', V4_PREFIX_MIN, 32).nullable().default(null),
  })
  .strict();

/** Longest bantime / maxbantime a setting may ask for: 365 days. */
export const MAX_BAN_SETTING_SEC = 365 * 86400;

export const BanSettingsSchema = z
  .object({
    /** At most a year: longer is what permanentAfterStrikes is for (bans past ~24.8 days are lifted by Portcullis, not the kernel). */
    bantimeSec: seconds('bantime').max(MAX_BAN_SETTING_SEC, 'bantime is at most 365 days (for longer, use permanentAfterStrikes)').default(3600),
    /** Repeat offenders get bantime × 2^strikes, capped at maxbantimeSec. */
    increment: z.boolean().default(true),
    maxbantimeSec: seconds('maxbantime').max(MAX_BAN_SETTING_SEC, 'maxbantime is at most 365 days (for longer, use permanentAfterStrikes)').default(7 * 86400),
    /** Strikes are forgotten after this long without a new ban. */
    strikeForgetSec: seconds('strikeForget').max(10 * MAX_BAN_SETTING_SEC, 'strikeForget is at most 10 years').default(30 * 86400),
    /** Ban permanently from this many strikes on (null: never permanent). */
    permanentAfterStrikes: count('permanentAfterStrikes', 1, 100).nullable().default(null),
    /** At most this many NEW bans per minute; the rest are held back and reported. */
    maxNewBansPerMinute: count('maxNewBansPerMinute', 1, 10000).default(30),
    backend: z.enum(['ufw', 'set']).default('set'),
    /** Cut a banned host's existing connections (conntrack) so an open session dies too. */
    cutConnections: z.boolean().default(true),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.maxbantimeSec < b.bantimeSec) {
      ctx.addIssue({ code: 'custom', path: ['maxbantimeSec'], message: 'maxbantime cannot be shorter than bantime' });
    }
  });

/**
 * A whitelist entry: a CIDR no wider than /8 (IPv4) or /16 (IPv6). `0.0.0.0/0` was accepted, and
 * quietly switched protection off for all of IPv4; pausing protection is the switch's job.
 */
export const WhitelistEntrySchema = CidrSchema.superRefine((cidr, ctx) => {
  const slash = cidr.lastIndexOf('/');
  const bits = Number(cidr.slice(slash + 1));
  const v6 = cidr.includes(':');
  const min = v6 ? 16 : 8;
  if (bits < min) {
    const size = v6 ? `2^${128 - bits}` : groupDigits(2 ** (32 - bits));
    ctx.addIssue({
      code: 'custom',
      message: `${cidr} covers ${size} addresses: a whitelist that wide switches protection off for much of the ${v6 ? 'IPv6' : 'IPv4'} internet (at most /${min}); to pause protection, use the protection switch`,
    });
  }
});

export const WhitelistSettingsSchema = z
  .object({
    /** User entries; loopback and this host's own addresses are always added by the engine. */
    entries: z.array(WhitelistEntrySchema).default([]),
    /** Also whitelist the default gateway(s). */
    includeGateway: z.boolean().default(true),
    /** Also whitelist the name servers this host uses (resolv.conf, systemd-resolved's upstreams). */
    includeNameservers: z.boolean().default(true),
    /** Also whitelist the subnets this host is on (its LAN). Off by default: a compromised LAN device should still be caught. */
    includeLanSubnets: z.boolean().default(false),
  })
  .strict();

export const LogSettingsSchema = z
  .object({
    source: z.string().regex(LOG_SOURCE_PATTERN, `source is ${LOG_SOURCE_VALUES}`).default('auto'),
    /** Blocked packets kept in the database. */
    retentionDays: count('retentionDays', 1, 365).default(7),
    maxStoredPackets: count('maxStoredPackets', 1000, 50_000_000).default(1_000_000),
    /**
     * Blocked packets stored as rows per second at most; the rest of a flood is counted (per minute),
     * not stored. Detection still sees every record: only the packet log is capped. 500/s is far
     * above what a host sees without a flood (journald's default budget is ~333 messages/s a
     * service; ufw's own LOG rule allows 3/min), and at 20k records/s it turns ~16 µs of SQLite per
     * record into a fortieth of that.
     */
    maxStoredPacketsPerSecond: count('maxStoredPacketsPerSecond', 10, 100_000).default(500),
  })
  .strict();

export const NotificationSettingsSchema = z
  .object({
    onBan: z.boolean().default(true),
    /** Bans within this window are summed up in one notification. */
    aggregateWindowSec: count('aggregateWindowSec', 1, 3600).default(60),
    /** Never more than this many notifications per minute. */
    maxPerMinute: count('maxPerMinute', 1, 60).default(3),
    /** Warn (tray, notification) when the kernel log has said nothing for this long. */
    warnWhenSilentSec: z.number().int().min(60, 'warn after at least 60 seconds of silence').max(86400, 'warn within a day of silence').default(900),
  })
  .strict();

export const UiSettingsSchema = z
  .object({
    startAtLogin: z.boolean().default(false),
    theme: z.enum(['system', 'light', 'dark']).default('system'),
  })
  .strict();

export const SettingsSchema = z
  .object({
    protectionEnabled: z.boolean().default(true),
    detection: DetectionSettingsSchema.default(() => DetectionSettingsSchema.parse({})),
    ban: BanSettingsSchema.default(() => BanSettingsSchema.parse({})),
    whitelist: WhitelistSettingsSchema.default(() => WhitelistSettingsSchema.parse({})),
    logs: LogSettingsSchema.default(() => LogSettingsSchema.parse({})),
    notifications: NotificationSettingsSchema.default(() => NotificationSettingsSchema.parse({})),
    ui: UiSettingsSchema.default(() => UiSettingsSchema.parse({})),
    /** Sharing bans with other hosts through CrowdSec's LAPI (shared/fleet.ts). */
    fleet: FleetSettingsSchema.default(() => FleetSettingsSchema.parse({})),
  })
  .strict();

export type Settings = z.infer<typeof SettingsSchema>;
export type SettingsInput = z.input<typeof SettingsSchema>;
export type DetectionSettings = z.infer<typeof DetectionSettingsSchema>;
export type BanSettings = z.infer<typeof BanSettingsSchema>;
export type WhitelistSettings = z.infer<typeof WhitelistSettingsSchema>;

export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse({});

/** One line per problem: "ban.bantimeSec: bantime must be more than 0 seconds". */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(settings)'}: ${i.message}`)
    .join('\n');
}

export type SettingsCheck = { ok: true; settings: Settings } | { ok: false; error: string };

export function validateSettings(input: unknown): SettingsCheck {
  const r = SettingsSchema.safeParse(input);
  return r.success ? { ok: true, settings: r.data } : { ok: false, error: describeZodError(r.error) };
}
