/** Prefix bans (issue 12.1) in both backends: argv, the hash:net sets, listing, and what is refused. */
import { describe, expect, it } from 'vitest';
import { createBanBackend, cutConnections } from '../../electron/helper/firewall/index.ts';
import { parseIpsetSave } from '../../electron/helper/firewall/set-backend.ts';
import { parseTaggedRules } from '../../electron/helper/firewall/ufw-backend.ts';
import type { BanTarget } from '../../electron/shared/domain.ts';
import { fakeExec } from './fake-exec.ts';

const t = (s: string) => s as BanTarget;

describe('prefix bans: set backend', () => {
  it('a network goes into the hash:net set of its family; an address stays in the hash:ip set', async () => {
    const { exec, calls } = fakeExec();
    const b = createBanBackend('set', exec, { cutConnections: false });
    await b.ban(t('2001:db8:1:2::/64'), 600, 'scan');
    await b.ban(t('198.51.100.0/24'), null, '');
    await b.banMany([{ ip: t('2001:db8:1:3::/64'), timeoutSec: 60, comment: '' }, { ip: t('192.0.2.7'), timeoutSec: 60, comment: '' }]);
    await b.unban(t('2001:db8:1:2::/64'));
    expect(calls.map((c) => c.input)).toEqual([
      'add -exist portcullis-net6 2001:db8:1:2::/64 timeout 600 comment "portcullis-ban scan"\n',
      'add -exist portcullis-net4 198.51.100.0/24 timeout 0 comment "portcullis-ban"\n',
      'add -exist portcullis-net6 2001:db8:1:3::/64 timeout 60 comment "portcullis-ban"\nadd -exist portcullis-ban4 192.0.2.7 timeout 60 comment "portcullis-ban"\n',
      'del -exist portcullis-net6 2001:db8:1:2::/64\n',
    ]);
  });

  it('lists the networks of the hash:net sets', async () => {
    const { exec } = fakeExec((c) =>
      c.args[1] === 'portcullis-net6' ? { stdout: 'create portcullis-net6 hash:net family inet6\nadd portcullis-net6 2001:db8:1:2::/64 timeout 500 comment "portcullis-ban"\n' } : {},
    );
    expect(await createBanBackend('set', exec, { cutConnections: false }).list()).toEqual([{ ip: '2001:db8:1:2::/64', expiresInSec: 500 }]);
    expect(parseIpsetSave('add portcullis-net4 198.51.100.0/24 timeout 0', 'portcullis-net4')).toEqual([{ ip: '198.51.100.0/24', expiresInSec: null }]);
  });
});

describe('prefix bans: ufw backend', () => {
  it('PREPENDS a tagged deny from the network, and deletes only its own tagged rule', async () => {
    const showAdded = "ufw deny from 2001:db8:1:2::/64 comment 'portcullis-ban exp:1000600'\nufw deny from 2001:db8:9::/64\n";
    const { exec, calls } = fakeExec((c) => (c.args[0] === 'show' ? { stdout: showAdded } : {}));
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000 });
    await b.ban(t('2001:db8:1:2::/64'), 600, '');
    await b.unban(t('2001:db8:1:2::/64'));
    await b.unban(t('2001:db8:9::/64')); // the user's own rule: untouched
    expect(calls.filter((c) => c.bin === 'ufw' && c.args[0] !== 'show').map((c) => c.args)).toEqual([
      ['prepend', 'deny', 'from', '2001:db8:1:2::/64', 'comment', 'portcullis-ban exp:1000600'],
      ['delete', 'deny', 'from', '2001:db8:1:2::/64'],
    ]);
    // Beside ufw, only a fast block of ours (by its tag) may be taken back for the user's network: never ufw's rule.
    expect(calls.filter((c) => c.bin !== 'ufw').map((c) => [c.bin, ...c.args].join(' '))).toEqual([
      'ip6tables -w -D ufw6-user-input -s 2001:db8:9::/64 -m comment --comment portcullis-fast -j DROP',
    ]);
    expect(parseTaggedRules(showAdded)).toEqual([{ ip: '2001:db8:1:2::/64', comment: 'portcullis-ban exp:1000600', expiresAtSec: 1000600 }]);
  });
});

describe('prefix bans: refused before anything runs', () => {
  for (const kind of ['ufw', 'set'] as const) {
    it(`${kind}: a network not in canonical form, with host bits, too wide or a single address in CIDR dress`, async () => {
      const { exec, calls } = fakeExec();
      const b = createBanBackend(kind, exec, { cutConnections: false });
      for (const bad of ['2001:DB8:1:2::/64', '2001:db8:1:2::1/64', '2001:db8:1:2:0:0:0:0/64', '2001:db8::/32', '10.0.0.0/8', '198.51.100.7/32', '2001:db8::1/128', '198.51.100.0/24 ', '198.51.100.0/024', '-198.51.100.0/24']) {
        await expect(b.ban(t(bad), null, ''), bad).rejects.toMatchObject({ code: 'bad-address' });
      }
      expect(calls).toEqual([]);
    });
  }
});

describe('prefix bans: cutting connections', () => {
  it('conntrack deletes a whole network, both directions', async () => {
    const { exec, calls } = fakeExec();
    await cutConnections(t('2001:db8:1:2::/64'), exec);
    expect(calls.map((c) => c.args.join(' ')).sort()).toEqual(['-D -f ipv6 -d 2001:db8:1:2::/64', '-D -f ipv6 -s 2001:db8:1:2::/64']);
  });
});
