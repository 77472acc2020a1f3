/**
 * `portcullis run` / `serve`: the engine and the helper in ONE root process, protecting the network
 * namespace it runs in (`ip netns exec NS portcullis run` protects NS). Builds the real pieces —
 * SQLite store, kernel log source, ScanEngine, the helper dispatcher called in-process — hands them
 * to PortcullisService, opens the root-only control socket, and (serve) the web UI.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { systemClock } from '../shared/domain.ts';
import type { BanRecord } from '../shared/model.ts';
import type { PacketEvent } from '../shared/packet.ts';
import type { Settings } from '../shared/settings.ts';
import type { LogSourcePort } from '../engine/ports.ts';
import { ApiError } from '../shared/api.ts';
import { ScanEngine } from '../engine/engine.ts';
import { SqliteStore, StoreOpenError } from '../engine/store/sqlite.ts';
import { fileAuditLog } from '../helper/audit.ts';
import { BINARIES, execArgv } from '../helper/exec.ts';
import { raiseMainThreadPriority } from './main-thread-priority.ts';
import { acquireFirewallLock, acquireStoreLock, FirewallLockedError, StoreLockedError, type FirewallLock, type HeldLock } from '../helper/instance-lock.ts';
import type { HelperOpsPort } from '../app/contracts.ts';
import * as firewallModule from '../helper/firewall/index.ts';
import { createHelperDispatcher } from '../helper/ops.ts';
import { FileSettingsRepo, readInboundSessions, serviceStoreOf, StoreSettingsRepo } from '../app/adapters.ts';
import { prepareStateDir, refuseIfRunning, serveControlSocket } from './control.ts';
import { callViaDispatcher, firewallPortOf, helperOpsOf } from '../app/helper-adapter.ts';
import { readHostInfo } from '../app/hostinfo.ts';
import { kmsgBootTimeMs, liveLineParser } from '../engine/logs/kmsg.ts';
import { ruleCountsOf } from '../engine/logs/nflog-ledger.ts';
import { canRead, forgetKmsgPosition, noteNflogRulesRebuilt, openSource } from './open-source.ts';
import { autoLabel } from './log-source-choice.ts';
import { FirewallStartRefusal, startFirewallAndSource, type FirewallStart } from './start-firewall.ts';
import { liveKmsgThreads } from '../engine/logs/kmsg-reader.ts';
import { PortcullisService, VERSION } from '../app/service.ts';
import { startRestTrim } from './rest-trim.ts';
import { hostFingerprint, ufwFingerprint, unlessChanged } from './unless-changed.ts';
import { secretsFileRefusal } from './fleet-config.ts';
import { loadSettings } from '../app/settings-load.ts';
import { announceServeUrl, stdoutIsJournal } from './serve-url.ts';

// Here for its importers; it lives in control.ts, which `status` and the other clients load without the runner.
export { DEFAULT_STATE_DIR } from './control.ts';

export interface RunOptions {
  source?: string;
  backend?: 'ufw' | 'set';
  dryRun: boolean;
  db?: string;
  config?: string;
  stateDir: string;
  json: boolean;
  /** File source: read what the file already holds (default: only lines written from now on). */
  fromStart?: boolean;
  /** serve: port of the web UI (0 = any free port). */
  web?: { port: number; staticDir: string | null };
  /** Where the per-namespace firewall lock lives (default /run/portcullis; tests). */
  lockDir?: string;
}

export interface Runner {
  service: PortcullisService;
  url: string | null;
  /** `systemctl reload` (SIGHUP): the settings again, with the start's refusal of a config file holding secrets others can read. */
  reloadSettings(): { ok: true } | { ok: false; error: string };
  close(): Promise<void>;
}

/**
 * The exit code of a start refused because the database cannot be opened (not a database, damaged,
 * unreadable, from a newer Portcullis): starting again cannot help, so the server unit lists it in
 * RestartPreventExitStatus= instead of restarting every 5 s. (EX_DATAERR of sysexits.h.)
 */
export const EXIT_STORE_UNOPENABLE = 65;

/** A refusal to start with a message for the user (exit code 1 unless said, no stack trace). */
export class StartError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'StartError';
    this.exitCode = exitCode;
  }
}

export type Out = (line: string) => void;

/** However unchanged their fingerprints, the refreshes read in full at least this often. */
const FULL_REFRESH_MS = 5 * 60_000;

