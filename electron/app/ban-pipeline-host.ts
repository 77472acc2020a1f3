/**
 * What the ban pipeline (ban-pipeline.ts) needs of the service around it, what it answers, and the
 * sizes of its firewall batches.
 */
import type { BanRecord, UnbanReason } from '../shared/model.ts';
import type { Settings } from '../shared/settings.ts';
import type { FirewallPort } from '../engine/ports.ts';
import type { SkippedBan } from '../shared/helper-protocol.ts';
import type { EngineLike, ServiceStore } from './contracts.ts';
import type { EventBatcher } from './events.ts';
import type { FleetBridge } from './fleet.ts';

/**
 * Bans per restore batch: an ipset batch of 500 takes ~20–40 ms; the ufw backend writes a batch into
 * ufw's rules files and loads them once (helper/firewall/ufw-batch.ts), ~0.7 s at 500 on few rules.
 */
export const RESTORE_BATCH_SET = 500;
export const RESTORE_BATCH_UFW = 500;

export type Level = 'info' | 'warn' | 'error';
export type BanInfo = { latencyMs: number | null; dryRun: boolean; error?: string };
/**
 * Why the firewall did not take a ban: it refused it for a rule of the user's own (the ban is ended),
 * or its call failed (the ban stays active, for reconcile to retry).
 */
export type BanFailure = { refused: SkippedBan } | { error: string };

/** What the pipeline needs of the service around it. */
export interface BanPipelineHost {
  store: ServiceStore;
  /** The ban backend; null = read-only (no helper). */
  firewall: FirewallPort | null;
  /** The other ban backend, whose entries reconcile moves into `firewall` (ServiceOptions.otherFirewall). */
  otherFirewall?: FirewallPort | null;
  dryRun: boolean;
  now(): number;
  engine(): EngineLike;
  settings(): Settings;
  fleet(): FleetBridge | null;
  events: EventBatcher;
  onBan?: (ban: BanRecord, info: BanInfo) => void;
  onUnban?: (ip: string, why: UnbanReason) => void;
  /** Ends an active ban through the service's unban path (engine, then applyUnban), with the reason. */
  endBan(ip: string, why: 'refused-users-rule'): void;
  notice(level: Level, message: string): void;
  /** A write of the store failed (a ban's or an unban's record): the state's store health goes not ok (store-trouble.ts). */
  storeFailed?(error: unknown): void;
  log(level: Level, message: string): void;
}

/** A short comment for the firewall rule/element, within the helper's safe character set. */
export function banComment(ban: BanRecord): string {
  const what = ban.reason.kind === 'manual' ? 'manual' : `scan ${ban.reason.scanType ?? ''}`.trim();
  return what.replace(/[^A-Za-z0-9 _.,:@()/+=-]/g, '').slice(0, 60);
}
