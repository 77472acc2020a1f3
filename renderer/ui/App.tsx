/** The window: navigation, banners (read-only, connection, a database that cannot be written), the current screen, notices. */
import logoUrl from '../../assets/ui/portcullis.svg';
import { type MouseEvent, useEffect, useRef } from 'react';
import { BanAlerts } from './BanAlerts.tsx';
import { initialTheme, rememberTheme } from './theme.ts';
import { confirmLeave } from './unsaved.ts';
import type { ScreenId } from '../store/store.ts';
import { selectProtection, selectReadOnlyReason, selectStoreTrouble } from '../store/selectors.ts';
import { storeAdvice } from '../../electron/shared/store-health.ts';
import { fmtCount, fmtDateTime } from './format.ts';
import { useActions, useApp } from './context.ts';
import { NavIcon } from './icons.tsx';
import { Dashboard } from './screens/Dashboard.tsx';
import { BlockedPackets } from './screens/BlockedPackets.tsx';
import { Offenders } from './screens/Offenders.tsx';
import { Rules } from './screens/Rules.tsx';
import { Whitelist } from './screens/Whitelist.tsx';
import { Thresholds } from './screens/Thresholds.tsx';
import { Doctor } from './screens/Doctor.tsx';
import { SettingsScreen } from './screens/Settings.tsx';

export const NAV: { id: ScreenId; label: string }[] = [
  { id: 'dashboard', label: 'Dashboard' },
  { id: 'packets', label: 'Blocked packets' },
  { id: 'offenders', label: 'Offenders' },
  { id: 'rules', label: 'Rules' },
  { id: 'whitelist', label: 'Whitelist' },
  { id: 'thresholds', label: 'Thresholds' },
  { id: 'doctor', label: 'Doctor' },
  { id: 'settings', label: 'Settings' },
];

/** The sidebar's word for the protection state; "unknown" is grey, never the last green it saw. */
export const PROTECTION_LABEL: Record<ReturnType<typeof selectProtection>, string> = {
  loading: 'Connecting…',
  unknown: 'Unknown — not connected',
  on: 'Protected',
  paused: 'Paused',
  off: 'Not protected',
};

function Screen({ id }: { id: ScreenId }) {
  switch (id) {
    case 'dashboard':
      return <Dashboard />;
    case 'packets':
      return <BlockedPackets />;
    case 'offenders':
      return <Offenders />;
    case 'rules':
      return <Rules />;
    case 'whitelist':
      return <Whitelist />;
    case 'thresholds':
      return <Thresholds />;
    case 'doctor':
      return <Doctor />;
    case 'settings':
      return <SettingsScreen />;
  }
}

function Notices() {
  const notices = useApp((s) => s.notices);
  const { dismissNotice } = useActions();
  return (
    <div className="notices" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.level}`} role={n.level === 'error' ? 'alert' : 'status'}>
          <span>{n.message}</span>
          {n.action && (
            <button
              type="button"
              className="small"
              onClick={() => {
                dismissNotice(n.id);
                n.action!.run();
              }}
            >
              {n.action.label}
            </button>
          )}
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismissNotice(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

/**
 * The database cannot be written (a full disk, a read-only file system): protection works, the
 * history does not — said on every screen until it writes again, with what to do.
 */
function StoreBanner() {
  const store = useApp(selectStoreTrouble);
  if (!store) return null;
  const waiting = store.pendingPackets ? `; ${fmtCount(store.pendingPackets)} blocked packets wait in memory` : '';
  return (
    <div className="banner banner-warn" role="alert" data-testid="store-banner">
      <strong>History is not being saved:</strong> the database cannot be written since {fmtDateTime(store.since)} ({store.error}). Scanners are still detected and banned
      {waiting}. {storeAdvice(store.error, store.path)}.
    </div>
  );
}

/** The skip link moves focus into the screen (a bare #fragment scrolls but leaves focus behind in some browsers). */
function focusMain(e: MouseEvent<HTMLAnchorElement>) {
  e.preventDefault();
  document.getElementById('main-content')?.focus();
}

export function App() {
  const screen = useApp((s) => s.screen);
  const readOnly = useApp(selectReadOnlyReason);
  const connection = useApp((s) => s.connection);
  const hasState = useApp((s) => s.state !== null);
  const theme = useApp((s) => s.settings?.ui.theme ?? null) ?? initialTheme();
  const hasSettings = useApp((s) => s.settings !== null);
  const protection = useApp(selectProtection);
  const { navigate, start } = useActions();

  useEffect(() => start(), [start]);
  useEffect(() => {
    // "system" leaves it to prefers-color-scheme in the stylesheet.
    if (theme === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    // Remembered for the next start, which applies it before the first paint (theme-boot.js).
    if (hasSettings) rememberTheme(theme);
  }, [theme, hasSettings]);
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
    const label = NAV.find((n) => n.id === screen)?.label ?? '';
    document.title = `${label} — Portcullis`;
    // Each screen opens at its top, not at the scroll position the previous one had.
    mainRef.current?.scrollTo?.({ top: 0 });
  }, [screen]);

  return (
    <div className="app">
      {/* The first Tab stop: past the navigation, straight to the screen. */}
      <a className="skip-link" href="#main-content" onClick={focusMain}>
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="brand">
          <img src={logoUrl} alt="" width={28} height={28} />
          <span>Portcullis</span>
        </div>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.id}>
                <button type="button" className="nav-item" title={n.label} aria-current={screen === n.id ? 'page' : undefined} onClick={() => n.id !== screen && confirmLeave() && navigate(n.id)}>
                  <span className="nav-icon" aria-hidden="true">
                    <NavIcon id={n.id} />
                  </span>
                  <span className="nav-label">{n.label}</span>
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <div className="sidebar-foot" title={PROTECTION_LABEL[protection]}>
          <span className={`dot dot-${protection}`} aria-hidden="true" />
          <span className="sidebar-foot-label">{PROTECTION_LABEL[protection]}</span>
        </div>
      </aside>
      <main className="content" id="main-content" tabIndex={-1} ref={mainRef}>
        <div className="banners">
          {connection === 'refused' ? (
            <div className="banner banner-error" role="alert" data-testid="connection-banner">
              <strong>This page&apos;s access token was refused</strong> — Portcullis was restarted with a new one. Open the new URL that <code>portcullis serve</code> printed.
            </div>
          ) : (
            connection !== 'open' && (
              <div className="banner banner-warn" role="status" data-testid="connection-banner">
                {connection === 'connecting' && !hasState
                  ? 'Connecting to the Portcullis service…'
                  : 'Connection to the Portcullis service lost — reconnecting… What this page shows may be out of date.'}
              </div>
            )
          )}
          {readOnly && (
            <div className="banner banner-warn" role="alert" data-testid="read-only-banner">
              <strong>Read-only:</strong> {readOnly}. You can watch and change settings and protection, but bans and firewall rules cannot be changed: they need the root helper.
            </div>
          )}
          <StoreBanner />
          {/* In the flow under the banners, not floating over the page: a toast never covers a form field. */}
          <BanAlerts />
          <Notices />
        </div>
        <Screen id={screen} />
      </main>
    </div>
  );
}
