/**
 * The one main window and the app lifecycle around it: a single instance (a second launch shows
 * the first one's window and exits), closing the window only hides it (Portcullis keeps protecting
 * from the tray), and quitting happens from the tray menu only.
 */
import type { App, BrowserWindow, BrowserWindowConstructorOptions, WebPreferences } from 'electron';
import { pathToFileURL } from 'node:url';
import type { NavigateTarget } from '../shared/ipc.ts';
import { IPC_NAVIGATE_CHANNEL } from '../shared/ipc.ts';
import { pageKey, type TrustedWindow } from './ipc.ts';

/** The renderer gets no Node, runs sandboxed, isolated from the preload; no webviews, no drag-to-navigate. */
export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  };
}

export interface MainWindowOptions {
  /** Absolute path of renderer/dist/index.html. */
  pageFile: string;
  preloadPath: string;
  iconPath?: string;
  /** Opens an external http(s) link in the user's browser (shell.openExternal). */
  openExternal?: (url: string) => void;
}

type BrowserWindowCtor = new (options: BrowserWindowConstructorOptions) => BrowserWindow;

export class MainWindow {
  private readonly Ctor: BrowserWindowCtor;
  private readonly o: MainWindowOptions;
  private win: BrowserWindow | null = null;
  private quitting = false;
  private pendingTarget: NavigateTarget | null = null;
  readonly pageUrl: string;

  constructor(Ctor: BrowserWindowCtor, options: MainWindowOptions) {
    this.Ctor = Ctor;
    this.o = options;
    this.pageUrl = pathToFileURL(options.pageFile).href;
  }

  /** From now on a close really closes (set by before-quit). */
  setQuitting(): void {
    this.quitting = true;
  }

  /** Shows (creating if needed), restores and focuses the window; optionally on a screen. */
  show(target?: NavigateTarget): void {
    const win = this.ensure();
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
    if (target) {
      if (win.webContents.isLoading()) this.pendingTarget = target;
      else win.webContents.send(IPC_NAVIGATE_CHANNEL, target);
    }
  }

  /** What the IPC check compares a sender with. */
  trusted(): TrustedWindow | null {
    const win = this.win;
    if (!win || win.isDestroyed()) return null;
    return { webContentsId: win.webContents.id, mainFrame: win.webContents.mainFrame };
  }

  /** Sends to the page if the window exists (hidden windows too: the UI stays current). */
  send(channel: string, payload: unknown): void {
    const win = this.win;
    if (win && !win.isDestroyed() && !win.webContents.isLoading()) win.webContents.send(channel, payload);
  }

  get window(): BrowserWindow | null {
    return this.win && !this.win.isDestroyed() ? this.win : null;
  }

  private ensure(): BrowserWindow {
    if (this.win && !this.win.isDestroyed()) return this.win;
    const win = new this.Ctor({
      width: 1280,
      height: 800,
      minWidth: 900,
      minHeight: 600,
      show: false,
      title: 'Portcullis',
      ...(this.o.iconPath ? { icon: this.o.iconPath } : {}),
      autoHideMenuBar: true,
      webPreferences: secureWebPreferences(this.o.preloadPath),
    });
    this.win = win;
    win.on('close', (event) => {
      // Closing the window keeps Portcullis running in the tray; Quit is in the tray menu.
      if (!this.quitting) {
        event.preventDefault();
        win.hide();
      }
    });
    win.on('closed', () => {
      if (this.win === win) this.win = null;
    });
    const wc = win.webContents;
    // The page never navigates away from our file and never opens windows: links go to the browser.
    wc.setWindowOpenHandler(({ url }) => {
      if (/^https?:\/\//.test(url)) this.o.openExternal?.(url);
      return { action: 'deny' };
    });
    wc.on('will-navigate', (event, url) => {
      if (pageKey(url) !== pageKey(this.pageUrl)) event.preventDefault();
    });
    wc.on('did-finish-load', () => {
      const t = this.pendingTarget;
      this.pendingTarget = null;
      if (t) wc.send(IPC_NAVIGATE_CHANNEL, t);
    });
    void win.loadURL(this.pageUrl);
    return win;
  }
}

/**
 * Window requests of second launches that come during start-up, held until it is done. Showing the
 * window then failed: before the app is ready no BrowserWindow can exist, and before the IPC
 * handlers are bound the page's first calls were refused ("No handler registered"), an error
 * without a code on the screen. Held requests show the window once, when ready() is called.
 */
export class DeferredShow {
  private readonly show: () => void;
  private isReady = false;
  private pending = false;

  constructor(show: () => void) {
    this.show = show;
  }

  request(): void {
    if (this.isReady) this.show();
    else this.pending = true;
  }

  ready(): void {
    this.isReady = true;
    if (this.pending) {
      this.pending = false;
      this.show();
    }
  }
}

/**
 * Takes the single-instance lock. Without it another Portcullis runs: this one quits (its launch
 * has already shown that one's window through 'second-instance'). With it, later launches show us.
 */
export function claimSingleInstance(app: Pick<App, 'requestSingleInstanceLock' | 'quit' | 'on'>, onSecondInstance: () => void): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => onSecondInstance());
  return true;
}

/** Closing every window must not quit (the tray stays); before-quit lets the window really close. */
/** How long quitting waits for the shutdown work (stopping the root helper, flushing the store). */
export const QUIT_WAIT_MS = 5000;

/**
 * Closing the window keeps the app in the tray; quitting really quits — after `onQuit`'s work is
 * done (or QUIT_WAIT_MS passed). Electron does not wait for promises in before-quit: the helper's
 * socket directory (whose removal makes the root-side keeper stop the helper) could outlive the
 * process, leaving the helper running as root and holding the firewall lock against the next launch.
 */
export function keepRunningInTray(app: Pick<App, 'on' | 'quit'>, window: MainWindow, onQuit: () => Promise<unknown> | void, waitMs = QUIT_WAIT_MS): void {
  app.on('window-all-closed', () => {
    /* stay in the tray */
  });
  let phase: 'running' | 'stopping' | 'done' = 'running';
  app.on('before-quit', (event: { preventDefault(): void }) => {
    if (phase === 'done') return;
    event.preventDefault();
    if (phase === 'stopping') return;
    phase = 'stopping';
    window.setQuitting();
    let work: Promise<unknown>;
    try {
      work = Promise.resolve(onQuit()).catch(() => undefined);
    } catch {
      work = Promise.resolve();
    }
    const timeout = new Promise((r) => setTimeout(r, waitMs).unref?.());
    void Promise.race([work, timeout]).then(() => {
      phase = 'done';
      app.quit();
    });
  });
}
