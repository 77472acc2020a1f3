import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { claimSingleInstance, DeferredShow, keepRunningInTray, MainWindow, secureWebPreferences } from '../../electron/main/window.ts';
import { IPC_NAVIGATE_CHANNEL } from '../../electron/shared/ipc.ts';

// electron is mocked: the real module would try to download and run the Electron binary.
vi.mock('electron', async () => {
  const { EventEmitter } = await import('node:events');
  class FakeWebContents extends EventEmitter {
    id = 11;
    mainFrame = { url: '', processId: 1, routingId: 1, parent: null };
    loading = true;
    sent: [string, unknown][] = [];
    openHandler: ((d: { url: string }) => { action: string }) | null = null;
    isLoading() {
      return this.loading;
    }
    send(channel: string, payload: unknown) {
      this.sent.push([channel, payload]);
    }
    setWindowOpenHandler(h: (d: { url: string }) => { action: string }) {
      this.openHandler = h;
    }
    finishLoad() {
      this.loading = false;
      this.emit('did-finish-load');
    }
  }
  class FakeBrowserWindow extends EventEmitter {
    static instances: FakeBrowserWindow[] = [];
    options: unknown;
    webContents = new FakeWebContents();
    visible = false;
    minimized = false;
    destroyed = false;
    focused = 0;
    loaded: string | null = null;
    constructor(options: unknown) {
      super();
      this.options = options;
      FakeBrowserWindow.instances.push(this);
    }
    isMinimized() {
      return this.minimized;
    }
    restore() {
      this.minimized = false;
    }
    show() {
      this.visible = true;
    }
    hide() {
      this.visible = false;
    }
    focus() {
      this.focused++;
    }
    isDestroyed() {
      return this.destroyed;
    }
    async loadURL(url: string) {
      this.loaded = url;
    }
    close() {
      let prevented = false;
      this.emit('close', { preventDefault: () => (prevented = true) });
      if (!prevented) {
        this.destroyed = true;
        this.emit('closed');
      }
    }
  }
  const app = Object.assign(new EventEmitter(), { requestSingleInstanceLock: vi.fn(() => true), quit: vi.fn() });
  return { app, BrowserWindow: FakeBrowserWindow };
});

const electron = await import('electron');
type FakeWin = InstanceType<typeof electron.BrowserWindow> & {
  options: { webPreferences: Record<string, unknown> };
  visible: boolean;
  minimized: boolean;
  focused: number;
  loaded: string | null;
  destroyed: boolean;
  webContents: EventEmitter & { sent: [string, unknown][]; finishLoad(): void; openHandler: (d: { url: string }) => { action: string } };
  close(): void;
};
const Fake = electron.BrowserWindow as unknown as { instances: FakeWin[] } & typeof electron.BrowserWindow;
const app = electron.app as unknown as EventEmitter & { requestSingleInstanceLock: ReturnType<typeof vi.fn>; quit: ReturnType<typeof vi.fn> };

function newWindow(openExternal = vi.fn()) {
  Fake.instances.length = 0;
  const mw = new MainWindow(electron.BrowserWindow, { pageFile: '/opt/Portcullis/resources/app/renderer/dist/index.html', preloadPath: '/opt/p/preload.cjs', openExternal });
  return { mw, openExternal };
}

describe('single instance', () => {
  it('lock not obtained: quits at once and registers nothing', () => {
    app.removeAllListeners();
    app.requestSingleInstanceLock.mockReturnValueOnce(false);
    app.quit.mockClear();
    const onSecond = vi.fn();
    expect(claimSingleInstance(app as never, onSecond)).toBe(false);
    expect(app.quit).toHaveBeenCalledTimes(1);
    expect(app.listenerCount('second-instance')).toBe(0);
  });

  it('a second launch shows, restores and focuses the existing window', () => {
    app.removeAllListeners();
    app.quit.mockClear();
    const { mw } = newWindow();
    expect(claimSingleInstance(app as never, () => mw.show())).toBe(true);
    expect(app.quit).not.toHaveBeenCalled();
    mw.show();
    const win = Fake.instances[0]!;
    win.hide();
    win.minimized = true;
    app.emit('second-instance', {}, ['portcullis'], '/');
    expect(Fake.instances).toHaveLength(1); // the same window, not a new one
    expect(win.visible).toBe(true);
    expect(win.minimized).toBe(false);
    expect(win.focused).toBe(2);
  });
});

