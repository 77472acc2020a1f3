/** Dashboard: the fleet's bans, apart from this host's own, and the LAPI link's health. Hidden when no fleet is set up. */
import { useApp } from '../context.ts';
import { fmtAge, fmtCount, useNow } from '../format.ts';

export function FleetCard() {
  const fleet = useApp((s) => s.state?.fleet ?? null);
  const activeBans = useApp((s) => s.state?.counts.activeBans ?? 0);
  const now = useNow();
  if (!fleet || fleet.status === 'off') return null;
  const problem = fleet.login.error ?? fleet.pull.error ?? fleet.push.error;
  const refused = fleet.refused.whitelisted + fleet.refused.overLimit + fleet.refused.unsupported;
  return (
    <section className="card" aria-labelledby="fleet-card-title">
      <div className="card-head">
        <h2 id="fleet-card-title">Fleet</h2>
        <span className={fleet.status === 'ok' ? 'ok-text' : fleet.status === 'error' ? 'error-text' : 'muted'}>link {fleet.status}</span>
      </div>
      <p>
        <strong data-testid="count-fleet-bans">{fmtCount(fleet.fleetBans)}</strong> bans from other hosts ·{' '}
        <strong data-testid="count-own-bans">{fmtCount(Math.max(0, activeBans - fleet.fleetBans))}</strong> this host's own
      </p>
      <p className="muted">
        {fleet.url} · last pull {fmtAge(fleet.pull.lastAt, now)} · {fleet.push.queued} to push
        {refused > 0 ? ` · ${refused} refused (${fleet.refused.whitelisted} whitelisted here)` : ''}
      </p>
      {problem && fleet.status === 'error' && <p className="error-text">{problem} — local protection is not affected</p>}
    </section>
  );
}
