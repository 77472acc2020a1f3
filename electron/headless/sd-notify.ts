/**
 * Readiness for systemd (`Type=notify`): when the service manager set $NOTIFY_SOCKET, tell it
 * READY=1 once the runner protects the namespace (store open, blocks installed, bans restored,
 * control socket listening), so `systemctl start` returns only then and units ordered After= it
 * start after that.
 * The protocol is one datagram on a unix socket; Node has no unix datagram sockets, so the message
 * goes through systemd's own `systemd-notify --ready --pid=OUR_PID` (the unit sets
 * NotifyAccess=all, since the sender is a child). Without --no-block it waits until the manager
 * has read the message (a barrier: the manager closes a file descriptor sent with it), so the
 * child's quick exit cannot lose it (systemd ≥ 246). A receiver that is not systemd (the package
 * test's socat) never closes it: systemd-notify then gives up after 5 s, having delivered READY=1;
 * the runner does not wait for it. Its cost under a real manager could not be measured here
 * (systemd is not PID 1 on these machines).
 */
import { execFile } from 'node:child_process';

export const SYSTEMD_NOTIFY = '/usr/bin/systemd-notify';

/** Sends READY=1 when $NOTIFY_SOCKET is set; resolves to what happened (never throws). */
export function notifyReady(env: NodeJS.ProcessEnv = process.env, bin = SYSTEMD_NOTIFY): Promise<'sent' | 'not-under-systemd' | string> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve('not-under-systemd');
  return new Promise((resolve) => {
    execFile(bin, ['--ready', `--pid=${process.pid}`], { env: { NOTIFY_SOCKET: env.NOTIFY_SOCKET, PATH: '/usr/bin:/bin' }, timeout: 10_000 }, (err, _out, stderr) =>
      resolve(err ? `systemd-notify failed: ${(String(stderr) || err.message).trim()}` : 'sent'),
    );
  });
}
