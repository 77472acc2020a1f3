/**
 * The app's side of the Doctor (the table is `shared/doctor.ts`): the checks the app runs itself,
 * the helper's checks (or why there are none), and the one place a fix is carried out — used by the
 * running service and by `portcullis doctor` without a running instance.
 */
import type { DoctorCheck, FirewallState, SourceHealthDto, StoreHealth } from '../shared/api.ts';
import { DOCTOR_CHECKS, DOCTOR_FIXES, doctorCheck, inDoctorOrder, isDoctorFixId, unknownFixMessage, type DoctorCheckId, type DoctorFixId } from '../shared/doctor.ts';
import { errorText } from '../shared/errors.ts';
import type { HelperOpsPort } from './contracts.ts';
import { forgedRecordsCheck, type ReadSysctl } from './userns-check.ts';
import type { LoggingVia } from '../shared/settings.ts';
import { storeAdvice } from '../shared/store-health.ts';

/** What to do about a silent log (the last-record check): how it can be normal, and how it is fixed when not. */
const SILENT_HINT =
  ': normal on a quiet host (only blocked packets are logged); otherwise check that ufw logs (ufw logging low) ' +
  'and install the per-source logging block, which logs every scanner';

/** The root helper's checks; without a helper (or when it fails), the one check saying why. */
export async function helperChecks(helper: HelperOpsPort | null, missingReason: string): Promise<DoctorCheck[]> {
  if (!helper) return [doctorCheck('helper', 'error', missingReason)];
  return helper.doctor().catch((e) => [doctorCheck('helper', 'error', `the helper failed: ${errorText(e)}`)]);
}

/**
 * The firewall's basics from the service's last status read, for what the helper's list lacks (no
 * helper, or a helper that failed): the Doctor still says whether ufw is on and logs.
 */
export function firewallStatusChecks(fw: FirewallState, listed: readonly DoctorCheck[], helperRunning: boolean): DoctorCheck[] {
  const has = (id: DoctorCheckId) => listed.some((c) => c.id === id);
  const checks: DoctorCheck[] = [];
  if (!has('ufw-installed'))
    checks.push(
      fw.installed
        ? doctorCheck('ufw-installed', 'ok', 'ufw is installed')
        : doctorCheck('ufw-installed', 'error', helperRunning ? 'ufw is not installed: apt-get install ufw' : 'unknown: the root helper is not running'),
    );
  if (!has('ufw-enabled'))
    checks.push(fw.enabled ? doctorCheck('ufw-enabled', 'ok', 'the firewall is active') : doctorCheck('ufw-enabled', 'error', 'ufw is not enabled: bans have no effect (ufw enable)'));
  if (!has('ufw-logging'))
    checks.push(
      fw.loggingLevel && fw.loggingLevel !== 'off'
        ? doctorCheck('ufw-logging', 'ok', `logging level ${fw.loggingLevel}`)
        : doctorCheck('ufw-logging', 'error', 'ufw logging is off: no blocked packet is ever seen (ufw logging low)'),
    );
  if (!has('per-source-logging'))
    checks.push(
      fw.perSourceLogging
        ? doctorCheck('per-source-logging', 'ok', 'every scanner is logged with its own budget')
        : doctorCheck('per-source-logging', 'warn', 'ufw logs all sources through one budget (3/min, burst 10): on a busy host most scanners are never seen'),
    );
  return checks;
}

/**
 * The block's variant against the source that is reading (its health's kind; null: none) — not the
 * settings, which a change reaches only at the next start. The nflog source sees only what the
 * logging block's NFLOG rules send (ufw itself logs through LOG): without the block, or with its LOG
 * variant, it reads nothing — an error, where a missing block is only a warning for the other
 * sources. The other way round, the NFLOG variant under another source sends the block's packets
 * where nobody reads them: an error too. Null when the helper's check stands.
 */
export function nflogRulesCheck(runningKind: string | null, fw: FirewallState): DoctorCheck | null {
  if (runningKind !== 'nflog') {
    if (!fw.perSourceLogging || fw.perSourceLoggingVia !== 'nflog') return null;
    return doctorCheck(
      'per-source-logging',
      'error',
      `the per-source logging block logs through NFLOG, which only the nflog source reads, and the ${runningKind ?? 'running'} source sees none of its packets (install the block again: its LOG variant)`,
    );
  }
  if (fw.perSourceLogging && fw.perSourceLoggingVia === 'nflog') return doctorCheck('per-source-logging', 'ok', 'the per-source logging block logs through NFLOG, which the nflog source reads');
  return doctorCheck(
    'per-source-logging',
    'error',
    fw.perSourceLogging
      ? 'the per-source logging block logs through LOG, and the nflog source reads only NFLOG messages: it sees nothing (install the block again: its NFLOG variant)'
      : 'the nflog source reads only NFLOG messages, which only the per-source logging block sends, and it is not installed: nothing is seen (install it)',
  );
}

