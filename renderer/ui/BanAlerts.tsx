/** A ban as it happens: who, why (scan type, ports, probes against the threshold), until when; Unban and Whitelist at hand. */
import { UNBAN_REASON_TEXT } from '../../electron/shared/model.ts';
import type { BanAlert } from '../store/banAlertsSlice.ts';
import { selectReadOnlyReason } from '../store/selectors.ts';
import { useActions, useApp } from './context.ts';
import { fmtCount, fmtDuration, fmtTime } from './format.ts';

const MAX_PORTS_LISTED = 8;

/** "SYN scan: 6 probes on 5 ports (21, 22, 23, 25, 80) in 4 s". */
export function banWhy(a: BanAlert): string {
  const r = a.ban.reason;
  const ports = r.ports.length > MAX_PORTS_LISTED ? `${r.ports.slice(0, MAX_PORTS_LISTED).join(', ')}, …` : r.ports.join(', ');
  const span = Math.max(0, Math.round((r.lastSeen - r.firstSeen) / 1000));
  return `${r.scanType ?? 'port'} scan: ${fmtCount(r.hits)} ${r.hits === 1 ? 'probe' : 'probes'} on ${fmtCount(r.ports.length)} ${r.ports.length === 1 ? 'port' : 'ports'}${ports ? ` (${ports})` : ''} in ${fmtDuration(span)}`;
}

export function thresholdText(a: BanAlert): string {
  const t = a.threshold;
  if (!t) return '';
  return `threshold: ${fmtCount(t.maxretry)} probes on ${fmtCount(t.minDistinctPorts)} ports within ${fmtDuration(t.findtimeSec)}`;
}

function untilText(a: BanAlert): string {
  const b = a.ban;
  const strike = b.strikes > 1 ? `, strike ${b.strikes}` : '';
  if (b.until === null) return `permanently${strike}`;
  return `until ${fmtTime(b.until)} (${fmtDuration(Math.max(1, Math.round((b.until - b.at) / 1000)))}${strike})`;
}

function Alert({ a }: { a: BanAlert }) {
  const ip = a.ban.ip;
  const busy = useApp((s) => `unban:${ip}` in s.busy || 'whitelist' in s.busy);
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const stillBanned = useApp((s) => s.bans.active.some((b) => b.ip === ip));
  // The firewall refused this ban (a rule of the user's own for the source): the alert must not go on saying "Banned".
  const refused = useApp((s) => s.bans.history.some((b) => b.ip === ip && b.at === a.ban.at && b.ended?.why === 'refused-users-rule'));
  const { unban, whitelistIp, dismissBanAlert, navigate, openOffender } = useActions();
  return (
    <div className="ban-alert" role="status" data-testid="ban-alert" aria-label={`${refused ? 'Not banned' : 'Banned'} ${ip}`}>
      <div className="ban-alert-text">
        <strong>
          {refused ? 'Not banned' : 'Banned'} <span className="mono">{ip}</span>
        </strong>{' '}
        {refused ? UNBAN_REASON_TEXT['refused-users-rule'].replace(/^not banned: /, '') : untilText(a)}
        <div className="muted">
          {banWhy(a)}
          {a.threshold && <> · {thresholdText(a)}</>}
        </div>
      </div>
      <div className="row gap ban-alert-actions">
        <button type="button" className="small" disabled={busy || readOnly || !stillBanned} onClick={async () => (await unban(ip)).ok && dismissBanAlert(a.id)}>
          Unban
        </button>
        <button type="button" className="small" disabled={busy || readOnly} onClick={async () => (await whitelistIp(ip)).ok && dismissBanAlert(a.id)}>
          Whitelist
        </button>
        <button
          type="button"
          className="small ghost"
          onClick={() => {
            navigate('offenders');
            void openOffender(ip);
          }}
        >
          Details
        </button>
        <button type="button" className="icon-button" aria-label={`Dismiss the alert about ${ip}`} onClick={() => dismissBanAlert(a.id)}>
          ×
        </button>
      </div>
    </div>
  );
}

export function BanAlerts() {
  const alerts = useApp((s) => s.banAlerts);
  const hidden = useApp((s) => s.banAlertsHidden);
  const { dismissAllBanAlerts, navigate } = useActions();
  if (alerts.length === 0) return null;
  return (
    <div className="ban-alerts" aria-label="New bans">
      {alerts.map((a) => (
        <Alert key={a.id} a={a} />
      ))}
      {hidden > 0 && (
        <div className="row gap ban-alerts-more">
          <span>
            and {fmtCount(hidden)} more {hidden === 1 ? 'ban' : 'bans'} —{' '}
            <button type="button" className="link" onClick={() => navigate('offenders')}>
              see Offenders
            </button>
          </span>
          <button type="button" className="small ghost" onClick={dismissAllBanAlerts}>
            Dismiss all
          </button>
        </div>
      )}
    </div>
  );
}
