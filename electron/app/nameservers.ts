/**
 * The name servers this host uses: whitelisted like the gateway (settings `whitelist.includeNameservers`,
 * on by default), so a spoofed scan "from the resolver" cannot cut name resolution.
 * Read from /etc/resolv.conf and, behind systemd-resolved's stub (127.0.0.53), from its upstream
 * list in /run/systemd/resolve/resolv.conf. Loopback (the stub itself) is whitelisted anyway.
 */
import { readFileSync } from 'node:fs';
import { canonicalIp } from '../shared/domain.ts';

export const RESOLV_CONF_FILES = ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf'];

/** `nameserver ADDR` lines of a resolv.conf, canonical, without loopback; an IPv6 zone (`%eth0`) is dropped. */
export function parseResolvConf(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = canonicalIp(m[1]!.replace(/%.*$/, ''));
    if (!ip || ip.startsWith('127.') || ip === '::1') continue;
    out.add(ip);
  }
  return [...out];
}

/** Every name server of every file that exists; a missing or unreadable file adds none. */
export function readNameservers(files: readonly string[] = RESOLV_CONF_FILES, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string[] {
  const out = new Set<string>();
  for (const f of files) {
    let text: string;
    try {
      text = read(f);
    } catch {
      continue;
    }
    for (const ip of parseResolvConf(text)) out.add(ip);
  }
  return [...out];
}
