/**
 * Entry of the root helper (desktop): `node electron/helper/main.ts --socket-dir DIR [--uid UID]`.
 * The uid it serves comes from --uid, else PKEXEC_UID / SUDO_UID (set by pkexec / sudo).
 * The per-launch secret never travels on argv (visible in `ps`): it is read from the file
 * DIR/secret (written 0600 by the app before launching, deleted here once read) or, when that file
 * does not exist, from the environment variable PORTCULLIS_HELPER_SECRET (removed once read).
 * sudo-prompt and pkexec give the child neither a usable stdin nor the caller's environment,
 * which is why the file is the primary way. The file is read by readSecretFile (O_NOFOLLOW, checks
 * on the open descriptor): `--read-secret` does only that and prints it, for the root keeper
 * (build/helper/portcullis-helper), which hands it to each helper it (re)starts in the environment.
 */
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { fileAuditLog, DEFAULT_AUDIT_PATH } from './audit.ts';
import { execArgv } from './exec.ts';
import { acquireFirewallLockWaiting, FirewallLockedError } from './instance-lock.ts';
import * as firewall from './firewall/index.ts';
import { openDevKmsg } from './kmsg.ts';
import { createHelperDispatcher, type HelperDeps } from './ops.ts';
import { readSecretFile } from './secret-file.ts';
import { checkSocketDir, startHelperServer } from './server.ts';

export { SECRET_FILE } from './secret-file.ts';
/** Exit code when another Portcullis manages this namespace's firewall: the keeper does not retry. */
export const EXIT_LOCKED = 69; // sysexits EX_UNAVAILABLE
export const SECRET_ENV = 'PORTCULLIS_HELPER_SECRET';
/** Who the desktop helper is in the firewall lock. */
const LOCK_WHO = 'desktop helper';
/**
 * How long a desktop helper holding the lock is given to let go: after a crash of the app, its next
 * launch removes the earlier session's directory (elevation.ts, removeStaleSessions), whose keeper
 * notices within a second and stops that helper — more on a busy machine. A `portcullis run`
 * holding it is refused at once (it does not stop by itself).
 */
const DESKTOP_HOLDER_WAIT_MS = 10_000;
/** What the helper says on stderr while it waits (tests look for it). */
export const WAITING_FOR_HOLDER = 'waiting for the desktop helper of an earlier session';

/** The real dependencies: real exec, real files, the real kernel log. Also used by the headless runner. */
export function realHelperDeps(who: string, auditPath = DEFAULT_AUDIT_PATH): HelperDeps {
  return {
    exec: execArgv,
    firewall,
    audit: fileAuditLog(auditPath),
    readConfig: (path) => readFile(path, 'utf8').catch(() => null),
    exists: (path) => access(path, constants.R_OK).then(() => true, () => false),
    openKmsg: openDevKmsg,
    who,
  };
}

interface Args {
  socketDir: string;
  uid: number;
  auditPath: string;
  /** Only read (and delete) the secret file and print the secret: the keeper's way to read it safely. */
  readSecretOnly: boolean;
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Args | string {
  let socketDir = '';
  let uidText = env.PKEXEC_UID ?? env.SUDO_UID ?? '';
  let auditPath = DEFAULT_AUDIT_PATH;
  let readSecretOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--socket-dir' && v) (socketDir = v), i++;
    else if (a === '--uid' && v) (uidText = v), i++;
    else if (a === '--audit-log' && v) (auditPath = v), i++;
    else if (a === '--read-secret') readSecretOnly = true;
    else return `unknown argument ${JSON.stringify(a)}`;
  }
  if (!socketDir.startsWith('/')) return '--socket-dir must be an absolute path';
  if (!/^\d{1,10}$/.test(uidText)) return 'the uid to serve is unknown: pass --uid or run through pkexec/sudo';
  return { socketDir, uid: Number(uidText), auditPath, readSecretOnly };
}

function readSecret(dir: string, uid: number): string | string[] {
  const read = readSecretFile(dir, uid);
  if (read.ok) return read.secret;
  if (!read.missing) return [read.reason];
  const fromEnv = process.env[SECRET_ENV];
  delete process.env[SECRET_ENV];
  return fromEnv ?? [`no secret: write it to ${dir}/secret or set ${SECRET_ENV}`];
}

async function main(): Promise<number> {
  const fail = (msg: string) => {
    process.stderr.write(`portcullis-helper: ${msg}\n`);
    return 2;
  };
  if (process.getuid?.() !== 0) return fail('must run as root');
  const args = parseArgs(process.argv.slice(2), process.env);
  if (typeof args === 'string') return fail(args);
  const dirProblem = checkSocketDir(args.socketDir, args.uid);
  if (dirProblem) return fail(dirProblem);
  if (args.readSecretOnly) {
    const read = readSecretFile(args.socketDir, args.uid);
    if (!read.ok) return fail(read.reason);
    process.stdout.write(read.secret + '\n');
    return 0;
  }
  const secret = readSecret(args.socketDir, args.uid);
  if (Array.isArray(secret)) return fail(secret[0]!);
  if (secret.length < 16) return fail('the secret must be at least 16 characters');

  // One Portcullis per network namespace changes its firewall (ufw is not safe to drive concurrently).
  let lock;
  try {
    lock = await acquireFirewallLockWaiting(LOCK_WHO, {
      waitFor: LOCK_WHO,
      waitMs: DESKTOP_HOLDER_WAIT_MS,
      onWait: (h) => process.stderr.write(`portcullis-helper: ${WAITING_FOR_HOLDER} (pid ${h.pid}) to let go of the firewall lock, ${DESKTOP_HOLDER_WAIT_MS / 1000} s at most\n`),
    });
  } catch (e) {
    if (!(e instanceof FirewallLockedError)) return fail(`cannot take the firewall lock: ${(e as Error).message}`);
    fail(`${e.message}; stop it to use the desktop app`);
    return EXIT_LOCKED;
  }
  const dispatcher = createHelperDispatcher(realHelperDeps(`uid ${args.uid} over socket`, args.auditPath));
  const log = (line: string) => process.stderr.write(`portcullis-helper: ${line}\n`);
  // An earlier helper killed between writing ufw's rules files and loading them: loaded before serving.
  const finished = await dispatcher.finishInterruptedEdits();
  if (finished) log(finished);
  const server = await startHelperServer({ socketDir: args.socketDir, uid: args.uid, secret, dispatcher, log });
  process.stdout.write(`ready ${server.socketPath}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('SIGHUP', stop);
  });
  dispatcher.close();
  // No new request first, then the changes under way finished and every audit entry written, and only
  // then the namespace's firewall lock let go.
  await server.close();
  await dispatcher.auditWritten();
  lock.release();
  const lost = dispatcher.auditFailures();
  log(lost ? `stopped; ${lost} audit entr${lost === 1 ? 'y was' : 'ies were'} not written (each reported above)` : 'stopped');
  return 0;
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`portcullis-helper: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
