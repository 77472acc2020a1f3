/**
 * The helper's dispatcher: one decoded, validated request → one operation. Used over the Unix
 * socket (server.ts, desktop) and in-process by the headless runner (already root).
 * Order for every request: decode + validate (anything invalid runs NOTHING) → firewall-changing
 * ops through the FirewallQueue (ufw is not safe concurrently) → audit entry with the exact argv.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { UfwRule } from '../shared/api.ts';
import type { BanTarget, Ip } from '../shared/domain.ts';
import {
  CHANGING_OPS,
  decodeHelperRequest,
  HELPER_PROTOCOL_VERSION,
  HelperError,
  type DecodedRequest,
  type HelperEvent,
  type HelperOp,
  type HelperParsedArgs,
  type HelperResponse,
  type HelperResult,
  type HelperStatus,
  type KmsgBatchInfo,
} from '../shared/helper-protocol.ts';
import type { HelperDoctorCheckId } from '../shared/doctor.ts';
import { PORTCULLIS_NFLOG_GROUP, type LoggingVia } from '../shared/settings.ts';
import type { AuditEntry, AuditLog } from './audit.ts';
import type { BanBackend } from './firewall/types.ts';
import { refuseUncuttable, refuseUnbannable, unbannableReason } from './ban-guard.ts';
import { ownAddressCache, type OwnAddresses } from './own-addresses.ts';
import { BINARIES, FirewallQueue, type Exec } from './exec.ts';
import type { KmsgStart, KmsgStream } from './kmsg.ts';
import { readNflogCounters } from './firewall/nflog-counters.ts';
import { displayCommand, planRuleOp, ruleBody, UfwRuleBuilder } from './rules.ts';
import { parseUfwStatus } from './ufw-status.ts';
import { createReadOps } from './ops-read.ts';
import { createRuleOps } from './ops-rules.ts';
import { errorText } from '../shared/errors.ts';

/** The ban backends of the firewall module (ufw rules or a kernel set, electron/helper/firewall/index.ts), injected so tests can fake them. */
export type { BanBackend };
/** The set backend's long-lived `ipset restore` (firewall/ipset-session.ts). */
export interface IpsetSessionLike {
  run(lines: readonly string[]): Promise<void>;
  close(): void;
}
export interface FirewallModule {
  /** The dispatcher cuts connections with its own op (the service decides, after the block): backends never do. */
  createBanBackend(kind: 'ufw' | 'set', exec: Exec, opts: { cutConnections: false; ipsetSession?: IpsetSessionLike | null }): BanBackend;
  /** Starts the set backend's coprocess; absent = one ipset process per batch. */
  ipsetRestoreSession?(): IpsetSessionLike;
  cutConnections(ip: BanTarget, exec: Exec): Promise<void>;
  installSetBlock(exec: Exec): Promise<void>;
  removeSetBlock(exec: Exec): Promise<void>;
  installPerSourceLogging(exec: Exec, opts?: { via?: LoggingVia }): Promise<void>;
  removePerSourceLogging(exec: Exec): Promise<void>;
  installForwardBlock(exec: Exec, opts?: { via?: LoggingVia }): Promise<void>;
  removeForwardBlock(exec: Exec): Promise<void>;
  forwardBlockStatus(exec: Exec): Promise<HelperResult<'forwardStatus'>>;
  /** DOCKER-USER's missing jumps put back while the forward block is installed (firewall/forward.ts). */
  repairForwardJumps(exec: Exec): Promise<HelperResult<'repairForwardJumps'>>;
  /** IPV6=yes in /etc/default/ufw, then ufw reload (firewall/ufw-ipv6.ts). */
  enableUfwIpv6(exec: Exec): Promise<{ changed: boolean; reloaded: boolean }>;
  /**
   * Loads ufw's user rules files an earlier helper was killed between writing and loading
   * (firewall/ufw-batch.ts, "Interrupted"); null when there was nothing to finish. Absent: nothing to do.
   */
  finishInterruptedUfwEdit?(exec: Exec): Promise<{ loaded: string[] } | null>;
  managedBlocksStatus(): Promise<{
    setBlock: boolean;
    perSourceLogging: boolean;
    perSourceLoggingVia: LoggingVia | null;
    perSourceLoggingByFamily?: { v4: LoggingVia | null; v6: LoggingVia | null };
    forward: boolean;
    forwardVia?: LoggingVia | null;
  }>;
}

