import type { ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { selectCounts, selectIsBusy, selectProtection, selectTopOffenders } from '../../store/selectors.ts';
import { useActions, useApp } from '../context.ts';
import { fmtAge, fmtCount, fmtTime, useNow } from '../format.ts';
import { OffenderStateBadge } from './common.tsx';
import { FleetCard } from './FleetCard.tsx';

/** What the switch means now; "nobody is banned" only when that is true (bans made before stay until they end). */
export function protectionText(state: { pausedUntil: number | null } | null, paused: boolean, on: boolean, activeBans: number): string {
  if (!state) return 'Loading…';
  if (on) return 'On — scanners are banned as they are seen';
  const still = activeBans === 0 ? '' : `; ${fmtCount(activeBans)} earlier ${activeBans === 1 ? 'ban stays' : 'bans stay'} in force until ${activeBans === 1 ? 'it ends' : 'they end'} (unban on Offenders)`;
  if (paused) return `Paused until ${fmtTime(state.pausedUntil)} — no new bans${still}`;
  return activeBans === 0 ? 'Off — scans are recorded but nobody is banned' : `Off — scans are recorded, no new bans${still}`;
}

function ProtectionCard() {
  const state = useApp((s) => s.state);
  const activeBans = useApp((s) => selectCounts(s).activeBans);
  const unknown = useApp(selectProtection) === 'unknown';
  const busy = useApp(selectIsBusy('protection'));
  // Not disabled while read-only (no root helper): protection is a setting the service keeps without
  // the helper, as the tray's toggle does; the bans it leads to are made once the helper connects.
  const { setProtection, pauseProtection } = useActions();
  const on = state?.protection === 'on';
  const paused = state?.protection === 'paused';
  return (
    <section className="card protection-card" aria-labelledby="protection-title">
      <div className="card-head">
        <h2 id="protection-title">Protection</h2>
      </div>
      <div className="protection-row">
        <button
          type="button"
          role="switch"
          aria-checked={on}
          aria-label="Protection"
          className={`switch ${on ? 'switch-on' : ''}`}
          // While a change is in flight the switch says so (aria-busy/aria-disabled) but is NOT
          // disabled: a disabled button drops keyboard focus, and the next Space would go nowhere.
          disabled={!state || unknown}
          aria-disabled={busy || undefined}
          aria-busy={busy || undefined}
          onClick={() => {
            if (!busy) void setProtection(!on);
          }}
        >
          <span className="switch-knob" />
        </button>
        <div className="protection-text" data-testid="protection-status">
          {unknown ? 'Unknown — not connected to the Portcullis service' : protectionText(state, paused, on, activeBans)}
        </div>
      </div>
      <div className="row gap">
        {paused ? (
          <button type="button" disabled={busy} onClick={() => void setProtection(true)}>
            Resume now
          </button>
        ) : (
          <button type="button" disabled={!state || busy || !on} onClick={() => void pauseProtection(60)}>
            Pause for 1 hour
          </button>
        )}
      </div>
    </section>
  );
}

const BACKEND_LABEL = { set: 'ipset (fast)', ufw: 'ufw rules' } as const;

/**
 * The backend bans go through NOW (the state's `backend`), and the one the settings switched to when
 * that differs: a switch takes over only at the next start, so naming the saved one would be untrue.
 */
function BanBackend() {
  const backend = useApp((s) => s.state?.backend ?? null);
  const after = useApp((s) => s.state?.backendAfterRestart ?? null);
  if (!backend) return <>—</>;
  return (
    <>
      {BACKEND_LABEL[backend]}
      {after && (
        <span className="warn-text">
          {' '}
          — switches to {BACKEND_LABEL[after]} at the next start of Portcullis (the saved setting)
        </span>
      )}
    </>
  );
}

function FirewallCard() {
  const fw = useApp((s) => s.state?.firewall ?? null);
  return (
    <section className="card" aria-labelledby="fw-title">
      <div className="card-head">
        <h2 id="fw-title">Firewall</h2>
      </div>
      {!fw ? (
        <p className="muted">Loading…</p>
      ) : (
        <dl className="kv">
          <dt>ufw</dt>
          <dd data-testid="firewall-state">
            {!fw.installed ? <span className="badge badge-error">not installed</span> : fw.enabled ? <span className="badge badge-ok">active</span> : <span className="badge badge-error">inactive</span>}
          </dd>
          <dt>Incoming</dt>
          <dd>{fw.defaultIncoming ?? '—'}</dd>
          <dt>Logging</dt>
          <dd>{fw.loggingLevel ?? '—'}</dd>
          <dt>Per-source logging</dt>
          <dd>{fw.perSourceLogging ? 'installed' : <span className="warn-text">not installed</span>}</dd>
          <dt>Ban backend</dt>
          <dd>
            <BanBackend />
          </dd>
        </dl>
      )}
    </section>
  );
}

function Counts() {
  const counts = useApp(selectCounts);
  const loaded = useApp((s) => s.state !== null);
  const tiles: [string, string, number | undefined][] = [
    ['Blocked packets', 'count-blocked', counts.blockedPackets ?? undefined],
    // The same numbers as the Offenders screen's "watching" and "banned" (selectCounts).
    ['Scanners', 'count-scanners', loaded ? counts.scanners : undefined],
    ['Active bans', 'count-bans', loaded ? counts.activeBans : undefined],
  ];
  return (
    <div className="tiles">
      {tiles.map(([label, id, n]) => (
        <section key={id} className="card tile" aria-label={label}>
          <div className="tile-label">{label}</div>
          <div className="tile-value" data-testid={id}>
            {n === undefined ? '—' : fmtCount(n)}
          </div>
          {id === 'count-scanners' && loaded && <div className="tile-sub muted">{fmtCount(counts.watching)} watched · {fmtCount(counts.activeBans)} banned</div>}
          {id === 'count-bans' && counts.deferredBans > 0 && <div className="tile-sub warn-text">{counts.deferredBans} held back by the bans/min cap</div>}
        </section>
      ))}
    </div>
  );
}

function PerMinuteChart() {
  const perMinute = useApp((s) => s.dashboard?.perMinute ?? null);
  return (
    <section className="card chart-card" aria-labelledby="chart-title">
      <div className="card-head">
        <h2 id="chart-title">Blocked packets per minute</h2>
        <span className="muted">last hour</span>
      </div>
      {/* Fixed height so the page does not jump while data loads or streams. */}
      <div className="chart" style={{ height: 200 }}>
        {perMinute && (
          <ResponsiveContainer width="100%" height="100%">
            {/* Focusable (recharts' keyboard layer: arrow keys move between minutes), so it gets a name. */}
            <BarChart data={perMinute} margin={{ top: 8, right: 8, bottom: 0, left: -16 }} title="Blocked packets per minute, last hour" desc="Left and right arrow keys move between minutes">
              <CartesianGrid vertical={false} strokeDasharray="3 3" />
              <XAxis dataKey="t" tickFormatter={(t: number) => fmtTime(t).slice(0, 5)} minTickGap={40} tickLine={false} />
              <YAxis allowDecimals={false} tickLine={false} width={48} />
              <Tooltip labelFormatter={(t) => fmtTime(Number(t)).slice(0, 5)} formatter={(v) => [String(v), 'blocked']} isAnimationActive={false} />
              <Bar dataKey="count" isAnimationActive={false} radius={[3, 3, 0, 0]} />
            </BarChart>
          </ResponsiveContainer>
        )}
      </div>
    </section>
  );
}

/** A "top N" card: a compact table of two columns and the hit count, and a line when there is nothing yet. */
function TopCard(p: { id: string; title: string; note?: string; heads: [string, string]; rows: { key: string; cells: [ReactNode, ReactNode]; hits: number }[]; empty: string | null }) {
  return (
    <section className="card" aria-labelledby={p.id}>
      <div className="card-head">
        <h2 id={p.id}>{p.title}</h2>
        {p.note && <span className="muted">{p.note}</span>}
      </div>
      <table className="table compact">
        <thead>
          <tr>
            <th scope="col">{p.heads[0]}</th>
            <th scope="col">{p.heads[1]}</th>
            <th scope="col" className="num">
              Hits
            </th>
          </tr>
        </thead>
        <tbody>
          {p.rows.map((r) => (
            <tr key={r.key}>
              <td>{r.cells[0]}</td>
              <td>{r.cells[1]}</td>
              <td className="num">{fmtCount(r.hits)}</td>
            </tr>
          ))}
          {p.empty !== null && (
            <tr>
              <td colSpan={3} className="muted">
                {p.empty}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

function TopLists() {
  const dash = useApp((s) => s.dashboard);
  const top = useApp(selectTopOffenders(8));
  const offendersLoaded = useApp((s) => !('offenders' in s.loadErrors) && s.state !== null);
  const { navigate, openOffender } = useActions();
  return (
    <div className="two-col">
      <TopCard
        id="ports-title"
        title="Top targeted ports"
        heads={['Port', 'Proto']}
        rows={(dash?.topPorts ?? []).slice(0, 8).map((p) => ({ key: `${p.proto}/${p.port}`, cells: [p.port, p.proto], hits: p.hits }))}
        empty={dash && dash.topPorts.length === 0 ? 'No blocked packets yet' : null}
      />
      <TopCard
        id="offenders-title"
        title="Top offenders"
        note="probes counted, as on Offenders"
        heads={['Source', 'State']}
        rows={top.map((o) => ({
          key: o.ip,
          cells: [
            <button
              type="button"
              className="link"
              onClick={() => {
                navigate('offenders');
                void openOffender(o.ip);
              }}
            >
              {o.ip}
            </button>,
            <OffenderStateBadge o={o} />,
          ],
          hits: o.hits,
        }))}
        empty={offendersLoaded && top.length === 0 ? 'No offenders yet' : null}
      />
    </div>
  );
}

function SourceHealth() {
  const source = useApp((s) => s.state?.source);
  const now = useNow(1000);
  return (
    <section className="card" aria-labelledby="source-title">
      <div className="card-head">
        <h2 id="source-title">Log source</h2>
      </div>
      {source === undefined ? (
        <p className="muted">Loading…</p>
      ) : source === null ? (
        <p className="warn-text">No log source: Portcullis cannot see blocked packets.</p>
      ) : (
        <dl className="kv" data-testid="source-health">
          <dt>Kind</dt>
          <dd>
            {source.kind} <span className="muted">{source.description}</span>
          </dd>
          <dt>Trust</dt>
          <dd>
            {source.kernelTrusted ? (
              <span className="badge badge-ok">kernel records only</span>
            ) : (
              <span className="badge badge-error" title="Any local user can write lines that look like firewall records into this source">
                SPOOFABLE
              </span>
            )}
          </dd>
          <dt>Last record</dt>
          <dd>{fmtAge(source.lastRecordAt, now)}</dd>
          <dt>Lines / min</dt>
          <dd data-testid="source-rate">
            {fmtCount(source.linesPerMinute)}
            {(source.foreignPerMinute ?? 0) > 0 && (
              <span className="muted" title="The kernel log is shared by every network namespace: records for other hosts or containers are read, then dropped">
                {' '}
                (of which {fmtCount(Math.max(0, source.linesPerMinute - source.foreignPerMinute!))} for this host)
              </span>
            )}
            {source.rejectsPerMinute > 0 && <span className="muted"> ({fmtCount(source.rejectsPerMinute)} rejected)</span>}
          </dd>
          {source.error && (
            <>
              <dt>Error</dt>
              <dd className="error-text">{source.error}</dd>
            </>
          )}
          {source.warning && (
            <>
              <dt>Read on after</dt>
              <dd className="warn-text" data-testid="source-warning">{source.warning}</dd>
            </>
          )}
        </dl>
      )}
    </section>
  );
}

export function Dashboard() {
  const err = useApp((s) => s.loadErrors.state);
  return (
    <div className="screen">
      <header className="screen-head">
        <h1>Dashboard</h1>
      </header>
      {err && (
        <p className="error-text" role="alert">
          Could not load the state: {err}
        </p>
      )}
      <div className="dash-grid">
        <ProtectionCard />
        <FirewallCard />
        <SourceHealth />
        <FleetCard />
      </div>
      <Counts />
      <PerMinuteChart />
      <TopLists />
    </div>
  );
}
