/**
 * The Electron IPC contract between the preload and the main process. Only two channels exist:
 * one request channel (every API call, validated by main) and one event channel (batched events),
 * plus one main → renderer channel for "show this screen" (a notification or tray click).
 * The preload exposes exactly one object, `window.portcullis`, described by `PortcullisWindow`.
 */
import * as z from 'zod';
import type { PortcullisApi } from './api.ts';

export const IPC_CALL_CHANNEL = 'portcullis:call';
export const IPC_EVENTS_CHANNEL = 'portcullis:events';
export const IPC_NAVIGATE_CHANNEL = 'portcullis:navigate';

/** Where main asks the UI to go (notification click, tray "Recent bans" entry). */
export const NavigateTargetSchema = z.discriminatedUnion('screen', [
  z.object({ screen: z.literal('offender'), ip: z.string().max(64) }),
  z.object({ screen: z.enum(['dashboard', 'offenders', 'doctor', 'settings']) }),
]);
export type NavigateTarget = z.infer<typeof NavigateTargetSchema>;

/** What the desktop preload exposes: the common API plus the desktop-only navigation hook. */
export interface PortcullisDesktopApi extends PortcullisApi {
  /** Main asks the UI to show a screen; returns the unsubscribe function. */
  onNavigate(listener: (target: NavigateTarget) => void): () => void;
}

/** `window` as the renderer sees it under Electron (absent in the browser/headless UI). */
export type PortcullisWindow = { portcullis?: PortcullisDesktopApi };
