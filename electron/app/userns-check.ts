/**
 * Doctor: can a local user forge kernel firewall records? With `net.netfilter.nf_log_all_netns=1`
 * the LOG lines of EVERY network namespace reach the one kernel log Portcullis reads, and with
 * unprivileged user namespaces any local user can create a namespace of their own, add a LOG rule
 * and send packets there whose records say `SRC=<any address> DST=<this host>`: genuine kernel
 * records (facility 0, so "trusted"), addressed to us — enough to get any address banned, the
 * admin's included. Interfaces and MAC checks narrow this, but a user controls both in their
 * namespace. The per-namespace mode (Portcullis watching a container/namespace lab) needs the
 * sysctl; everything else should leave it at 0 — or restrict unprivileged user namespaces.
 */
import { readFileSync } from 'node:fs';
import type { DoctorCheck } from '../shared/api.ts';
import { doctorCheck } from '../shared/doctor.ts';

export type ReadSysctl = (name: string) => string | null;

export const readSysctl: ReadSysctl = (name) => {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return null;
  }
};

/** Can an unprivileged user create a user namespace (and so a network namespace of their own)? */
export function unprivilegedUserns(read: ReadSysctl): { enabled: boolean; why: string } {
  const max = read('user.max_user_namespaces');
  if (max !== null && Number(max) === 0) return { enabled: false, why: 'user.max_user_namespaces=0' };
  const clone = read('kernel.unprivileged_userns_clone'); // Debian's switch
  if (clone !== null && clone === '0') return { enabled: false, why: 'kernel.unprivileged_userns_clone=0' };
  const apparmor = read('kernel.apparmor_restrict_unprivileged_userns'); // Ubuntu 23.10+
  if (apparmor !== null && apparmor === '1') return { enabled: false, why: 'kernel.apparmor_restrict_unprivileged_userns=1' };
  const parts = [max !== null ? `user.max_user_namespaces=${max}` : null, clone !== null ? `kernel.unprivileged_userns_clone=${clone}` : null].filter(Boolean);
  return { enabled: true, why: parts.join(', ') || 'the kernel allows them' };
}

export function forgedRecordsCheck(read: ReadSysctl = readSysctl): DoctorCheck {
  const allNetns = read('net.netfilter.nf_log_all_netns');
  if (allNetns !== '1') return doctorCheck('nf-log-all-netns', 'ok', allNetns === null ? 'net.netfilter.nf_log_all_netns is not visible here (another namespace): only this namespace logs to us' : 'net.netfilter.nf_log_all_netns=0: other network namespaces cannot log into the kernel log Portcullis reads');
  const userns = unprivilegedUserns(read);
  if (!userns.enabled) return doctorCheck('nf-log-all-netns', 'ok', `net.netfilter.nf_log_all_netns=1, but unprivileged user namespaces are off (${userns.why}): only root can create a namespace that logs here`);
  return doctorCheck(
    'nf-log-all-netns',
    'warn',
      `net.netfilter.nf_log_all_netns=1 while unprivileged user namespaces are enabled (${userns.why}): any local user can create a network namespace that writes ` +
      `genuine-looking "[UFW BLOCK] SRC=<any address> DST=<this host>" kernel records into the log Portcullis reads, and get any address banned (yours too). ` +
      `Fix: \`sysctl -w net.netfilter.nf_log_all_netns=0\` (and remove it from /etc/sysctl.d) unless you run Portcullis for another namespace, which needs it; ` +
      `otherwise forbid unprivileged user namespaces (\`sysctl -w kernel.unprivileged_userns_clone=0\` on Debian, or user.max_user_namespaces=0), ` +
      `and keep the whitelist holding the addresses you must never lose.`,
  );
}
