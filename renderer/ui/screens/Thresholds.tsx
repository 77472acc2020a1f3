import type { FieldSpec } from '../../store/settingsForm.ts';
import { selectIsBusy } from '../../store/selectors.ts';
import { useActions, useApp } from '../context.ts';
import type { ThresholdTest } from '../../../electron/shared/api.ts';
import { fmtCount, fmtDateTime } from '../format.ts';
import { SettingsForm } from './SettingsForm.tsx';

const FIELDS: FieldSpec[] = [
  { path: 'detection.findtimeSec', label: 'Find time (seconds)', kind: 'int', hint: 'window over which probes of one source are counted' },
  { path: 'detection.maxretry', label: 'Max retry (probes)', kind: 'int', hint: 'probes within the window that make a scan' },
  { path: 'detection.minDistinctPorts', label: 'Min distinct ports', kind: 'int', hint: 'one port hammered is not a scan' },
  { path: 'ban.bantimeSec', label: 'Ban time (seconds)', kind: 'int', hint: 'first ban length' },
  { path: 'ban.increment', label: 'Double the ban time for repeat offenders', kind: 'bool' },
  { path: 'ban.maxbantimeSec', label: 'Max ban time (seconds)', kind: 'int', hint: 'cap for repeat offenders' },
  { path: 'ban.maxNewBansPerMinute', label: 'New bans per minute (cap)', kind: 'int', hint: 'protects against spoofed floods' },
  {
    path: 'ban.backend',
    label: 'Ban backend',
    kind: 'select',
    hint: 'takes over at the next start of Portcullis, which moves the active bans (the Dashboard shows the one in use)',
    options: [
      { value: 'set', label: 'ipset (fast, scales)' },
      { value: 'ufw', label: 'ufw rules' },
    ],
  },
];

const plural = (n: number, one: string, many = `${one}s`) => `${fmtCount(n)} ${n === 1 ? one : many}`;

const REASON: Record<NonNullable<ThresholdTest['notBanned']>[number]['reason'], string> = {
  whitelisted: 'whitelisted',
  'under-threshold': 'under the threshold',
  'spread-out': 'enough probes, but never within the find time',
  'not-probes': 'no probes counted (allowed ports, replies, not inbound)',
};

function WouldBan({ result, title, testId }: { result: ThresholdTest; title: string; testId: string }) {
  return (
    <div data-testid={testId}>
      <h3>
        {title}: {result.wouldBan.length === 0 ? 'nobody banned' : `${plural(result.wouldBan.length, 'host')} banned`}
      </h3>
      {result.wouldBan.length > 0 && (
        <div className="table-scroll">
          <table className="table compact">
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">At</th>
                <th scope="col">Scan</th>
                <th scope="col">Ports</th>
              </tr>
            </thead>
            <tbody>
              {result.wouldBan.map((b) => (
                <tr key={`${b.ip}-${b.at}`}>
                  <td className="mono">{b.ip}</td>
                  <td>{fmtDateTime(b.at)}</td>
                  <td>{b.scanType}</td>
                  <td>{b.ports.slice(0, 12).join(', ') + (b.ports.length > 12 ? ` … (+${b.ports.length - 12})` : '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** The last "test against my recent log" (Thresholds and Whitelist share it): now and with the change, side by side, and why the others are not banned. */
export function TestResult() {
  const result = useApp((s) => s.thresholdTest);
  const baseline = useApp((s) => s.thresholdBaseline);
  if (!result) return null;
  const notBanned = result.notBanned ?? [];
  return (
    <section className="card" aria-labelledby="tt-title" data-testid="threshold-test">
      <div className="card-head">
        <h2 id="tt-title">Against your recent log</h2>
        <span className="muted">
          {plural(result.packets, 'packet')} from {plural(result.sources, 'source')}, last 24 h
        </span>
      </div>
      {(result.packetsNotStored ?? 0) > 0 && (
        <p className="muted" data-testid="threshold-test-not-stored">
          Not tested: {plural(result.packetsNotStored ?? 0, 'more blocked packet')} of this window, kept out of the store during a flood (over
          the stored-packets cap). The live engine saw them, but this test cannot replay them: a scanner among them may be missing here.
        </p>
      )}
      <div className="two-col">
        {baseline && <WouldBan result={baseline} title="Now" testId="threshold-test-current" />}
        <WouldBan result={result} title="With your change" testId="threshold-test-proposed" />
      </div>
      {notBanned.length > 0 && (
        <>
          <h3>Not banned with your change, and why</h3>
          <ul className="plain" data-testid="threshold-test-reasons">
            {notBanned.slice(0, 10).map((n) => (
              <li key={n.ip}>
                <span className="mono">{n.ip}</span> — {REASON[n.reason]}
                {n.reason !== 'whitelisted' && n.reason !== 'not-probes' && (
                  <span className="muted">
                    {' '}
                    ({plural(n.probes, 'probe')} on {plural(n.ports, 'port')})
                  </span>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function Thresholds() {
  const settings = useApp((s) => s.settings);
  const busy = useApp(selectIsBusy('thresholdTest'));
  const { testThresholds } = useActions();
  return (
    <div className="screen">
      <header className="screen-head">
        <h1>Thresholds</h1>
      </header>
      <p className="lead">When a source counts as a scanner, and how long it stays banned.</p>
      {!settings ? (
        <p className="muted">Loading…</p>
      ) : (
        <SettingsForm
          settings={settings}
          fields={FIELDS}
          title="Detection and bans"
          id="th"
          extraButtons={(check) => (
            <button type="button" disabled={busy || Object.keys(check.errors).length > 0} onClick={() => void testThresholds(check.patch)}>
              {busy ? 'Testing…' : 'Test against my recent log'}
            </button>
          )}
        />
      )}
      <TestResult />
    </div>
  );
}
