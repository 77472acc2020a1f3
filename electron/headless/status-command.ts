/**
 * `portcullis status`: the running instance's state, over its control socket. A module of its own
 * that loads only the control client and the small state schema (zod/mini): the command answers
 * about as fast as `fail2ban-client` (issue 11.3; `npm run bench -- startup`), where loading the
 * whole API (zod classic, the settings and rule schemas) was half of its start-up.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { StateSchema, type State } from '../shared/api-state.ts';
import { errorText } from '../shared/errors.ts';
import { storeAdvice } from '../shared/store-health.ts';
import type { CliCommand } from './cli-command.ts';
import { ControlClient, controlSocketPath, DEFAULT_STATE_DIR } from './control-client.ts';

const print = (line: string): void => void process.stdout.write(line + '\n');
const iso = (t: number | null): string => (t === null ? 'never' : new Date(t).toISOString().replace('.000Z', 'Z'));

/**
 * Whether the history is being saved; null from an older service that does not say. Protection does
 * not depend on it, and the line says so: a full disk must not read as "not protected".
 */
function storeLine(store: State['store']): string | null {
  if (store === undefined) return null;
  if (store.ok) return 'written';
  const waiting = store.pendingPackets ? `, ${store.pendingPackets} blocked packets wait in memory` : '';
  return `CANNOT BE WRITTEN since ${iso(store.since)}: ${store.error} — scanners are still banned, but the history is not saved${waiting}. ${storeAdvice(store.error, store.path)}`;
}

export const statusCommand: CliCommand = {
  summary: 'State of the running instance',
  async run(argv) {
    let values: { 'state-dir'?: string; json?: boolean; help?: boolean };
    try {
      values = parseArgs({
        args: argv,
        options: { 'state-dir': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
        allowPositionals: true,
        strict: true,
      }).values;
    } catch (e) {
      process.stderr.write(`portcullis status: ${errorText(e)}\nRun \`portcullis status --help\`.\n`);
      return 2;
    }
    if (values.help) return print('Usage: portcullis status [--state-dir DIR] [--json]'), 0;
    const client = new ControlClient(controlSocketPath(path.resolve(values['state-dir'] ?? DEFAULT_STATE_DIR)));
    try {
      const s = await client.call('getState', {}, StateSchema);
      if (values.json) print(JSON.stringify(s));
      else {
        print(`protection   ${s.protection}${s.pausedUntil ? ` until ${iso(s.pausedUntil)}` : ''}`);
        print(`firewall     ufw ${s.firewall.enabled ? 'enabled' : 'DISABLED'}, logging ${s.firewall.loggingLevel ?? '?'}, per-source logging ${s.firewall.perSourceLogging ? 'yes' : 'no'}`);
        // The backend in use; a switch in the settings only takes over at the next start.
        const after = s.backendAfterRestart ? ` (${s.backendAfterRestart} after the next start: ban.backend was changed)` : '';
        print(`backend      ${s.backend}${after}${s.helper.connected ? '' : ` (read-only: ${s.helper.readOnlyReason ?? ''})`}`);
        print(`source       ${s.source ? `${s.source.description}${s.source.kernelTrusted ? '' : ' (SPOOFABLE)'}, last record ${iso(s.source.lastRecordAt)}${s.source.recordsLost ? `, ${s.source.recordsLost} records lost` : ''}` : 'none'}`);
        const notStored = s.counts.packetsNotStored ? ` (and ${s.counts.packetsNotStored} not stored during a flood: over logs.maxStoredPacketsPerSecond, counted)` : '';
        print(`counts       ${s.counts.blockedPackets} blocked packets stored${notStored}, ${s.counts.scanners} sources watched, ${s.counts.activeBans} active bans, ${s.counts.deferredBans} deferred`);
        print(`last ban     ${iso(s.lastBanAt)}`);
        const store = storeLine(s.store);
        if (store !== null) print(`database     ${store}`);
      }
      return 0;
    } catch (e) {
      process.stderr.write(`portcullis status: ${errorText(e)}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
