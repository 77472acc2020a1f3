/**
 * The helper's Unix socket: newline-delimited JSON, one client at a time.
 * Who may talk: the socket lives in a directory only the launching user (and root) can enter, and
 * the peer proves itself with the per-launch secret in `hello` before any other op is served.
 *
 * Root never acts on a path the user could swap. The directory belongs to the user (and so does its
 * parent), so between any check and any use it could be replaced by a symlink: it is opened once
 * (O_NOFOLLOW), checked through that descriptor, and the socket is bound and unlinked through
 * /proc/self/fd/N, which names that very directory. The socket is created mode 0666 (the 0700
 * directory keeps everyone else out) so it needs no chmod or chown afterwards: those followed a
 * symlink swapped in for the socket, and made any file (/etc/shadow) the user's (a security review
 * won that race 38 times in 40).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { decodeHelperRequest, MAX_LINE_BYTES, type HelperResponse } from '../shared/helper-protocol.ts';
import type { HelperDispatcher } from './ops.ts';

export const SOCKET_NAME = 'helper.sock';

/** A connection that has not said hello with the secret by then is dropped: it would hold the only client slot. */
export const HELLO_TIMEOUT_MS = 5000;

/**
 * Why `dir` is not a safe place for the socket of `uid`, or null when it is: a real directory (not a
 * symlink), owned by that uid, with no access for group or others.
 */
export function checkSocketDir(dir: string, uid: number): string | null {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return `${dir} does not exist`;
  }
  if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
  return checkDirStat(dir, st, uid);
}

/** checkSocketDir's rules on a directory's stat (of the descriptor the helper keeps, in the end). */
export function checkDirStat(dir: string, st: { isDirectory(): boolean; uid: number; mode: number }, uid: number): string | null {
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== uid) return `${dir} is owned by uid ${st.uid}, not by uid ${uid} who started the helper`;
  if ((st.mode & 0o077) !== 0) return `${dir} is accessible to other users (mode ${(st.mode & 0o777).toString(8)}; must be 700)`;
  return null;
}

/** Constant-time comparison (hashing first makes lengths equal, so the length does not leak either). */
export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/**
 * Answers once and closes. Whatever the peer still sends is read and dropped (an unread half-closed
 * socket never finishes closing), and a peer that keeps it open is cut after a second.
 */
function hangUp(conn: Socket, last: HelperResponse): void {
  if (conn.destroyed) return;
  conn.end(JSON.stringify(last) + '\n');
  conn.removeAllListeners('data');
  conn.resume();
  setTimeout(() => conn.destroy(), 1000).unref();
}

export interface HelperServerOptions {
  socketDir: string;
  uid: number;
  secret: string;
  dispatcher: HelperDispatcher;
  log?: (line: string) => void;
  /** Default HELLO_TIMEOUT_MS (tests shorten it). */
  helloTimeoutMs?: number;
}

export interface HelperServer {
  socketPath: string;
  close(): Promise<void>;
}

export async function startHelperServer(opts: HelperServerOptions): Promise<HelperServer> {
  const problem = checkSocketDir(opts.socketDir, opts.uid);
  if (problem) throw new Error(`refusing to listen: ${problem}`);
  // Pin the directory: from here on it is this inode, whatever the path comes to name.
  let dirFd: number;
  try {
    dirFd = openSync(opts.socketDir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    throw new Error(`refusing to listen: cannot open ${opts.socketDir}: ${(e as Error).message}`);
  }
  const pinnedProblem = checkDirStat(opts.socketDir, fstatSync(dirFd), opts.uid);
  if (pinnedProblem) {
    closeSync(dirFd);
    throw new Error(`refusing to listen: ${pinnedProblem}`);
  }
  const log = opts.log ?? (() => undefined);
  /** Where clients connect (the user's path), and where root binds and unlinks (the pinned directory). */
  const socketPath = join(opts.socketDir, SOCKET_NAME);
  const boundPath = `/proc/self/fd/${dirFd}/${SOCKET_NAME}`;
  try {
    if (lstatSync(boundPath).isSocket()) unlinkSync(boundPath); // stale socket of a previous run
  } catch {
    // none
  }
  let active: Socket | null = null;
  let unsubscribe: (() => void) | null = null;

  const server: Server = createServer((conn) => {
    if (active) {
      conn.on('error', () => conn.destroy());
      hangUp(conn, { id: null, ok: false, error: { code: 'unavailable', message: 'another client is connected' } });
      return;
    }
    active = conn;
    let authenticated = false;
    let buffer = '';
    let chain: Promise<void> = Promise.resolve();
    const send = (obj: unknown) => {
      if (!conn.destroyed) conn.write(JSON.stringify(obj) + '\n');
    };
    const refuse = (r: HelperResponse) => hangUp(conn, r);
    const helloMs = opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    const helloTimer = setTimeout(() => {
      if (authenticated) return;
      refuse({ id: null, ok: false, error: { code: 'unauthenticated', message: `no hello within ${helloMs / 1000} s` } });
      if (active === conn) active = null; // the slot is free now, not when the peer gets round to closing
    }, helloMs);
    helloTimer.unref();
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim()) chain = chain.then(() => handleLine(line));
      }
      // A line that never ends cannot be answered in order and could grow without bound: drop the peer.
      if (buffer.length > MAX_LINE_BYTES) {
        buffer = '';
        refuse({ id: null, ok: false, error: { code: 'too-large', message: `request line over ${MAX_LINE_BYTES} bytes` } });
      }
    });
    const handleLine = async (line: string) => {
      if (conn.destroyed) return;
      const decoded = decodeHelperRequest(line);
      if (!decoded.ok) {
        if (!authenticated) return refuse({ id: decoded.id, ok: false, error: { code: 'unauthenticated', message: 'say hello with the secret first' } });
        return send({ id: decoded.id, ok: false, error: decoded.error });
      }
      const req = decoded.request;
      if (!authenticated) {
        if (req.op !== 'hello') return refuse({ id: req.id, ok: false, error: { code: 'unauthenticated', message: 'say hello with the secret first' } });
        if (!secretsEqual(req.args.secret, opts.secret)) {
          log('refused a client: wrong secret');
          return refuse({ id: req.id, ok: false, error: { code: 'unauthenticated', message: 'wrong secret' } });
        }
        authenticated = true;
        clearTimeout(helloTimer);
        unsubscribe = opts.dispatcher.onEvent((e) => send(e));
        log('client authenticated');
      }
      send(await opts.dispatcher.run(req));
    };
    const done = () => {
      clearTimeout(helloTimer);
      if (active !== conn) return;
      active = null;
      unsubscribe?.();
      unsubscribe = null;
      opts.dispatcher.close(); // the kmsg stream belongs to the connection that asked for it
    };
    conn.on('close', done);
    conn.on('error', () => conn.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    // 0666 from the start, and never chmod/chown'ed (see the top of this file): the directory, 0700
    // and the user's, is what keeps other users out; the secret is what proves the peer.
    const previous = process.umask(0o111);
    server.once('error', (e) => {
      process.umask(previous);
      closeSync(dirFd);
      reject(e);
    });
    server.listen(boundPath, () => {
      process.umask(previous);
      resolve();
    });
  });
  log(`listening on ${socketPath}`);

  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        active?.destroy();
        server.close(() => {
          try {
            unlinkSync(boundPath);
          } catch {
            // already gone
          }
          closeSync(dirFd);
          resolve();
        });
      }),
  };
}
