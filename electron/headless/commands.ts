/**
 * The headless commands: `run` and `serve` start the service in the foreground; `status`, `bans`,
 * `ban`, `unban` and `doctor` talk to the running instance over its root-only control socket
 * (`doctor` also works without one, checking directly).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParseArgsConfig } from 'node:util';
import { ApiError, MAX_BULK_BANS, type DoctorCheck } from '../shared/api.ts';
import { DOCTOR_FIXES, isDoctorFixId } from '../shared/doctor.ts';
import { LOG_SOURCE_PATTERN, LOG_SOURCE_VALUES } from '../shared/log-source.ts';
import { parseBanList } from './ban-list.ts';
import { BanDurationSecSchema, unbanReasonText, type BanRecord } from '../shared/model.ts';
import { BanTargetSchema, canonicalIp } from '../shared/domain.ts';
import type { CliCommand } from './cli-command.ts';
import { ControlClient, controlSocketPath, DEFAULT_STATE_DIR } from './control-client.ts';
// Loaded by run/serve only: status, bans, ban, unban and --help start without the engine, the
// store and the helper (issue 11.3: the installed command answers as fast as fail2ban-client).
import type { RunOptions } from './runner.ts';

/**
 * node:util's parseArgs taken from the module object, not through `import … from 'node:util'`: an ESM
 * import of a built-in builds its namespace from every export, and util's lazy ones load their
 * modules — its diff and colours, worker_threads and its message ports, trace_sigint — resident in
 * the service for nothing (`run` idle RSS, bench/idle.bench.ts; issue 14 item 4).
 */
const { parseArgs } = process.getBuiltinModule('node:util');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const print = (line: string): void => void process.stdout.write(line + '\n');
const printErr = (line: string): void => void process.stderr.write(line + '\n');

const COMMON = {
  'state-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const RUN_OPTIONS = {
  ...COMMON,
  source: { type: 'string' },
  backend: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  'from-start': { type: 'boolean', default: false },
  db: { type: 'string' },
  config: { type: 'string' },
} as const;

const RUN_HELP = `Options:
  --source auto|kmsg|journal|nflog|file:PATH
                                         where to read the kernel firewall log (default: settings, auto;
                                         nflog: NFLOG messages over netlink, read through the logging blocks'
                                         NFLOG rules; auto: nflog as root with the reader and the per-source
                                         logging block installed, else kmsg, journal, file; the installed
                                         logging blocks are switched to the variant the source reads)
  --backend ufw|set                      how to ban: tagged ufw rules, or a kernel set (default: settings, set)
  --dry-run                              detect and report, never touch the firewall (no root needed)
  --from-start                           file source: also read what the file already holds
  --db PATH                              SQLite database (default: STATE_DIR/portcullis.db)
  --config PATH                          settings JSON file (default: settings kept in the database)
  --state-dir DIR                        control socket, database, audit log (default: ${DEFAULT_STATE_DIR})
  --json                                 one JSON object per line on stdout (ready, ban, unban)`;

type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };

function parse(argv: string[], options: ParseArgsConfig['options'], name: string): Parsed | number {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    printErr(`portcullis ${name}: ${(e as Error).message}\nRun \`portcullis ${name} --help\`.`);
    return 2;
  }
}

function stateDirOf(v: Parsed['values']): string {
  return path.resolve(typeof v['state-dir'] === 'string' ? v['state-dir'] : DEFAULT_STATE_DIR);
}

function runOptionsOf(v: Parsed['values']): RunOptions | string {
  const backend = v.backend;
  if (backend !== undefined && backend !== 'ufw' && backend !== 'set') return `--backend is ufw or set (got "${String(backend)}")`;
  const source = v.source;
  if (source !== undefined && !LOG_SOURCE_PATTERN.test(String(source))) {
    return `--source is ${LOG_SOURCE_VALUES} (got "${String(source)}")`;
  }
  return {
    ...(typeof source === 'string' ? { source } : {}),
    ...(backend ? { backend } : {}),
    dryRun: v['dry-run'] === true,
    fromStart: v['from-start'] === true,
    ...(typeof v.db === 'string' ? { db: path.resolve(v.db) } : {}),
    ...(typeof v.config === 'string' ? { config: path.resolve(v.config) } : {}),
    stateDir: stateDirOf(v),
    json: v.json === true,
  };
}

