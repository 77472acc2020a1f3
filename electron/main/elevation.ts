/**
 * Elevation: the root helper is started ONCE per session (one password prompt) and the app keeps a
 * connection to it. Three things can go wrong and each has its own answer:
 *  - the user declines the prompt → the app stays usable read-only, and the state says why;
 *  - the connection drops while the helper lives → reconnect with backoff, no prompt;
 *  - the helper crashes → the root-side keeper (build/helper/portcullis-helper) restarts it with
 *    backoff, still without a prompt; only if the keeper itself gives up does the app go read-only,
 *    and a new prompt happens only when the user asks for it (retry()).
 * `HelperSupervisor` is pure logic over injected launcher/connector/sleep, so all of this is
 * tested without root, sudo-prompt or a real helper.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorText } from '../shared/errors.ts';

export interface HelperSession {
  socketDir: string;
  secret: string;
  uid: number;
}

export interface HelperRunEnd {
  /** The user dismissed or failed the password prompt: nothing ran as root. */
  declined: boolean;
  message: string;
}

/** The root side, once launched: `ended` settles when it is gone for good (never for a mere crash). */
export interface RunningHelper {
  ended: Promise<HelperRunEnd>;
}

export interface HelperLauncher {
  /** Starts the root side (this is where the password prompt happens). */
  launch(session: HelperSession): RunningHelper;
}

/** A live, authenticated connection (the HelperClient): closes by itself when the socket drops. */
export interface HelperLink {
  closed: Promise<unknown>;
  close(): void | Promise<void>;
}

export type HelperPhase = 'idle' | 'prompting' | 'connected' | 'reconnecting' | 'read-only' | 'stopped';

export interface HelperStatus {
  phase: HelperPhase;
  connected: boolean;
  readOnlyReason?: string;
}

export const DECLINED_REASON =
  'you declined the administrator prompt, so Portcullis can show what it sees but cannot ban or change ufw — choose "Connect helper" in the tray to be asked again';

export interface SupervisorOptions<L extends HelperLink> {
  launcher: HelperLauncher;
  connect(session: HelperSession): Promise<L>;
  /**
   * Before each launch: creates the private socket directory (first time) and writes a fresh
   * per-launch secret into it (the helper deletes the file once read).
   */
  prepare(previous: HelperSession | null): Promise<HelperSession>;
  /** Removes the socket directory: the keeper stops the helper when it disappears. */
  cleanup(session: HelperSession): Promise<void>;
  sleep(ms: number): Promise<void>;
  onChange(status: HelperStatus, link: L | null): void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Until a launched helper is first reached, tries are at most this far apart (default 1 s): its
   * start may take seconds (the password prompt; waiting for an earlier session's helper to let go
   * of the firewall lock), and the full backoff would leave it unused for up to maxBackoffMs after.
   */
  firstConnectMaxBackoffMs?: number;
}

export class HelperSupervisor<L extends HelperLink> {
  private readonly o: SupervisorOptions<L>;
  private current: HelperStatus = { phase: 'idle', connected: false, readOnlyReason: 'the helper has not been started yet' };
  private linkNow: L | null = null;
  private session: HelperSession | null = null;
  /** Settles when the current root side is gone; null when none is running. */
  private running: Promise<HelperRunEnd> | null = null;
  private runEnd: HelperRunEnd | null = null;
  private stopped = false;
  private launches = 0;
  private loop: Promise<void> | null = null;
  /** retry() callers waiting for its outcome (connected, or read-only / stopped). */
  private outcomeWaiters: (() => void)[] = [];

  constructor(options: SupervisorOptions<L>) {
    this.o = options;
  }

  status(): HelperStatus {
    return this.current;
  }

  link(): L | null {
    return this.linkNow;
  }

  /** How many times the root side was launched (i.e. how many password prompts). */
  get launchCount(): number {
    return this.launches;
  }

  /** Starts the helper once; later calls do nothing (one prompt per session). */
  start(): Promise<void> {
    if (this.launches === 0 && !this.loop) this.loop = this.session_();
    return this.loop ?? Promise.resolve();
  }