export interface HelperDeps {
  exec: Exec;
  firewall: FirewallModule;
  audit: AuditLog;
  queue?: FirewallQueue;
  /** Reads a config file (/etc/default/ufw, /etc/ufw/ufw.conf); null when missing. */
  readConfig(path: string): Promise<string | null>;
  /** Does this path exist (and for /dev/kmsg: is it readable)? */
  exists(path: string): Promise<boolean>;
  /** Streams /dev/kmsg (kmsg.ts): kernel records, and what the stream says besides (lost, filtered, newBoot). */
  openKmsg?(start: KmsgStart, onRecords: (records: string[], info?: KmsgBatchInfo) => void, onError: (message: string) => void): KmsgStream;
  /** Who is asking, for the audit log ("uid 1000 over socket", "headless runner"). */
  who: string;
  /** ufw runs can take seconds with many rules (1.4 s at 10k measured): generous, but bounded. */
  ufwTimeoutMs?: number;
  /** This host's own addresses, never banned (default: this namespace's, kept by own-addresses.ts). */
  ownAddresses?: (() => string[]) | OwnAddresses;
  /** Where an audit entry that could not be written is reported (default: stderr, the journal under systemd). */
  reportAuditFailure?(message: string): void;
}

export interface HelperDispatcher {
  /** A raw request line or an already-parsed object. Never throws. */
  handle(request: string | unknown): Promise<HelperResponse>;
  /** An already-decoded request (the socket server decodes first to gate on `hello`). */
  run(request: DecodedRequest): Promise<HelperResponse>;
  onEvent(listener: (event: HelperEvent) => void): () => void;
  /** Resolves once every change under way is done and every audit entry is written (shutdown waits for it). */
  auditWritten(): Promise<void>;
  /** Audit entries whose append threw or rejected since start (each was reported with its summary). */
  auditFailures(): number;
  /**
   * Run once at start, with the namespace's firewall lock held and before any request: loads ufw's
   * rules files an earlier helper was killed between writing and loading (firewall/ufw-batch.ts,
   * "Interrupted"), so the kernel holds what they say. In the queue, and audited (op
   * `finishInterruptedUfwEdit`) when there was something to finish. Resolves with a line saying what it
   * did, or null when there was nothing to do; never throws.
   */
  finishInterruptedEdits(): Promise<string | null>;
  /** Stops the kmsg stream. */
  close(): void;
}

function errorOf(e: unknown): { code: HelperError['code']; message: string } {
  if (e instanceof HelperError) return { code: e.code, message: e.message };
  // FirewallError (electron/helper/firewall/errors.ts): bad-* are refusals of input, the rest are failures.
  const code = (e as { code?: unknown })?.code;
  const message = errorText(e);
  if (typeof code === 'string' && code.startsWith('bad-')) return { code: 'invalid', message };
  return { code: 'failed', message };
}

/** The ban requests the dispatcher's rehearsal decodes (one per family; documentation addresses). */
export const REHEARSAL_BANS = ['192.0.2.1', '2001:db8::1'].map((ip) => ({ id: 0, op: 'ban', args: { ip, timeoutSec: 60, comment: 'rehearsal', backend: 'set' } }) as const);

