import { useState } from 'react';
import { selectBuiltInWhitelist, selectIsBusy } from '../../store/selectors.ts';
import { useActions, useApp } from '../context.ts';
import { TestResult } from './Thresholds.tsx';

/** The switches that whitelist what this host's network is made of, followed as it changes. */
const INCLUDES: { key: 'includeGateway' | 'includeNameservers' | 'includeLanSubnets'; label: string; title?: string }[] = [
  { key: 'includeGateway', label: 'Also whitelist the default gateway' },
  { key: 'includeNameservers', label: "Also whitelist this host's name servers" },
  { key: 'includeLanSubnets', label: 'Also whitelist my LAN subnet(s) (followed as the network changes)', title: 'Off by default: a compromised device on your LAN should still be caught' },
];

export function Whitelist() {
  const settings = useApp((s) => s.settings);
  const builtIn = useApp(selectBuiltInWhitelist);
  const busy = useApp((s) => 'whitelist' in s.busy);
  const testing = useApp(selectIsBusy('thresholdTest'));
  const { whitelistAdd, whitelistRemove, updateSettings, testWhitelist, clearThresholdTest } = useActions();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <div className="screen">
      <header className="screen-head">
        <h1>Whitelist</h1>
      </header>
      <p className="lead">Addresses and networks that are never banned, whatever they send. Use it for your own networks and monitoring hosts.</p>
      <section className="card" aria-labelledby="wl-add-title">
        <div className="card-head">
          <h2 id="wl-add-title">Add an address or network</h2>
        </div>
        <form
          className="row gap align-start"
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await whitelistAdd(text);
            setError(r.ok ? null : r.error);
            if (r.ok) setText('');
          }}
        >
          <div className={`field grow ${error ? 'field-invalid' : ''}`}>
            <label htmlFor="wl-cidr">Address or CIDR</label>
            <input
              id="wl-cidr"
              value={text}
              placeholder="192.168.1.0/24 or 2001:db8::/32"
              spellCheck={false}
              aria-invalid={error !== null}
              aria-describedby="wl-cidr-msg"
              onChange={(e) => {
                setText(e.target.value);
                if (error) setError(null);
                // A result for what was typed before no longer answers anything.
                clearThresholdTest();
              }}
            />
            <div className="field-msg error-text" id="wl-cidr-msg" role={error ? 'alert' : undefined} data-testid="whitelist-error">
              {error ?? ''}
            </div>
          </div>
          <button type="submit" className="primary label-offset" disabled={busy || text.trim() === ''}>
            Add
          </button>
          <button
            type="button"
            className="label-offset"
            disabled={testing || !settings}
            title="Replays the stored packets of the last 24 hours with this whitelist (and the address typed above, if any)"
            onClick={async () => {
              const r = await testWhitelist(text);
              if (!r.ok) setError(r.error);
            }}
          >
            Test against my recent log
          </button>
        </form>
      </section>
      <TestResult />
      <section className="card" aria-labelledby="wl-list-title">
        <div className="card-head">
          <h2 id="wl-list-title">Your entries</h2>
        </div>
        <ul className="list" data-testid="whitelist-entries">
          {(settings?.whitelist.entries ?? []).map((cidr) => (
            <li key={cidr} className="list-row">
              <span className="mono">{cidr}</span>
              <button type="button" className="small" aria-label={`Remove ${cidr}`} onClick={() => void whitelistRemove(cidr)}>
                Remove
              </button>
            </li>
          ))}
          {settings && settings.whitelist.entries.length === 0 && <li className="muted list-row">No entries yet.</li>}
        </ul>
      </section>
      <section className="card" aria-labelledby="wl-builtin-title">
        <div className="card-head">
          <h2 id="wl-builtin-title">Always whitelisted</h2>
        </div>
        <ul className="list" data-testid="whitelist-builtin">
          {builtIn.map((e) => (
            <li key={e.cidr} className="list-row">
              <span className="mono">{e.cidr}</span>
              <span className="muted">{e.why}</span>
            </li>
          ))}
        </ul>
        {settings &&
          INCLUDES.map((i) => (
            <label key={i.key} className="check" title={i.title}>
              <input type="checkbox" checked={settings.whitelist[i.key]} onChange={(e) => void updateSettings({ whitelist: { [i.key]: e.target.checked } })} />
              {i.label}
            </label>
          ))}
      </section>
    </div>
  );
}