  /**
   * The user asked to connect again: relaunch (new prompt) only if the root side is gone. Resolves
   * with the attempt's outcome — connected, or read-only (declined, failed) — not when the session
   * ends: the Doctor's "Connect helper" fix waits on it, and the session loop of a connected helper
   * runs until the helper goes away (the fix stayed busy for ever, its check still in error).
   */
  retry(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.loop && this.current.connected) return Promise.resolve();
    const outcome = new Promise<void>((resolve) => this.outcomeWaiters.push(resolve));
    this.loop ??= this.session_();
    return outcome;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const link = this.linkNow;
    this.linkNow = null;
    await link?.close();
    if (this.session) await this.o.cleanup(this.session).catch(() => undefined);
    this.set({ phase: 'stopped', connected: false, readOnlyReason: 'Portcullis is quitting' });
  }

  private set(status: HelperStatus): void {
    this.current = status;
    this.o.onChange(status, this.linkNow);
    if (status.connected || status.phase === 'read-only' || status.phase === 'stopped') this.settleOutcome();
  }

  private settleOutcome(): void {
    const waiters = this.outcomeWaiters;
    this.outcomeWaiters = [];
    for (const w of waiters) w();
  }

  private async session_(): Promise<void> {
    try {
      if (!this.running) {
        let run: ReturnType<HelperLauncher['launch']>;
        try {
          this.session = await this.o.prepare(this.session);
          this.runEnd = null;
          this.launches++;
          this.set({ phase: 'prompting', connected: false, readOnlyReason: 'waiting for the administrator password' });
          run = this.o.launcher.launch(this.session);
        } catch (e) {
          // No prompt will come (the runtime directory is not writable, a path cannot be quoted for
          // the launcher): say so and stay read-only, instead of "waiting for the password" for ever.
          this.set({ phase: 'read-only', connected: false, readOnlyReason: `the root helper could not be started: ${errorText(e)}` });
          return;
        }
        this.running = run.ended.then(
          (end) => end,
          (e: unknown) => ({ declined: false, message: errorText(e) }),
        );
        void this.running.then((end) => {
          this.runEnd = end;
          this.running = null;
          // The root side is gone: drop the link so the connect loop notices at once.
          const link = this.linkNow;
          this.linkNow = null;
          void link?.close();
        });
      }
      await this.connectLoop();
    } finally {
      this.loop = null;
      this.settleOutcome();
    }
  }

  private async connectLoop(): Promise<void> {
    const initial = this.o.initialBackoffMs ?? 250;
    const max = this.o.maxBackoffMs ?? 10_000;
    let delay = initial;
    let everConnected = false;
    while (!this.stopped) {
      if (this.runEnd) {
        const end = this.runEnd;
        this.set({
          phase: 'read-only',
          connected: false,
          readOnlyReason: end.declined ? DECLINED_REASON : `the root helper stopped (${end.message}) — choose "Connect helper" in the tray to start it again`,
        });
        return;
      }
      let link: L;
      try {
        link = await this.o.connect(this.session!);
      } catch (e) {
        if (this.stopped) return;
        if (everConnected) {
          this.set({ phase: 'reconnecting', connected: false, readOnlyReason: `the connection to the helper was lost; reconnecting (${errorText(e)})` });
        }
        // Waiting is cut short if the root side ends meanwhile (e.g. the prompt was declined).
        await Promise.race([this.o.sleep(delay), this.running ?? Promise.resolve()]);
        delay = Math.min(everConnected ? max : Math.min(max, this.o.firstConnectMaxBackoffMs ?? 1000), delay * 2);
        continue;
      }
      if (this.stopped || this.runEnd) {
        await link.close();
        continue;
      }
      everConnected = true;
      delay = initial;
      this.linkNow = link;
      this.set({ phase: 'connected', connected: true });
      await Promise.race([link.closed.catch(() => undefined), this.running ?? Promise.resolve()]);
      if (this.linkNow === link) this.linkNow = null;
      if (this.stopped) return;
      if (!this.runEnd) this.set({ phase: 'reconnecting', connected: false, readOnlyReason: 'the connection to the helper was lost; reconnecting' });
    }
  }
}

// ------------------------------------------------------------------ the real pieces

/** Where the deb/rpm install the polkit action (build/polkit) and the keeper it authorises. */
export const POLKIT_POLICY_PATH = '/usr/share/polkit-1/actions/io.portcullis.helper.policy';
export const POLKIT_ACTION_ID = 'io.portcullis.helper';
export const INSTALLED_KEEPER = '/opt/Portcullis/resources/helper/portcullis-helper';