/** Runs until SIGINT/SIGTERM; exit code 0 on a clean stop, 1 when it could not start (EXIT_STORE_UNOPENABLE: its database). */
async function foreground(o: RunOptions, name: string): Promise<number> {
  // Listening before the start: a SIGTERM while starting, or just after the ready line, still ends
  // in a clean close (firewall lock released) instead of the default action killing the process.
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let runner;
  const { startRunner, StartError } = await import('./runner.ts');
  try {
    runner = await startRunner(o, print, printErr);
  } catch (e) {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    printErr(`portcullis ${name}: ${e instanceof StartError ? e.message : ((e as Error).stack ?? String(e))}`);
    return e instanceof StartError ? e.exitCode : 1;
  }
  // `systemctl reload portcullis` (ExecReload sends SIGHUP): load the settings file again.
  const reload = (): void => {
    const r = runner.reloadSettings();
    if (r.ok) printErr(`portcullis ${name}: settings reloaded`);
    else printErr(`portcullis ${name}: ${r.error}`);
  };
  process.on('SIGHUP', reload);
  // Under systemd (Type=notify): ready now, not when the process started. Not awaited: nothing
  // here needs to wait for systemd-notify's barrier.
  void import('./sd-notify.ts')
    .then((m) => m.notifyReady())
    .then((notified) => {
      if (notified !== 'sent' && notified !== 'not-under-systemd') printErr(`portcullis ${name}: ${notified}`);
    });
  await stopped;
  process.removeListener('SIGHUP', reload);
  await runner.close();
  // Anything still holding the event loop (a late timer, a socket being torn down) must not keep a
  // stopped runner alive. (The kmsg read parked on a libuv thread is woken by the source's stop():
  // process.exit alone would wait for it, since libuv joins its threadpool at exit.)
  setImmediate(() => process.exit(0));
  return 0;
}

export const runCommand: CliCommand = {
  summary: 'Protect this network namespace: watch the kernel log and ban scanners (root, foreground)',
  async run(argv) {
    const p = parse(argv, RUN_OPTIONS, 'run');
    if (typeof p === 'number') return p;
    if (p.values.help) {
      print(`Usage: portcullis run [options]\n\nWatches the kernel firewall log and bans port scanners through ufw, in the\nnetwork namespace it runs in (ip netns exec NS portcullis run protects NS).\n\n${RUN_HELP}`);
      return 0;
    }
    if (p.positionals.length) return usageError('run', `unexpected argument "${p.positionals[0]}"`);
    const o = runOptionsOf(p.values);
    if (typeof o === 'string') return usageError('run', o);
    return foreground(o, 'run');
  },
};

function usageError(name: string, msg: string): number {
  printErr(`portcullis ${name}: ${msg}\nRun \`portcullis ${name} --help\`.`);
  return 2;
}

/** renderer/dist, built with vite on first use when missing (or null with how to build it). */
function rendererDist(): string | null {
  const dist = path.join(ROOT, 'renderer', 'dist');
  if (existsSync(path.join(dist, 'index.html'))) return dist;
  const vite = path.join(ROOT, 'node_modules', '.bin', 'vite');
  const config = path.join(ROOT, 'renderer', 'vite.config.ts');
  if (existsSync(vite) && existsSync(config)) {
    printErr('portcullis serve: the UI is not built yet; building it with vite (once)…');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', config], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 300_000,
    });
    if (r.status === 0 && existsSync(path.join(dist, 'index.html'))) return dist;
  }
  printErr('portcullis serve: the UI is not built; serving the API only. Build it with `npm run build:renderer` and restart.');
  return null;
}

