/**
 * The client of a running instance's control socket (see control.ts for the server), and where
 * that socket is. Kept apart from the server and from the API table so that `portcullis status`
 * loads only this, node:net (once the socket passed its check) and the small reply/state schemas
 * (issue 11.3: it answers about as fast as fail2ban-client); other methods load their result
 * schemas from the API table on first call.
 */
import type net from 'node:net';
import path from 'node:path';
import { apiFailure, unwrapResult } from '../shared/api-reply.ts';
import type { ApiMethod, ApiParams, ApiResult } from '../shared/api.ts';
import { checkControlSocket, noInstanceError, permissionDeniedError } from './control-socket-trust.ts';

/** Where `run`/`serve` keep their database, control socket and audit log, and where the other commands look. */
export const DEFAULT_STATE_DIR = '/var/lib/portcullis';

export const CONTROL_SOCKET_NAME = 'control.sock';

export function controlSocketPath(stateDir: string): string {
  return path.join(stateDir, CONTROL_SOCKET_NAME);
}

export class ControlClient {
  /** Null when the socket was refused before connecting. */
  private readonly sock: net.Socket | null = null;
  private readonly pending = new Map<number, (reply: unknown) => void>();
  private nextId = 1;
  private buf = '';
  private readonly ready: Promise<void>;

  /** Checks the socket before connecting (control-socket-trust.ts); a refusal rejects every call, saying why. */
  constructor(sockPath: string) {
    try {
      checkControlSocket(sockPath);
    } catch (e) {
      this.ready = Promise.reject(e as Error);
      this.ready.catch(() => undefined); // seen by call(); unobserved when no call is made
      return;
    }
    // node:net (with all of node:stream) is ~8 ms of a ~100 ms `portcullis status`: loaded only
    // once there is a socket to talk to, so "no running instance" answers without it.
    const sock = new (process.getBuiltinModule('node:net').Socket)();
    this.sock = sock;
    sock.connect(sockPath);
    sock.setEncoding('utf8');
    this.ready = new Promise((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? noInstanceError(sockPath)
            : e.code === 'EACCES'
              ? permissionDeniedError(sockPath)
              : e,
        );
      });
    });
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          const msg = JSON.parse(line) as { id: number; reply: unknown };
          this.pending.get(msg.id)?.(msg.reply);
          this.pending.delete(msg.id);
        } catch {
          /* ignore a garbled line */
        }
      }
    });
    sock.on('close', () => {
      for (const r of this.pending.values()) r(apiFailure('unavailable', 'the instance closed the connection'));
      this.pending.clear();
    });
  }

  /**
   * Calls a method and checks the reply against its result schema: `result` when given (`status`
   * passes the small StateSchema), else the method's schema in the API table, loaded on first use.
   */
  async call<M extends ApiMethod>(method: M, params: ApiParams<M>, result?: { parse(v: unknown): ApiResult<M> }): Promise<ApiResult<M>> {
    await this.ready;
    const sock = this.sock!; // ready resolved: connected
    const id = this.nextId++;
    const reply = await new Promise<unknown>((resolve) => {
      this.pending.set(id, resolve);
      sock.write(JSON.stringify({ id, method, params }) + '\n');
    });
    return result ? unwrapResult(reply, result) : (await import('../shared/api.ts')).unwrapReply(method, reply);
  }

  close(): void {
    this.sock?.end();
  }
}