/** Characters that would let a path break out of the quoting of the elevated command line. */
const UNSAFE_IN_COMMAND = /["'`$\\\n\r\0]/;

export function quoteForCommand(value: string): string {
  if (UNSAFE_IN_COMMAND.test(value)) throw new Error(`refusing to run the helper from a path with quotes, $, \\ or newlines: ${JSON.stringify(value)}`);
  return `'${value}'`;
}

export interface KeeperPaths {
  /** build/helper/portcullis-helper (dev) or <resources>/helper/portcullis-helper (packaged). */
  keeper: string;
  /** The node to run the helper with: the Electron binary itself (ELECTRON_RUN_AS_NODE). */
  node: string;
  /** The bundled helper entry (dist/electron/helper.mjs). */
  entry: string;
}

/**
 * The command sudo-prompt runs as root. sudo-prompt wraps it in `bash -c "…"` inside a shell,
 * so every value is single-quoted and characters that could escape that are refused.
 */
export function keeperCommand(paths: KeeperPaths, session: HelperSession): string {
  if (!Number.isInteger(session.uid) || session.uid < 0) throw new Error(`bad uid ${session.uid}`);
  return [
    `PORTCULLIS_HELPER_NODE=${quoteForCommand(paths.node)}`,
    `PORTCULLIS_HELPER_ENTRY=${quoteForCommand(paths.entry)}`,
    '/bin/sh',
    quoteForCommand(paths.keeper),
    '--socket-dir',
    quoteForCommand(session.socketDir),
    '--uid',
    String(session.uid),
  ].join(' ');
}

type SudoExec = (cmd: string, options: { name?: string }, callback: (error?: Error, stdout?: string | Buffer, stderr?: string | Buffer) => void) => void;

/** sudo-prompt's answer when the user dismissed the dialog (its PERMISSION_DENIED message). */
const SUDO_PROMPT_DENIED = /User did not grant permission/i;

/** Development and AppImage launch: sudo-prompt (pkexec on Linux, generic admin authentication). */
export function sudoPromptLauncher(sudoExec: SudoExec, paths: KeeperPaths): HelperLauncher {
  return {
    launch(session) {
      const command = keeperCommand(paths, session);
      const ended = new Promise<HelperRunEnd>((resolve) => {
        sudoExec(command, { name: 'Portcullis' }, (error, _stdout, stderr) => {
          const err = String(stderr ?? '').trim().split('\n').slice(-3).join(' ');
          if (!error) resolve({ declined: false, message: 'the helper exited' });
          else if (SUDO_PROMPT_DENIED.test(error.message)) resolve({ declined: true, message: error.message });
          else resolve({ declined: false, message: err || error.message });
        });
      });
      return { ended };
    },
  };
}

/** How pkexec says it did not run the command (then exit 126: dismissed, 127: not authorised). */
const PKEXEC_REFUSED = /^Error executing command as another user:/m;

/** Installed package: pkexec on the keeper itself, authorised by the io.portcullis.helper polkit action. */
export function pkexecLauncher(keeper: string, pkexec = '/usr/bin/pkexec'): HelperLauncher {
  return {
    launch(session) {
      const ended = new Promise<HelperRunEnd>((resolve) => {
        execFile(pkexec, [keeper, '--socket-dir', session.socketDir, '--uid', String(session.uid)], { maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
          if (!error) return resolve({ declined: false, message: 'the helper exited' });
          const code = (error as { code?: unknown }).code;
          const said = String(stderr).trim();
          // pkexec: 126 = the user dismissed the dialog, 127 = not authorised / authentication
          // failed, each said as "Error executing command as another user: …". The keeper's own
          // shell exits 126/127 too (a program not found or not executable): that is a broken
          // installation to report, not a refusal.
          if ((code === 126 || code === 127) && PKEXEC_REFUSED.test(said)) {
            return resolve({ declined: true, message: said.split('\n')[0]!.replace(PKEXEC_REFUSED, '').trim() || `pkexec exit ${code}` });
          }
          resolve({ declined: false, message: said.split('\n').slice(-3).join(' ') || error.message });
        });
      });
      return { ended };
    },
  };
}

/**
 * A private directory (0700, ours) under the runtime dir — reused on a relaunch — with a fresh
 * per-launch secret in it (0600; the helper checks owner and mode, then deletes it).
 */
export async function prepareHelperSession(runtimeDir: string, uid: number, previous: HelperSession | null = null): Promise<HelperSession> {
  const socketDir = previous ? previous.socketDir : await mkdtemp(path.join(runtimeDir, SESSION_DIR_PREFIX));
  const secret = randomBytes(32).toString('hex');
  const file = path.join(socketDir, 'secret');
  await rm(file, { force: true });
  await writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return { socketDir, secret, uid };
}

/** Prefix of a session directory in the runtime dir (prepareHelperSession's mkdtemp). */
const SESSION_DIR_PREFIX = 'portcullis-';
/**
 * Removes the session directories a crashed earlier run of the app left in the runtime dir (ours:
 * owned by `uid`, real directories). Called once the single-instance lock is ours, so no running
 * app of this user owns one. Their root-side keepers see the directory gone and stop their
 * helpers, which held the firewall lock: without this, a relaunch after a crash stayed read-only
 * ("another Portcullis") until logout cleared the runtime dir. Returns how many were removed.
 */
export async function removeStaleSessions(runtimeDir: string, uid: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(runtimeDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(SESSION_DIR_PREFIX)) continue;
    const dir = path.join(runtimeDir, name);
    try {
      const st = await lstat(dir);
      if (!st.isDirectory() || st.uid !== uid) continue;
      await rm(dir, { recursive: true, force: true });
      removed++;
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

export async function cleanupHelperSession(session: HelperSession): Promise<void> {
  await rm(session.socketDir, { recursive: true, force: true });
}
