/** Issue 9 item 7: doctor warns when other namespaces' LOG records reach our log while any user can make a namespace. */
import { describe, expect, it } from 'vitest';
import { forgedRecordsCheck } from '../../electron/app/userns-check.ts';

const sysctls = (v: Record<string, string>) => (name: string) => v[name] ?? null;

describe('doctor: forged kernel records (nf_log_all_netns + unprivileged user namespaces)', () => {
  it('warns, explaining the risk and the fix, when both are on', () => {
    const c = forgedRecordsCheck(sysctls({ 'net.netfilter.nf_log_all_netns': '1', 'user.max_user_namespaces': '96367', 'kernel.unprivileged_userns_clone': '1' }));
    expect(c).toMatchObject({ id: 'nf-log-all-netns', level: 'warn' });
    expect(c.detail).toContain('any local user can create a network namespace');
    expect(c.detail).toContain('get any address banned');
    expect(c.detail).toContain('sysctl -w net.netfilter.nf_log_all_netns=0');
    expect(c.detail).toContain('kernel.unprivileged_userns_clone=0');
    // No Debian switch (e.g. Fedora): max_user_namespaces alone decides.
    expect(forgedRecordsCheck(sysctls({ 'net.netfilter.nf_log_all_netns': '1', 'user.max_user_namespaces': '1000' })).level).toBe('warn');
  });

  it('is ok when either is off', () => {
    expect(forgedRecordsCheck(sysctls({ 'net.netfilter.nf_log_all_netns': '0', 'user.max_user_namespaces': '96367' })).level).toBe('ok');
    expect(forgedRecordsCheck(sysctls({ 'net.netfilter.nf_log_all_netns': '1', 'user.max_user_namespaces': '0' })).level).toBe('ok');
    expect(forgedRecordsCheck(sysctls({ 'net.netfilter.nf_log_all_netns': '1', 'user.max_user_namespaces': '96367', 'kernel.unprivileged_userns_clone': '0' })).level).toBe('ok');
    expect(forgedRecordsCheck(sysctls({ 'net.netfilter.nf_log_all_netns': '1', 'kernel.apparmor_restrict_unprivileged_userns': '1' })).level).toBe('ok');
    expect(forgedRecordsCheck(sysctls({})).level).toBe('ok');
  });
});
