/**
 * The helper's read-only reads of the firewall, apart from the dispatcher (ops.ts) that runs them
 * in its ufw queue: ufw's status (rules, defaults and logging from its files, the managed blocks)
 * and the helper's side of the Doctor table. They change nothing and run no argv of their own
 * beyond `ufw status numbered` / `ufw app list` (through the dispatcher's recorded `ufw`).
 */
import type { UfwRule } from '../shared/api.ts';
import type { HelperDoctorCheckId } from '../shared/doctor.ts';
import type { HelperResult, HelperStatus } from '../shared/helper-protocol.ts';
import { errorText } from '../shared/errors.ts';
import { BINARIES } from './exec.ts';
import { forwardBlockCheck } from './forward-check.ts';
import { parseAppList, parseUfwConf, parseUfwDefaults } from './ufw-status.ts';

const UFW_DEFAULTS = '/etc/default/ufw';
const UFW_CONF = '/etc/ufw/ufw.conf';
const IP_FORWARD_V4 = '/proc/sys/net/ipv4/ip_forward';
const IP_FORWARD_V6 = '/proc/sys/net/ipv6/conf/default/forwarding';

/** What the reads need of the dispatcher (its deps, its audited `ufw` runner). */
export interface ReadOpsDeps {
  readConfig(path: string): Promise<string | null>;
  exists(path: string): Promise<boolean>;
  managedBlocksStatus(): Promise<HelperStatus['blocks']>;
  forwardBlockStatus(): Promise<HelperResult<'forwardStatus'>>;
  /** `ufw ARGS`' stdout; throws a HelperError on failure. */
  ufw(args: string[]): Promise<string>;
  numberedRules(): Promise<{ active: boolean; rules: UfwRule[] }>;
}

export function createReadOps(d: ReadOpsDeps): { status(): Promise<HelperStatus>; doctor(): Promise<HelperResult<'doctor'>> } {
  /**
   * ufw reports the routed policy as "disabled" while the kernel forwards nothing (net.ipv4.ip_forward
   * and, with IPv6, net.ipv6.conf.default.forwarding both 0), whatever /etc/default/ufw says: say what
   * ufw says. Unreadable counts as on (never claim "disabled" without knowing).
   */
  async function forwardingOff(ipv6: boolean): Promise<boolean> {
    const off = async (path: string) => {
      const v = await d.readConfig(path);
      return v !== null && v.trim() === '0';
    };
    return (await off(IP_FORWARD_V4)) && (!ipv6 || (await off(IP_FORWARD_V6)));
  }

  async function status(): Promise<HelperStatus> {
    const blocks = await d.managedBlocksStatus().catch(() => ({ setBlock: false, perSourceLogging: false, perSourceLoggingVia: null, forward: false }));
    const installed = await d.exists(BINARIES.ufw);
    const empty = { rules: [], portcullisRules: [], all: [], appProfiles: [] };
    if (!installed)
      return { installed, enabled: false, defaults: { incoming: '', outgoing: '', routed: '' }, logging: '', ...empty, blocks };
    // Defaults and logging from the files: `ufw status verbose` prints neither while ufw is inactive.
    const defaults = parseUfwDefaults((await d.readConfig(UFW_DEFAULTS)) ?? '');
    const conf = parseUfwConf((await d.readConfig(UFW_CONF)) ?? '');
    const { active, rules } = await d.numberedRules();
    const routed = (await forwardingOff(defaults.ipv6)) ? 'disabled' : defaults.routed;
    const appProfiles = parseAppList(await d.ufw(['app', 'list']).catch(() => ''));
    return {
      installed,
      enabled: active,
      defaults: { incoming: defaults.incoming, outgoing: defaults.outgoing, routed },
      logging: conf.logging,
      rules: rules.filter((r) => !r.portcullis),
      portcullisRules: rules.filter((r) => r.portcullis),
      all: rules,
      appProfiles,
      blocks,
    };
  }

  /** The helper's side of the Doctor table (shared/doctor.ts): only ids the table declares as the helper's. */
  async function doctor(): Promise<HelperResult<'doctor'>> {
    const checks: { id: HelperDoctorCheckId; ok: boolean; detail: string }[] = [];
    let statusError: string | null = null;
    const s = await status().catch((e: unknown) => {
      statusError = errorText(e);
      return null;
    });
    const installed = s ? s.installed : await d.exists(BINARIES.ufw);
    checks.push({ id: 'ufw-installed', ok: installed, detail: installed ? 'ufw is installed' : 'ufw is not installed (apt-get install ufw)' });
    // Installed but unreadable: say why, instead of reporting every check below as simply off.
    if (statusError !== null) checks.push({ id: 'ufw-status', ok: false, detail: `ufw status failed: ${statusError} (run \`ufw status verbose\` as root to see why)` });
    checks.push({ id: 'ufw-enabled', ok: !!s?.enabled, detail: s?.enabled ? 'ufw is active' : 'ufw is inactive: nothing is blocked (allow your SSH port first: ufw allow 22/tcp, then ufw enable)' });
    checks.push({
      id: 'ufw-logging',
      ok: !!s && s.logging !== 'off' && s.logging !== '',
      detail: s && s.logging !== 'off' && s.logging !== '' ? `ufw logging is ${s.logging}` : 'ufw logging is off: blocked packets are not logged, scans are invisible (ufw logging low)',
    });
    const kmsgOk = await d.exists('/dev/kmsg');
    checks.push({
      id: 'kmsg',
      ok: kmsgOk,
      detail: kmsgOk
        ? '/dev/kmsg is readable'
        : '/dev/kmsg cannot be read (a container without it?): read the journal instead (--source journal), or a log file (--source file:/var/log/kern.log, spoofable)',
    });
    checks.push({ id: 'per-source-logging', ok: !!s?.blocks.perSourceLogging, detail: s?.blocks.perSourceLogging ? 'per-source logging block installed' : 'ufw logs through one shared budget: busy hosts miss scanners (install the per-source logging block)' });
    checks.push({ id: 'set-block', ok: !!s?.blocks.setBlock, detail: s?.blocks.setBlock ? 'set backend block installed' : 'set backend block not installed: needed only by the set backend (install it, or `portcullis run --backend set` does)' });
    checks.push(forwardBlockCheck(await d.forwardBlockStatus().catch(() => null), await forwardingOff(true).catch(() => false), s?.defaults.routed));
    for (const bin of ['ipset', 'conntrack'] as const) {
      const ok = await d.exists(BINARIES[bin]);
      checks.push({ id: bin, ok, detail: ok ? `${bin} is installed` : `${bin} is not installed (apt-get install ${bin})` });
    }
    return { checks };
  }

  return { status, doctor };
}