/**
 * The helper with its status (ufw's `status numbered` and `app list`, Python processes) read again only
 * when ufw's files or the forwarding switches changed (unless-changed.ts), at least every
 * FULL_REFRESH_MS, and always after a change made through the helper itself.
 */
function refreshedOnChange(h: HelperOpsPort): HelperOpsPort {
  const status = unlessChanged(() => h.status(), () => ufwFingerprint(), { maxAgeMs: FULL_REFRESH_MS });
  const changing =
    <A extends unknown[]>(op: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      status.invalidate();
      try {
        await op(...args);
      } finally {
        status.invalidate();
      }
    };
  return {
    status: () => status.get(),
    previewRule: (op) => h.previewRule(op),
    doctor: () => h.doctor(),
    applyRule: changing((op) => h.applyRule(op)),
    setEnabled: changing((on) => h.setEnabled(on)),
    setDefault: changing((d, p) => h.setDefault(d, p)),
    setLogging: changing((l) => h.setLogging(l)),
    setPerSourceLogging: changing((on, via) => h.setPerSourceLogging(on, via)),
    setSetBlock: changing((on) => h.setSetBlock(on)),
    setForwardBlock: changing((on, via) => h.setForwardBlock(on, via)),
    enableUfwIpv6: changing(() => h.enableUfwIpv6()),
    // DOCKER-USER's jumps are not in ufw's files nor in its status: nothing cached to invalidate.
    ...(h.repairForwardJumps ? { repairForwardJumps: () => h.repairForwardJumps!() } : {}),
  };
}

/** In a dry run nothing may change the firewall: not bans, not the rule editor, not the blocks (nor DOCKER-USER's jumps: no repairForwardJumps). */
function readOnlyHelper(h: HelperOpsPort): HelperOpsPort {
  const refuse = async (): Promise<never> => {
    throw new ApiError('read-only', 'dry run: Portcullis never touches the firewall');
  };
  return { status: () => h.status(), previewRule: (op) => h.previewRule(op), doctor: () => h.doctor(), applyRule: refuse, setEnabled: refuse, setDefault: refuse, setLogging: refuse, setPerSourceLogging: refuse, setSetBlock: refuse, setForwardBlock: refuse, enableUfwIpv6: refuse };
}

/** V8 flags of a long-running service (see startRunner); the installed wrapper passes the same ones to node (a packaging test compares). */
export const SERVICE_V8_FLAGS = ['--heap-growing-percent=20', '--invocation-count-for-maglev=4000', '--max-opt=2'];

export async function startRunner(o: RunOptions, out: Out, err: Out): Promise<Runner> {
  // A long-running service: grow V8's old generation by 20% past what survived a GC, not by V8's
  // default (up to 2x). Under a 20k records/s flood the old generation filled with short-lived
  // garbage and every 256 KB page V8 took stayed resident: 225 → 175 MB peak RSS in the soak's
  // pipeline for the same CPU (bench/soak/pipeline-cost.ts; --optimize-for-size and memory-saver
  // mode went lower but cost 50-120% more CPU). Read by V8 at every GC, so setting it here works.
  // Optimise a function (Maglev) only after 10x V8's default calls (400 → 4000; TurboFan, once also
  // delayed 10x, is off: below). Start-up code runs a few hundred times at most (settings, the store, the ring's old
  // records), and optimising any of it made the process touch ~6 MB more of the node binary's code
  // (the optimising compilers themselves, resident from then on): idle RSS 73 → 67 MB (node
  // binary pages 51 → 46 MB). A flood's hot paths run thousands of times a second and are
  // optimised within its first second all the same.
  // And never by TurboFan (--max-opt=2: Maglev is the top tier): a flood woke it, and its code in
  // the node binary (~5 MB) stayed resident for good — soak bench, 20k records/s × 60 s as the
  // package runs it, alternated in one run: peak RSS 119–120 → 114–116 MB, 20 s after the flood
  // 101 → 95–96 MB, for 13.4–17.6 CPU-s per million records (with TurboFan 11.7–13.8; issue 16's
  // bound is 20).
  // The installed service gets them on node's command line (build/server/portcullis: from the
  // start, before the bundle loads); set here only when missing (a checkout's `npx portcullis run`),
  // so that the service does not load node:v8 (~0.4 MB resident) for them.
  const missing = SERVICE_V8_FLAGS.filter((f) => !process.execArgv.includes(f));
  if (missing.length) {
    const { setFlagsFromString } = process.getBuiltinModule('node:v8');
    for (const f of missing) setFlagsFromString(f);
  }
  const isRoot = process.getuid?.() === 0;
  if (!isRoot && !o.dryRun) {
    throw new StartError('root is needed: Portcullis changes the firewall and reads the kernel log. Try: sudo npx portcullis run (or --dry-run to only watch)');
  }
  if (!o.dryRun && !existsSync(BINARIES.ufw)) throw new StartError('ufw is not installed: apt-get install ufw (Portcullis bans through ufw)');
  if (!o.dryRun) {
    const notRaised = raiseMainThreadPriority();
    if (notRaised) err(`portcullis warn: ${notRaised}`);
  }
  // One Portcullis per network namespace changes its firewall (ufw is not safe to drive
  // concurrently). Taken before anything that lasts, so a refused start leaves nothing behind (not even a
  // control socket in a shared state dir). A dry run never changes the firewall: it takes no lock,
  // so it can watch next to the instance that protects the namespace.
  const lock = o.dryRun ? null : takeLock(`portcullis ${o.web ? 'serve' : 'run'}`, o.lockDir);
  try {
    const runner = await startLocked(o, out, err, isRoot);
    return {
      ...runner,
      close: async () => {
        await runner.close();
        lock?.release();
      },
    };
  } catch (e) {
    lock?.release();
    throw e;
  }
}

