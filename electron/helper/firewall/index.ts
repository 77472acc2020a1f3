/**
 * Portcullis's firewall module, called by the helper's dispatcher: ban backends (ufw rules or a
 * kernel set matched from ufw's before.rules), cutting a host's connections, and the managed blocks
 * in ufw's files (set match, per-source logging).
 */
import { BINARIES, spawnArgv, type Exec } from '../exec.ts';
import { cutConnections } from './conntrack.ts';
import { createIpsetSession, IPSET_NICE, type IpsetSession } from './ipset-session.ts';
import { createSetBackend } from './set-backend.ts';
import type { BanBackend } from './types.ts';
import { createUfwBackend } from './ufw-backend.ts';
import type { UfwFilesOptions } from './ufw-batch.ts';
import { forwardBlockInstalled, forwardBlockVia } from './forward.ts';
import { withForwardMirror } from './forward-mirror.ts';
import { managedBlocksStatus as fileBlocksStatus, type ManagedOptions } from './managed.ts';
import type { LoggingVia } from '../../shared/settings.ts';

export type { BanBackend, BanEntry, BanRequest } from './types.ts';
export type { IpsetSession } from './ipset-session.ts';
export { BAN_TAG } from './types.ts';
export { FirewallError, type FirewallErrorCode } from './errors.ts';
export { cutConnections } from './conntrack.ts';
export {
  installSetBlock,
  removeSetBlock,
  installPerSourceLogging,
  removePerSourceLogging,
  DEFAULT_ETC_DIR,
  type ManagedOptions,
} from './managed.ts';
export { BAN_NET_SET_NAMES, BAN_SET_NAMES, type PerSourceLoggingOptions } from './blocks.ts';
export { enableUfwIpv6, withIpv6Yes, UFW_DEFAULTS_FILE } from './ufw-ipv6.ts';
/** At start: loads ufw's user rules files an earlier helper was killed between writing and loading (ufw-batch.ts). */
export { finishInterruptedEdit as finishInterruptedUfwEdit } from './ufw-batch.ts';
export { installForwardBlock, removeForwardBlock, forwardBlockStatus, forwardBlockInstalled, forwardBlockVia, repairForwardJumps, type ForwardBlockStatus } from './forward.ts';

/** Which managed blocks are in ufw's files (the forward block: in all five of its files). */
export async function managedBlocksStatus(opts: ManagedOptions = {}): Promise<{
  setBlock: boolean;
  perSourceLogging: boolean;
  perSourceLoggingVia: LoggingVia | null;
  perSourceLoggingByFamily: { v4: LoggingVia | null; v6: LoggingVia | null };
  forward: boolean;
  forwardVia: LoggingVia | null;
}> {
  const forward = forwardBlockInstalled(opts);
  return { ...(await fileBlocksStatus(opts)), forward, forwardVia: forward ? forwardBlockVia(opts) : null };
}

export interface BanBackendOptions {
  /**
   * Also delete the banned host's conntrack entries after the ban is in place (default true): with
   * the ufw backend an established session would otherwise survive the ban. Calling cutConnections
   * again afterwards is harmless.
   */
  cutConnections?: boolean;
  /** Wall clock for the ufw backend's expiry tags (tests inject one). */
  now?: () => number;
  /** The set backend's long-lived `ipset restore` (ipsetRestoreSession()); without it, one process per batch. */
  ipsetSession?: IpsetSession | null;
  /**
   * ufw backend: also put each ban into the ban sets while this says true (default: while the forward
   * block is in /etc/ufw), so forwarded traffic is dropped too (forward-mirror.ts says why).
   */
  forwardMirror?: () => boolean;
  /** ufw backend: where ufw's files are (tests: a temp dir); default /etc/ufw and /etc/default/ufw. */
  ufwFiles?: UfwFilesOptions;
}

export function createBanBackend(kind: 'ufw' | 'set', exec: Exec, opts: BanBackendOptions = {}): BanBackend {
  const inner =
    kind === 'ufw'
      ? withForwardMirror(createUfwBackend(exec, opts.now, opts.ufwFiles), exec, opts.forwardMirror ?? (() => forwardBlockInstalled()), opts.now)
      : createSetBackend(exec, opts.ipsetSession ?? null);
  if (opts.cutConnections === false) return inner;
  return {
    ...inner,
    async ban(ip, timeoutSec, comment) {
      const skipped = await inner.ban(ip, timeoutSec, comment); // block first: new packets are dropped from here on
      if (!skipped) await cutConnections(ip, exec);
      return skipped;
    },
    async banMany(bans) {
      const skipped = await inner.banMany(bans);
      const notBanned = new Set(skipped.map((s) => s.ip));
      for (const b of bans) if (!notBanned.has(b.ip)) await cutConnections(b.ip, exec);
      return skipped;
    },
  };
}

/** The real coprocess: `stdbuf -oL ipset restore -exist` (see ipset-session.ts for why stdbuf). */
export function ipsetRestoreSession(): IpsetSession {
  return createIpsetSession(() => spawnArgv('stdbuf', ['-oL', BINARIES.ipset, 'restore', '-exist']), { nice: IPSET_NICE });
}
