import type { FieldSpec } from '../../store/settingsForm.ts';
import { useApp } from '../context.ts';
import { SettingsForm } from './SettingsForm.tsx';
import { FleetSettings } from './FleetSettings.tsx';

const GENERAL: FieldSpec[] = [
  { path: 'notifications.onBan', label: 'Notify me when a scanner is banned', kind: 'bool' },
  { path: 'notifications.aggregateWindowSec', label: 'Group bans within (seconds)', kind: 'int', hint: 'one notification for all bans in this window' },
  { path: 'notifications.maxPerMinute', label: 'Notifications per minute at most', kind: 'int' },
  { path: 'notifications.warnWhenSilentSec', label: 'Warn when the kernel log is silent for (seconds)', kind: 'int', hint: 'a silent log usually means ufw logging is off' },
  { path: 'ui.startAtLogin', label: 'Start Portcullis at login', kind: 'bool' },
  {
    path: 'ui.theme',
    label: 'Theme',
    kind: 'select',
    options: [
      { value: 'system', label: 'Follow the system' },
      { value: 'light', label: 'Light' },
      { value: 'dark', label: 'Dark' },
    ],
  },
];

const LOGS: FieldSpec[] = [
  { path: 'logs.source', label: 'Log source', kind: 'text', hint: 'auto, nflog, kmsg, journal or file:/absolute/path; applies at the next start of the service' },
  { path: 'logs.retentionDays', label: 'Keep blocked packets for (days)', kind: 'int' },
  { path: 'logs.maxStoredPackets', label: 'Stored packets at most', kind: 'int' },
  { path: 'logs.maxStoredPacketsPerSecond', label: 'Stored packets per second at most (a flood beyond it is counted, not stored)', kind: 'int' },
];

/** The same list every render (a new array each time made the form start its draft again). */
const GENERAL_BROWSER = GENERAL.filter((f) => f.path !== 'ui.startAtLogin');
/**
 * The desktop app reads the kernel log through its root helper whatever logs.source says: the field
 * was saved ("Saved") and then did nothing there. It is the service's (`portcullis run`/`serve`).
 */
const LOGS_DESKTOP = LOGS.filter((f) => f.path !== 'logs.source');

export function SettingsScreen() {
  const settings = useApp((s) => s.settings);
  const version = useApp((s) => s.state?.version);
  // Starting at login is the desktop app's business; under `portcullis serve` it would do nothing.
  const desktop = useApp((s) => s.shell === 'desktop');
  const general = desktop ? GENERAL : GENERAL_BROWSER;
  const logs = desktop ? LOGS_DESKTOP : LOGS;
  return (
    <div className="screen">
      <header className="screen-head">
        <h1>Settings</h1>
        {version && <span className="muted">Portcullis {version}</span>}
      </header>
      {!settings ? (
        <p className="muted">Loading…</p>
      ) : (
        <>
          <SettingsForm settings={settings} fields={general} title="Notifications and appearance" id="gen" />
          <SettingsForm settings={settings} fields={logs} title={desktop ? 'Blocked packets kept' : 'Log source and retention'} id="logs" />
          <FleetSettings settings={settings} />
        </>
      )}
    </div>
  );
}