function takeLock(who: string, dir: string | undefined): FirewallLock {
  try {
    return acquireFirewallLock(who, dir ? { dir } : {});
  } catch (e) {
    if (e instanceof FirewallLockedError) throw new StartError(`${e.message}. Stop it first, or add --dry-run to only watch`);
    throw new StartError(`cannot take the firewall lock: ${(e as Error).message}`);
  }
}

async function startLocked(o: RunOptions, out: Out, err: Out, isRoot: boolean): Promise<Runner> {
  try {
    prepareStateDir(o.stateDir);
  } catch (e) {
    throw new StartError(`state directory ${o.stateDir}: ${(e as Error).message}`);
  }
  // A live instance of this state directory refuses the start BEFORE the store and the log source
  // are opened. Refused only at its control socket (below), a dry run next to the service had already
  // ingested into the service's database (whose next restart applied those bans), and a run in
  // another network namespace had restored and reconciled this one's bans there. Two starts at the
  // same moment can both pass here: the store lock below refuses the second.
  const dbPath = o.db ?? path.join(o.stateDir, 'portcullis.db');
  try {
    await refuseIfRunning(o.stateDir);
    // --db naming another state directory's database: that directory's instance is the one writing it.
    if (path.resolve(path.dirname(dbPath)) !== path.resolve(o.stateDir)) await refuseIfRunning(path.dirname(dbPath));
  } catch (e) {
    throw new StartError((e as Error).message);
  }
  // One writer per database, whatever its state directory, dry runs included (instance-lock.ts):
  // the check above asks the control sockets, which two starts at the same moment both pass, and
  // which a `--db` run writing this directory's database does not answer on.
  let storeLock: HeldLock;
  try {
    storeLock = acquireStoreLock(dbPath, `portcullis ${o.web ? 'serve' : 'run'}${o.dryRun ? ' --dry-run' : ''}`);
  } catch (e) {
    throw new StartError(e instanceof StoreLockedError ? `${e.message}. Stop it first` : `cannot open the database ${dbPath}: ${(e as Error).message}`);
  }
  try {
    const runner = await startWithStore(o, out, err, isRoot, dbPath);
    return {
      ...runner,
      close: async () => {
        await runner.close();
        storeLock.release();
      },
    };
  } catch (e) {
    storeLock.release();
    throw e;
  }
}

