import type { Ip } from '../../shared/domain.ts';

export interface BanEntry {
  ip: Ip;
  /** Seconds until the ban expires; null when it never expires (or the backend cannot tell). */
  expiresInSec: number | null;
}

export interface BanBackend {
  kind: 'ufw' | 'set';
  /** Idempotent: banning a banned address refreshes its ban. timeoutSec null = no expiry. */
  ban(ip: Ip, timeoutSec: number | null, comment: string): Promise<void>;
  /** Idempotent: unbanning an address that is not banned does nothing. Never touches untagged rules. */
  unban(ip: Ip): Promise<void>;
  list(): Promise<BanEntry[]>;
}

/** Every rule/element Portcullis creates carries this tag; nothing without it is ever removed. */
export const BAN_TAG = 'portcullis-ban';
