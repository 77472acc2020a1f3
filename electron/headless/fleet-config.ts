/**
 * The settings file holds the fleet's secrets (LAPI password, bouncer key): like ssh with a private
 * key, refuse to start when other users can read it.
 */
import { statSync } from 'node:fs';
import type { Settings } from '../shared/settings.ts';

/** Why a settings file with fleet secrets is refused (readable by group or others), or null. */
export function secretsFileRefusal(file: string, settings: Settings, stat: (p: string) => { mode: number } = statSync): string | null {
  const cs = settings.fleet.crowdsec;
  if (!cs || (cs.password === undefined && cs.bouncerKey === undefined)) return null;
  let mode: number;
  try {
    mode = stat(file).mode;
  } catch {
    return null;
  }
  if ((mode & 0o077) === 0) return null;
  return `${file} holds the fleet's secrets (fleet.crowdsec password / bouncerKey) but other users can read it (mode ${(mode & 0o777).toString(8)}): chmod 600 ${file}`;
}
