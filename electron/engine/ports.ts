/**
 * What the engine needs from the outside world, as interfaces. Adapters implement them beside
 * their I/O (engine/logs, engine/store, engine/helperclient); the core engine never does I/O.
 */
import type { BanRecord, Offender, UnbanReason } from '../shared/model.ts';
import type { PacketEvent } from '../shared/packet.ts';
import type { FirewallUnbanReason, SkippedBan } from '../shared/helper-protocol.ts';

/**
 * Does the firewall let every source in to this port of this host, over this address family? Probes
 * to such a port are not scan evidence (settings.detection.ignoreAllowedPorts). The family is the
 * probe's: a port open to IPv4 only (a ufw rule without its "(v6)" twin) is not open to IPv6 probes.
 * Asked for every blocked packet: an answer must not allocate.
 */
export type AllowedPorts = (family: 4 | 6, proto: 'tcp' | 'udp', port: number) => boolean;

/** The firewall as the engine sees it: the helper's ban backends (ufw rules or a kernel set). */
export interface FirewallPort {
  /**
   * Make the ban effective; `until` null is permanent. Idempotent: banning a banned host extends it.
   * Resolves with why the firewall did not take it (the ufw backend: a rule of the user's own decides
   * that source's traffic), or nothing when it is in force; throws when it failed.
   */
  ban(ip: string, until: number | null, comment: string): Promise<SkippedBan | void>;
  /** `why` goes along to the helper's audit log. */
  unban(ip: string, why?: FirewallUnbanReason): Promise<void>;
  /** Addresses that Portcullis itself has banned in the firewall (never the user's own rules). */
  listBans(): Promise<{ ip: string; until: number | null }[]>;
  /** Cut existing connections of a host (conntrack), so an open session of a banned scanner dies. */
  cutConnections(ip: string): Promise<void>;
  /**
   * The block itself drops a banned host's established connections (the set backend: matched ahead of
   * ufw's ESTABLISHED accept), so no cut is needed — cutting spawns two conntrack processes, whose
   * fork blocks the event loop ~10 ms each (issue 14: most of an API ban's 18–29 ms at 10k bans).
   */
  readonly blocksEstablished?: boolean;
  /**
   * A rule of the user's own for a source, ahead of the ban's, decides that source's traffic (the ufw
   * backend: one rule list, first match wins); the set backend's block comes before every ufw rule.
   */
  readonly usersRulesDecide?: boolean;
  /**
   * Many bans as few firewall batches as the helper allows (restore, bulk ban); absent = ban() each.
   * Resolves with the bans the firewall did not take, each with its reason (the ufw backend: the
   * source has a rule of the user's own); the others are in force.
   */
  banMany?(bans: readonly { ip: string; until: number | null; comment: string }[]): Promise<SkippedBan[]>;
  /**
   * Many unbans as few firewall batches as the helper allows (a resync's, reconcile's stale entries, a
   * switch of backend, uninstall); absent = unban() each. `why`, one for all of them, goes along to the
   * helper's audit log. Resolves with warnings for the user: what went wrong on the way though the bans
   * came out (the ufw backend: a file of ufw's its failed batch edit could not put back).
   */
  unbanMany?(ips: readonly string[], why: FirewallUnbanReason): Promise<string[]>;
}

/** Health of a live log source, shown by the Doctor and the dashboard. */
export interface SourceHealth {
  kind: 'kmsg' | 'journal' | 'file' | 'replay' | 'nflog';
  description: string;
  /** Records are provably from the kernel (kmsg facility 0, journald _TRANSPORT=kernel, NFLOG: netlink from the kernel). */
  kernelTrusted: boolean;
  /** Event time (ms) of the last record read, or null when none yet. */
  lastRecordAt: number | null;
  linesPerMinute: number;
  rejectsPerMinute: number;
  /** Records read since start, of every kind (kmsg: each sequence number handled once). */
  recordsRead?: number;
  /** Records the source knows it never read (kmsg: overwritten in the ring, also while stopped; nflog: dropped, and logged while no reader was bound). */
  recordsLost?: number;
  /** Reading stopped or failed, or records were lost (kmsg: overwritten unread; nflog: dropped from a full socket): a fault, until the source is restarted. */
  error?: string;
  /**
   * true while the source reads nothing at all (its feed failed; `error` says why) — not merely lost
   * some records: nothing is being watched. The tray shows it as no protection. Absent: reading.
   */
  stopped?: boolean;
  /**
   * The last problem the source read on past, more slowly (kmsg: no reading thread or second fd for
   * a while): worth a look if it repeats, not a fault. nflog: also the messages logged while no
   * reader was bound (over when counted; NFLOG keeps none without a reader, nothing to fix).
   */
  warning?: string;
}

/**
 * A stream of raw log records (one framed line each) with a resumable position — or, for a source
 * whose records are not text (nflog: netlink messages, decoded by parse/nflog.ts), of the packets
 * themselves, the same PacketEvent the text parser makes of a LOG line.
 */
export interface LogSourcePort {
  readonly kind: SourceHealth['kind'];
  /** Starts delivering lines (or packets, through onPackets); resolves once reading has started. */
  start(onLines: (lines: string[]) => void, onPackets?: (packets: PacketEvent[]) => void): Promise<void>;
  stop(): Promise<void>;
  health(): SourceHealth;
  /** The consumer reports how many delivered lines the parser refused (for rejectsPerMinute). */
  noteRejects?(count: number): void;
}

/** Persistence of what the engine learnt. Writes may be batched by the adapter. */
export interface StorePort {
  /**
   * Buffers packets as rows; returns the row id of the first (the others follow: first + 1, …), the
   * id the UI's live row of each packet carries, so live and stored rows are one list.
   */
  addPackets(packets: PacketEvent[]): number;
  upsertOffenders(offenders: Offender[]): void;
  recordBan(ban: BanRecord): void;
  recordUnban(ip: string, at: number, why: UnbanReason): void;
  activeBans(now: number): BanRecord[];
  /** Strike counts of past offenders, so escalation survives restarts. */
  strikes(): { ip: string; strikes: number; lastBanAt: number }[];
  getSetting(key: string): string | null;
  setSetting(key: string, value: string): void;
  flush(): void;
  close(): void;
}
