/**
 * Preload of the main window (runs sandboxed, bundled to CommonJS by scripts/build.ts because a
 * sandboxed preload cannot be an ES module). Exposes exactly one object: `window.portcullis`.
 */
import './zod-config.ts';
import { contextBridge, ipcRenderer } from 'electron';
import { createPreloadApi } from './api.ts';

contextBridge.exposeInMainWorld('portcullis', createPreloadApi(ipcRenderer));