export const serveCommand: CliCommand = {
  summary: 'Like run, plus the Portcullis UI over HTTP on 127.0.0.1 (token in the URL)',
  async run(argv) {
    const p = parse(argv, { ...RUN_OPTIONS, port: { type: 'string' } }, 'serve');
    if (typeof p === 'number') return p;
    if (p.values.help) {
      print(
        `Usage: portcullis serve [options] [--port N]\n\nLike run, plus the Portcullis UI and API on http://127.0.0.1:PORT/ only, behind a random\ntoken printed on a line of its own.\n\n${RUN_HELP}\n  --port N                               port on 127.0.0.1 (default 8787; 0 = any free port)`,
      );
      return 0;
    }
    if (p.positionals.length) return usageError('serve', `unexpected argument "${p.positionals[0]}"`);
    const o = runOptionsOf(p.values);
    if (typeof o === 'string') return usageError('serve', o);
    const portText = typeof p.values.port === 'string' ? p.values.port : '8787';
    const port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port > 65535) return usageError('serve', `--port is 0–65535 (got "${portText}")`);
    return foreground({ ...o, web: { port, staticDir: rendererDist() } }, 'serve');
  },
};

// ------------------------------------------------------------------ talking to the running instance

async function withClient<T>(v: Parsed['values'], name: string, fn: (c: ControlClient) => Promise<T>): Promise<T | number> {
  const client = new ControlClient(controlSocketPath(stateDirOf(v)));
  try {
    return await fn(client);
  } catch (e) {
    printErr(`portcullis ${name}: ${(e as Error).message}`);
    return 1;
  } finally {
    client.close();
  }
}

const iso = (t: number | null): string => (t === null ? 'never' : new Date(t).toISOString().replace('.000Z', 'Z'));

function banLine(b: BanRecord): string {
  const why = b.reason.kind === 'manual' ? `manual${b.reason.note ? ` (${b.reason.note})` : ''}` : `${b.reason.scanType ?? 'scan'} ${b.reason.ports.length} ports`;
  // A prefix ban (its ip is a network) says so, with the member addresses seen.
  const m = b.reason.members;
  const members = m ? `; network ban, ${m.length} address${m.length === 1 ? '' : 'es'} seen: ${m.slice(0, 3).join(' ')}${m.length > 3 ? ' …' : ''}` : '';
  // In the history: when and why it ended (a refused ban says it never blocked anything).
  const ended = b.ended ? `; ended ${iso(b.ended.at)} (${unbanReasonText(b.ended.why)})` : '';
  return `${b.ip.padEnd(39)} until ${iso(b.until).padEnd(20)} strike ${String(b.strikes).padEnd(3)} ${why}${members}${ended}`;
}

export const bansCommand: CliCommand = {
  summary: 'Active bans of the running instance',
  async run(argv) {
    const p = parse(argv, { ...COMMON, history: { type: 'boolean', default: false } }, 'bans');
    if (typeof p === 'number') return p;
    if (p.values.help) return print('Usage: portcullis bans [--history] [--state-dir DIR] [--json]'), 0;
    return withClient(p.values, 'bans', async (c) => {
      const b = await c.call('getBans', {});
      if (p.values.json) print(JSON.stringify(p.values.history ? b : b.active));
      else {
        if (b.active.length === 0) print('no active bans');
        for (const x of b.active) print(banLine(x));
        if (p.values.history) {
          print('--- history');
          for (const x of b.history) print(banLine(x));
        }
      }
      return 0;
    });
  },
};

/** `--duration`: seconds, or 30m/2h/1d; checked by the API's own schema, so its bound is refused here with the reason. */
function parseDuration(text: string): { sec: number } | { error: string } {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return { error: `--duration is a number of seconds or 30m, 2h, 1d (got "${text}")` };
  const n = Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]!]!;
  const d = BanDurationSecSchema.safeParse(n);
  return d.success ? { sec: d.data } : { error: `--duration ${text}: ${d.error.issues[0]!.message}` };
}

