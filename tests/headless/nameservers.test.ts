/** Issue 9 item 7: the name servers this host uses, read from resolv.conf and systemd-resolved's upstream list. */
import { describe, expect, it } from 'vitest';
import { parseResolvConf, readNameservers } from '../../electron/app/nameservers.ts';
import { readHostInfo } from '../../electron/app/hostinfo.ts';

describe('name servers', () => {
  it('reads nameserver lines, canonical, without loopback (the systemd-resolved stub) and comments', () => {
    const text = '# generated\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\nnameserver 192.0.2.53\n  nameserver 2001:DB8::35\nnameserver fe80::1%eth0\n#nameserver 198.51.100.1\nnameserver ::1\nnameserver bogus\n';
    expect(parseResolvConf(text)).toEqual(['192.0.2.53', '2001:db8::35', 'fe80::1']);
  });

  it("behind systemd-resolved's stub, takes the upstreams from /run/systemd/resolve/resolv.conf; a missing file adds none", () => {
    const files: Record<string, string> = { '/etc/resolv.conf': 'nameserver 127.0.0.53\n', '/run/systemd/resolve/resolv.conf': 'nameserver 192.0.2.1\nnameserver 192.0.2.2\n' };
    const read = (f: string) => {
      if (!(f in files)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return files[f]!;
    };
    expect(readNameservers(['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf'], read)).toEqual(['192.0.2.1', '192.0.2.2']);
    delete files['/run/systemd/resolve/resolv.conf'];
    expect(readNameservers(['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf'], read)).toEqual([]);
  });

  it('readHostInfo carries them with the gateway', async () => {
    const exec = async () => ({ code: 1, stdout: '', stderr: '' });
    const info = await readHostInfo(exec as never, () => ['192.0.2.53']);
    expect(info.nameservers).toEqual(['192.0.2.53']);
  });
});
