/**
 * The firewall module with a recording fake Exec and a temp etcDir: which argv would run, what is
 * refused before anything runs, and how file edits are validated and rolled back.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecResult } from '../../electron/helper/exec.ts';
import {
  createBanBackend,
  cutConnections,
  installPerSourceLogging,
  installSetBlock,
  managedBlocksStatus,
  removePerSourceLogging,
  removeSetBlock,
} from '../../electron/helper/firewall/index.ts';
import { parseIpsetSave } from '../../electron/helper/firewall/set-backend.ts';
import { parseTaggedRules } from '../../electron/helper/firewall/ufw-backend.ts';
import type { Ip } from '../../electron/shared/domain.ts';
import { type Call, fakeExec } from './fake-exec.ts';

const ip = (s: string) => s as Ip;

describe('input refused before anything runs', () => {
  for (const kind of ['ufw', 'set'] as const) {
    it(`${kind}: bad addresses, timeouts and comments never reach an argv`, async () => {
      const { exec, calls } = fakeExec();
      const b = createBanBackend(kind, exec);
      for (const bad of ['1.2.3', '1.2.3.4; rm -rf /', '-1.2.3.4', '--help', '', '1.2.3.4/24', 'fe80::1%eth0']) {
        await expect(b.ban(ip(bad), null, 'x')).rejects.toMatchObject({ code: 'bad-address' });
        await expect(b.unban(ip(bad))).rejects.toMatchObject({ code: 'bad-address' });
      }
      for (const t of [0, -5, 1.5, Number.NaN, 3_000_000]) await expect(b.ban(ip('192.0.2.1'), t, 'x')).rejects.toMatchObject({ code: 'bad-timeout' });
      for (const c of ["it's", 'a\nb', '$(id)', 'x'.repeat(101), '`id`']) await expect(b.ban(ip('192.0.2.1'), 60, c)).rejects.toMatchObject({ code: 'bad-comment' });
      expect(calls).toEqual([]);
    });
  }
});

describe('set backend argv', () => {
  it('bans into the set of the address family with a timeout, cuts connections, unbans with -exist', async () => {
    const { exec, calls } = fakeExec();
    const b = createBanBackend('set', exec);
    await b.ban(ip('192.0.2.7'), 300, 'scan of 12 ports');
    await b.ban(ip('2001:DB8::0:1'), null, '');
    await b.unban(ip('192.0.2.7'));
    expect(calls.map((c) => [c.bin, ...c.args, '|', c.input ?? ''].join(' '))).toEqual([
      'ipset restore -exist | add -exist portcullis-ban4 192.0.2.7 timeout 300 comment "portcullis-ban scan of 12 ports"\n',
      'conntrack -D -f ipv4 -s 192.0.2.7 | ',
      'conntrack -D -f ipv4 -d 192.0.2.7 | ',
      'ipset restore -exist | add -exist portcullis-ban6 2001:db8::1 timeout 0 comment "portcullis-ban"\n',
      'conntrack -D -f ipv6 -s 2001:db8::1 | ',
      'conntrack -D -f ipv6 -d 2001:db8::1 | ',
      'ipset restore -exist | del -exist portcullis-ban4 192.0.2.7\n',
    ]);
  });

  it('banMany and unbanMany are ONE ipset process each, every entry checked before it runs', async () => {
    const { exec, calls } = fakeExec();
    const b = createBanBackend('set', exec, { cutConnections: false });
    const many = Array.from({ length: 1000 }, (_, i) => ({ ip: ip(`10.0.${i >> 8}.${i & 255}`), timeoutSec: 60, comment: 'restore' }));
    await b.banMany([...many, { ip: ip('2001:db8::9'), timeoutSec: null, comment: '' }]);
    await b.unbanMany([ip('10.0.0.1'), ip('2001:db8::9')]);
    expect(calls.map((c) => `${c.bin} ${c.args.join(' ')}`)).toEqual(['ipset restore -exist', 'ipset restore -exist']);
    const lines = calls[0]!.input!.trimEnd().split('\n');
    expect(lines).toHaveLength(1001);
    expect(lines[0]).toBe('add -exist portcullis-ban4 10.0.0.0 timeout 60 comment "portcullis-ban restore"');
    expect(lines[1000]).toBe('add -exist portcullis-ban6 2001:db8::9 timeout 0 comment "portcullis-ban"');
    expect(calls[1]!.input).toBe('del -exist portcullis-ban4 10.0.0.1\ndel -exist portcullis-ban6 2001:db8::9\n');
    calls.length = 0;
    await expect(b.banMany([...many, { ip: ip('10.0.0.1; x'), timeoutSec: 60, comment: '' }])).rejects.toMatchObject({ code: 'bad-address' });
    expect(calls).toEqual([]);
  });

  it('with a session, commands go to it instead of a new process', async () => {
    const { exec, calls } = fakeExec();
    const ran: string[][] = [];
    const b = createBanBackend('set', exec, { cutConnections: false, ipsetSession: { run: async (l) => void ran.push([...l]), close: () => undefined } });
    await b.ban(ip('192.0.2.7'), 300, 'x');
    await b.unban(ip('192.0.2.7'));
    expect(calls).toEqual([]);
    expect(ran).toEqual([['add -exist portcullis-ban4 192.0.2.7 timeout 300 comment "portcullis-ban x"'], ['del -exist portcullis-ban4 192.0.2.7']]);
  });

  it('explains a missing set', async () => {
    const { exec } = fakeExec(() => ({ code: 1, stderr: "ipset v7.17: The set with the given name does not exist" }));
    await expect(createBanBackend('set', exec).ban(ip('192.0.2.7'), 60, '')).rejects.toThrow(/installSetBlock/);
  });

  it('lists elements with their remaining time (0 = no expiry)', () => {
    const save = [
      'create portcullis-ban4 hash:ip family inet hashsize 1024 maxelem 1048576 timeout 0 comment',
      'add portcullis-ban4 192.0.2.9 timeout 287 comment "portcullis-ban x"',
      'add portcullis-ban4 192.0.2.10 timeout 0 comment "portcullis-ban"',
      'add other 192.0.2.11 timeout 5',
    ].join('\n');
    expect(parseIpsetSave(save, 'portcullis-ban4')).toEqual([
      { ip: '192.0.2.9', expiresInSec: 287 },
      { ip: '192.0.2.10', expiresInSec: null },
    ]);
  });

  it("does not list the ufw backend's mirrored elements as its own bans (a backend switch would take them out of the sets)", () => {
    const save = [
      'add portcullis-ban4 192.0.2.9 timeout 287 comment "portcullis-ban ufw-backend"',
      'add portcullis-ban4 192.0.2.10 timeout 0 comment "portcullis-ban scan syn"',
    ].join('\n');
    expect(parseIpsetSave(save, 'portcullis-ban4')).toEqual([{ ip: '192.0.2.10', expiresInSec: null }]);
  });
});

describe('ufw backend argv', () => {
  const showAdded = [
    'Added user rules (see \'ufw status\' for running firewall):',
    "ufw deny from 192.0.2.5 comment 'portcullis-ban exp:1000600 scan'",
    "ufw deny from 192.0.2.6 comment 'mine'",
    'ufw deny from 192.0.2.8',
    "ufw deny from 2001:db8::5 comment 'portcullis-ban'",
    'ufw allow 22/tcp',
  ].join('\n');

  it('PREPENDS a tagged deny carrying its expiry (IPv4 and IPv6 alike)', async () => {
    const { exec, calls } = fakeExec();
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000 });
    await b.ban(ip('192.0.2.5'), 600, 'scan');
    await b.ban(ip('2001:db8::5'), null, '');
    expect(calls.map((c) => c.args)).toEqual([
      ['prepend', 'deny', 'from', '192.0.2.5', 'comment', 'portcullis-ban exp:1000600 scan'],
      ['prepend', 'deny', 'from', '2001:db8::5', 'comment', 'portcullis-ban'],
    ]);
  });

  it('unbans only tagged rules; untagged ones are never deleted', async () => {
    const { exec, calls } = fakeExec((c) => (c.args[0] === 'show' ? { stdout: showAdded } : {}));
    const b = createBanBackend('ufw', exec);
    await b.unban(ip('192.0.2.5'));
    await b.unban(ip('192.0.2.6'));
    await b.unban(ip('192.0.2.8'));
    const deletes = calls.filter((c) => c.args[0] === 'delete').map((c) => c.args.join(' '));
    expect(deletes).toEqual(['delete deny from 192.0.2.5']);
  });

  it('unbanMany lists ufw once for the whole batch and deletes only tagged rules; banMany checks every entry first', async () => {
    const { exec, calls } = fakeExec((c) => (c.args[0] === 'show' ? { stdout: showAdded } : {}));
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000 });
    await b.unbanMany([ip('192.0.2.5'), ip('192.0.2.6'), ip('192.0.2.8')]);
    expect(calls.map((c) => c.args.join(' '))).toEqual(['show added', 'delete deny from 192.0.2.5']);
    calls.length = 0;
    await expect(b.banMany([{ ip: ip('192.0.2.9'), timeoutSec: 60, comment: '' }, { ip: ip('192.0.2.10'), timeoutSec: 60, comment: "it's" }])).rejects.toMatchObject({ code: 'bad-comment' });
    expect(calls).toEqual([]);
    await b.banMany([{ ip: ip('192.0.2.9'), timeoutSec: 60, comment: '' }, { ip: ip('2001:db8::9'), timeoutSec: null, comment: 'x' }]);
    expect(calls.map((c) => c.args.join(' '))).toEqual(['prepend deny from 192.0.2.9 comment portcullis-ban exp:1000060', 'prepend deny from 2001:db8::9 comment portcullis-ban x']);
  });

  it('blockNow puts in force, with one iptables call, the very rule ufw writes for the ban (v4 and v6)', async () => {
    const { exec, calls } = fakeExec();
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000 });
    await b.blockNow!(ip('192.0.2.5'));
    await b.blockNow!(ip('2001:db8::5'));
    expect(calls.map((c) => [c.bin, ...c.args].join(' '))).toEqual([
      'iptables -w -I ufw-user-input 1 -s 192.0.2.5 -m comment --comment portcullis-fast -j DROP',
      'ip6tables -w -I ufw6-user-input 1 -s 2001:db8::5 -m comment --comment portcullis-fast -j DROP',
    ]);
    await expect(b.blockNow!(ip('192.0.2.5; reboot'))).rejects.toMatchObject({ code: 'bad-address' });
  });

  it('a ban ufw refuses takes back the block blockNow put in force; without one it removes nothing', async () => {
    const { exec, calls } = fakeExec((c) => (c.args[0] === 'prepend' ? { code: 1, stderr: 'ERROR: could not load' } : {}));
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000 });
    await b.blockNow!(ip('192.0.2.5'));
    await expect(b.ban(ip('192.0.2.5'), 600, 'scan')).rejects.toThrow(/could not ban 192\.0\.2\.5/);
    expect(calls.map((c) => [c.bin, ...c.args].join(' '))).toEqual([
      'iptables -w -I ufw-user-input 1 -s 192.0.2.5 -m comment --comment portcullis-fast -j DROP',
      'ufw prepend deny from 192.0.2.5 comment portcullis-ban exp:1000600 scan',
      'iptables -w -D ufw-user-input -s 192.0.2.5 -m comment --comment portcullis-fast -j DROP',
    ]);
    calls.length = 0;
    await expect(b.ban(ip('192.0.2.5'), 600, 'scan')).rejects.toThrow();
    expect(calls.map((c) => c.bin)).toEqual(['ufw']);
  });

  it('a ban ufw skips because the user has a rule of their own for the address (e.g. allow from it) is answered as skipped (users-rule), not reported as a ban, and the fast block goes', async () => {
    const { exec, calls } = fakeExec((c) =>
      c.args[0] === 'prepend' ? { stdout: 'Skipping inserting existing rule\n' }
      : c.args[0] === 'show' ? { stdout: "Added user rules (see 'ufw status' for running firewall):\nufw allow from 192.0.2.9\n" }
      : {},
    );
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000 });
    await b.blockNow!(ip('192.0.2.9'));
    expect(await b.ban(ip('192.0.2.9'), 600, 'scan')).toEqual({ ip: '192.0.2.9', why: 'users-rule' });
    expect(calls.at(-1)!.args.join(' ')).toBe('-w -D ufw-user-input -s 192.0.2.9 -m comment --comment portcullis-fast -j DROP');
  });

  it("the user's rule above ours decides even when its comment has a quote in it (ufw prints comments unescaped)", async () => {
    // `ufw insert 1 allow from 192.0.2.9 comment "bob's laptop"` after an earlier ban of ours: ufw
    // skips our prepend, and the user's allow (first) lets the address in: not banned.
    const showAdded = "Added user rules (see 'ufw status' for running firewall):\nufw allow from 192.0.2.9 comment 'bob's laptop'\nufw deny from 192.0.2.9 comment 'portcullis-ban exp:1000000600'\n";
    const { exec } = fakeExec((c) => (c.args[0] === 'prepend' ? { stdout: 'Skipping inserting existing rule\n' } : c.args[0] === 'show' ? { stdout: showAdded } : {}));
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000 });
    expect(await b.ban(ip('192.0.2.9'), 600, 'scan')).toEqual({ ip: '192.0.2.9', why: 'users-rule' });
  });

  it('after a ban ufw skips (the address already has a rule) or appends, the block blockNow added is taken back, never ufw\'s own copy (v4 and v6)', async () => {
    // ufw answers "Skipping inserting existing rule" (exit 0) and reloads nothing: blockNow's rule would
    // otherwise stay in the kernel, unknown to ufw. The take-back names the fast rule's tag, so a reload
    // in between (which leaves only ufw's identical-looking copy) cannot make it delete ufw's rule.
    // The rule ufw keeps is ours (`ufw show added` lists it tagged): the ban stands.
    const ours = ['192.0.2.5', '2001:db8::5', '192.0.2.7'].map((a) => `ufw deny from ${a} comment 'portcullis-ban exp:1000600 scan'`).join('\n');
    const { exec, calls } = fakeExec((c) =>
      c.args[0] === 'prepend' ? { stdout: `Skipping inserting existing rule${c.args[3]!.includes(':') ? ' (v6)' : ''}\n` }
      : c.args[0] === 'show' ? { stdout: `Added user rules (see 'ufw status' for running firewall):\n${ours}\n` }
      : {},
    );
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000 });
    for (const a of ['192.0.2.5', '2001:db8::5']) {
      await b.blockNow!(ip(a));
      await b.ban(ip(a), 600, 'scan');
    }
    const kernel = calls.filter((c) => c.bin !== 'ufw').map((c) => [c.bin, ...c.args].join(' '));
    expect(kernel).toEqual([
      'iptables -w -I ufw-user-input 1 -s 192.0.2.5 -m comment --comment portcullis-fast -j DROP',
      'iptables -w -D ufw-user-input -s 192.0.2.5 -m comment --comment portcullis-fast -j DROP',
      'ip6tables -w -I ufw6-user-input 1 -s 2001:db8::5 -m comment --comment portcullis-fast -j DROP',
      'ip6tables -w -D ufw6-user-input -s 2001:db8::5 -m comment --comment portcullis-fast -j DROP',
    ]);
    // Two overlapping bans of one address: each takes back its own block, no more.
    calls.length = 0;
    await b.blockNow!(ip('192.0.2.7'));
    await b.blockNow!(ip('192.0.2.7'));
    await b.ban(ip('192.0.2.7'), 600, 'scan');
    await b.ban(ip('192.0.2.7'), 600, 'scan');
    expect(calls.filter((c) => c.args.includes('-D')).length).toBe(2);
    // A ban ufw wrote: if it reloaded, blockNow's rule went with it (the take-back fails harmlessly);
    // if it appended (no rule of that family yet: `-A`, no reload), the take-back removes it.
    const wrote = fakeExec((c) => (c.args[0] === 'prepend' ? { stdout: 'Rule added\n' } : {}));
    const w = createBanBackend('ufw', wrote.exec, { cutConnections: false });
    await w.blockNow!(ip('192.0.2.5'));
    await w.ban(ip('192.0.2.5'), 600, 'scan');
    expect(wrote.calls.filter((c) => c.args.includes('-D')).map((c) => c.args.join(' '))).toEqual([
      '-w -D ufw-user-input -s 192.0.2.5 -m comment --comment portcullis-fast -j DROP',
    ]);
    // Without a blockNow first (restore, banMany): nothing to take back.
    wrote.calls.length = 0;
    await w.ban(ip('192.0.2.6'), 600, 'scan');
    expect(wrote.calls.map((c) => c.bin)).toEqual(['ufw']);
  });

  it('an unban of an address ufw has no tagged rule for removes a leftover blockNow rule (helper stopped before ufw wrote the ban), never ufw\'s rules', async () => {
    const { exec, calls } = fakeExec((c) => (c.args[0] === 'show' ? { stdout: showAdded } : {}));
    const b = createBanBackend('ufw', exec, { cutConnections: false });
    await b.unban(ip('192.0.2.8')); // the user's own untagged deny: ufw's rule stays
    expect(calls.map((c) => [c.bin, ...c.args].join(' '))).toEqual([
      'ufw show added',
      'iptables -w -D ufw-user-input -s 192.0.2.8 -m comment --comment portcullis-fast -j DROP',
    ]);
  });

  it('lists tagged rules with the time left', async () => {
    const { exec } = fakeExec(() => ({ stdout: showAdded }));
    const b = createBanBackend('ufw', exec, { now: () => 1_000_000_000 });
    expect(await b.list()).toEqual([
      { ip: '192.0.2.5', expiresInSec: 600 },
      { ip: '2001:db8::5', expiresInSec: null },
    ]);
    expect(parseTaggedRules("ufw deny from 192.0.2.1 comment 'portcullis-bank'")).toEqual([]);
  });
});

describe('cutConnections', () => {
  it('tolerates "0 flow entries" and reports real failures', async () => {
    const none = fakeExec(() => ({ code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.' }));
    await expect(cutConnections(ip('192.0.2.1'), none.exec)).resolves.toBeUndefined();
    const broken = fakeExec(() => ({ code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): Operation failed: Permission denied' }));
    await expect(cutConnections(ip('192.0.2.1'), broken.exec)).rejects.toMatchObject({ code: 'conntrack' });
  });
});

describe('managed blocks on files (temp etcDir, fake ufw)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pc-ufw-'));
    cpSync(new URL('./fixtures/', import.meta.url).pathname, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const activeUfw = (over: (c: Call) => Partial<ExecResult> | undefined = () => undefined) =>
    fakeExec((c) => over(c) ?? (c.bin === 'ufw' && c.args[0] === 'status' ? { stdout: 'Status: active\n' } : {}));

  it('set block: creates the sets, checks both files with the right restore binary, swaps, reloads; twice = once', async () => {
    const { exec, calls } = activeUfw();
    await installSetBlock(exec, { etcDir: dir });
    expect(calls.filter((c) => c.bin === 'ipset').map((c) => c.args.slice(0, 3).join(' '))).toEqual([
      '-exist create portcullis-ban4',
      '-exist create portcullis-ban6',
      '-exist create portcullis-net4',
      '-exist create portcullis-net6',
    ]);
    const tests = calls.filter((c) => c.args[0] === '--test');
    expect(tests.map((c) => c.bin)).toEqual(['iptablesRestore', 'ip6tablesRestore']);
    expect(tests[0]!.input).toContain('--match-set portcullis-ban4 src -j DROP');
    expect(tests[0]!.input).toContain('--match-set portcullis-net4 src -j DROP');
    expect(tests[1]!.input).toContain('--match-set portcullis-net6 src -j DROP');
    expect(read('before.init')).toContain('create portcullis-net6 hash:net family inet6');
    expect(calls.some((c) => c.bin === 'ufw' && c.args[0] === 'reload')).toBe(true);
    expect(read('before.rules')).toContain('--match-set portcullis-ban4');
    expect(read('before6.rules')).toContain('--match-set portcullis-ban6');
    expect(statSync(join(dir, 'before.init')).mode & 0o100).toBe(0o100);
    expect(await managedBlocksStatus({ etcDir: dir })).toEqual({ setBlock: true, perSourceLogging: false, perSourceLoggingVia: null, perSourceLoggingByFamily: { v4: null, v6: null }, forward: false, forwardVia: null });

    const again = activeUfw();
    await installSetBlock(again.exec, { etcDir: dir });
    expect(again.calls.some((c) => c.args[0] === 'reload')).toBe(false); // nothing changed, nothing reloaded

    const rm = activeUfw();
    await removeSetBlock(rm.exec, { etcDir: dir });
    expect(read('before.rules')).toBe(readFileSync(new URL('./fixtures/before.rules', import.meta.url), 'utf8'));
    expect(rm.calls.filter((c) => c.args[0] === 'destroy').map((c) => c.args[1])).toEqual(['portcullis-ban4', 'portcullis-ban6', 'portcullis-net4', 'portcullis-net6']);
    expect(await managedBlocksStatus({ etcDir: dir })).toEqual({ setBlock: false, perSourceLogging: false, perSourceLoggingVia: null, perSourceLoggingByFamily: { v4: null, v6: null }, forward: false, forwardVia: null });
  });

  it('a set block of an older version (without the prefix-ban sets) reads as not installed, so the start installs it again', async () => {
    await installSetBlock(activeUfw().exec, { etcDir: dir });
    writeFileSync(join(dir, 'before.rules'), read('before.rules').split('\n').filter((l) => !l.includes('portcullis-net4')).join('\n'));
    expect((await managedBlocksStatus({ etcDir: dir })).setBlock).toBe(false);
    await installSetBlock(activeUfw().exec, { etcDir: dir });
    expect((await managedBlocksStatus({ etcDir: dir })).setBlock).toBe(true);
  });

  it('a file that fails --test is never swapped in, and ufw is not reloaded', async () => {
    const { exec, calls } = activeUfw((c) => (c.args[0] === '--test' && c.bin === 'ip6tablesRestore' ? { code: 2, stderr: 'Bad argument' } : undefined));
    await expect(installPerSourceLogging(exec, { etcDir: dir })).rejects.toMatchObject({ code: 'rejected-rules' });
    expect(read('after.rules')).not.toContain('PORTCULLIS'); // not even the v4 file that passed
    expect(calls.some((c) => c.args[0] === 'reload')).toBe(false);
  });

  it('a failed reload puts the previous files back and reloads them', async () => {
    let reloads = 0;
    const { exec } = fakeExec((c) => {
      if (c.bin !== 'ufw') return {};
      if (c.args[0] === 'reload') return ++reloads === 1 ? { code: 1, stderr: 'ERROR: problem running ufw-init' } : {};
      return { stdout: reloads === 1 ? 'Status: inactive\n' : 'Status: active\n' };
    });
    await expect(installPerSourceLogging(exec, { etcDir: dir })).rejects.toMatchObject({ code: 'reload-failed' });
    expect(reloads).toBe(2);
    expect(read('after.rules')).toBe(readFileSync(new URL('./fixtures/after.rules', import.meta.url), 'utf8'));
    expect(read('after6.rules')).not.toContain('PORTCULLIS');
    expect(read('after.rules.portcullis-prev')).toBe(read('after.rules'));
  });

  it('with ufw inactive, files are edited but nothing is reloaded; removal restores them byte for byte', async () => {
    const { exec, calls } = fakeExec((c) => (c.bin === 'ufw' && c.args[0] === 'status' ? { stdout: 'Status: inactive\n' } : {}));
    await installPerSourceLogging(exec, { etcDir: dir, ratePerMinute: 20, burst: 40 });
    expect(read('after.rules')).toContain('--hashlimit-upto 20/min --hashlimit-burst 40');
    expect(calls.some((c) => c.args[0] === 'reload')).toBe(false);
    await removePerSourceLogging(exec, { etcDir: dir });
    expect(read('after6.rules')).toBe(readFileSync(new URL('./fixtures/after6.rules', import.meta.url), 'utf8'));
  });

  it("the status tells the block's LOG form from its NFLOG variant (the nflog source's), and a reinstall swaps one for the other", async () => {
    const { exec } = fakeExec((c) => (c.bin === 'ufw' && c.args[0] === 'status' ? { stdout: 'Status: inactive\n' } : {}));
    await installPerSourceLogging(exec, { etcDir: dir });
    expect(await managedBlocksStatus({ etcDir: dir })).toMatchObject({ perSourceLogging: true, perSourceLoggingVia: 'log' });
    await installPerSourceLogging(exec, { etcDir: dir, via: 'nflog' });
    expect(await managedBlocksStatus({ etcDir: dir })).toMatchObject({ perSourceLogging: true, perSourceLoggingVia: 'nflog' });
    expect(read('after6.rules')).toContain('-j NFLOG --nflog-group 5417');
    expect(read('after.rules')).not.toContain('-j LOG --log-prefix "[PORTCULLIS BLOCK] "');
    await removePerSourceLogging(exec, { etcDir: dir });
    expect(await managedBlocksStatus({ etcDir: dir })).toMatchObject({ perSourceLogging: false, perSourceLoggingVia: null });
  });

  it('a file changed by someone else while it was edited keeps their change; nothing is swapped in or reloaded', async () => {
    const theirs = `${read('after.rules')}# edited by hand meanwhile\n`;
    const { exec, calls } = fakeExec((c) => {
      if (c.bin === 'ufw' && c.args[0] === 'status') {
        writeFileSync(join(dir, 'after.rules'), theirs);
        return { stdout: 'Status: active\n' };
      }
      return {};
    });
    await expect(installPerSourceLogging(exec, { etcDir: dir })).rejects.toMatchObject({ code: 'bad-file', message: expect.stringMatching(/changed while/) });
    expect(read('after.rules')).toBe(theirs);
    expect(read('after6.rules')).not.toContain('PORTCULLIS');
    expect(calls.some((c) => c.args[0] === 'reload')).toBe(false);
  });

  it('refuses bad budgets and a missing file with a clear reason', async () => {
    const { exec } = activeUfw();
    await expect(installPerSourceLogging(exec, { etcDir: dir, burst: 0 })).rejects.toMatchObject({ code: 'bad-option' });
    rmSync(join(dir, 'after6.rules'));
    await expect(installPerSourceLogging(exec, { etcDir: dir })).rejects.toMatchObject({ code: 'missing-file' });
    writeFileSync(join(dir, 'after6.rules'), '');
  });
});
