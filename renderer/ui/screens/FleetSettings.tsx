/**
 * Settings → Fleet: the link to a CrowdSec LAPI (fleet.crowdsec), validated live by the one schema,
 * with "Test connection". Secrets arrive redacted from the service; left as they are, the service
 * keeps the saved ones (a new URL needs them typed again).
 */
import { useEffect, useMemo, useState } from 'react';
import { CrowdsecSettingsSchema, DEFAULT_FLEET_ORIGINS, REDACTED } from '../../../electron/shared/fleet.ts';
import { describeZodError, type Settings } from '../../../electron/shared/settings.ts';
import { useActions, useApp } from '../context.ts';

interface Draft {
  enabled: boolean;
  url: string;
  machineId: string;
  password: string;
  bouncerKey: string;
  pullIntervalMs: string;
  share: boolean;
  apply: boolean;
  origins: string;
  maxBans: string;
}

function draftOf(s: Settings): Draft {
  const c = s.fleet.crowdsec;
  return {
    enabled: c !== null,
    url: c?.url ?? '',
    machineId: c?.machineId ?? '',
    password: c?.password ?? '',
    bouncerKey: c?.bouncerKey ?? '',
    pullIntervalMs: String(c?.pullIntervalMs ?? 1000),
    share: c?.share ?? true,
    apply: c?.apply ?? true,
    origins: (c?.origins ?? DEFAULT_FLEET_ORIGINS).join(', '),
    maxBans: String(s.fleet.maxBans),
  };
}

/** The candidate fleet.crowdsec of a draft, or the reason it is invalid. */
function crowdsecOf(d: Draft, saved: Settings): { value: Record<string, unknown> | null; error: string | null } {
  if (!d.enabled) return { value: null, error: null };
  const c: Record<string, unknown> = {
    url: d.url.trim(),
    bouncerKey: d.bouncerKey,
    pullIntervalMs: Number(d.pullIntervalMs),
    share: d.share,
    apply: d.apply,
    origins: d.origins.split(/[\s,]+/).filter(Boolean),
  };
  const savedFile = saved.fleet.crowdsec?.credentialsFile;
  if (savedFile !== undefined && d.machineId === (saved.fleet.crowdsec?.machineId ?? '') && d.password === '') c.credentialsFile = savedFile;
  if (d.machineId.trim()) c.machineId = d.machineId.trim();
  if (d.password) c.password = d.password;
  // Redacted secrets validate as placeholders here; the service puts the saved ones back.
  const r = CrowdsecSettingsSchema.safeParse(c);
  return r.success ? { value: c, error: null } : { value: c, error: describeZodError(r.error) };
}

export function FleetSettings({ settings }: { settings: Settings }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(settings));
  const [msg, setMsg] = useState<string | null>(null);
  useEffect(() => setDraft(draftOf(settings)), [settings]);
  const busy = useApp((s) => 'settings' in s.busy || 'fleetTest' in s.busy);
  const fleetTest = useApp((s) => s.fleetTest);
  const health = useApp((s) => s.state?.fleet);
  const { updateSettings, testFleet } = useActions();
  const check = useMemo(() => crowdsecOf(draft, settings), [draft, settings]);
  const maxBans = Number(draft.maxBans);
  const maxBansError = Number.isInteger(maxBans) && maxBans >= 1 && maxBans <= 10_000_000 ? null : 'maxBans is a whole number from 1 to 10,000,000';
  const error = check.error ?? maxBansError;
  const set = (patch: Partial<Draft>) => {
    setMsg(null);
    setDraft({ ...draft, ...patch });
  };
  const text = (key: keyof Draft, label: string, hint: string, secret = false) => (
    <div className="field">
      <label htmlFor={`fleet-${key}`}>{label}</label>
      <input
        id={`fleet-${key}`}
        type={secret ? 'password' : 'text'}
        value={String(draft[key])}
        spellCheck={false}
        autoComplete="off"
        disabled={!draft.enabled}
        onChange={(e) => set({ [key]: e.target.value } as Partial<Draft>)}
      />
      <div className="field-msg">{secret && draft[key] === REDACTED ? 'saved (unchanged unless you type a new one)' : hint}</div>
    </div>
  );
  const bool = (key: 'share' | 'apply', label: string) => (
    <div className="field field-bool">
      <label className="check" htmlFor={`fleet-${key}`}>
        <input id={`fleet-${key}`} type="checkbox" checked={draft[key]} disabled={!draft.enabled} onChange={(e) => set({ [key]: e.target.checked })} />
        {label}
      </label>
    </div>
  );
  return (
    <section className="card" aria-labelledby="fleet-title">
      <div className="card-head">
        <h2 id="fleet-title">Fleet (CrowdSec LAPI)</h2>
        {health && health.status !== 'off' && <span className={`muted fleet-status-${health.status}`}>link {health.status}</span>}
      </div>
      <form
        className="settings-form"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await updateSettings({ fleet: { crowdsec: check.value, maxBans } });
          setMsg(r.ok ? 'Saved' : r.error);
        }}
      >
        <div className="field field-bool">
          <label className="check" htmlFor="fleet-enabled">
            <input id="fleet-enabled" type="checkbox" checked={draft.enabled} onChange={(e) => set({ enabled: e.target.checked })} />
            Share bans with other hosts through a CrowdSec Local API
          </label>
        </div>
        {text('url', 'LAPI URL', 'e.g. http://10.0.0.5:8080')}
        {text('machineId', 'Machine id', 'cscli machines add ID --password …')}
        {text('password', 'Machine password', 'pushes this host\'s bans', true)}
        {text('bouncerKey', 'Bouncer key', 'cscli bouncers add NAME (one key per host)', true)}
        {text('pullIntervalMs', 'Pull every (ms)', 'at least 200')}
        {text('origins', 'Apply decisions from', 'portcullis@* = other Portcullis hosts; add CAPI for the community lists')}
        {bool('share', 'Share this host\'s bans')}
        {bool('apply', 'Apply the fleet\'s bans here')}
        {text('maxBans', 'Fleet bans at most', 'local bans do not count')}
        {fleetTest && (
          <ul className="fleet-test" aria-label="Connection test">
            {fleetTest.checks.map((c) => (
              <li key={c.what} className={c.ok ? 'ok-text' : 'error-text'}>
                {c.ok ? '✓' : '✗'} {c.what}: {c.detail}
              </li>
            ))}
          </ul>
        )}
        <div className="form-foot">
          <div className="field-msg" role="status">
            {error ? <span className="error-text">{error}</span> : msg}
          </div>
          <div className="row gap">
            <button type="button" disabled={busy || !draft.enabled || check.error !== null} onClick={() => void testFleet(check.value ?? {})}>
              Test connection
            </button>
            <button type="submit" className="primary" disabled={busy || error !== null}>
              Save
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}