export const banCommand: CliCommand = {
  summary: 'Ban an address now (or every address of a file: --from FILE)',
  async run(argv) {
    const p = parse(argv, { ...COMMON, duration: { type: 'string' }, note: { type: 'string' }, from: { type: 'string' } }, 'ban');
    if (typeof p === 'number') return p;
    if (p.values.help) {
      return print('Usage: portcullis ban IP [--duration SECONDS|30m|2h|1d] [--note TEXT] [--state-dir DIR] [--json]\n       portcullis ban --from FILE|- [--duration …] [--note TEXT]   one address per line, # comments'), 0;
    }
    let durationSec: number | undefined;
    if (typeof p.values.duration === 'string') {
      const d = parseDuration(p.values.duration);
      if ('error' in d) return usageError('ban', d.error);
      durationSec = d.sec;
    }
    const opts = { ...(durationSec ? { durationSec } : {}), ...(typeof p.values.note === 'string' ? { note: p.values.note } : {}) };
    if (typeof p.values.from === 'string') {
      if (p.positionals.length) return usageError('ban', 'give addresses either on the command line or with --from, not both');
      return banFromFile(p.values, p.values.from, opts);
    }
    const [ipText, extra] = p.positionals;
    if (!ipText || extra) return usageError('ban', 'give exactly one address (or --from FILE)');
    const ip = canonicalIp(ipText);
    if (!ip) return usageError('ban', `"${ipText}" is not an IPv4 or IPv6 address`);
    return withClient(p.values, 'ban', async (c) => {
      const b = await c.call('ban', { ip, ...opts });
      print(p.values.json ? JSON.stringify(b) : `banned ${b.ip} until ${iso(b.until)}`);
      return 0;
    });
  },
};

/** `ban --from FILE`: the whole list checked first, then banMany calls of MAX_BULK_BANS addresses. */
async function banFromFile(v: Parsed['values'], file: string, opts: { durationSec?: number; note?: string }): Promise<number> {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    return usageError('ban', `cannot read ${file}: ${(e as Error).message}`);
  }
  const list = parseBanList(text);
  if (!list.ok) return usageError('ban', `${file} was not used (nothing banned):\n  ${list.errors.join('\n  ')}`);
  if (list.ips.length === 0) return usageError('ban', `${file} holds no address`);
  return withClient(v, 'ban', async (c) => {
    let banned = 0;
    const refused: { ip: string; reason: string }[] = [];
    for (let i = 0; i < list.ips.length; i += MAX_BULK_BANS) {
      const r = await c.call('banMany', { ips: list.ips.slice(i, i + MAX_BULK_BANS), ...opts });
      banned += r.banned;
      refused.push(...r.refused);
    }
    if (v.json) print(JSON.stringify({ banned, refused }));
    else {
      print(`banned ${banned} of ${list.ips.length} addresses`);
      for (const r of refused) print(`  not banned: ${r.ip}: ${r.reason}`);
    }
    return refused.length ? 1 : 0;
  });
}

export const unbanCommand: CliCommand = {
  summary: 'Lift a ban',
  async run(argv) {
    const p = parse(argv, COMMON, 'unban');
    if (typeof p === 'number') return p;
    if (p.values.help) return print('Usage: portcullis unban IP|PREFIX [--state-dir DIR]   (PREFIX: a banned network, e.g. 2001:db8:1:2::/64)'), 0;
    const [ipText, extra] = p.positionals;
    if (!ipText || extra) return usageError('unban', 'give exactly one address or network');
    const target = BanTargetSchema.safeParse(ipText);
    if (!target.success) return usageError('unban', target.error.issues[0]!.message);
    const ip = target.data;
    return withClient(p.values, 'unban', async (c) => {
      await c.call('unban', { ip });
      print(p.values.json ? JSON.stringify({ ok: true, ip }) : `unbanned ${ip}`);
      return 0;
    });
  },
};

// ------------------------------------------------------------------ doctor

