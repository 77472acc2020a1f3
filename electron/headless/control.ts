/**
 * The control socket of a running `portcullis run`/`serve`: a Unix socket in the state directory
 * (directory 0700 and socket 0600, owned by root: only root may steer the firewall), speaking the
 * same API as the UI — newline-delimited JSON `{id, method, params}` → `{id, reply}` — so
 * `portcullis status | bans | ban | unban | doctor` reuse dispatch() and the API schemas.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { AuditLog } from '../helper/audit.ts';
import { auditedHandlers } from '../app/api-audit.ts';
import { unixPeerIdentity } from './peer-identity.ts';
import { apiFailure, dispatch, type ApiHandlers, WsClientFrameSchema } from '../shared/api.ts';
import { controlSocketPath } from './control-client.ts';
import { refuseUnsafeParents } from './control-socket-trust.ts';

// The client side (and where the socket is) is in control-client.ts: the CLI's commands load only that.
export { ControlClient, CONTROL_SOCKET_NAME, controlSocketPath, DEFAULT_STATE_DIR } from './control-client.ts';

const MAX_LINE = 1024 * 1024;

/**
 * Creates the state directory (0700) if it does not exist, and otherwise refuses one that is not
 * this user's own with mode 0700, saying why. An existing directory is never chmodded: `--state-dir
 * /tmp` once turned /tmp into drwx------ for the whole machine.
 */
export function prepareStateDir(dir: string): void {
  mkdirSync(path.dirname(path.resolve(dir)), { recursive: true, mode: 0o755 });
  refuseUnsafeParents(path.dirname(path.resolve(dir)));
  let created = false;
  try {
    mkdirSync(dir, { mode: 0o700 });
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) throw new Error(`${dir} is a symbolic link: give the real directory`);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}): refusing to use it`);
  // Ours and new: the umask may have taken bits away, never added any; make it exactly 0700.
  if (created) chmodSync(dir, 0o700);
  else if ((st.mode & 0o7777) !== 0o700)
    throw new Error(
      `${dir} has mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, not 0700: others could read the database or reach the control socket. ` +
        `Use a directory of Portcullis's own (a new path is created with mode 0700), or run \`chmod 700 ${dir}\` if it is one`,
    );
}

/** Throws when a live instance answers on the state directory's control socket; a stale socket of a killed one (kill -9) does not. */
export async function refuseIfRunning(stateDir: string): Promise<void> {
  const sockPath = controlSocketPath(stateDir);
  if (existsSync(sockPath) && (await isAlive(sockPath))) throw new Error(`another Portcullis instance is running (control socket ${sockPath} answers)`);
}

/** Serves the API on the control socket; returns a close function. */
export async function serveControlSocket(stateDir: string, handlers: ApiHandlers, audit?: AuditLog): Promise<{ path: string; close(): Promise<void> }> {
  prepareStateDir(stateDir);
  const sockPath = controlSocketPath(stateDir);
  await refuseIfRunning(stateDir);
  if (existsSync(sockPath)) unlinkSync(sockPath);
  const server = net.createServer((sock) => {
    let buf = '';
    // Who is asking (kernel's word: the peer's uid and pid), looked up once per connection, only if it changes something.
    let identity: Promise<string> | null = null;
    const connHandlers = audit ? auditedHandlers(handlers, audit, async () => ({ transport: 'control-socket', client: await (identity ??= unixPeerIdentity(sock, sockPath)) })) : handlers;
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && buf.indexOf('\n') < 0) {
        sock.end(JSON.stringify({ id: 0, reply: apiFailure('invalid', 'request too large') }) + '\n');
        sock.destroy();
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) void answer(line, connHandlers).then((out) => sock.writable && sock.write(out + '\n'));
      }
    });
  });
  const answer = async (line: string, handlers: ApiHandlers): Promise<string> => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return JSON.stringify({ id: 0, reply: apiFailure('invalid', 'not JSON') });
    }
    const frame = WsClientFrameSchema.safeParse(raw);
    if (!frame.success) return JSON.stringify({ id: 0, reply: apiFailure('invalid', 'expected {id, method, params}') });
    return JSON.stringify({ id: frame.data.id, reply: await dispatch(handlers, frame.data.method, frame.data.params) });
  };
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sockPath, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(sockPath, 0o600);
  return {
    path: sockPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(sockPath);
        } catch {
          /* already gone */
        }
      }),
  };
}

function isAlive(sockPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(sockPath);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 1000);
    s.once('connect', () => {
      clearTimeout(t);
      s.end();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}