/** The start once no other Portcullis writes `dbPath`: the store, the helper, the firewall and the log source, the service, its sockets. */
async function startWithStore(o: RunOptions, out: Out, err: Out, isRoot: boolean, dbPath: string): Promise<Runner> {
  let raw: SqliteStore;
  try {
    raw = new SqliteStore({ path: dbPath, clock: systemClock });
  } catch (e) {
    // The store's own error names the file and what to do (a busy lock or a full disk may pass: exit 1, restarted).
    if (e instanceof StoreOpenError) throw new StartError(e.message, e.retryable ? 1 : EXIT_STORE_UNOPENABLE);
    throw new StartError(`cannot open the database ${dbPath}: ${(e as Error).message}`);
  }
  const store = serviceStoreOf(raw, systemClock);
  const settingsRepo = o.config ? new FileSettingsRepo(o.config) : new StoreSettingsRepo(store, dbPath);
  if (o.config && !existsSync(o.config)) {
    raw.close();
    throw new StartError(`config file ${o.config} does not exist (an empty {} file means all defaults)`);
  }

  // One audit log for the firewall commands (helper) and the API calls of every client (api-audit.ts).
  const auditLog = fileAuditLog(path.join(o.stateDir, 'audit.log'));
  // The helper, in-process: the same closed, validated op set the desktop app reaches over a socket.
  let call: ReturnType<typeof callViaDispatcher> | null = null;
  /** Stops the in-process helper; resolves once its audit entries are written. */
  let closeDispatcher = async (): Promise<void> => undefined;
  if (isRoot) {
    const dispatcher = createHelperDispatcher({
      exec: execArgv,
      firewall: firewallModule,
      audit: auditLog,
      readConfig: async (p) => {
        try {
          return (await import('node:fs/promises')).readFile(p, 'utf8');
        } catch {
          return null;
        }
      },
      exists: async (p) => canRead(p),
      who: `portcullis ${o.web ? 'serve' : 'run'} (pid ${process.pid})`,
    });
    // An earlier helper killed between writing ufw's rules files and loading them (ufw-batch.ts): loaded
    // before anything reads the firewall. Only with the firewall lock, which a dry run does not take.
    if (!o.dryRun) {
      const finished = await dispatcher.finishInterruptedEdits();
      if (finished) err(`portcullis warn: ${finished}`);
    }
    call = callViaDispatcher((req) => dispatcher.handle(req));
    closeDispatcher = () => {
      dispatcher.close();
      return dispatcher.auditWritten();
    };
  }
  const helper = call ? refreshedOnChange(o.dryRun ? readOnlyHelper(helperOpsOf(call)) : helperOpsOf(call)) : null;

  let settingsBackend: 'ufw' | 'set' = o.backend ?? 'set';
  const overrides = (s: Settings): Settings => {
    const next = { ...s, ban: { ...s.ban }, logs: { ...s.logs } };
    if (o.backend) next.ban.backend = o.backend;
    if (o.source) next.logs.source = o.source;
    settingsBackend = next.ban.backend;
    return next;
  };
  // Read the effective backend/source before building the firewall port and the source.
  let effective: Settings;
  try {
    // The one settings load (app/settings-load.ts) the service repeats at its start.
    const loaded = loadSettings(settingsRepo, overrides);
    if (!loaded.ok) {
      if (loaded.stage === 'unreadable') throw new StartError(loaded.error);
      throw new StartError(loaded.stage === 'saved' ? `invalid settings in ${settingsRepo.describe()}:\n${loaded.error}` : `invalid option:\n${loaded.error}`);
    }
    effective = loaded.settings;
    if (o.config) {
      const refusal = secretsFileRefusal(o.config, effective);
      if (refusal) throw new StartError(refusal);
    }
  } catch (e) {
    raw.close();
    throw e instanceof StartError ? e : new StartError((e as Error).message);
  }

  // ufw checked and the blocks the backend needs; the log source chosen (auto prefers nflog) and
  // opened, and the installed logging blocks switched to what it reads (start-firewall.ts).
  let started: FirewallStart;
  try {
    started = await startFirewallAndSource({
      effective,
      isRoot,
      dryRun: o.dryRun,
      call,
      helper,
      open: (spec) =>
        openSource(
          spec,
          { get: (k) => raw.getState(k), set: (k, v) => raw.setState(k, v), setMany: (e) => raw.setStates(e), queue: (k, v) => raw.queueState(k, v) },
          o.fromStart === true,
          call ? async () => ruleCountsOf(await call!('nflogCounters', {})) : undefined,
        ),
      nflogRulesRebuilt: () => noteNflogRulesRebuilt({ setMany: (e) => raw.setStates(e) }),
      out,
      warn: (w) => err(`portcullis warn: ${w}`),
    });
  } catch (e) {
    raw.close();
    throw e instanceof FirewallStartRefusal ? new StartError(e.message) : e;
  }
  const opened = started.opened;
  if (opened.source.kind === 'nflog') forgetKmsgPosition({ set: (k, v) => raw.setState(k, v) });
  const framing = opened.framing;
  const sourceChoice = autoLabel(started.why, opened.source.kind);
  if (!opened.source.health().kernelTrusted && effective.detection.requireKernelTrust) {
    err(
      `portcullis warn: ${opened.source.health().description}: its records are ignored ` +
        'while detection.requireKernelTrust is true. Use /dev/kmsg (root) or set it to false in the config if you accept the risk.',
    );
  }
  const parseOpts = { framing, bootTimeMs: kmsgBootTimeMs() };

  const fmtBan = (ban: BanRecord, info: { latencyMs: number | null; dryRun: boolean; error?: string }): string => {
    if (o.json) {
      return JSON.stringify({
        type: 'ban',
        ip: ban.ip,
        at: ban.at,
        until: ban.until,
        strikes: ban.strikes,
        reason: ban.reason,
        dryRun: info.dryRun,
        latencyMs: info.latencyMs === null ? null : Math.round(info.latencyMs * 10) / 10,
        ...(info.error ? { error: info.error } : {}),
      });
    }
    const dur = ban.until === null ? 'permanently' : `for ${Math.round((ban.until - ban.at) / 1000)} s`;
    const why = ban.reason.kind === 'manual' ? 'manual' : `${ban.reason.scanType ?? 'scan'} scan of ${ban.reason.ports.length} ports (${ban.reason.ports.slice(0, 10).join(',')})`;
    const how = info.error ? ` FAILED: ${info.error}` : info.dryRun ? ' [dry run: firewall untouched]' : info.latencyMs !== null ? ` in ${info.latencyMs.toFixed(1)} ms` : '';
    return `BAN ${ban.ip} ${dur}: ${why}, strike ${ban.strikes}${how}`;
  };

  // Records already handled by a previous run (kill -9 included): replay those still inside the
  // detection window so a scan in progress when it died is still caught, but never count evidence
  // from before a source's last ban again (that ban already answered it).
  const replayUpTo = opened.replayUpToSeq ?? null;
  const startedAt = Date.now();
  const lastBanAt = new Map(raw.strikes().map((s) => [s.ip, s.lastBanAt]));
  const recordMode =
    replayUpTo === null
      ? undefined
      : (p: PacketEvent): 'live' | 'replay' | 'skip' => {
          if (p.seq === undefined || p.seq > replayUpTo) return 'live';
          if (p.time < startedAt - effective.detection.findtimeSec * 1000) return 'skip';
          return (lastBanAt.get(p.src) ?? -Infinity) >= p.time ? 'skip' : 'replay';
        };

  // Lines the source delivered, for the trim at rest (rest-trim.ts).
  let linesSeen = 0;
  const inner = opened.source;
  const countedSource: LogSourcePort = {
    kind: inner.kind,
    start: (onLines, onPackets) =>
      inner.start(
        (lines) => {
          linesSeen += lines.length;
          onLines(lines);
        },
        onPackets &&
          ((packets) => {
            linesSeen += packets.length;
            onPackets(packets);
          }),
      ),
    stop: () => inner.stop(),
    // auto names what it resolved to and why, in the status and the Doctor.
    health: () => {
      const h = inner.health();
      return sourceChoice ? { ...h, description: `${h.description} [${sourceChoice}]` } : h;
    },
    ...(inner.noteRejects ? { noteRejects: (count: number) => inner.noteRejects!(count) } : {}),
  };

  // The 30 s refresh of this host's addresses: spawns `ip` only when the kernel's view changed.
  const hostInfo = unlessChanged(() => readHostInfo(execArgv), hostFingerprint, { maxAgeMs: FULL_REFRESH_MS });

  const service = new PortcullisService({
    ...(recordMode ? { recordMode } : {}),
    // The fleet link (CrowdSec LAPI) when configured; a dry run shares and applies nothing.
    ...(o.dryRun ? {} : { fleet: { fetch: globalThis.fetch, queuePath: dbPath, version: VERSION } }),
    clock: systemClock,
    settingsRepo,
    overrides,
    // Quiet sources are forgotten only for records in time order (configuration.ts): a syslog file's
    // local-time stamps go back an hour when DST ends.
    createEngine: (opts, sink) => new ScanEngine({ forgetQuiet: opened.source.kind !== 'file', ...opts, parse: parseOpts }, sink),
    parseLine: liveLineParser(parseOpts),
    store,
    source: countedSource,
    firewall: call && !o.dryRun ? firewallPortOf(call, settingsBackend) : null,
    // Bans left in the other backend by an earlier run (ban.backend or --backend changed) move here at start.
    otherFirewall: call && !o.dryRun ? firewallPortOf(call, settingsBackend === 'ufw' ? 'set' : 'ufw') : null,
    helper,
    ...(helper ? {} : { readOnlyReason: 'not running as root: watching only' }),
    hostInfo: () => hostInfo.get(),
    serverChecks: async () => (await import('../app/server-doctor.ts')).serverChecks(isRoot ? execArgv : null),
    dryRun: o.dryRun,
    // The kernel log is shared by every namespace: act only on our own records. A log FILE in a dry
    // run is an analysis of a recording (maybe from another host): take it whole.
    hostFilter: !(o.dryRun && opened.source.kind === 'file'),
    inboundSessions: () => readInboundSessions(),
    onBan: (ban, info) => out(fmtBan(ban, info)),
    onUnban: (ip, why) => out(o.json ? JSON.stringify({ type: 'unban', ip, why }) : `UNBAN ${ip} (${why})`),
    log: (level, message) => (level === 'info' ? (o.json ? undefined : err(`portcullis: ${message}`)) : err(`portcullis ${level}: ${message}`)),
  });
  try {
    await service.start();
  } catch (e) {
    await opened.source.stop().catch(() => undefined);
    raw.close();
    await closeDispatcher();
    throw new StartError((e as Error).message);
  }

  let control: Awaited<ReturnType<typeof serveControlSocket>>;
  try {
    control = await serveControlSocket(o.stateDir, service.handlers(), auditLog);
  } catch (e) {
    await service.stop();
    await closeDispatcher();
    throw new StartError((e as Error).message);
  }

  let web: Awaited<ReturnType<typeof import('./http.ts').startWebServer>> | null = null;
  if (o.web) {
    const { startWebServer } = await import('./http.ts');
    try {
      web = await startWebServer({ handlers: service.handlers(), onEvents: (l) => service.onEvents(l), staticDir: o.web.staticDir, port: o.web.port, audit: auditLog });
    } catch (e) {
      await control.close();
      await service.stop();
      await closeDispatcher();
      throw new StartError(`cannot listen on 127.0.0.1:${o.web.port}: ${(e as Error).message}`);
    }
  }

  const st = service.state();
  // Not into the journal: its readers are not root (serve-url.ts).
  const toJournal = web !== null && stdoutIsJournal();
  const ready = {
    type: 'ready',
    pid: process.pid,
    source: countedSource.health().description,
    ...(sourceChoice ? { sourceChoice } : {}),
    backend: effective.ban.backend,
    dryRun: o.dryRun,
    protection: st.protection,
    control: control.path,
    activeBans: st.counts.activeBans,
    ...(web && !toJournal ? { url: web.url } : {}),
  };
  if (o.json) out(JSON.stringify(ready));
  else {
    out(
      `portcullis: protecting this network namespace — source ${ready.source}, backend ${ready.backend}${o.dryRun ? ' (DRY RUN: the firewall is never touched)' : ''}, ` +
        `protection ${ready.protection}, ${ready.activeBans} active bans; control socket ${control.path}`,
    );
  }
  // On a line of its own, so scripts and tests can pick it up (under systemd: where the file holding it is).
  if (web) out(announceServeUrl(web.url, o.stateDir, toJournal));

  // Memory back to the system after the start and after every flood.
  const restTrim = startRestTrim({ activity: () => linesSeen, busy: () => liveKmsgThreads() > 0, release: () => raw.releaseMemory() });

  let closed = false;
  return {
    service,
    url: web?.url ?? null,
    reloadSettings: () => {
      const config = o.config;
      return service.reloadSettings(config ? (s) => secretsFileRefusal(config, s) : undefined);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      restTrim.stop();
      await web?.close();
      await control.close();
      await service.stop();
      await closeDispatcher();
    },
  };
}
