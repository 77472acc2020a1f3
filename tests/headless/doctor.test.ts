/**
 * `doctor` through the helper's real dispatcher (fake exec and firewall): every check the issue lists
 * is reported, each problem says how to fix it, and only real failures are errors — optional
 * improvements (per-source logging, the set backend's block and tools) are warnings, so a working
 * ufw-backend host passes.
 */
import { describe, expect, it } from 'vitest';
import { callViaDispatcher, helperOpsOf } from '../../electron/app/helper-adapter.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { fakeDeps } from '../helper/fakes.ts';

async function doctorWith(opts: { missing?: string[]; ufwStatusFails?: boolean; conf?: string } = {}) {
  const { deps } = fakeDeps((bin, args) =>
    opts.ufwStatusFails && bin === 'ufw' && args[0] === 'status' ? { code: 1, stdout: '', stderr: 'ERROR: problem running iptables: locked\n' } : undefined,
  );
  deps.exists = async (p) => !(opts.missing ?? []).includes(p);
  if (opts.conf !== undefined) {
    const conf = opts.conf;
    const inner = deps.readConfig;
    deps.readConfig = async (p) => (p.endsWith('ufw.conf') ? conf : inner(p));
  }
  const d = createHelperDispatcher(deps);
  try {
    return await helperOpsOf(callViaDispatcher((r) => d.handle(r))).doctor();
  } finally {
    d.close();
  }
}

describe('doctor (helper checks as the CLI and the UI see them)', () => {
  it('a working host with the ufw backend has no error: missing optional blocks are warnings, with their fix', async () => {
    // Enabled, logging medium (fixtures), no managed blocks installed (the fake firewall reports none).
    const checks = await doctorWith();
    expect(checks.filter((c) => c.level === 'error')).toEqual([]);
    expect(checks.find((c) => c.id === 'per-source-logging')).toMatchObject({ level: 'warn', fix: { id: 'install-per-source-logging' } });
    expect(checks.find((c) => c.id === 'set-block')).toMatchObject({ level: 'warn', fix: { id: 'install-set-block' } });
    expect(checks.find((c) => c.id === 'forward-block')).toMatchObject({ level: 'warn', fix: { id: 'install-forward-block' } });
    for (const id of ['ufw-installed', 'ufw-enabled', 'ufw-logging', 'kmsg']) expect(checks.find((c) => c.id === id)).toMatchObject({ level: 'ok' });
  });

  it('every failing check says how to fix it: a fix the service applies, or the command in its detail', async () => {
    const checks = await doctorWith({ missing: ['/dev/kmsg', '/usr/sbin/ipset', '/usr/sbin/conntrack'], conf: 'ENABLED=yes\nLOGLEVEL=off\n' });
    const failing = checks.filter((c) => c.level !== 'ok');
    // forward-block: the fake host's /proc/sys/net/ipv4/ip_forward does not read 0, so it forwards.
    expect(failing.map((c) => c.id).sort()).toEqual(['conntrack', 'forward-block', 'ipset', 'kmsg', 'per-source-logging', 'set-block', 'ufw-logging']);
    for (const c of failing) {
      const remedy = c.fix !== undefined || /\(.*(apt-get|ufw |--source|install).*\)/.test(c.detail);
      expect(remedy, `${c.id}: ${c.detail}`).toBe(true);
    }
    expect(checks.find((c) => c.id === 'ufw-logging')).toMatchObject({ level: 'error', fix: { id: 'logging-low' } });
    expect(checks.find((c) => c.id === 'kmsg')!.detail).toMatch(/--source journal/);
    expect(checks.find((c) => c.id === 'ipset')).toMatchObject({ level: 'warn' });
  });

  it('ufw installed but its status unreadable: says so with ufw’s message, not "ufw is not installed"', async () => {
    const checks = await doctorWith({ ufwStatusFails: true });
    expect(checks.find((c) => c.id === 'ufw-installed')).toMatchObject({ level: 'ok' });
    expect(checks.find((c) => c.id === 'ufw-status')).toMatchObject({ level: 'error' });
    expect(checks.find((c) => c.id === 'ufw-status')!.detail).toMatch(/problem running iptables: locked/);
  });
});
