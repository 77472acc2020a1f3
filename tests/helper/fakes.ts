import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec, ExecResult } from '../../electron/helper/exec.ts';
import { memoryAuditLog } from '../../electron/helper/audit.ts';
import type { FirewallModule, HelperDeps } from '../../electron/helper/ops.ts';

export const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

/** Records every program run; answers ufw status/app list from fixtures, everything else with success. */
export function recordingExec(overrides: (bin: string, args: readonly string[]) => ExecResult | undefined = () => undefined) {
  const calls: { bin: string; args: string[] }[] = [];
  const exec: Exec = async (bin, args) => {
    calls.push({ bin, args: [...args] });
    const o = overrides(bin, args);
    if (o) return o;
    if (bin === 'ufw' && args[0] === 'status') return { code: 0, stdout: fixture('ufw-status-numbered.txt'), stderr: '' };
    if (bin === 'ufw' && args[0] === 'app') return { code: 0, stdout: fixture('ufw-app-list.txt'), stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  };
  return { exec, calls };
}

export function fakeFirewall() {
  const calls: string[] = [];
  const firewall: FirewallModule = {
    createBanBackend: (kind, exec) => ({
      kind,
      ban: async (ip, t, c) => {
        calls.push(`${kind}.ban ${ip} ${t} ${c}`);
        await exec('ipset', ['add', 'x', ip]);
        return null;
      },
      unban: async (ip) => void calls.push(`${kind}.unban ${ip}`),
      list: async () => [{ ip: '203.0.113.7' as never, expiresInSec: 60 }],
      banMany: async (bans) => {
        calls.push(`${kind}.banMany ${bans.map((b) => `${b.ip} ${b.timeoutSec} ${b.comment}`).join(', ')}`);
        await exec('ipset', ['restore', '-exist']);
        return [];
      },
      unbanMany: async (ips) => {
        calls.push(`${kind}.unbanMany ${ips.join(', ')}`);
        return [];
      },
    }),
    cutConnections: async (ip) => void calls.push(`cut ${ip}`),
    installSetBlock: async () => void calls.push('installSetBlock'),
    removeSetBlock: async () => void calls.push('removeSetBlock'),
    installPerSourceLogging: async (_exec: unknown, opts?: { via?: 'log' | 'nflog' }) => void calls.push(opts?.via ? `installPerSourceLogging:${opts.via}` : 'installPerSourceLogging'),
    removePerSourceLogging: async () => void calls.push('removePerSourceLogging'),
    installForwardBlock: async (_exec: unknown, opts?: { via?: 'log' | 'nflog' }) => void calls.push(opts?.via ? `installForwardBlock:${opts.via}` : 'installForwardBlock'),
    removeForwardBlock: async () => void calls.push('removeForwardBlock'),
    enableUfwIpv6: async () => {
      calls.push('enableUfwIpv6');
      return { changed: true, reloaded: true };
    },
    repairForwardJumps: async () => {
      calls.push('repairForwardJumps');
      return { repaired: [] };
    },
    forwardBlockStatus: async () => ({ installed: calls.some((c) => c.startsWith('installForwardBlock')), logsRouted: true, loaded: { v4: true, v6: true }, dockerUser: { v4: 'absent', v6: 'absent' } }),
    managedBlocksStatus: async () => ({ setBlock: calls.includes('installSetBlock'), perSourceLogging: false, perSourceLoggingVia: null, forward: calls.some((c) => c.startsWith('installForwardBlock')) }),
  };
  return { firewall, calls };
}

export function fakeDeps(execOverrides?: Parameters<typeof recordingExec>[0]) {
  const rec = recordingExec(execOverrides);
  const fw = fakeFirewall();
  const audit = memoryAuditLog();
  const deps: HelperDeps = {
    exec: rec.exec,
    firewall: fw.firewall,
    audit,
    readConfig: async (p) => (p.endsWith('ufw.conf') ? 'ENABLED=yes\nLOGLEVEL=medium\n' : 'IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\nDEFAULT_FORWARD_POLICY="REJECT"\n'),
    exists: async () => true,
    who: 'test',
    // Fixed, not this machine's: the ban guard refuses the host's own addresses, and tests ban
    // documentation addresses (192.0.2.x) that a test machine may well have on its own interface.
    ownAddresses: () => ['10.255.255.254'],
  };
  return { deps, calls: rec.calls, fwCalls: fw.calls, audit };
}
