import { useState } from 'react';
import { unbanReasonText, type Offender, type OffenderState } from '../../../electron/shared/model.ts';
import { type OffenderSort, selectOffenderList, selectOffenderStateCounts, selectOffenders, selectReadOnlyReason } from '../../store/selectors.ts';
import { useActions, useApp } from '../context.ts';
import { fmtCount, fmtDateTime, fmtDuration } from '../format.ts';
import { type Column, OffenderStateBadge, VirtualTable } from './common.tsx';
import { useNarrow } from '../useNarrow.ts';
import { banSource } from './fleet-view.ts';

function OffenderLink({ ip }: { ip: string }) {
  const { openOffender } = useActions();
  return (
    <button type="button" className="link" onClick={() => void openOffender(ip)} aria-label={`Details of ${ip}`} title="Show ports, timeline and bans">
      {ip}
    </button>
  );
}

function OffenderActions({ o }: { o: Offender }) {
  const busy = useApp((s) => `ban:${o.ip}` in s.busy || `unban:${o.ip}` in s.busy || 'whitelist' in s.busy);
  const readOnly = useApp(selectReadOnlyReason) !== null;
  const { banNow, unban, whitelistIp } = useActions();
  const dis = busy || readOnly;
  return (
    <div className="row-actions">
      {o.state === 'banned' ? (
        <button type="button" className="small" disabled={dis} onClick={() => void unban(o.ip)} aria-label={`Unban ${o.ip}`}>
          Unban
        </button>
      ) : (
        <button type="button" className="small danger" disabled={dis || o.state === 'whitelisted'} onClick={() => void banNow(o.ip)} aria-label={`Ban ${o.ip} now`}>
          Ban now
        </button>
      )}
      <button type="button" className="small" disabled={dis || o.state === 'whitelisted'} onClick={() => void whitelistIp(o.ip)} aria-label={`Whitelist ${o.ip}`}>
        Whitelist
      </button>
    </div>
  );
}

const COLUMNS: Column<Offender>[] = [
  { key: 'ip', label: 'Source', width: 'minmax(130px, 1.3fr)', render: (o) => <OffenderLink ip={o.ip} /> },
  { key: 'state', label: 'State', width: '96px', render: (o) => <OffenderStateBadge o={o} /> },
  { key: 'hits', label: 'Hits', width: '60px', className: 'num', render: (o) => fmtCount(o.hits) },
  { key: 'ports', label: 'Ports', width: '56px', className: 'num', render: (o) => fmtCount(o.distinctPorts) },
  { key: 'scan', label: 'Scan', width: '60px', render: (o) => o.scanType },
  { key: 'first', label: 'First seen', width: '124px', render: (o) => fmtDateTime(o.firstSeen) },
  { key: 'last', label: 'Last seen', width: '124px', render: (o) => fmtDateTime(o.lastSeen) },
  { key: 'strikes', label: 'Strikes', width: '60px', className: 'num', render: (o) => o.strikes },
  { key: 'actions', label: 'Actions', width: '170px', className: 'right', render: (o) => <OffenderActions o={o} /> },
];
/** At 800×600 the row's actions must show without scrolling sideways: first seen, scan type and strikes are in the detail. */
const NARROW_HIDDEN = new Set(['first', 'scan', 'strikes']);
const NARROW_WIDTHS: Record<string, string> = { state: '92px', hits: '52px', ports: '48px', last: '112px', actions: '164px' };
const NARROW_COLUMNS = COLUMNS.filter((c) => !NARROW_HIDDEN.has(c.key)).map((c) => (NARROW_WIDTHS[c.key] ? { ...c, width: NARROW_WIDTHS[c.key]! } : c));

