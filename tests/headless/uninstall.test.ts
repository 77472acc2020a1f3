/**
 * `portcullis uninstall` (the server package's prerm on remove): removes Portcullis's traces from a
 * namespace's ufw files, and where there are none it runs no command at all — which is what keeps a
 * package removal on a host that never ran Portcullis (or the package's system test) from touching
 * its firewall.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Exec } from '../../electron/helper/exec.ts';
import type { BanTarget } from '../../electron/shared/domain.ts';
import { traces, uninstallFirewall } from '../../electron/headless/uninstall.ts';
import { cliAuditPath } from '../../electron/headless/cli-audit.ts';
import { DEFAULT_AUDIT_PATH, memoryAuditLog } from '../../electron/helper/audit.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';

const ufwTemp = tempDirsPerTest('pc-uninstall-');
const auditTemp = tempDirsPerTest('pc-cliaudit-');

function ufwDir(): { etcDir: string; lockDir: string } {
  const d = ufwTemp();
  const etcDir = path.join(d, 'ufw');
  cpSync(path.join(import.meta.dirname, '../helper-firewall/fixtures'), etcDir, { recursive: true });
  return { etcDir, lockDir: path.join(d, 'locks') };
}

function recordingExec(): { exec: Exec; calls: string[] } {
  const calls: string[] = [];
  const exec: Exec = async (bin, args) => {
    calls.push([bin, ...args].join(' '));
    if (bin === 'ufw' && args[0] === 'status') return { code: 0, stdout: 'Status: inactive\n', stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  };
  return { exec, calls };
}

describe('portcullis uninstall', () => {
  it('is audited: one entry with every command it ran; nothing when there was nothing to remove (audit F10b)', async () => {
    const { etcDir, lockDir } = ufwDir();
    const { exec } = recordingExec();
    const audit = memoryAuditLog();
    await uninstallFirewall({ exec, etcDir, lockDir, out: () => undefined, audit });
    expect(audit.entries).toEqual([]);
    const { installSetBlock } = await import('../../electron/helper/firewall/managed.ts');
    await installSetBlock(exec, { etcDir });
    await uninstallFirewall({ exec, etcDir, lockDir, out: () => undefined, audit });
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({ who: 'portcullis uninstall', op: 'uninstall', result: 'ok' });
    expect(audit.entries[0]!.argv).toEqual(expect.arrayContaining([['ipset', 'destroy', 'portcullis-ban4']]));
  });

  it('one-shot commands audit to the state directory when it exists, else to the helper default log (audit F10b)', () => {
    const d = auditTemp();
    expect(cliAuditPath(d)).toBe(path.join(d, 'audit.log'));
    expect(cliAuditPath(path.join(d, 'missing'))).toBe(DEFAULT_AUDIT_PATH);
  });

  it('removes the forward block (issue 12.2) before the set block, each file back byte for byte', async () => {
    const { etcDir, lockDir } = ufwDir();
    const { exec, calls } = recordingExec();
    const { installSetBlock } = await import('../../electron/helper/firewall/managed.ts');
    const { installForwardBlock } = await import('../../electron/helper/firewall/forward.ts');
    await installForwardBlock(exec, { etcDir });
    expect(traces(etcDir)).toMatchObject({ setBlock: false, logging: false, forward: true });
    await installSetBlock(exec, { etcDir });
    expect(traces(etcDir)).toMatchObject({ setBlock: true, forward: true });
    calls.length = 0;
    const lines: string[] = [];
    await uninstallFirewall({ exec, etcDir, lockDir, out: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/forward block/);
    expect(traces(etcDir)).toEqual({ setBlock: false, logging: false, forward: false, taggedRules: false, leftovers: [] });
    for (const f of ['before.rules', 'before6.rules', 'after.rules', 'after6.rules', 'before.init']) {
      expect(readFileSync(path.join(etcDir, f), 'utf8'), f).toBe(readFileSync(path.join(import.meta.dirname, '../helper-firewall/fixtures', f), 'utf8'));
    }
    expect(calls.filter((c) => c.startsWith('ipset destroy'))).toEqual(['ipset destroy portcullis-ban4', 'ipset destroy portcullis-ban6', 'ipset destroy portcullis-net4', 'ipset destroy portcullis-net6']);
  });

  it('finds nothing in a firewall Portcullis never touched, and runs no command', async () => {
    const { etcDir, lockDir } = ufwDir();
    const { exec, calls } = recordingExec();
    const lines: string[] = [];
    expect(await uninstallFirewall({ exec, etcDir, lockDir, out: (l) => lines.push(l) })).toBe(0);
    expect(calls).toEqual([]);
    expect(lines.join('\n')).toMatch(/nothing to remove/);
    expect(existsSync(lockDir)).toBe(false);
  });

  it('removes the set block and its hook, destroys the sets, and deletes the edits\' leftover copies', async () => {
    const { etcDir, lockDir } = ufwDir();
    const { exec, calls } = recordingExec();
    const { installSetBlock } = await import('../../electron/helper/firewall/managed.ts');
    await installSetBlock(exec, { etcDir });
    expect(traces(etcDir).setBlock).toBe(true);
    expect(traces(etcDir).leftovers.length).toBeGreaterThan(0);
    calls.length = 0;
    await uninstallFirewall({ exec, etcDir, lockDir, out: () => undefined });
    expect(traces(etcDir)).toEqual({ setBlock: false, logging: false, forward: false, taggedRules: false, leftovers: [] });
    expect(calls).toEqual(expect.arrayContaining(['ipset destroy portcullis-ban4', 'ipset destroy portcullis-ban6']));
    for (const f of ['before.rules', 'before6.rules', 'before.init']) expect(readFileSync(path.join(etcDir, f), 'utf8')).not.toContain('PORTCULLIS');
  });

  it("deletes the ufw backend's tagged rules (ufw keeps comments hex-encoded in user.rules), and only those", async () => {
    const { etcDir, lockDir } = ufwDir();
    const hex = Buffer.from('portcullis-ban exp:1900000000').toString('hex');
    writeFileSync(path.join(etcDir, 'user.rules'), `### tuple ### deny any any 0.0.0.0/0 any 203.0.113.7 in comment=${hex}\n`);
    expect(traces(etcDir).taggedRules).toBe(true);
    const calls: string[] = [];
    const exec: Exec = async (bin, args) => {
      calls.push([bin, ...args].join(' '));
      if (bin === 'ufw' && args[0] === 'show') {
        return { code: 0, stdout: "Added user rules (see 'ufw status' for running firewall):\nufw allow 22/tcp\nufw deny from 203.0.113.7 comment 'portcullis-ban exp:1900000000'\n", stderr: '' };
      }
      return { code: 0, stdout: '', stderr: '' };
    };
    await uninstallFirewall({ exec, etcDir, lockDir, out: () => undefined });
    expect(calls.filter((c) => c.startsWith('ufw delete'))).toEqual(['ufw delete deny from 203.0.113.7']);
  });

  it("many tagged rules go with one edit of ufw's rules files and one load per family, not one `ufw delete` each (audit: hours for thousands)", async () => {
    const { etcDir, lockDir } = ufwDir();
    const fixture = (f: string) => readFileSync(path.join(etcDir, f), 'utf8');
    const user4 = fixture('user.rules');
    const user6 = fixture('user6.rules');
    const { ufwDenyEntry } = await import('../../electron/helper/firewall/ufw-batch.ts');
    const entry = (ip: string) => ufwDenyEntry({ ip: ip as BanTarget, tag: 'portcullis-ban exp:1900000000 scan' });
    const v4 = Array.from({ length: 300 }, (_, i) => `198.18.${i >> 7}.${(i & 127) + 1}`);
    const withBans = (text: string, ips: string[]) => text.replace('### RULES ###\n', `### RULES ###\n${ips.map(entry).join('')}`);
    writeFileSync(path.join(etcDir, 'user.rules'), withBans(user4, v4));
    writeFileSync(path.join(etcDir, 'user6.rules'), withBans(user6, ['2001:db8::7']));
    writeFileSync(path.join(etcDir, 'ufw.conf'), 'ENABLED=yes\n');
    writeFileSync(path.join(etcDir, 'default-ufw'), 'IPV6=yes\n');
    const calls: string[] = [];
    const exec: Exec = async (bin, args) => {
      calls.push([bin, ...args].join(' '));
      if (bin === 'ufw' && args[0] === 'show') {
        const listed = [fixture('user.rules'), fixture('user6.rules')].flatMap((t) => [...t.matchAll(/^### tuple ### deny any any \S+ any (\S+) in comment=([0-9a-f]+)$/gm)]);
        const lines = listed.map((m) => `ufw deny from ${m[1]} comment '${Buffer.from(m[2]!, 'hex').toString('utf8')}'`);
        return { code: 0, stdout: `Added user rules (see 'ufw status' for running firewall):\n${lines.join('\n')}\n`, stderr: '' };
      }
      return { code: 0, stdout: '', stderr: '' };
    };
    const lines: string[] = [];
    await uninstallFirewall({ exec, etcDir, lockDir, out: (l) => lines.push(l), ufwFiles: { defaultsFile: path.join(etcDir, 'default-ufw'), lock: async () => async () => undefined } });
    expect(calls.filter((c) => c.startsWith('ufw delete'))).toEqual([]);
    expect(calls.filter((c) => / -n$/.test(c))).toEqual(['iptablesRestore -n', 'ip6tablesRestore -n']);
    expect([fixture('user.rules'), fixture('user6.rules')]).toEqual([user4, user6]); // the user's deny of 198.51.100.5 stays
    expect(lines).toContain('removed 301 tagged ufw ban rule(s)');
    expect(traces(etcDir)).toMatchObject({ taggedRules: false, leftovers: [] });
  });

  it("a batch whose put-back was skipped (the user's `ufw allow` meanwhile) is said in a warning line; the bans still go", async () => {
    const { etcDir, lockDir } = ufwDir();
    const file = path.join(etcDir, 'user.rules');
    const { ufwDenyEntry } = await import('../../electron/helper/firewall/ufw-batch.ts');
    const ips = ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4'];
    writeFileSync(file, readFileSync(file, 'utf8').replace('### RULES ###\n', `### RULES ###\n${ips.map((ip) => ufwDenyEntry({ ip: ip as BanTarget, tag: 'portcullis-ban' })).join('')}`));
    writeFileSync(path.join(etcDir, 'ufw.conf'), 'ENABLED=yes\n');
    writeFileSync(path.join(etcDir, 'default-ufw'), 'IPV6=yes\n');
    let shown = 0;
    const exec: Exec = async (bin, args) => {
      if (bin === 'ufw' && args[0] === 'show') {
        shown++;
        // The check after the load: `ufw allow 80/tcp` was typed meanwhile, and ufw still lists one ban.
        if (shown === 3) writeFileSync(file, readFileSync(file, 'utf8').replace('\n### END RULES ###', '\n### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 80 -j ACCEPT\n\n### END RULES ###'));
        const inFile = [...readFileSync(file, 'utf8').matchAll(/^### tuple ### deny any any \S+ any (\S+) in comment=([0-9a-f]+)$/gm)].map((m) => [m[1]!, Buffer.from(m[2]!, 'hex').toString('utf8')]);
        const listed = shown === 3 ? [['198.18.0.1', 'portcullis-ban']] : inFile;
        return { code: 0, stdout: listed.map(([ip, comment]) => `ufw deny from ${ip} comment '${comment}'\n`).join(''), stderr: '' };
      }
      return { code: 0, stdout: '', stderr: '' };
    };
    const lines: string[] = [];
    await uninstallFirewall({ exec, etcDir, lockDir, out: (l) => lines.push(l), ufwFiles: { defaultsFile: path.join(etcDir, 'default-ufw'), lock: async () => async () => undefined } });
    expect(lines.filter((l) => l.startsWith('warning: '))).toEqual([expect.stringMatching(/^warning: ufw still lists 1 of the 4 bans .*user\.rules changed since Portcullis wrote it.*not put back; check ufw show added/)]);
    expect(lines).toContain('removed 4 tagged ufw ban rule(s)');
    expect(readFileSync(file, 'utf8')).toContain('--dport 80 -j ACCEPT'); // the user's edit stays
  });

  it('refuses while another Portcullis manages this firewall (it would put its blocks back)', async () => {
    const { etcDir, lockDir } = ufwDir();
    const { exec } = recordingExec();
    const { installPerSourceLogging } = await import('../../electron/helper/firewall/managed.ts');
    await installPerSourceLogging(exec, { etcDir });
    const { acquireFirewallLock } = await import('../../electron/helper/instance-lock.ts');
    const held = acquireFirewallLock('portcullis run (test)', { dir: lockDir });
    try {
      await expect(uninstallFirewall({ exec, etcDir, lockDir, out: () => undefined })).rejects.toThrow(/already manages the firewall/);
      expect(traces(etcDir).logging).toBe(true);
    } finally {
      held.release();
    }
  });
});
