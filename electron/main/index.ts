/**
 * Entry of the Electron main process: the composition root. Everything with logic lives in the
 * modules it wires (ipc, tray, notify, elevation, autostart, window, helper-hub), each tested under
 * Node with `electron` mocked; this file only connects them to Electron and to the service.
 *
 * Layout at run time (dev: the checkout; packaged: app.asar + resources/):
 *   <app>/dist/electron/{main.js,preload.cjs,helper.mjs}   <app>/renderer/dist/index.html   <app>/assets/tray/*.png
 *   packaged only: <resources>/helper/{portcullis-helper,helper.mjs} (root must not run code from inside app.asar)
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, Notification, shell, Tray } from 'electron';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sudoPrompt from 'sudo-prompt';
import type { ApiEvent, ApiHandlers, State } from '../shared/api.ts';
import { systemClock } from '../shared/domain.ts';
import { IPC_EVENTS_CHANNEL } from '../shared/ipc.ts';
import type { BanRecord } from '../shared/model.ts';
import { DEFAULT_SETTINGS, type Settings } from '../shared/settings.ts';
import { ScanEngine } from '../engine/engine.ts';
import { HelperClient } from '../engine/helperclient/client.ts';
import { liveLineParser } from '../engine/logs/kmsg.ts';
import { SqliteStore } from '../engine/store/sqlite.ts';
import { readInboundSessions, serviceStoreOf, StoreSettingsRepo } from '../app/adapters.ts';
import { firewallPortOf, helperOpsOf } from '../app/helper-adapter.ts';
import { readHostInfo } from '../app/hostinfo.ts';
import { auditedHandlers, fileAuditLog } from '../app/api-audit.ts';
import { PortcullisService, VERSION } from '../app/service.ts';
import { loadSettings } from '../app/settings-load.ts';
import { desktopKmsg } from '../app/desktop-kmsg.ts';
import { applyAutostart, autostartPath, launchCommand } from './autostart.ts';
import {
  cleanupHelperSession,
  HelperSupervisor,
  INSTALLED_KEEPER,
  POLKIT_POLICY_PATH,
  pkexecLauncher,
  prepareHelperSession,
  removeStaleSessions,
  sudoPromptLauncher,
  type HelperLauncher,
  type HelperSession,
} from './elevation.ts';
import { connectHelperClient, eventsWithHelperStatus, HelperHub, withHelperFix, withHelperStatus, type HelperClientLink } from './helper-hub.ts';
import { bindApiIpc } from './ipc.ts';
import { NotificationPlanner, Notifier } from './notify.ts';
import { applyBanEvents, TrayController, type TrayBanEvent, type TrayIconState } from './tray.ts';
import { claimSingleInstance, DeferredShow, keepRunningInTray, MainWindow } from './window.ts';
import { errorText } from '../shared/errors.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function log(message: string): void {
  process.stderr.write(`portcullis: ${message}\n`);
}

function appPaths() {
  const root = app.getAppPath();
  const packaged = app.isPackaged;
  return {
    page: path.join(root, 'renderer/dist/index.html'),
    preload: path.join(HERE, 'preload.cjs'),
    trayIcon: (s: TrayIconState) => path.join(root, 'assets/tray', `${s}.png`),
    appIcon: path.join(root, 'assets/tray/protected@2x.png'),
    keeper: packaged ? path.join(process.resourcesPath, 'helper/portcullis-helper') : path.join(root, 'build/helper/portcullis-helper'),
    helperEntry: packaged ? path.join(process.resourcesPath, 'helper/helper.mjs') : path.join(HERE, 'helper.mjs'),
  };
}

/** pkexec through the package's own polkit action when installed; sudo-prompt otherwise (dev, AppImage). */
function chooseLauncher(paths: ReturnType<typeof appPaths>): HelperLauncher {
  if (app.isPackaged && paths.keeper === INSTALLED_KEEPER && existsSync(POLKIT_POLICY_PATH)) return pkexecLauncher(paths.keeper);
  return sudoPromptLauncher(sudoPrompt.exec, { keeper: paths.keeper, node: process.execPath, entry: paths.helperEntry });
}

type Link = HelperClientLink;
const connectHelper = (session: HelperSession) => connectHelperClient(session, log);