export function createHelperDispatcher(deps: HelperDeps): HelperDispatcher {
  const queue = deps.queue ?? new FirewallQueue();
  /** The audit entries' writes, in order (performRecorded). */
  let auditTail: Promise<void> = Promise.resolve();
  let auditFailures = 0;
  const reportAuditFailure = deps.reportAuditFailure ?? ((message: string) => void process.stderr.write(`${message}\n`));
  /** Changes under way (their entries not yet queued): auditWritten waits for them too. */
  const changesInFlight = new Set<Promise<unknown>>();
  // Read on every ban ahead of the firewall call: kept, not re-read each time (own-addresses.ts).
  const given = deps.ownAddresses;
  const ownAddresses: OwnAddresses =
    typeof given === 'function' ? { get: given, warm: () => undefined, close: () => undefined } : (given ?? ownAddressCache());
  const listeners = new Set<(e: HelperEvent) => void>();
  let kmsg: KmsgStream | null = null;
  // The argv of the change being made, per change: set-backend bans run beside the ufw queue.
  const recorder = new AsyncLocalStorage<string[][]>();
  const exec: Exec = (bin, args, opts) => {
    recorder.getStore()?.push([BINARIES[bin], ...args]);
    return deps.exec(bin, args, opts);
  };
  /**
   * Set-backend bans touch only the kernel sets, never ufw: they get their own queue, so a ban does
   * not wait behind a `ufw status` (the service re-reads it every 30 s; 0.3–1 s under load) or a
   * rule edit. The ipset session runs their batches in order.
   */
  const setQueue = new FirewallQueue();
  // One coprocess for the set backend's commands, started with the first one; its lines are audited
  // like an argv (stdin of `ipset restore -exist`).
  let session: IpsetSessionLike | null = null;
  const recordedSession: IpsetSessionLike | null = deps.firewall.ipsetRestoreSession
    ? {
        run: (lines) => {
          recorder.getStore()?.push([BINARIES.ipset, 'restore', '-exist', '(stdin)', ...lines]);
          session ??= deps.firewall.ipsetRestoreSession!();
          return session.run(lines);
        },
        close: () => session?.close(),
      }
    : null;
  const backends = new Map<'ufw' | 'set', BanBackend>();
  const backend = (kind: 'ufw' | 'set') => {
    let b = backends.get(kind);
    if (!b) {
      backends.set(kind, (b = deps.firewall.createBanBackend(kind, exec, { cutConnections: false, ipsetSession: recordedSession })));
      // Start the coprocess now (an empty batch: just the marker), not with the first ban: starting
      // it cost the first ban ~100 ms on a busy host. A failure here is reported by that ban.
      if (kind === 'set' && deps.firewall.ipsetRestoreSession) {
        session ??= deps.firewall.ipsetRestoreSession();
        session.run([]).catch(() => undefined);
      }
    }
    return b;
  };
  const emit = (e: HelperEvent) => {
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // one broken listener must not stop the others
      }
    }
  };

  async function ufw(args: string[]): Promise<string> {
    const r = await exec('ufw', args, { timeoutMs: deps.ufwTimeoutMs ?? 60_000 });
    if (r.code !== 0) {
      const why = (r.stderr || r.stdout).trim().split('\n').find((l) => l.trim()) ?? `exit code ${r.code}`;
      throw new HelperError('failed', `${displayCommand(args)}: ${why}`);
    }
    return r.stdout;
  }

  async function numberedRules(): Promise<{ active: boolean; rules: UfwRule[] }> {
    const s = parseUfwStatus(await ufw(['status', 'numbered']));
    return { active: s.active, rules: s.rules };
  }

  // The read-only reads: ufw's status (rules, defaults, blocks) and the helper's Doctor checks (ops-read.ts).
  const { status, doctor } = createReadOps({
    readConfig: (path) => deps.readConfig(path),
    exists: (path) => deps.exists(path),
    managedBlocksStatus: () => deps.firewall.managedBlocksStatus(),
    forwardBlockStatus: () => deps.firewall.forwardBlockStatus(exec),
    ufw,
    numberedRules,
  });

  // Changes of the user's rules by number (ops-rules.ts), through the dispatcher's recorded `ufw`.
  const { runPlan, previewPlan, changeExisting } = createRuleOps({ ufw, numberedRules });

  function startKmsg(start: KmsgStart): HelperResult<'streamKmsg'> {
    if (!deps.openKmsg) throw new HelperError('unavailable', 'this helper does not stream the kernel log');
    kmsg?.stop();
    kmsg = deps.openKmsg(
      start,
      // What the stream says besides its records only when there is something to say.
      (records, { lost, filtered, newBoot } = { lost: 0, filtered: 0 }) =>
        emit({ event: 'kmsg', records, ...(lost > 0 ? { lost } : {}), ...(filtered > 0 ? { filtered } : {}), ...(newBoot ? { newBoot } : {}) }),
      (message) => emit({ event: 'kmsg-error', message }),
    );
    return { streaming: true };
  }

  async function perform(req: DecodedRequest): Promise<unknown> {
    switch (req.op) {
      case 'hello':
        return { version: HELPER_PROTOCOL_VERSION, pid: process.pid };
      case 'status':
        return status();
      case 'doctor':
        return doctor();
      case 'previewRule':
        return { commands: (await previewPlan(req.args.op)).map(displayCommand) };
      case 'streamKmsg':
        return startKmsg(req.args.afterSeq);
      case 'listBans':
        return { bans: await backend(req.args.backend).list() };
      case 'enable':
        return runSimple(UfwRuleBuilder.enable());
      case 'disable':
        return runSimple(UfwRuleBuilder.disable());
      case 'setDefault':
        return runSimple(UfwRuleBuilder.setDefault(req.args.direction, req.args.policy));
      case 'setLogging':
        return runSimple(UfwRuleBuilder.setLogging(req.args.level));
      case 'addRule':
        return runSimple(UfwRuleBuilder.add(req.args.rule));
      case 'insertRule': {
        const { rules } = await numberedRules();
        const ran: string[] = [];
        await runPlan(planRuleOp({ kind: 'add', rule: req.args.rule, position: req.args.position }, rules), ran);
        return { ran };
      }
      case 'deleteRule':
        return changeExisting({ kind: 'delete', number: req.args.number }, req.args.expect);
      case 'moveRule':
        return changeExisting({ kind: 'move', number: req.args.number, to: req.args.to }, req.args.expect);
      case 'editRule':
        return changeExisting(
          { kind: 'edit', number: req.args.number, rule: req.args.rule, ...(req.args.to !== undefined ? { to: req.args.to } : {}) },
          req.args.expect,
        );
      case 'ban': {
        // The backend tags the rule/element itself (portcullis-ban …). Cutting the host's connections
        // is the caller's own op, after the block: a new connection is refused from here on.
        // A ban the firewall did not take (a rule of the user's own) is an answer, not an error: the
        // caller ends it with that reason instead of keeping a ban that blocks nothing.
        const skipped = await backend(req.args.backend).ban(req.args.ip, req.args.timeoutSec, req.args.comment);
        return skipped ? { ok: true, skipped } : { ok: true };
      }
      case 'unban':
        await backend(req.args.backend).unban(req.args.ip);
        return { ok: true };
      case 'banMany':
        return { ok: true, skipped: await backend(req.args.backend).banMany(req.args.bans) };
      case 'unbanMany':
        // Warnings (a put-back of ufw's files left to the user) go back to the caller, who tells the user.
        // Within the answer's schema (a few short sentences in practice): an answer it refused would read as a failure.
        return { ok: true, warnings: (await backend(req.args.backend).unbanMany(req.args.ips)).slice(0, 8).map((w) => (w.length > 4000 ? `${w.slice(0, 3999)}…` : w)) };
      case 'cutConnections':
        await deps.firewall.cutConnections(req.args.ip, exec);
        return { ok: true };
      case 'installBlocks': {
        const b = req.args.block;
        // The logging block and the forward block log through LOG or, for the nflog source, NFLOG
        // (`via`, a closed enum; the set block logs nothing).
        const opts = req.args.via ? { via: req.args.via } : {};
        await (b === 'set' ? deps.firewall.installSetBlock(exec) : b === 'forward' ? deps.firewall.installForwardBlock(exec, opts) : deps.firewall.installPerSourceLogging(exec, opts));
        return deps.firewall.managedBlocksStatus();
      }
      case 'removeBlocks': {
        const b = req.args.block;
        await (b === 'set' ? deps.firewall.removeSetBlock(exec) : b === 'forward' ? deps.firewall.removeForwardBlock(exec) : deps.firewall.removePerSourceLogging(exec));
        return deps.firewall.managedBlocksStatus();
      }
      case 'forwardStatus':
        return deps.firewall.forwardBlockStatus(exec);
      case 'repairForwardJumps':
        return deps.firewall.repairForwardJumps(exec);
      case 'nflogCounters':
        return readNflogCounters(exec, PORTCULLIS_NFLOG_GROUP);
      case 'enableUfwIpv6':
        return deps.firewall.enableUfwIpv6(exec);
    }
  }

  async function runSimple(args: string[]): Promise<{ ran: string[] }> {
    await ufw(args);
    return { ran: [displayCommand(args)] };
  }

  /** Pure checks that need no firewall state: a refused request never enters the queue nor the audit log. */
  function precheck(req: DecodedRequest): void {
    if (req.op === 'addRule' || req.op === 'insertRule' || req.op === 'editRule') ruleBody(req.args.rule);
    // A preview is planned against the current rules inside the queue (previewPlan); here only what
    // needs none: the rule words of an add or an edit. (Planning a move here, without the rules,
    // refused every move: "there is no rule N".)
    if (req.op === 'previewRule' && (req.args.op.kind === 'add' || req.args.op.kind === 'edit')) ruleBody(req.args.op.rule);
    if (req.op === 'ban') refuseUnbannable(req.args.ip, ownAddresses.get());
    if (req.op === 'cutConnections') refuseUncuttable(req.args.ip, ownAddresses.get());
    // A batch is refused whole: one unbannable entry means the caller is wrong about all of it.
    if (req.op === 'banMany') {
      const own = ownAddresses.get();
      for (const b of req.args.bans) refuseUnbannable(b.ip, own);
    }
  }

  /**
   * The ban path's code run once, changing nothing: a ban request decoded (zod builds each op's
   * parser at its first parse) and the guard's address list read and checked, for both families.
   * Each ran for the first time inside the first ban after a start: decoding it took 7–47 ms, the
   * guard's first read 1–27 ms (ban-latency lab, busy 2-core machine), later ones 0.2–0.4 and
   * ~0.3 ms. A list read before the monitor has joined the kernel's groups is not kept (own-addresses.ts),
   * so the first ban reads it again — through code that has run. Never fails the request it runs
   * ahead of: a rehearsal that throws (the address read can) only leaves the first ban slower.
   */
  let rehearsed = false;
  function rehearseBan(): void {
    rehearsed = true;
    try {
      for (const req of REHEARSAL_BANS) {
        decodeHelperRequest(req);
        unbannableReason(req.args.ip, ownAddresses.get());
      }
    } catch {
      // the real request reads the addresses again, inside runChecked's error answer
    }
  }

  async function run(req: DecodedRequest): Promise<HelperResponse> {
    // A client's first request (the service's and the app's is a status read at start) starts the
    // address monitor, so the first ban's guard finds it running instead of spawning it (measured in
    // the ban-latency lab: 18–77 ms inside the first ban after a start, ~0.05 ms in the next ones),
    // and rehearses the ban path (above).
    ownAddresses.warm();
    if (!rehearsed) rehearseBan();
    // The jump check is not a CHANGING_OPS op (its entry is written only when it changed something),
    // but when it does, shutdown must wait for that entry as for any change's.
    if (!CHANGING_OPS.has(req.op as HelperOp) && req.op !== 'repairForwardJumps') return runChecked(req);
    const p = runChecked(req);
    changesInFlight.add(p);
    void p.finally(() => changesInFlight.delete(p)).catch(() => undefined);
    return p;
  }

  async function runChecked(req: DecodedRequest): Promise<HelperResponse> {
    try {
      precheck(req);
    } catch (e) {
      return { id: req.id, ok: false, error: errorOf(e) };
    }
    // The periodic jump check runs every ~30 s and almost always changes nothing: in the queue (it may
    // insert, and must not interleave with a block install's own jumps), but in the audit log only
    // when it did change something, or failed.
    if (req.op === 'repairForwardJumps') {
      return queue.run(() => performRecorded(req, (r) => !r.ok || (r.result as HelperResult<'repairForwardJumps'>).repaired.length > 0));
    }
    const changing = CHANGING_OPS.has(req.op as HelperOp);
    // Reads of ufw go through the queue too: a status taken mid-change would show half a move.
    // (nflogCounters does not: one `iptables -S -v` per family is an atomic read of the table, and a
    // reader's start waits for it — behind queued ufw bans, 0.3–1 s each under a flood, nothing read.)
    const readsUfw = req.op === 'status' || req.op === 'doctor' || req.op === 'listBans' || req.op === 'previewRule' || req.op === 'forwardStatus';
    if (!changing && !readsUfw) {
      try {
        return { id: req.id, ok: true, result: await perform(req) };
      } catch (e) {
        return { id: req.id, ok: false, error: errorOf(e) };
      }
    }
    // conntrack never touches ufw's rules or the sets, so a cut (two conntrack runs that walk the
    // connection table, 20–50 ms) runs beside the queues: the next ban does not wait for it.
    if (req.op === 'cutConnections') return performRecorded(req, true);
    const setBan = (req.op === 'ban' || req.op === 'unban' || req.op === 'banMany' || req.op === 'unbanMany') && req.args.backend === 'set';
    if (req.op === 'ban' && req.args.backend === 'ufw') {
      // The block in force first, beside the queue (one iptables call; with the forward block, one
      // `ipset add` of the forward set too): a ban never waits behind a `ufw status` read (the 30 s
      // refresh, 0.3–1 s) or another change. ufw's own rule follows in the queue; the answer comes
      // when that is written too. One audit entry holds both.
      const argv: string[][] = [];
      const started = Date.now();
      const b = backend('ufw');
      const ip = req.args.ip as Ip;
      // The ban's timeout too: with the forward block installed, the forward set's element goes in here as well.
      if (b.blockNow) await recorder.run(argv, () => b.blockNow!(ip, req.args.timeoutSec)).catch(() => undefined);
      return queue.run(() => performRecorded(req, changing, argv, started));
    }
    return (setBan ? setQueue : queue).run(() => performRecorded(req, changing));
  }

  /**
   * Performs `req`, recording the argv it runs; a change is written to the audit log, done or refused.
   * The answer does not wait for the entry's write: the change is already in force (a ban's block
   * before its answer), and the append — a file write on libuv's pool, 1–130 ms on a busy disk in the
   * ban-latency lab — only delayed the caller's news of it. Entries are written in order, one after
   * another (auditTail); auditWritten() waits for them at shutdown.
   */
  async function performRecorded(
    req: DecodedRequest,
    audited: boolean | ((response: HelperResponse) => boolean),
    argv: string[][] = [],
    started = Date.now(),
  ): Promise<HelperResponse> {
    let response: HelperResponse;
    try {
      response = { id: req.id, ok: true, result: await recorder.run(argv, () => perform(req)) };
    } catch (e) {
      response = { id: req.id, ok: false, error: errorOf(e) };
    }
    if (typeof audited === 'function' ? audited(response) : audited) recordAudit(req.op, req.args, argv, started, response.ok ? null : response.error);
    return response;
  }

  function recordAudit(op: string, args: unknown, argv: string[][], started: number, error: { code: string; message: string } | null): void {
    const entry: AuditEntry = {
      time: new Date(started).toISOString(),
      who: deps.who,
      op,
      args,
      argv,
      result: error ? 'error' : 'ok',
      ...(error ? { error } : {}),
      ms: Date.now() - started,
    };
    // The change is made and answered: an append that fails must not lose the entry without a
    // word, nor stop the entries behind it. Its summary goes to stderr (the journal), counted.
    auditTail = auditTail
      .then(() => deps.audit.append(entry))
      .catch((e: unknown) => {
        auditFailures++;
        try {
          reportAuditFailure(`portcullis-helper: audit entry not written (${auditFailures} so far): ${auditSummary(entry)}: ${errorText(e)}`);
        } catch {
          // nowhere left to report it; the count still says so
        }
      });
  }

  /** dispatcher.finishInterruptedEdits (see HelperDispatcher). */
  async function finishInterruptedEdits(): Promise<string | null> {
    const finish = deps.firewall.finishInterruptedUfwEdit;
    if (!finish) return null;
    return queue.run(async () => {
      const argv: string[][] = [];
      const started = Date.now();
      try {
        const r = await recorder.run(argv, () => finish(exec));
        if (!r) return null;
        recordAudit('finishInterruptedUfwEdit', {}, argv, started, null);
        return r.loaded.length
          ? `loaded ${r.loaded.join(' and ')}: an earlier helper stopped after writing them, before loading them`
          : 'an earlier helper stopped after writing ufw\'s rules files, before loading them; ufw is disabled, so there was nothing to load';
      } catch (e) {
        const error = errorOf(e);
        recordAudit('finishInterruptedUfwEdit', {}, argv, started, error);
        return `ufw's rules files an earlier helper wrote are not all loaded: ${error.message}`;
      }
    });
  }

  return {
    async handle(request) {
      const decoded = decodeHelperRequest(request);
      if (!decoded.ok) return { id: decoded.id, ok: false, error: decoded.error };
      return run(decoded.request);
    },
    run,
    onEvent(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async auditWritten() {
      // Until nothing is under way and no entry was queued meanwhile: a change answered during the
      // wait queues its entry behind the tail awaited.
      for (;;) {
        if (changesInFlight.size) await Promise.allSettled([...changesInFlight]);
        const tail = auditTail;
        await tail;
        if (tail === auditTail && changesInFlight.size === 0) return;
      }
    },
    auditFailures: () => auditFailures,
    finishInterruptedEdits,
    close() {
      ownAddresses.close();
      kmsg?.stop();
      kmsg = null;
      session?.close();
      session = null;
    },
  };
}

/** One line for an audit entry that could not be written: when, who, the op and its arguments, the result. */
export function auditSummary(e: AuditEntry): string {
  let args: string;
  try {
    args = JSON.stringify(e.args) ?? '';
  } catch {
    args = '(arguments not printable)';
  }
  if (args.length > 300) args = `${args.slice(0, 300)}…`;
  return `${e.time} ${e.who}: ${e.op} ${args} → ${e.result}${e.error ? ` (${e.error.code}: ${e.error.message})` : ''}`;
}

export type { HelperParsedArgs };