describe('second launches during start-up', () => {
  it('are held until start-up is done, then show the window once; later ones show it at once', () => {
    const show = vi.fn();
    const d = new DeferredShow(show);
    d.request();
    d.request();
    expect(show).not.toHaveBeenCalled();
    d.ready();
    expect(show).toHaveBeenCalledTimes(1);
    d.request();
    expect(show).toHaveBeenCalledTimes(2);
  });
  it('without any, ready() shows nothing', () => {
    const show = vi.fn();
    new DeferredShow(show).ready();
    expect(show).not.toHaveBeenCalled();
  });
});

describe('main window', () => {
  it('is created sandboxed, isolated, without Node, loading our file:// page', () => {
    const { mw } = newWindow();
    mw.show();
    const win = Fake.instances[0]!;
    expect(win.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webviewTag: false, preload: '/opt/p/preload.cjs' });
    expect(win.loaded).toBe('file:///opt/Portcullis/resources/app/renderer/dist/index.html');
    expect(mw.trusted()).toMatchObject({ webContentsId: 11 });
    expect(secureWebPreferences('x').nodeIntegration).toBe(false);
  });

  it('closing hides it (the app stays in the tray); after before-quit it really closes', () => {
    app.removeAllListeners();
    const { mw } = newWindow();
    const onQuit = vi.fn();
    keepRunningInTray(app as never, mw, onQuit);
    mw.show();
    const win = Fake.instances[0]!;
    win.close();
    expect(win.destroyed).toBe(false);
    expect(win.visible).toBe(false);
    app.emit('window-all-closed');
    expect(app.quit).not.toHaveBeenCalled();
    app.emit('before-quit', { preventDefault: vi.fn() });
    expect(onQuit).toHaveBeenCalled();
    win.close();
    expect(win.destroyed).toBe(true);
    expect(mw.trusted()).toBeNull();
    mw.show(); // reopening after a real close makes a new window
    expect(Fake.instances).toHaveLength(2);
  });

  it('quitting waits for the shutdown work (the root helper stopped) before it really quits, or for at most the wait', async () => {
    app.removeAllListeners();
    app.quit.mockClear();
    const { mw } = newWindow();
    let finish!: () => void;
    const onQuit = vi.fn(() => new Promise<void>((r) => (finish = r)));
    keepRunningInTray(app as never, mw, onQuit, 200);
    const first = { preventDefault: vi.fn() };
    app.emit('before-quit', first);
    expect(first.preventDefault).toHaveBeenCalled(); // held back while the helper stops
    app.emit('before-quit', { preventDefault: vi.fn() }); // a second Quit meanwhile starts nothing new
    expect(onQuit).toHaveBeenCalledTimes(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(app.quit).not.toHaveBeenCalled();
    finish();
    await vi.waitFor(() => expect(app.quit).toHaveBeenCalledTimes(1));
    const last = { preventDefault: vi.fn() };
    app.emit('before-quit', last); // the quit it asked for goes through
    expect(last.preventDefault).not.toHaveBeenCalled();

    // Work that never ends does not keep the app from quitting.
    app.removeAllListeners();
    app.quit.mockClear();
    keepRunningInTray(app as never, newWindow().mw, () => new Promise(() => undefined), 100);
    app.emit('before-quit', { preventDefault: vi.fn() });
    await vi.waitFor(() => expect(app.quit).toHaveBeenCalledTimes(1), { timeout: 2000 });
  });

  it('never navigates away from our page and opens links in the browser', () => {
    const { mw, openExternal } = newWindow();
    mw.show();
    const wc = Fake.instances[0]!.webContents;
    const nav = (url: string) => {
      let prevented = false;
      wc.emit('will-navigate', { preventDefault: () => (prevented = true) }, url);
      return prevented;
    };
    expect(nav('https://evil.example/')).toBe(true);
    expect(nav('file:///etc/passwd')).toBe(true);
    expect(nav('file:///opt/Portcullis/resources/app/renderer/dist/index.html#/rules')).toBe(false);
    expect(wc.openHandler({ url: 'https://github.com/x' })).toEqual({ action: 'deny' });
    expect(wc.openHandler({ url: 'file:///etc/shadow' })).toEqual({ action: 'deny' });
    expect(openExternal.mock.calls).toEqual([['https://github.com/x']]);
  });

  it('show(target) tells the page which screen to open, after it has loaded', () => {
    const { mw } = newWindow();
    mw.show({ screen: 'offender', ip: '192.0.2.4' });
    const wc = Fake.instances[0]!.webContents;
    expect(wc.sent).toEqual([]);
    wc.finishLoad();
    expect(wc.sent).toEqual([[IPC_NAVIGATE_CHANNEL, { screen: 'offender', ip: '192.0.2.4' }]]);
    mw.show({ screen: 'doctor' });
    expect(wc.sent.at(-1)).toEqual([IPC_NAVIGATE_CHANNEL, { screen: 'doctor' }]);
  });
});
