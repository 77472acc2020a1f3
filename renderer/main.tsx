/** Renderer entry: one store over the API facade, the App inside its provider. */
import './zodConfig.ts';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { getApi } from './api/index.ts';
import { createAppStore } from './store/store.ts';
import { App } from './ui/App.tsx';
import { StoreContext } from './ui/context.ts';
import './styles.css';

const store = createAppStore({ api: getApi() });
// Tests in a real browser read the store through this handle; it exposes nothing the page cannot already do.
(window as unknown as { __portcullisStore?: typeof store }).__portcullisStore = store;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StoreContext.Provider value={store}>
      <App />
    </StoreContext.Provider>
  </StrictMode>,
);
