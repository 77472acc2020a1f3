/**
 * `portcullis fleet status`: the running instance's link to the CrowdSec LAPI — reachable, the
 * machine login and the bouncer key valid, last successful pull, push queue length, fleet bans and
 * what was refused. Never prints a secret (the state carries none).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { FleetHealth } from '../shared/fleet.ts';
import type { CliCommand } from './cli-command.ts';
import { ControlClient, controlSocketPath, DEFAULT_STATE_DIR } from './control-client.ts';

const print = (line: string): void => void process.stdout.write(line + '\n');
const iso = (t: number | null): string => (t === null ? 'never' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z'));
const yesNo = (ok: boolean | null, err: string | null): string => (ok === null ? 'not tried yet' : ok ? 'ok' : `FAILED: ${err ?? 'unknown error'}`);

/** Text lines of `fleet status` (exported for tests). */
export function fleetStatusLines(h: FleetHealth | undefined): string[] {
  if (!h || h.status === 'off') return ['link         off (no fleet.crowdsec in the settings)'];
  return [
    `link         ${h.status}  ${h.url ?? ''}`,
    `machine      ${h.machineId ?? '(none)'}  share ${h.share ? 'on' : 'off'}, apply ${h.apply ? 'on' : 'off'}`,
    `login        ${yesNo(h.login.ok, h.login.error)}`,
    `pull         ${yesNo(h.pull.ok, h.pull.error)}; last ${iso(h.pull.lastAt)}, last full resync ${iso(h.pull.lastFullAt)}`,
    `push         ${yesNo(h.push.ok, h.push.error)}; ${h.push.queued} queued, last ${iso(h.push.lastAt)}`,
    `fleet bans   ${h.fleetBans} applied; refused: ${h.refused.whitelisted} whitelisted, ${h.refused.overLimit} over fleet.maxBans, ${h.refused.unsupported} unsupported`,
    ...h.lastRefusals.slice(0, 5).map((r) => `  refused    ${r}`),
  ];
}

export const fleetCommand: CliCommand = {
  summary: 'Fleet (CrowdSec LAPI) link of the running instance: fleet status',
  async run(argv) {
    let values: Record<string, string | boolean | undefined>;
    let positionals: string[];
    try {
      const r = parseArgs({ args: argv, options: { 'state-dir': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true, strict: true });
      values = r.values;
      positionals = r.positionals;
    } catch (e) {
      process.stderr.write(`portcullis fleet: ${(e as Error).message}\n`);
      return 2;
    }
    if (values.help || positionals[0] !== 'status' || positionals.length !== 1) {
      print('Usage: portcullis fleet status [--state-dir DIR] [--json]');
      return values.help ? 0 : 2;
    }
    const dir = path.resolve(typeof values['state-dir'] === 'string' ? values['state-dir'] : DEFAULT_STATE_DIR);
    const client = new ControlClient(controlSocketPath(dir));
    try {
      const s = await client.call('getState', {});
      if (values.json) print(JSON.stringify(s.fleet ?? { status: 'off' }));
      else for (const l of fleetStatusLines(s.fleet)) print(l);
      return s.fleet && s.fleet.status === 'error' ? 1 : 0;
    } catch (e) {
      process.stderr.write(`portcullis fleet: ${(e as Error).message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
