/**
 * The whole window on the fake service, as the renderer tests draw it. Importing this module also
 * registers, for the importing test file, the jsdom shims and the unmount after every test — one
 * place, so every screen test starts from the same setup.
 */
import { act, cleanup, render, screen, within } from '@testing-library/react';
import { afterEach, beforeAll } from 'vitest';
import { createAppStore, type StoreDeps } from '../../renderer/store/store.ts';
import { App } from '../../renderer/ui/App.tsx';
import { StoreContext } from '../../renderer/ui/context.ts';
import { createFakeApi } from './fakeApi.ts';

export type FakeApi = ReturnType<typeof createFakeApi>;
type Tweak = (api: FakeApi) => void;

beforeAll(() => {
  // jsdom lacks these; recharts and the virtualiser only need them to exist.
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
});

afterEach(cleanup);

export interface RenderAppOptions {
  /** Changes the fake service's data or calls before the store first asks it anything. */
  tweak?: Tweak;
  /** Options of the fake service itself (its clock, its packet count). */
  fakeApi?: Parameters<typeof createFakeApi>[0];
  /** Store dependencies beyond the defaults (timers that never fire). */
  store?: Omit<StoreDeps, 'api'>;
}

/** Renders <App/> on a fresh fake service and lets the first loads settle. A function is taken as `tweak`. */
export async function renderApp(options: RenderAppOptions | Tweak = {}) {
  const { tweak, fakeApi, store: storeDeps } = typeof options === 'function' ? { tweak: options } as RenderAppOptions : options;
  const api = createFakeApi(fakeApi);
  tweak?.(api);
  const store = createAppStore({ api, setInterval: () => 0, clearInterval: () => undefined, ...storeDeps });
  render(
    <StoreContext.Provider value={store}>
      <App />
    </StoreContext.Provider>,
  );
  await act(async () => {
    await new Promise((r) => setTimeout(r, 10));
  });
  return { api, store };
}

/** The sidebar button of a screen. */
export const nav = (name: string) => within(screen.getByRole('navigation', { name: 'Main' })).getByRole('button', { name });