/**
 * The forward block's variant against the reading source, as nflogRulesCheck does for the per-source
 * block: the desktop app (kmsg) never switches the blocks, so a forward block a headless run left
 * NFLOG logs forwarded probes for nobody. Null when the helper's check stands (not installed, the
 * right variant, or nothing reads).
 */
export function forwardVariantCheck(runningKind: string | null, fw: FirewallState): DoctorCheck | null {
  if (runningKind === null || !fw.forwardBlock || fw.forwardLoggingVia === undefined) return null;
  const need = runningKind === 'nflog' ? 'nflog' : 'log';
  if (fw.forwardLoggingVia === need) return null;
  const has = fw.forwardLoggingVia === null ? 'logs through LOG in some of its files and NFLOG in others' : `logs through ${fw.forwardLoggingVia === 'nflog' ? 'NFLOG' : 'LOG'}`;
  return doctorCheck(
    'forward-block',
    'error',
    `the forward block ${has}, and the ${runningKind} source reads only ${need === 'nflog' ? 'NFLOG messages' : 'LOG records'}: forwarded probes are not seen (install the forward block again: its ${need === 'nflog' ? 'NFLOG' : 'LOG'} variant)`,
  );
}

/** Where the running service reads the firewall log, and whether its records can be trusted. */
export function logSourceCheck(src: SourceHealthDto | null): DoctorCheck {
  if (!src) return doctorCheck('log-source', 'error', 'no log source: nothing is watched (start with --source journal, or --source file:/var/log/kern.log)');
  if (src.error) return doctorCheck('log-source', 'error', `${src.description}: ${src.error} (if it persists, restart Portcullis or choose another source: --source journal | file:PATH)`);
  if (src.warning) return doctorCheck('log-source', 'warn', `${src.description}${src.kernelTrusted ? '' : ' (SPOOFABLE)'} reads on, after: ${src.warning}`);
  return src.kernelTrusted
    ? doctorCheck('log-source', 'ok', `${src.description} (kernel records only)`)
    : doctorCheck('log-source', 'warn', `${src.description} is SPOOFABLE: any local user can write lines into it; run as root to read /dev/kmsg`);
}

/** How long ago the running service read its last firewall record. */
export function lastRecordCheck(lastRecordAt: number | null, now: number, warnWhenSilentSec: number): DoctorCheck {
  const age = lastRecordAt === null ? null : Math.max(0, Math.round((now - lastRecordAt) / 1000));
  if (age === null) return doctorCheck('last-record', 'warn', `no firewall record read yet${SILENT_HINT}`);
  return age > warnWhenSilentSec ? doctorCheck('last-record', 'warn', `${age} s ago${SILENT_HINT}`) : doctorCheck('last-record', 'ok', `${age} s ago`);
}

/**
 * Whether the running service's store writes. Protection goes on without it (scanners are detected
 * and banned); what is lost is the history — blocked packets beyond a small buffer, offenders, the
 * records of bans (a ban without one is taken for a stale firewall entry at the next start).
 */
export function storeWritesCheck(store: StoreHealth): DoctorCheck {
  if (store.ok) return doctorCheck('store-writes', 'ok', 'the database is being written');
  const since = new Date(store.since).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const waiting = store.pendingPackets ? `; ${store.pendingPackets} blocked packets wait in memory` : '';
  // A warning, not an error: protection works (the other errors say it does not), and an error made
  // every `doctor` and `doctor --fix` exit 1 on a full disk.
  return doctorCheck(
    'store-writes',
    'warn',
    `Database cannot be written: ${store.error} since ${since}. Scanners are still detected and banned, but blocked packets, offenders and ban records are not saved${waiting}. ${storeAdvice(store.error, store.path)}`,
  );
}

/** A check about a running instance, asked without one (`portcullis doctor` with no instance). */
export function withoutInstance(id: DoctorCheckId): DoctorCheck {
  return doctorCheck(id, 'warn', 'unknown without a running instance');
}

/** The instance-only checks a direct doctor reports as unknown (the fleet's appear only with a fleet link). */
export function instanceOnlyChecks(): DoctorCheck[] {
  return (Object.keys(DOCTOR_CHECKS) as DoctorCheckId[])
    .filter((id) => (DOCTOR_CHECKS[id] as { instance?: boolean }).instance && !id.startsWith('fleet-'))
    .map(withoutInstance);
}