async function main(): Promise<void> {
  const paths = appPaths();
  const window = new MainWindow(BrowserWindow, {
    pageFile: paths.page,
    preloadPath: paths.preload,
    iconPath: paths.appIcon,
    openExternal: (url) => void shell.openExternal(url),
  });
  const startHidden = process.argv.includes('--hidden');
  // A second launch shows this window — once start-up is done (DeferredShow).
  const secondLaunches = new DeferredShow(() => window.show());
  if (!claimSingleInstance(app, () => secondLaunches.request())) return;
  await app.whenReady();
  // Linux: no application menu bar; every command is in the window or the tray.
  Menu.setApplicationMenu(null);

  // ---------------------------------------------------------------- the service
  const hub = new HelperHub<HelperClient>();
  const dataDir = path.join(process.env.XDG_DATA_HOME && path.isAbsolute(process.env.XDG_DATA_HOME) ? process.env.XDG_DATA_HOME : path.join(os.homedir(), '.local/share'), 'portcullis');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const dbPath = path.join(dataDir, 'portcullis.db');
  const raw = new SqliteStore({ path: dbPath });
  const store = serviceStoreOf(raw, systemClock);
  const settingsRepo = new StoreSettingsRepo(store, dbPath);
  // The ban backend is fixed for the session (as in `portcullis run`); the service itself refuses
  // invalid saved settings with the reason when it starts.
  const saved = loadSettings(settingsRepo);
  const savedSettings: Settings = saved.ok ? saved.settings : DEFAULT_SETTINGS;
  const backend = savedSettings.ban.backend;
  const helperOps = helperOpsOf(hub.call);

  // Kernel records through the helper, resumed from the stored position of this boot (app/desktop-kmsg.ts).
  const kmsg = desktopKmsg({ get: (k) => raw.getState(k), set: (k, v) => raw.setState(k, v), queue: (k, v) => raw.queueState(k, v) });
  const source = kmsg.source;
  const parseOpts = { framing: 'kmsg' as const, bootTimeMs: source.bootTimeMs() };

  const service = new PortcullisService({
    clock: systemClock,
    settingsRepo,
    createEngine: (opts, sink) => new ScanEngine({ ...opts, parse: parseOpts }, sink),
    parseLine: liveLineParser(parseOpts, () => source.bootTimeMs()),
    store,
    source,
    firewall: firewallPortOf(hub.call, backend),
    otherFirewall: firewallPortOf(hub.call, backend === 'ufw' ? 'set' : 'ufw'),
    helper: helperOps,
    hostInfo: () => readHostInfo(),
    inboundSessions: () => readInboundSessions(),
    log: (level, message) => log(`${level}: ${message}`),
    // Sharing bans through a CrowdSec LAPI when Settings → Fleet is set up (the queue lives in the same database).
    fleet: { fetch: globalThis.fetch, queuePath: dbPath, version: VERSION },
  });
  await service.start();
  let supervisor: HelperSupervisor<Link> | null = null;
  const base: ApiHandlers = withHelperFix(
    withHelperStatus(service.handlers(), () => hub.helperState()),
    () => hub.helperState(),
    () => supervisor?.retry() ?? Promise.resolve(),
  );
  // Settings main applies itself (autostart entry, notification limits) are re-applied after each change.
  let applySettings: (s: Settings) => void = () => undefined;
  const handlers: ApiHandlers = {
    ...base,
    updateSettings: async (p) => {
      const s = await base.updateSettings(p);
      applySettings(s);
      return s;
    },
  };

  // ---------------------------------------------------------------- window, IPC, events
  // The service's event batches (at most MAX_EVENT_DELIVERIES_PER_SEC a second, coalesced) go to the window as they are.
  const toWindow = (batch: ApiEvent[]) => window.send(IPC_EVENTS_CHANNEL, batch);
  // Every changing call is audited with its transport and the desktop user (the helper's root log keeps the firewall commands).
  const apiAudit = fileAuditLog(path.join(dataDir, 'audit.log'));
  const me = `uid ${process.getuid?.() ?? '?'} pid ${process.pid}`;
  const ipcHandlers = auditedHandlers(handlers, apiAudit, () => ({ transport: 'ipc', client: `${me} (window)` }));
  const trayHandlers = auditedHandlers(handlers, apiAudit, () => ({ transport: 'tray', client: `${me} (tray or notification)` }));
  bindApiIpc(ipcMain, { handlers: () => ipcHandlers, window: () => window.trusted(), pageUrl: window.pageUrl, log });

  // ---------------------------------------------------------------- tray and notifications
  let state: State | null = null;
  let recentBans: BanRecord[] = [];
  const planner = new NotificationPlanner(savedSettings.notifications ?? DEFAULT_SETTINGS.notifications, systemClock);
  const notifier = new Notifier({ isSupported: () => Notification.isSupported(), create: (o) => new Notification(o) }, (target) => window.show(target), paths.appIcon);
  // A tray action that fails is answered with a notification (the user clicked and waits for it), not only on stderr.
  const call = (what: string, p: Promise<unknown>) =>
    void p.catch((e: unknown) => {
      const why = errorText(e);
      log(`could not ${what}: ${why}`);
      planner.actionFailed(what, why);
      notifier.show(planner.take());
    });
  const tray = new TrayController(
    { Tray, Menu, icon: (s) => nativeImage.createFromPath(paths.trayIcon(s)) },
    {
      setProtection: (enabled) => call(enabled ? 'turn protection on' : 'turn protection off', trayHandlers.setProtection({ enabled }).then((s) => onState(s))),
      pauseOneHour: () => call('pause protection for an hour', trayHandlers.pauseProtection({ minutes: 60 }).then((s) => onState(s))),
      openWindow: () => window.show(),
      openOffender: (ip) => window.show({ screen: 'offender', ip }),
      unban: (ip) => call(`unban ${ip}`, trayHandlers.unban({ ip } as never)),
      retryHelper: () => call('start the root helper', supervisor?.retry() ?? Promise.resolve()),
      quit: () => app.quit(),
    },
  );
  const refreshTray = () => tray.update({ state, recentBans, now: Date.now() });
  const onState = (s: State) => {
    state = s;
    planner.state(s);
    refreshTray();
  };

  const onServiceEvents = (events: ApiEvent[]) => {
    const out = eventsWithHelperStatus(events, () => hub.helperState());
    const banEvents: TrayBanEvent[] = [];
    for (const e of out) {
      if (e.type === 'ban') {
        // A ban event comes once the firewall answered; a failed one is warned about, never announced.
        planner.ban(e.ban, e.firewallError, e.stillStands);
        banEvents.push(e);
      } else if (e.type === 'unban') {
        planner.unban(e.ip, e.why);
        banEvents.push(e);
      } else if (e.type === 'fleetSync') planner.fleetSync(e.phase);
      else if (e.type === 'state') onState(e.state);
    }
    if (banEvents.length) {
      recentBans = applyBanEvents(recentBans, banEvents);
      refreshTray();
    }
    notifier.show(planner.take());
    toWindow(out);
  };
  const unsubscribe = service.onEvents(onServiceEvents);
  onState(await handlers.getState({}));
  const bans = await handlers.getBans({}).catch(() => null);
  if (bans) recentBans = [...bans.active].sort((a, b) => b.at - a.at).slice(0, 10);
  refreshTray();
  // Silence and the aggregation window are noticed by the clock, not by events.
  const ticker = setInterval(() => {
    notifier.show(planner.take());
    refreshTray();
  }, 1000);

  // ---------------------------------------------------------------- settings-driven: autostart, notifications
  applySettings = (s) => {
    planner.updateSettings(s.notifications);
    const command = launchCommand({ execPath: process.execPath, appImage: process.env.APPIMAGE, isPackaged: app.isPackaged, appPath: app.getAppPath() });
    call('autostart', applyAutostart(s.ui.startAtLogin, autostartPath(process.env), command));
  };
  call('settings', handlers.getSettings({}).then(applySettings));

  // ---------------------------------------------------------------- the root helper
  const runtimeDir = process.env.XDG_RUNTIME_DIR && existsSync(process.env.XDG_RUNTIME_DIR) ? process.env.XDG_RUNTIME_DIR : os.tmpdir();
  const uid = process.getuid?.() ?? 0;
  supervisor = new HelperSupervisor<Link>({
    launcher: chooseLauncher(paths),
    connect: connectHelper,
    prepare: (previous) => prepareHelperSession(runtimeDir, uid, previous),
    cleanup: cleanupHelperSession,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    onChange: (status, link) => {
      hub.set(link?.client ?? null, status);
      if (status.connected && link) {
        // Kernel records through the helper (resumed after the last one handled), then make the
        // firewall agree with the store.
        call('kmsg', kmsg.stream(link.client));
        call('reconcile', service.reconcile());
        // The set backend needs its managed block in ufw's before.rules (as `portcullis run` installs it).
        if (backend === 'set') {
          call('set block', hub.call('status', {}).then((st) => (st.blocks.setBlock ? undefined : helperOps.setSetBlock(true))));
        }
      }
      // On connect, re-read the firewall status at once (the doctor refreshes it; the periodic refresh
      // is every 30 s), then tell the tray and the window.
      const refreshed = status.connected ? handlers.getDoctor({}).then(() => handlers.getState({})) : handlers.getState({});
      call('state', refreshed.then((s) => {
        onState(s);
        toWindow([{ type: 'state', state: s }]);
      }));
    },
  });
  // A crashed earlier run left its session directory, and its helper holding the firewall lock:
  // removing the directory makes that helper's keeper stop it, and the new helper waits for its lock
  // (helper/main.ts) — however long the stop takes on a busy machine, up to a bound, not a fixed guess here.
  const startHelper = supervisor;
  call(
    'start the root helper',
    removeStaleSessions(runtimeDir, uid).then(async (stale) => {
      if (stale > 0) {
        log(`removed ${stale} session director${stale === 1 ? 'y' : 'ies'} of an earlier run; its helper stops, the new one waits for it`);
      }
      await startHelper.start();
    }),
  );

  keepRunningInTray(app, window, () => {
    clearInterval(ticker);
    unsubscribe();
    tray.destroy();
    // Removing the socket directory makes the root-side keeper stop the helper; quitting waits for it.
    return Promise.all([supervisor?.stop(), service.stop()]);
  });
  if (!startHidden) window.show();
  secondLaunches.ready();
}

main().catch(async (e: unknown) => {
  log(`failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  // A desktop user started us from a menu: say why in a window, not only on stderr (e.g. invalid settings).
  await app.whenReady().catch(() => undefined);
  dialog.showErrorBox('Portcullis cannot start', errorText(e));
  app.exit(1);
});