function printChecks(checks: DoctorCheck[], json: boolean): number {
  if (json) print(JSON.stringify(checks));
  else {
    for (const c of checks) {
      const mark = c.level === 'ok' ? 'ok   ' : c.level === 'warn' ? 'WARN ' : 'FAIL ';
      print(`${mark} ${c.title}: ${c.detail}`);
      if (c.level !== 'ok' && c.fix) print(`      fix: ${isDoctorFixId(c.fix.id) ? DOCTOR_FIXES[c.fix.id].hint : c.fix.label}`);
    }
  }
  return checks.some((c) => c.level === 'error') ? 1 : 0;
}

function readable(p: string): boolean {
  try {
    accessSync(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Doctor without a running instance: the same table (shared/doctor.ts) as the service's — the
 * helper's checks in-process (root), the app's own, and the instance's checks reported as unknown.
 * A fix runs through the same switch as the service's (app/doctor.ts).
 */
export async function directDoctor(
  fixId: string | null,
  confirm = false,
  inboundSessions?: () => { localPort: number; remote: string }[],
  /** Where a fix is audited (cli-audit.ts); checks change nothing and audit nothing. */
  audit?: import('../helper/audit.ts').AuditLog,
  /** Where the settings a `run` would start with are (configured-source.ts): the logging blocks' fixes install the variant its source would read. */
  settingsAt: { config?: string; stateDir: string; packageConfig?: string } = { stateDir: DEFAULT_STATE_DIR },
): Promise<DoctorCheck[]> {
  const { checkFixId, doctorWithoutInstance, runFix } = await import('../app/doctor.ts');
  // A fix the table does not know is refused before anything runs, naming the ones it knows.
  if (fixId) checkFixId(fixId);
  const { acquireFirewallLock, FirewallLockedError, lockHolder } = await import('../helper/instance-lock.ts');
  // Another instance may protect this namespace with another --state-dir (or be the desktop helper).
  const holder = process.getuid?.() === 0 ? lockHolder() : null;
  const isRoot = process.getuid?.() === 0;
  const { serverChecks } = await import('../app/server-doctor.ts');
  const env = {
    holder,
    helper: null as import('../app/contracts.ts').HelperOpsPort | null,
    // The helper's checks run in-process, as root.
    missingHelper: 'not root: firewall checks need root (sudo portcullis doctor)',
    ufwInstalled: () => existsSync('/usr/sbin/ufw'),
    kmsgReadable: readable('/dev/kmsg'),
    serverChecks: async () => serverChecks(isRoot ? (await import('../helper/exec.ts')).execArgv : null),
  };
  if (!isRoot) return doctorWithoutInstance(env);
  const { execArgv } = await import('../helper/exec.ts');
  const firewall = await import('../helper/firewall/index.ts');
  const { createHelperDispatcher } = await import('../helper/ops.ts');
  const { memoryAuditLog } = await import('../helper/audit.ts');
  const { callViaDispatcher, helperOpsOf } = await import('../app/helper-adapter.ts');
  const { readFile } = await import('node:fs/promises');
  const d = createHelperDispatcher({
    exec: execArgv,
    firewall,
    audit: audit ?? memoryAuditLog(),
    readConfig: (p) => readFile(p, 'utf8').catch(() => null),
    exists: async (p) => readable(p),
    who: 'portcullis doctor',
  });
  const ops = helperOpsOf(callViaDispatcher((r) => d.handle(r)));
  // A fix changes the firewall: like any instance, it holds the namespace's lock while it does
  // (FirewallLockedError names the instance to ask instead). Checks only read: no lock.
  let lock = null;
  try {
    if (fixId) lock = acquireFirewallLock('portcullis doctor --fix');
  } catch (e) {
    d.close();
    throw e instanceof FirewallLockedError ? new Error(`${e.message}: ask it for the fix (portcullis doctor --state-dir ITS_STATE_DIR --fix …, or the desktop app's Doctor)`) : e;
  }
  const { configuredSourceSpec } = await import('./configured-source.ts');
  const { variantForNextStart } = await import('./log-source-choice.ts');
  const { nflogReaderPath } = await import('./nflog-reader-path.ts');
  try {
    // Read before any fix runs: a --config that cannot be read is an error, not "auto".
    const configured = fixId ? configuredSourceSpec(settingsAt) : null;
    const perSourceInstalled = fixId === 'install-forward-block' ? (await ops.status()).firewall.perSourceLogging : false;
    if (fixId) {
      await runFix(fixId, {
        helper: () => ops,
        // No running source to follow: the one the settings would resolve to at the next start
        // (auto: nflog as root with the reader and the per-source block — which this fix installs).
        loggingVia: () => {
          return variantForNextStart(configured!.spec, true, nflogReaderPath(), fixId === 'install-per-source-logging' || perSourceInstalled);
        },
        // The same question the running service asks: ufw's rules are unknown while it is off.
        guardEnable: async () => {
          if (confirm) return;
          const { enableUfwRefusal } = await import('../app/rule-safety.ts');
          const sessions = inboundSessions ?? (await import('../app/adapters.ts')).readInboundSessions;
          const refusal = enableUfwRefusal((await ops.status()).firewall, sessions());
          if (refusal) throw new Error(`${refusal} (add --yes to apply it anyway)`);
        },
      });
    }
    return await doctorWithoutInstance({ ...env, helper: ops });
  } finally {
    d.close();
    await d.auditWritten();
    lock?.release();
  }
}

export const doctorCommand: CliCommand = {
  summary: 'Check ufw, logging, log source and helper, with the fix for each problem',
  async run(argv) {
    const p = parse(argv, { ...COMMON, fix: { type: 'string' }, yes: { type: 'boolean' }, config: { type: 'string' } }, 'doctor');
    if (typeof p === 'number') return p;
    if (p.values.help) {
      print(
        'Usage: portcullis doctor [--fix ID [--yes]] [--state-dir DIR] [--config FILE] [--json]\n\nTalks to the running instance when there is one, else checks directly.\n--yes applies a fix that would refuse new connections to a port someone is connected through (enable-ufw).\n--config: without an instance, the settings `run` would start with (default: /etc/portcullis/portcullis.json when it exists, else the state directory\'s database): the logging blocks\' fixes install the variant (LOG or NFLOG) its log source would read.',
      );
      return 0;
    }
    const fixId = typeof p.values.fix === 'string' ? p.values.fix : null;
    const sock = controlSocketPath(stateDirOf(p.values));
    if (existsSync(sock)) {
      const client = new ControlClient(sock);
      try {
        const checks = fixId ? await client.call('runDoctorFix', { fixId, confirm: p.values.yes === true }) : await client.call('getDoctor', {});
        // The running instance's own source decides the logging blocks' variant, not a file.
        if (typeof p.values.config === 'string') printErr(`portcullis doctor: --config ${p.values.config} is not used: a running instance answered, with the settings it runs with`);
        return printChecks(checks, p.values.json === true);
      } catch (e) {
        if (!/no running Portcullis instance/.test((e as Error).message)) {
          const ask = e instanceof ApiError && e.code === 'needs-confirmation' ? ' (add --yes to apply it anyway)' : '';
          printErr(`portcullis doctor: ${(e as Error).message}${ask}`);
          return 1;
        }
      } finally {
        client.close();
      }
    }
    try {
      const audit = fixId ? (await import('./cli-audit.ts')).cliAuditLog(stateDirOf(p.values)) : undefined;
      const settingsAt = { stateDir: stateDirOf(p.values), ...(typeof p.values.config === 'string' ? { config: path.resolve(p.values.config) } : {}) };
      return printChecks(await directDoctor(fixId, p.values.yes === true, undefined, audit, settingsAt), p.values.json === true);
    } catch (e) {
      printErr(`portcullis doctor: ${(e as Error).message}`);
      return 1;
    }
  },
};