/** What `portcullis doctor` finds without a running instance. */
export interface NoInstanceEnv {
  /** Who protects this namespace without a control socket here, or null. */
  holder: { who: string; pid: number } | null;
  /** The helper's operations in-process (root), or null with the reason. */
  helper: HelperOpsPort | null;
  missingHelper: string;
  /** Without a helper: is the ufw binary there at all? */
  ufwInstalled: () => boolean;
  kmsgReadable: boolean;
  readSysctl?: ReadSysctl;
  serverChecks: () => Promise<DoctorCheck[]>;
}

/** The Doctor without a running instance: the same table as the service's, the instance's own checks unknown. */
export async function doctorWithoutInstance(env: NoInstanceEnv): Promise<DoctorCheck[]> {
  const instance = env.holder
    ? doctorCheck('instance', 'warn', `${env.holder.who} (pid ${env.holder.pid}) protects this network namespace, but has no control socket in this state directory (pass its --state-dir, or use the desktop app)`)
    : doctorCheck('instance', 'warn', 'no running Portcullis instance: nothing is being watched (start `portcullis run`)');
  const fromHelper = await helperChecks(env.helper, env.missingHelper);
  const ufw = env.helper
    ? []
    : [env.ufwInstalled() ? doctorCheck('ufw-installed', 'ok', '/usr/sbin/ufw') : doctorCheck('ufw-installed', 'error', 'ufw is not installed: apt-get install ufw')];
  const source = env.kmsgReadable
    ? doctorCheck('log-source', 'ok', '/dev/kmsg is readable (kernel records only: trusted)')
    : doctorCheck('log-source', 'error', '/dev/kmsg cannot be read: run as root, or use --source file:/var/log/kern.log (spoofable)');
  return doctorList([instance], fromHelper, ufw, [source], instanceOnlyChecks(), [forgedRecordsCheck(env.readSysctl)], await env.serverChecks());
}

/** One list in the table's order. */
export function doctorList(...parts: DoctorCheck[][]): DoctorCheck[] {
  return inDoctorOrder(parts.flat());
}

/** A fix id refused because the table does not know it (or it is not this process's to run). */
export class UnknownFixError extends Error {
  constructor(fixId: string) {
    super(isDoctorFixId(fixId) ? `the fix "${fixId}" is the desktop app's (${DOCTOR_FIXES[fixId].label})` : unknownFixMessage(fixId));
    this.name = 'UnknownFixError';
  }
}

/** What running a fix needs: the helper's operations, the lockout question for turning ufw on, the instance's settings. */
export interface FixContext {
  /** The helper's operations (throws when there is none: a read-only instance). */
  helper(): HelperOpsPort;
  /** Throws (needs confirmation) when turning ufw on would lock out someone connected now. */
  guardEnable(): Promise<void>;
  /**
   * How the logging blocks (per-source and forward) must log: for the instance's running source, or
   * without an instance for the source its settings would resolve to (absent: LOG).
   */
  loggingVia?(): LoggingVia;
  /**
   * Adds the prefixes the live log showed uncounted to detection.prefixes (a settings change) and
   * returns them; absent without a running instance, whose live log is where they were seen.
   */
  countSeenPrefixes?(): string[];
}

const FIX_RUNS: Record<Exclude<DoctorFixId, 'connect-helper'>, (c: FixContext) => Promise<void>> = {
  'enable-ufw': async (c) => {
    await c.guardEnable();
    await c.helper().setEnabled(true);
  },
  'logging-low': (c) => c.helper().setLogging('low'),
  'install-per-source-logging': (c) => c.helper().setPerSourceLogging(true, c.loggingVia?.() ?? 'log'),
  'install-set-block': (c) => c.helper().setSetBlock(true),
  'install-forward-block': (c) => c.helper().setForwardBlock(true, c.loggingVia?.() ?? 'log'),
  'enable-ufw-ipv6': (c) => c.helper().enableUfwIpv6(),
  'count-seen-prefixes': async (c) => {
    if (!c.countSeenPrefixes) {
      throw new Error('count-seen-prefixes needs the running instance: its live log is where the prefixes are seen (start `portcullis run`, then run this again)');
    }
    c.countSeenPrefixes();
  },
};

/** The id a `--fix` or `runDoctorFix` names, if this process runs it. */
function runnable(fixId: string): keyof typeof FIX_RUNS | null {
  return Object.hasOwn(FIX_RUNS, fixId) ? (fixId as keyof typeof FIX_RUNS) : null;
}

/** Checks a fix id before anything runs (a lock taken, a helper started): UnknownFixError when it is not one. */
export function checkFixId(fixId: string): void {
  if (!runnable(fixId)) throw new UnknownFixError(fixId);
}

/** Carries out a fix: the one switch the service and `portcullis doctor --fix` share. */
export async function runFix(fixId: string, c: FixContext): Promise<void> {
  const id = runnable(fixId);
  if (!id) throw new UnknownFixError(fixId);
  await FIX_RUNS[id](c);
}