function Detail() {
  const ip = useApp((s) => s.selectedOffender);
  const offender = useApp((s) => (s.selectedOffender ? selectOffenders(s).get(s.selectedOffender) : undefined));
  const detail = useApp((s) => s.offenderDetail);
  const err = useApp((s) => s.loadErrors.offender);
  const { closeOffender } = useActions();
  if (!ip) return null;
  return (
    <section className="card detail" aria-labelledby="detail-title" data-testid="offender-detail">
      <div className="card-head">
        <h2 id="detail-title">
          <span className="mono">{ip}</span> {offender && <OffenderStateBadge o={offender} />}
        </h2>
        <button type="button" className="ghost" onClick={closeOffender}>
          Close
        </button>
      </div>
      {offender && <OffenderActions o={offender} />}
      {err && <p className="error-text">{err}</p>}
      {!detail ? (
        <p className="muted">Loading…</p>
      ) : (
        <div className="detail-grid">
          <div>
            <h3>Ports</h3>
            <ul className="chips">
              {detail.ports.map((p) => (
                <li key={`${p.proto}/${p.port}`} className="chip">
                  {p.port}/{p.proto.toLowerCase()} <span className="muted">×{p.hits}</span>
                </li>
              ))}
              {detail.ports.length === 0 && <li className="muted">none recorded</li>}
            </ul>
            <h3>Bans</h3>
            <ul className="plain">
              {detail.bans.map((b) => (
                <li key={b.at}>
                  {b.ended?.why === 'refused-users-rule' ? (
                    <>
                      {fmtDateTime(b.at)} → {unbanReasonText(b.ended.why)} · strike {b.strikes} · {banSource(b.reason)}
                      {b.reason.note ? ` (${b.reason.note})` : ''}
                    </>
                  ) : b.ended && b.ended.why !== 'expired' ? (
                    <>
                      {fmtDateTime(b.at)} → ended {fmtDateTime(b.ended.at)} ({unbanReasonText(b.ended.why)}) · strike {b.strikes} · {banSource(b.reason)}
                      {b.reason.note ? ` (${b.reason.note})` : ''}
                      <span className="muted">
                        {' '}
                        · {fmtDuration(Math.round((b.ended.at - b.at) / 1000))} of {b.until === null ? 'a permanent ban' : fmtDuration(Math.round((b.until - b.at) / 1000))}
                      </span>
                    </>
                  ) : (
                    <>
                      {fmtDateTime(b.at)} → {b.until === null ? 'permanent' : fmtDateTime(b.until)} · strike {b.strikes} · {banSource(b.reason)}
                      {b.reason.note ? ` (${b.reason.note})` : ''}
                      {b.until !== null && <span className="muted"> · {fmtDuration(Math.round((b.until - b.at) / 1000))}</span>}
                    </>
                  )}
                </li>
              ))}
              {detail.bans.length === 0 && <li className="muted">never banned</li>}
            </ul>
          </div>
          <div>
            <h3>Timeline</h3>
            <div className="timeline">
              <table className="table compact">
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Proto</th>
                    <th scope="col">Port</th>
                    <th scope="col">Flags</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.timeline
                    .slice(-100)
                    .reverse()
                    .map((r) => (
                      <tr key={r.id}>
                        <td>{fmtDateTime(r.time)}</td>
                        <td>{r.proto}</td>
                        <td>{r.dpt ?? ''}</td>
                        <td>{r.flags}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          </div>
        </div>
      )}
    </section>
  );
}

const STATES: (OffenderState | 'all')[] = ['all', 'watching', 'banned', 'whitelisted', 'expired'];

export function Offenders() {
  const [stateFilter, setStateFilter] = useState<OffenderState | 'all'>('all');
  const [sort, setSort] = useState<OffenderSort>('lastSeen');
  const list = useApp(selectOffenderList(stateFilter, sort));
  const counts = useApp(selectOffenderStateCounts);
  const total = useApp((s) => selectOffenders(s).size);
  const selected = useApp((s) => s.selectedOffender !== null);
  const err = useApp((s) => s.loadErrors.offenders);
  const narrow = useNarrow();
  return (
    <div className="screen screen-fill">
      <header className="screen-head">
        <h1>Offenders</h1>
        <div className="field inline">
          <label htmlFor="off-sort">Sort by</label>
          <select id="off-sort" value={sort} onChange={(e) => setSort(e.target.value as OffenderSort)}>
            <option value="lastSeen">last seen</option>
            <option value="hits">hits</option>
            <option value="distinctPorts">distinct ports</option>
          </select>
        </div>
      </header>
      <div className="segmented" role="group" aria-label="Show offenders">
        {STATES.map((st) => (
          <button key={st} type="button" aria-pressed={stateFilter === st} onClick={() => setStateFilter(st)}>
            {st} <span className="muted">{st === 'all' ? total : counts[st]}</span>
          </button>
        ))}
      </div>
      {err && <p className="error-text">{err}</p>}
      <VirtualTable
        rows={list}
        columns={narrow ? NARROW_COLUMNS : COLUMNS}
        rowKey={(o) => o.ip}
        label="Offenders"
        height={selected ? 'calc(100vh - 560px)' : 'calc(100vh - 220px)'}
        rowHeight={40}
        empty="No offenders."
        testId="offenders-table"
      />
      <Detail />
    </div>
  );
}
