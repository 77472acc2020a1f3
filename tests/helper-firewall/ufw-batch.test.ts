/**
 * The ufw backend's batch (firewall/ufw-batch.ts) on temp copies of ufw's user rules files: the deny
 * entries are written in ufw's own form at the top of the rules, nothing of the user's changes, a
 * source with a deny rule already is skipped, the new files are checked before they replace the old
 * ones and loaded once per family as ufw loads them (`iptables-restore -n`), and every failure
 * (--test, the load, ufw not listing what was written, a file changed meanwhile) leaves the previous
 * files in place (and in the kernel).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BanTarget } from '../../electron/shared/domain.ts';
import type { ExecResult } from '../../electron/helper/exec.ts';
import { createBanBackend } from '../../electron/helper/firewall/index.ts';
import type { UfwLock } from '../../electron/helper/firewall/ufw-lock.ts';
import { banManyInUfwFiles, finishInterruptedEdit, PENDING_LOAD_FILE, sourcesWithRule, ufwDenyEntry, unbanManyInUfwFiles, withDenyEntries, withoutDenyEntries, type PlannedBan } from '../../electron/helper/firewall/ufw-batch.ts';
import { ufwConfValue } from '../../electron/shared/ufw-conf.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { callViaDispatcher, firewallPortOf } from '../../electron/app/helper-adapter.ts';
import { fakeDeps } from '../helper/fakes.ts';
import { type Call, fakeExec } from './fake-exec.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const USER4 = readFileSync(new URL('user.rules', FIXTURES), 'utf8');
const USER6 = readFileSync(new URL('user6.rules', FIXTURES), 'utf8');
const t = (s: string) => s as BanTarget;
const ban = (ip: string, tag = 'portcullis-ban exp:1900000000 scan'): PlannedBan => ({ ip: t(ip), tag });

let dir: string;
let defaults: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pc-ufwbatch-'));
  cpSync(new URL('user.rules', FIXTURES), join(dir, 'user.rules'));
  cpSync(new URL('user6.rules', FIXTURES), join(dir, 'user6.rules'));
  defaults = join(dir, 'default-ufw');
  writeFileSync(defaults, '# /etc/default/ufw\nIPV6=yes\n');
  writeFileSync(join(dir, 'ufw.conf'), '# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const read = (f: string) => readFileSync(join(dir, f), 'utf8');

/** `ufw show added` as ufw prints it for the tagged deny rules in the files now. */
function showAdded(): string {
  const lines: string[] = [];
  for (const f of ['user.rules', 'user6.rules']) {
    for (const m of read(f).matchAll(/^### tuple ### deny any any \S+ any (\S+) in comment=([0-9a-f]+)$/gm)) {
      lines.push(`ufw deny from ${m[1]} comment '${Buffer.from(m[2]!, 'hex').toString('utf8')}'`);
    }
  }
  return `Added user rules (see 'ufw status' for running firewall):\n${lines.join('\n')}\n`;
}
/** Every command fine; `show added` answers from the files (ufw.conf says ENABLED=yes). */
const ufwOk = (more: (c: Call) => Partial<ExecResult> | undefined = () => undefined) =>
  fakeExec((c) => {
    const m = more(c);
    if (m) return m;
    if (c.bin === 'ufw' && c.args[0] === 'status') return { stdout: 'Status: active\n' };
    if (c.bin === 'ufw' && c.args[0] === 'show') return { stdout: showAdded() };
    return undefined;
  });
/** The tagged list the backend reads (ufw show added, parsed). */
const listTagged = async () => [...showAdded().matchAll(/^ufw deny from (\S+) comment 'portcullis-ban/gm)].map((m) => ({ ip: t(m[1]!) }));

describe('ufw rules file text', () => {
  it('an entry is what `ufw prepend deny from IP comment TAG` writes (ufw 0.36: comment hex-encoded)', () => {
    // Captured from real ufw (tests/system/ufw-batch.test.ts compares whole files with ufw's own).
    expect(ufwDenyEntry(ban('100.64.0.1', 'portcullis-ban exp:1900000000 scan syn'))).toBe(
      '\n### tuple ### deny any any 0.0.0.0/0 any 100.64.0.1 in comment=706f727463756c6c69732d62616e206578703a31393030303030303030207363616e2073796e\n-A ufw-user-input -s 100.64.0.1 -j DROP\n',
    );
    expect(ufwDenyEntry(ban('2001:db8:1::/64', 'portcullis-ban'))).toBe(
      '\n### tuple ### deny any any ::/0 any 2001:db8:1::/64 in comment=706f727463756c6c69732d62616e\n-A ufw6-user-input -s 2001:db8:1::/64 -j DROP\n',
    );
  });

  it('entries go first in the rules (before every allow); the user\'s lines all stay; sources already denied are skipped', () => {
    const r = withDenyEntries(USER4, [ban('192.0.2.7'), ban('198.51.100.5'), ban('192.0.2.7', 'portcullis-ban other'), ban('192.0.2.0/24')]);
    if (!r.ok) throw new Error(r.reason);
    expect(r.added.map((b) => b.ip)).toEqual(['192.0.2.7', '192.0.2.0/24']); // the user's own deny of .5 stays the only one
    const rules = r.text.slice(r.text.indexOf('### RULES ###'));
    expect(rules.indexOf('-s 192.0.2.7 -j DROP')).toBeLessThan(rules.indexOf('--dport 22 -j ACCEPT'));
    // Taking the added entries out gives back the file, byte for byte.
    expect(r.text.replace(r.added.map(ufwDenyEntry).join(''), '')).toBe(USER4);
    // Ours (a plain deny tagged portcullis-ban) against the user's (198.51.100.5's deny has no tag).
    expect(sourcesWithRule(r.text)).toEqual(new Map([['192.0.2.7', 'ban'], ['192.0.2.0/24', 'ban'], ['198.51.100.5', 'user']]));
    expect(r.skipped.map((b) => b.ip)).toEqual(['198.51.100.5']);
  });

  it("a source the user allows (`ufw allow from IP`), or denies with logging, is skipped as `ufw prepend` skips it; a route rule does not count", () => {
    // ufw's UFWRule.match: a rule differing only by action, log type or comment is the same rule, and
    // `ufw prepend deny from IP` then answers "Skipping inserting existing rule": the user's allow stays in force.
    const user = USER4.replace(
      '### END RULES ###',
      '### tuple ### allow any any 0.0.0.0/0 any 203.0.113.9 in comment=6f6666696365\n-A ufw-user-input -s 203.0.113.9 -j ACCEPT\n\n' +
        '### tuple ### deny_log any any 0.0.0.0/0 any 203.0.113.10 in\n-A ufw-user-input -s 203.0.113.10 -j DROP\n\n' +
        '### tuple ### route:deny any any 0.0.0.0/0 any 203.0.113.11 in\n-A ufw-user-forward -s 203.0.113.11 -j DROP\n\n### END RULES ###',
    );
    const r = withDenyEntries(user, [ban('203.0.113.9'), ban('203.0.113.10'), ban('203.0.113.11')]);
    if (!r.ok) throw new Error(r.reason);
    expect(r.added.map((b) => b.ip)).toEqual(['203.0.113.11']);
    expect(r.skipped.map((b) => b.ip)).toEqual(['203.0.113.9', '203.0.113.10']); // not banned: the caller must say so
    expect(r.text).not.toContain('-s 203.0.113.9 -j DROP');
    // A second batch over the result: our own earlier deny of .11 is ours (still in force), not skipped.
    const again = withDenyEntries(r.text, [ban('203.0.113.11')]);
    if (!again.ok) throw new Error(again.reason);
    expect([again.added, again.skipped]).toEqual([[], []]);
    // A deny with our tag but logged, or another tag, is not ours: ufw show added would not list it as a ban.
    const logged = withDenyEntries(USER4.replace('### END RULES ###', `### tuple ### deny_log any any 0.0.0.0/0 any 203.0.113.12 in comment=${Buffer.from('portcullis-ban').toString('hex')}\n-A ufw-user-input -s 203.0.113.12 -j DROP\n\n### END RULES ###`), [ban('203.0.113.12')]);
    if (!logged.ok) throw new Error(logged.reason);
    expect(logged.skipped.map((b) => b.ip)).toEqual(['203.0.113.12']);
  });

  it("ufw's defaults are read as ufw reads them: first-column KEY=value, any case, the last line wins", () => {
    expect(ufwConfValue('ENABLED=YES\n', 'ENABLED')).toBe('yes');
    expect(ufwConfValue('IPV6="yes"\n', 'IPV6')).toBe('yes');
    expect(ufwConfValue('IPV6=yes\nIPV6=no\n', 'IPV6')).toBe('no');
    expect(ufwConfValue('  IPV6=yes\n', 'IPV6')).toBeNull(); // ufw ignores an indented line
    expect(ufwConfValue('IPV6 = yes\n', 'IPV6')).toBeNull();
    expect(ufwConfValue('# IPV6=yes\nLOGLEVEL=low\n', 'IPV6')).toBeNull();
  });

  it('refuses a file without ufw\'s markers, or with two', () => {
    expect(withDenyEntries('*filter\nCOMMIT\n', [ban('192.0.2.7')])).toMatchObject({ ok: false });
    expect(withDenyEntries(USER4 + USER4, [ban('192.0.2.7')])).toMatchObject({ ok: false });
  });
});

/** ufw's lock, as a no-op: these tests edit temp copies; tests/helper-firewall/ufw-lock.test.ts takes the real one. */
const noLock: UfwLock = async () => async () => {};

describe('banManyInUfwFiles', () => {
  const bans = [ban('192.0.2.7'), ban('192.0.2.8'), ban('2001:db8::7'), ban('2001:db8:1::/64')];

  it('holds ufw\'s lock from reading the files to loading them, and lets go before asking ufw (which takes it too)', async () => {
    const { exec, calls } = ufwOk();
    const order: string[] = [];
    const lock: UfwLock = async () => {
      order.push(`lock (commands run so far: ${calls.length})`);
      return async () => void order.push(`release after ${calls.map((c) => `${c.bin} ${c.args.join(' ')}`).join(', ')}`);
    };
    const listed = async () => (order.push('ufw show added'), listTagged());
    await banManyInUfwFiles(exec, bans, listed, { etcDir: dir, defaultsFile: defaults, lock });
    expect(order).toEqual([
      'lock (commands run so far: 0)',
      'release after iptablesRestore --test, ip6tablesRestore --test, iptablesRestore -n, ip6tablesRestore -n',
      'ufw show added',
    ]);
    // A failure under the lock still lets go of it.
    order.length = 0;
    const { exec: failing } = ufwOk((c) => (c.args[0] === '--test' ? { code: 2, stderr: 'line 9 failed' } : undefined));
    await expect(banManyInUfwFiles(failing, [ban('192.0.2.9'), ...bans.slice(1)], listed, { etcDir: dir, defaultsFile: defaults, lock })).rejects.toThrow();
    expect(order.map((o) => o.split(' ')[0])).toEqual(['lock', 'release']);
  });

  it('checks both files, swaps them in, loads each ONCE as ufw does, and checks that ufw lists every ban', async () => {
    const { exec, calls } = ufwOk();
    const r = await banManyInUfwFiles(exec, bans, listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock });
    expect(r).toEqual({ added: 4, loaded: true, notTaken: [], skipped: [] });
    expect(calls.map((c) => [c.bin, ...c.args].join(' '))).toEqual([
      'iptablesRestore --test',
      'ip6tablesRestore --test',
      'iptablesRestore -n',
      'ip6tablesRestore -n',
    ]);
    expect(calls[0]!.input).toBe(read('user.rules'));
    expect(calls[2]!.input).toBe(read('user.rules'));
    expect(calls[3]!.input).toBe(read('user6.rules'));
    expect(read('user.rules')).toContain('-A ufw-user-input -s 192.0.2.8 -j DROP');
    expect(read('user6.rules')).toContain('-A ufw6-user-input -s 2001:db8:1::/64 -j DROP');
    expect(read('user.rules.portcullis-prev')).toBe(USER4);
    expect(read('user6.rules.portcullis-prev')).toBe(USER6);
  });

  it('a file that fails --test replaces nothing and loads nothing', async () => {
    const { exec, calls } = ufwOk((c) => (c.bin === 'ip6tablesRestore' ? { code: 2, stderr: 'line 20 failed' } : undefined));
    await expect(banManyInUfwFiles(exec, bans, listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock })).rejects.toMatchObject({ code: 'rejected-rules' });
    expect(read('user.rules')).toBe(USER4);
    expect(read('user6.rules')).toBe(USER6);
    expect(calls.some((c) => c.args[0] === '-n')).toBe(false);
  });

  it('a failed load puts the previous files back, and into the kernel for the family already loaded', async () => {
    const { exec, calls } = ufwOk((c) => (c.bin === 'ip6tablesRestore' && c.args[0] === '-n' ? { code: 1, stderr: 'ip6tables-restore: line 25 failed' } : undefined));
    await expect(banManyInUfwFiles(exec, bans, listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock })).rejects.toMatchObject({ code: 'reload-failed', message: expect.stringMatching(/line 25 failed.*previous files were put back$/) });
    expect(read('user.rules')).toBe(USER4);
    expect(read('user6.rules')).toBe(USER6);
    const loads = calls.filter((c) => c.args[0] === '-n');
    expect(loads.map((c) => [c.bin, c.input === USER4 || c.input === USER6 ? 'prev' : 'next'].join(' '))).toEqual(['iptablesRestore next', 'ip6tablesRestore next', 'iptablesRestore prev']);
  });

  it('ufw not listing a ban written puts the previous files back (and reloads)', async () => {
    const { exec, calls } = ufwOk();
    const partial = async () => (await listTagged()).filter((x) => x.ip !== '2001:db8::7');
    await expect(banManyInUfwFiles(exec, bans, partial, { etcDir: dir, defaultsFile: defaults, lock: noLock })).rejects.toThrow(/did not list 1 of the 4 bans.*put back/);
    expect(read('user.rules')).toBe(USER4);
    expect(read('user6.rules')).toBe(USER6);
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => c.input)).toEqual([expect.stringContaining('192.0.2.8'), expect.stringContaining('2001:db8::7'), USER4, USER6]);
  });

  it('a rules file changed by someone else meanwhile: theirs stays, the batch is refused', async () => {
    const theirs = USER4.replace('### END RULES ###', '### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 80 -j ACCEPT\n\n### END RULES ###');
    const { exec, calls } = ufwOk((c) => {
      if (c.args[0] === '--test') writeFileSync(join(dir, 'user.rules'), theirs); // `ufw allow 80` typed meanwhile
      return undefined;
    });
    await expect(banManyInUfwFiles(exec, bans, listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock })).rejects.toMatchObject({ code: 'bad-file', message: expect.stringMatching(/changed while/) });
    expect(read('user.rules')).toBe(theirs);
    expect(read('user6.rules')).toBe(USER6);
    expect(calls.some((c) => c.args[0] === '-n')).toBe(false);
  });

  it('IPV6=no: the IPv6 bans are handed back (ufw answers for them), user6.rules is untouched; ufw inactive: nothing loaded', async () => {
    writeFileSync(defaults, 'IPV6=no\n');
    writeFileSync(join(dir, 'ufw.conf'), 'ENABLED=no\nLOGLEVEL=low\n'); // what ufw itself reads to decide whether to load
    const { exec, calls } = fakeExec();
    const r = await banManyInUfwFiles(exec, bans, listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock });
    expect(r).toEqual({ added: 2, loaded: false, notTaken: [bans[2], bans[3]], skipped: [] });
    expect(read('user6.rules')).toBe(USER6);
    expect(calls.map((c) => [c.bin, ...c.args].join(' '))).toEqual(['iptablesRestore --test']);
  });
});

describe('banManyInUfwFiles reads ufw.conf and the defaults as ufw does', () => {
  const bans = [ban('192.0.2.7'), ban('192.0.2.8'), ban('2001:db8::7'), ban('2001:db8:1::/64')];

  it('ENABLED=YES (ufw: enabled) loads the files: the bans are in the kernel, not only in the file', async () => {
    writeFileSync(join(dir, 'ufw.conf'), 'ENABLED=YES\nLOGLEVEL=low\n');
    const { exec, calls } = ufwOk();
    const r = await banManyInUfwFiles(exec, bans, listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock });
    expect(r.loaded).toBe(true);
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => c.bin)).toEqual(['iptablesRestore', 'ip6tablesRestore']);
  });

  it('IPV6=yes then IPV6=no (ufw: no): the IPv6 bans are handed back, user6.rules untouched', async () => {
    writeFileSync(defaults, 'IPV6=yes\nIPV6=no\n');
    const { exec } = ufwOk();
    const r = await banManyInUfwFiles(exec, bans, listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock });
    expect(r.notTaken.map((b) => b.ip)).toEqual(['2001:db8::7', '2001:db8:1::/64']);
    expect(read('user6.rules')).toBe(USER6);
  });
});

describe('the ufw backend\'s banMany', () => {
  it("answers with the sources ufw skips for a rule of the user's own, on the file path and the `ufw prepend` path, and cuts only the others", async () => {
    writeFileSync(join(dir, 'user.rules'), USER4.replace('### END RULES ###', '### tuple ### allow any any 0.0.0.0/0 any 192.0.2.2 in\n-A ufw-user-input -s 192.0.2.2 -j ACCEPT\n\n### END RULES ###'));
    // `ufw prepend` answers as ufw does for a source with a rule (exit 0); `show added` reads the files.
    const { exec, calls } = ufwOk((c) => (c.bin === 'ufw' && c.args[0] === 'prepend' && c.args[3] === '192.0.2.2' ? { stdout: 'Skipping inserting existing rule\n' } : undefined));
    const files = { etcDir: dir, defaultsFile: defaults, lock: noLock };
    const b = createBanBackend('ufw', exec, { now: () => 1_000_000_000, forwardMirror: () => false, ufwFiles: files });
    const reqs = (ips: string[]) => ips.map((ip) => ({ ip: t(ip), timeoutSec: 60, comment: '' }));
    expect(await b.banMany(reqs(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']))).toEqual([{ ip: '192.0.2.2', why: 'users-rule' }]);
    expect(read('user.rules')).not.toContain('-s 192.0.2.2 -j DROP');
    expect(calls.filter((c) => c.bin === 'conntrack').map((c) => c.args.join(' ')).join('\n')).not.toContain('192.0.2.2');
    expect(calls.filter((c) => c.bin === 'conntrack').map((c) => c.args.join(' ')).join('\n')).toContain('192.0.2.3');
    // Fewer than FILE_BATCH_MIN: one `ufw prepend` each, the skipped one named the same way.
    expect(await b.banMany(reqs(['192.0.2.2', '192.0.2.5']))).toEqual([{ ip: '192.0.2.2', why: 'users-rule' }]);
  });

  it("a source with both our deny and the user's allow: the first rule decides; the user's allow above ours means our ban does nothing, answered as skipped 'users-rule'", async () => {
    const tag = Buffer.from('portcullis-ban exp:1900000000 scan').toString('hex');
    const ours = (ip: string) => `### tuple ### deny any any 0.0.0.0/0 any ${ip} in comment=${tag}\n-A ufw-user-input -s ${ip} -j DROP\n\n`;
    const allow = (ip: string) => `### tuple ### allow any any 0.0.0.0/0 any ${ip} in comment=${Buffer.from('office').toString('hex')}\n-A ufw-user-input -s ${ip} -j ACCEPT\n\n`;
    // .20: the user's allow first (it matches first: .20 gets in); .21: our deny first (.21 is blocked).
    const text = USER4.replace('### END RULES ###', `${allow('192.0.2.20')}${ours('192.0.2.20')}${ours('192.0.2.21')}${allow('192.0.2.21')}### END RULES ###`);
    expect(sourcesWithRule(text)).toEqual(new Map([['198.51.100.5', 'user'], ['192.0.2.20', 'user'], ['192.0.2.21', 'ban']]));
    const r = withDenyEntries(text, [ban('192.0.2.20'), ban('192.0.2.21')]);
    if (!r.ok) throw new Error(r.reason);
    expect([r.added, r.skipped.map((b) => b.ip)]).toEqual([[], ['192.0.2.20']]);

    // The backend, on both paths: the file batch (4 or more) and `ufw prepend` (a single ban, a batch of 1–3),
    // where ufw skips both sources and `ufw show added` (every user rule, in ufw's order) tells whose rule is first.
    writeFileSync(join(dir, 'user.rules'), text);
    const showAll = () => {
      const lines = [...read('user.rules').matchAll(/^### tuple ### (allow|deny|reject|limit)(_log|_log-all)? any any 0\.0\.0\.0\/0 any (\S+) in(?: comment=([0-9a-f]+))?$/gm)].map(
        (m) => `ufw ${m[1]}${m[2] ? ` ${m[2].slice(1)}` : ''} from ${m[3]}${m[4] ? ` comment '${Buffer.from(m[4], 'hex').toString('utf8')}'` : ''}`,
      );
      return `Added user rules (see 'ufw status' for running firewall):\nufw allow 22/tcp\n${lines.join('\n')}\n`;
    };
    const { exec } = ufwOk((c) => {
      if (c.bin === 'ufw' && c.args[0] === 'show') return { stdout: showAll() };
      if (c.bin === 'ufw' && c.args[0] === 'prepend' && ['192.0.2.20', '192.0.2.21'].includes(c.args[3]!)) return { stdout: 'Skipping inserting existing rule\n' };
      return undefined;
    });
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000, forwardMirror: () => false, ufwFiles: { etcDir: dir, defaultsFile: defaults, lock: noLock } });
    const reqs = (ips: string[]) => ips.map((ip) => ({ ip: t(ip), timeoutSec: 60, comment: '' }));
    expect(await b.banMany(reqs(['192.0.2.20', '192.0.2.21', '192.0.2.22', '192.0.2.23']))).toEqual([{ ip: '192.0.2.20', why: 'users-rule' }]);
    expect(await b.banMany(reqs(['192.0.2.20', '192.0.2.21']))).toEqual([{ ip: '192.0.2.20', why: 'users-rule' }]);
    expect(await b.ban(t('192.0.2.20'), 60, '')).toEqual({ ip: '192.0.2.20', why: 'users-rule' });
    expect(await b.ban(t('192.0.2.21'), 60, '')).toBeNull();
  });

  it('4 or more bans: one file batch, no `ufw prepend`; IPv6 while IPV6=no goes through `ufw prepend`', async () => {
    writeFileSync(defaults, 'IPV6=no\n');
    const { exec, calls } = ufwOk();
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000, forwardMirror: () => false, ufwFiles: { etcDir: dir, defaultsFile: defaults, lock: noLock } });
    await b.banMany(['192.0.2.1', '192.0.2.2', '192.0.2.3', '2001:db8::3'].map((ip) => ({ ip: t(ip), timeoutSec: 60, comment: 'scan' })));
    expect(calls.filter((c) => c.args[0] === 'prepend').map((c) => c.args.join(' '))).toEqual(['prepend deny from 2001:db8::3 comment portcullis-ban exp:1000060 scan']);
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => c.bin)).toEqual(['iptablesRestore']);
    expect(read('user.rules')).toContain(`comment=${Buffer.from('portcullis-ban exp:1000060 scan').toString('hex')}\n-A ufw-user-input -s 192.0.2.3 -j DROP`);
  });

  it("a live ban's fast block, waiting for its `ufw prepend` behind the batch, is put back after the load replaced ufw's user chain", async () => {
    const { exec, calls } = ufwOk();
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000, forwardMirror: () => false, ufwFiles: { etcDir: dir, defaultsFile: defaults, lock: noLock } });
    await b.blockNow!(t('203.0.113.50'));
    calls.length = 0;
    await b.banMany(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map((ip) => ({ ip: t(ip), timeoutSec: 60, comment: '' })));
    const ran = calls.map((c) => [c.bin, ...c.args].join(' '));
    expect(ran.slice(ran.indexOf('iptablesRestore -n'))).toEqual([
      'iptablesRestore -n',
      'ufw show added',
      'iptables -w -I ufw-user-input 1 -s 203.0.113.50 -m comment --comment portcullis-fast -j DROP',
    ]);
    // Its ban then takes the fast block back as always.
    calls.length = 0;
    await b.ban(t('203.0.113.50'), 60, '');
    expect(calls.map((c) => [c.bin, c.args[0], c.args[1]].join(' '))).toEqual(['ufw prepend deny', 'iptables -w -D']);
  });

  it("a batch that fails after a load (its put-back reloads ufw's chain) still puts the fast blocks back, of that family only", async () => {
    const { exec, calls } = ufwOk((c) => (c.bin === 'ip6tablesRestore' && c.args[0] === '-n' ? { code: 1, stderr: 'line 25 failed' } : undefined));
    const b = createBanBackend('ufw', exec, { cutConnections: false, now: () => 1_000_000_000, forwardMirror: () => false, ufwFiles: { etcDir: dir, defaultsFile: defaults, lock: noLock } });
    await b.blockNow!(t('203.0.113.50'));
    await b.blockNow!(t('2001:db8:ffff::50'));
    calls.length = 0;
    await expect(b.banMany(['192.0.2.1', '192.0.2.2', '2001:db8::3', '2001:db8::4'].map((ip) => ({ ip: t(ip), timeoutSec: 60, comment: '' })))).rejects.toMatchObject({ code: 'reload-failed' });
    const ran = calls.map((c) => [c.bin, ...c.args].join(' '));
    // ufw-user-input was loaded twice (the batch, then the put-back): its fast block must be back;
    // ufw6-user-input's load failed (one transaction: nothing changed), so its block is still there.
    expect(ran.filter((x) => x.includes('portcullis-fast'))).toEqual(['iptables -w -I ufw-user-input 1 -s 203.0.113.50 -m comment --comment portcullis-fast -j DROP']);
    expect(ran.at(-1)).toMatch(/^iptables -w -I ufw-user-input 1 -s 203.0.113.50/);
  });
});

describe('many unbans through the files (reconcile\'s stale bans, uninstall)', () => {
  const plus = (text: string, bans: PlannedBan[]): string => {
    const r = withDenyEntries(text, bans);
    if (!r.ok) throw new Error(r.reason);
    return r.text;
  };
  const ours = [ban('192.0.2.7'), ban('192.0.2.0/24', 'portcullis-ban'), ban('192.0.2.9', 'portcullis-ban exp:1 manual')];

  it('taking our entries out gives back the file byte for byte; the user\'s rules stay, whatever their tag', () => {
    const r = withoutDenyEntries(plus(USER4, ours), [t('192.0.2.7'), t('192.0.2.0/24'), t('192.0.2.9'), t('198.51.100.5'), t('203.0.113.1')]);
    if (!r.ok) throw new Error(r.reason);
    expect(r.text).toBe(USER4); // the user's untagged deny of 198.51.100.5 is still there
    // Asked for but no entry of ours found: handed back (the backend asks only for what `ufw show
    // added` lists as its bans, and leaves the rest to `ufw delete`), never silently dropped.
    expect([r.removed, r.leftOver]).toEqual([['192.0.2.7', '192.0.2.0/24', '192.0.2.9'], ['198.51.100.5', '203.0.113.1']]);
    // A logged deny with our tag is not ours (ufw show added does not list it as a ban); an entry of
    // ours with a rule line this code does not expect is left to `ufw delete`.
    const odd = USER4.replace(
      '### END RULES ###',
      `### tuple ### deny_log any any 0.0.0.0/0 any 203.0.113.12 in comment=${Buffer.from('portcullis-ban').toString('hex')}\n-A ufw-user-input -s 203.0.113.12 -j DROP\n\n` +
        `### tuple ### deny any any 0.0.0.0/0 any 203.0.113.13 in comment=${Buffer.from('portcullis-ban').toString('hex')}\n-A ufw-user-input -s 203.0.113.13 -j LOG\n-A ufw-user-input -s 203.0.113.13 -j DROP\n\n### END RULES ###`,
    );
    const o = withoutDenyEntries(odd, [t('203.0.113.12'), t('203.0.113.13')]);
    if (!o.ok) throw new Error(o.reason);
    expect([o.text, o.removed, o.leftOver]).toEqual([odd, [], ['203.0.113.13', '203.0.113.12']]);
    expect(withoutDenyEntries('*filter\nCOMMIT\n', [t('192.0.2.7')])).toMatchObject({ ok: false });
  });

  it("the ufw backend's unbanMany of 4 or more: one edit and one load per family, no `ufw delete`; fewer, or one unban: `ufw delete` each", async () => {
    writeFileSync(join(dir, 'user.rules'), plus(USER4, [...ours, ban('192.0.2.10')]));
    writeFileSync(join(dir, 'user6.rules'), plus(USER6, [ban('2001:db8::7')]));
    const { exec, calls } = ufwOk();
    const b = createBanBackend('ufw', exec, { cutConnections: false, forwardMirror: () => false, ufwFiles: { etcDir: dir, defaultsFile: defaults, lock: noLock } });
    await b.blockNow!(t('203.0.113.50')); // a live ban's fast block, its `ufw prepend` still queued
    calls.length = 0;
    await b.unbanMany(['192.0.2.7', '192.0.2.0/24', '192.0.2.9', '2001:db8::7', '198.51.100.5'].map(t));
    const ran = calls.map((c) => [c.bin, ...c.args].join(' '));
    expect(ran).toEqual([
      'ufw show added',
      'iptablesRestore --test',
      'ip6tablesRestore --test',
      'iptablesRestore -n',
      'ip6tablesRestore -n',
      'ufw show added',
      'iptables -w -I ufw-user-input 1 -s 203.0.113.50 -m comment --comment portcullis-fast -j DROP',
    ]);
    expect(read('user6.rules')).toBe(USER6);
    expect(read('user.rules')).toBe(plus(USER4, [ban('192.0.2.10')]));
    calls.length = 0;
    await b.unbanMany([t('192.0.2.10')]);
    await b.unban(t('192.0.2.10'));
    expect(calls.filter((c) => c.bin === 'ufw' && c.args[0] === 'delete').map((c) => c.args.join(' '))).toEqual(['delete deny from 192.0.2.10', 'delete deny from 192.0.2.10']);
  });

  it("an edit refused (here the --test of the load) falls back to one `ufw delete` each: the bans still come out", async () => {
    const withOurs = plus(USER4, [...ours, ban('192.0.2.10')]);
    writeFileSync(join(dir, 'user.rules'), withOurs);
    const { exec, calls } = ufwOk((c) => (c.args[0] === '--test' ? { code: 2, stderr: 'line 9 failed' } : undefined));
    const b = createBanBackend('ufw', exec, { cutConnections: false, forwardMirror: () => false, ufwFiles: { etcDir: dir, defaultsFile: defaults, lock: noLock } });
    await b.unbanMany(['192.0.2.7', '192.0.2.0/24', '192.0.2.9', '192.0.2.10'].map(t));
    expect(read('user.rules')).toBe(withOurs); // the refused edit changed nothing
    expect(calls.filter((c) => c.bin === 'ufw' && c.args[0] === 'delete').map((c) => c.args.join(' '))).toEqual([
      'delete deny from 192.0.2.7',
      'delete deny from 192.0.2.0/24',
      'delete deny from 192.0.2.9',
      'delete deny from 192.0.2.10',
    ]);
  });

  it('ufw still listing a ban taken out puts the previous files back (and loads them again); IPV6=no leaves IPv6 to `ufw delete`', async () => {
    const withOurs = plus(USER4, ours);
    writeFileSync(join(dir, 'user.rules'), withOurs);
    const { exec, calls } = ufwOk();
    const stale = async () => [{ ip: t('192.0.2.9') }];
    await expect(unbanManyInUfwFiles(exec, ours.map((o) => o.ip), stale, { etcDir: dir, defaultsFile: defaults, lock: noLock })).rejects.toThrow(/still lists 1 of the 3 bans.*put back/);
    expect(read('user.rules')).toBe(withOurs);
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => c.input)).toEqual([USER4, withOurs]);
    writeFileSync(defaults, 'IPV6=no\n');
    const r = await unbanManyInUfwFiles(exec, [...ours.map((o) => o.ip), t('2001:db8::7')], listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock });
    expect(r).toEqual({ removed: 3, loaded: true, notTaken: ['2001:db8::7'] });
    expect(read('user.rules')).toBe(USER4);
  });
});

describe("a put-back runs under ufw's lock and never undoes someone else's edit", () => {
  const bans = [ban('192.0.2.7'), ban('192.0.2.8'), ban('2001:db8::7'), ban('2001:db8:1::/64')];
  /** What `ufw allow 80/tcp` leaves: the file it read (ours, here) with the user's rule added. */
  const withAllow80 = (text: string) => text.replace('\n### END RULES ###', '\n### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 80 -j ACCEPT\n\n### END RULES ###');
  /** A lock that says whether it is held, and an exec that notes, per call, whether it ran under it. */
  const recordingLock = () => {
    let held = false;
    const lock: UfwLock = async () => {
      held = true;
      return async () => void (held = false);
    };
    return { lock, held: () => held };
  };

  it("the put-back after `ufw show added` (it runs once the batch let go of the lock) takes ufw's lock again for its writes and loads", async () => {
    const { lock, held } = recordingLock();
    const underLock: string[] = [];
    const { exec } = ufwOk((c) => void (c.args[0] === '-n' && underLock.push(`${c.bin} ${c.input === USER4 || c.input === USER6 ? 'prev' : 'next'} ${held() ? 'locked' : 'UNLOCKED'}`)));
    const missing = async () => (await listTagged()).filter((x) => x.ip !== '2001:db8::7');
    await expect(banManyInUfwFiles(exec, bans, missing, { etcDir: dir, defaultsFile: defaults, lock })).rejects.toThrow(/did not list 1 of the 4 bans.*previous files were put back$/);
    expect(underLock).toEqual(['iptablesRestore next locked', 'ip6tablesRestore next locked', 'iptablesRestore prev locked', 'ip6tablesRestore prev locked']);
    expect(held()).toBe(false);
  });

  it("a ban batch's put-back: a file changed since we wrote it (`ufw allow 80` typed while ufw listed our bans) stays theirs, in the file and the kernel, and the error says so", async () => {
    const { exec, calls } = ufwOk();
    let theirs = '';
    const missing = async () => {
      theirs = withAllow80(read('user.rules')); // ufw took its lock after ours was let go, and rewrote the file
      writeFileSync(join(dir, 'user.rules'), theirs);
      return (await listTagged()).filter((x) => x.ip !== '2001:db8::7');
    };
    const err = await banManyInUfwFiles(exec, bans, missing, { etcDir: dir, defaultsFile: defaults, lock: noLock }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/the previous user6\.rules was put back; .*\/user\.rules changed since Portcullis wrote it \(someone else's edit.*not put back/);
    expect(read('user.rules')).toBe(theirs);
    expect(read('user6.rules')).toBe(USER6);
    // user.rules's old text is not loaded over theirs; user6.rules's is.
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => c.input)).toEqual([expect.stringContaining('192.0.2.8'), expect.stringContaining('2001:db8::7'), USER6]);
  });

  it("an unban batch's put-back leaves a file changed since we wrote it as it is, and says so", async () => {
    const ours = [ban('192.0.2.7'), ban('192.0.2.0/24'), ban('192.0.2.9')];
    const withOurs = USER4.replace('### RULES ###\n', `### RULES ###\n${ours.map(ufwDenyEntry).join('')}`);
    writeFileSync(join(dir, 'user.rules'), withOurs);
    const { exec, calls } = ufwOk();
    let theirs = '';
    const stale = async () => {
      theirs = withAllow80(read('user.rules'));
      writeFileSync(join(dir, 'user.rules'), theirs);
      return [{ ip: t('192.0.2.9') }];
    };
    await expect(unbanManyInUfwFiles(exec, ours.map((o) => o.ip), stale, { etcDir: dir, defaultsFile: defaults, lock: noLock })).rejects.toThrow(/still lists 1 of the 3 bans.*user\.rules changed since Portcullis wrote it.*not put back/);
    expect(read('user.rules')).toBe(theirs);
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => c.input)).toEqual([USER4]);
  });

  it("the ufw backend's unbanMany whose put-back was skipped (the user's edit since): the bans still come out, and the warning reaches the caller through the dispatcher and the adapter", async () => {
    const ours = [ban('192.0.2.7'), ban('192.0.2.0/24'), ban('192.0.2.9'), ban('192.0.2.10')];
    writeFileSync(join(dir, 'user.rules'), USER4.replace('### RULES ###\n', `### RULES ###\n${ours.map(ufwDenyEntry).join('')}`));
    let shown = 0;
    let theirs = '';
    const { exec, calls } = ufwOk((c) => {
      if (c.bin !== 'ufw' || c.args[0] !== 'show' || ++shown !== 2) return undefined;
      // The check after the load: `ufw allow 80` was typed meanwhile (ufw rewrote the file), and ufw lists one ban still.
      theirs = withAllow80(read('user.rules'));
      writeFileSync(join(dir, 'user.rules'), theirs);
      return { stdout: "ufw deny from 192.0.2.9 comment 'portcullis-ban exp:1900000000 scan'\n" };
    });
    const { deps, audit } = fakeDeps();
    deps.exec = exec;
    deps.firewall.createBanBackend = (kind, helperExec) => createBanBackend(kind, helperExec, { cutConnections: false, forwardMirror: () => false, ufwFiles: { etcDir: dir, defaultsFile: defaults, lock: noLock } });
    const d = createHelperDispatcher(deps);
    const port = firewallPortOf(callViaDispatcher((r) => d.handle(r)), 'ufw');
    const warnings = await port.unbanMany!(ours.map((o) => o.ip), 'manual');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/still lists 1 of the 4 bans.*\/user\.rules changed since Portcullis wrote it.*not put back; check ufw show added \(the bans ufw still listed were lifted with one `ufw delete` each\)$/);
    // The user's file stays theirs; the failed edit had taken every ban out of it already, so no `ufw delete` was needed.
    expect(read('user.rules')).toBe(theirs);
    await expect(listTagged()).resolves.toEqual([]);
    expect(calls.filter((c) => c.bin === 'ufw' && c.args[0] === 'delete')).toEqual([]);
    await d.auditWritten();
    expect(audit.entries.map((e) => `${e.op} ${e.result}`)).toEqual(['unbanMany ok']);
  });

  it("a failed load's put-back (under the batch's lock) leaves a file an editor changed meanwhile as it is, and says so", async () => {
    let theirs = '';
    const { exec, calls } = ufwOk((c) => {
      if (c.bin !== 'ip6tablesRestore' || c.args[0] !== '-n') return undefined;
      theirs = withAllow80(read('user.rules')); // an editor, which takes no lock of ufw's
      writeFileSync(join(dir, 'user.rules'), theirs);
      return { code: 1, stderr: 'ip6tables-restore: line 25 failed' };
    });
    const err = await banManyInUfwFiles(exec, bans, listTagged, { etcDir: dir, defaultsFile: defaults, lock: noLock }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'reload-failed', message: expect.stringMatching(/line 25 failed.*the previous user6\.rules was put back; .*\/user\.rules changed since Portcullis wrote it.*not put back/) });
    expect(read('user.rules')).toBe(theirs);
    expect(read('user6.rules')).toBe(USER6);
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => c.input)).not.toContain(USER4);
  });
});

describe('a helper killed between writing ufw\'s files and loading them: the next start (or batch) loads them', () => {
  const bans = [ban('192.0.2.7'), ban('192.0.2.8'), ban('2001:db8::7'), ban('2001:db8:1::/64')];
  const opts = () => ({ etcDir: dir, defaultsFile: defaults, lock: noLock });
  const pending = () => (existsSync(join(dir, PENDING_LOAD_FILE)) ? JSON.parse(read(PENDING_LOAD_FILE)) : null);
  /** An exec that stops for good at the `n`th load (`-n`): the helper killed there runs nothing more. */
  const killedAtLoad = (n: number) => {
    let loads = 0;
    return fakeExec((c) => {
      if (c.args[0] === '-n' && ++loads === n) throw new Error('killed');
      if (c.bin === 'ufw' && c.args[0] === 'show') return { stdout: showAdded() };
      return undefined;
    });
  };
  const loadsOf = (calls: Call[]) => calls.filter((c) => c.args[0] === '-n').map((c) => `${c.bin} ${c.input === read(c.bin === 'iptablesRestore' ? 'user.rules' : 'user6.rules') ? 'file as it is' : 'OTHER TEXT'}`);

  it('a ban batch killed before its load: the marker names both files; finishing loads them as they are (the bans in force) and removes it', async () => {
    await expect(banManyInUfwFiles(killedAtLoad(1).exec, bans, listTagged, opts())).rejects.toThrow('killed');
    expect(read('user.rules')).toContain('-A ufw-user-input -s 192.0.2.8 -j DROP'); // swapped in, never loaded
    expect(pending()).toEqual({ files: ['user.rules', 'user6.rules'] });
    const { exec, calls } = fakeExec();
    expect(await finishInterruptedEdit(exec, opts())).toEqual({ loaded: [join(dir, 'user.rules'), join(dir, 'user6.rules')] });
    expect(loadsOf(calls)).toEqual(['iptablesRestore file as it is', 'ip6tablesRestore file as it is']);
    expect(pending()).toBeNull();
    // Nothing left to finish: no load, and ufw's lock (a python3 process) not even taken.
    let locks = 0;
    calls.length = 0;
    expect(await finishInterruptedEdit(exec, { ...opts(), lock: async () => (locks++, async () => {}) })).toBeNull();
    expect([calls.length, locks]).toEqual([0, 0]);
  });

  it('an unban batch killed before its load: finishing loads the files without our denies (the kernel stops dropping them)', async () => {
    const ours = [ban('192.0.2.7'), ban('192.0.2.0/24'), ban('192.0.2.9'), ban('192.0.2.10')];
    writeFileSync(join(dir, 'user.rules'), USER4.replace('### RULES ###\n', `### RULES ###\n${ours.map(ufwDenyEntry).join('')}`));
    await expect(unbanManyInUfwFiles(killedAtLoad(1).exec, ours.map((o) => o.ip), listTagged, opts())).rejects.toThrow('killed');
    expect(read('user.rules')).toBe(USER4);
    expect(pending()).toEqual({ files: ['user.rules'] });
    const { exec, calls } = fakeExec();
    await finishInterruptedEdit(exec, opts());
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => [c.bin, c.input])).toEqual([['iptablesRestore', USER4]]);
    expect(pending()).toBeNull();
  });

  it('the next batch loads first what an interrupted one left unloaded (here user6.rules, which it does not touch itself)', async () => {
    await expect(banManyInUfwFiles(killedAtLoad(2).exec, bans, listTagged, opts())).rejects.toThrow('killed'); // user.rules loaded, user6.rules not
    const { exec, calls } = ufwOk();
    await banManyInUfwFiles(exec, [ban('192.0.2.20'), ban('192.0.2.21'), ban('192.0.2.22'), ban('192.0.2.23')], listTagged, opts());
    const ran = calls.map((c) => `${c.bin} ${c.args[0]}`);
    expect(ran).toEqual(['iptablesRestore -n', 'ip6tablesRestore -n', 'iptablesRestore --test', 'iptablesRestore -n']);
    expect(calls[1]!.input).toBe(read('user6.rules'));
    expect(calls[1]!.input).toContain('-A ufw6-user-input -s 2001:db8::7 -j DROP');
    expect(pending()).toBeNull();
  });

  it('a put-back killed before its load: the marker names the files written back, and finishing loads them', async () => {
    const missing = async () => (await listTagged()).filter((x) => x.ip !== '2001:db8::7');
    await expect(banManyInUfwFiles(killedAtLoad(3).exec, bans, missing, opts())).rejects.toThrow('killed'); // both loaded, then the put-back's first load
    expect([read('user.rules'), read('user6.rules')]).toEqual([USER4, USER6]);
    expect(pending()).toEqual({ files: ['user.rules', 'user6.rules'] });
    const { exec, calls } = fakeExec();
    await finishInterruptedEdit(exec, opts());
    expect(calls.filter((c) => c.args[0] === '-n').map((c) => c.input)).toEqual([USER4, USER6]);
  });

  it('no marker stays after a batch that loaded, one whose failed load was put back, or one while ufw is disabled (nothing to load)', async () => {
    await banManyInUfwFiles(ufwOk().exec, bans, listTagged, opts());
    expect(pending()).toBeNull();
    const failing = ufwOk((c) => (c.bin === 'ip6tablesRestore' && c.args[0] === '-n' ? { code: 1, stderr: 'line 25 failed' } : undefined));
    await expect(banManyInUfwFiles(failing.exec, [ban('192.0.2.30'), ban('192.0.2.31'), ban('2001:db8::30'), ban('2001:db8::31')], listTagged, opts())).rejects.toMatchObject({ code: 'reload-failed' });
    expect(pending()).toBeNull();
    writeFileSync(join(dir, 'ufw.conf'), 'ENABLED=no\n');
    await banManyInUfwFiles(ufwOk().exec, [ban('192.0.2.40'), ban('192.0.2.41'), ban('192.0.2.42'), ban('192.0.2.43')], listTagged, opts());
    expect(pending()).toBeNull();
  });

  it('a load that fails while finishing keeps the marker, and refuses the next batch before it changes anything', async () => {
    await expect(banManyInUfwFiles(killedAtLoad(1).exec, bans, listTagged, opts())).rejects.toThrow('killed');
    const swapped = read('user.rules');
    const { exec, calls } = ufwOk((c) => (c.bin === 'iptablesRestore' && c.args[0] === '-n' ? { code: 1, stderr: 'line 3 failed' } : undefined));
    await expect(finishInterruptedEdit(exec, opts())).rejects.toMatchObject({ code: 'reload-failed', message: expect.stringMatching(/interrupted edit.*line 3 failed.*run ufw reload/) });
    expect(pending()).not.toBeNull();
    calls.length = 0;
    await expect(banManyInUfwFiles(exec, [ban('192.0.2.50'), ban('192.0.2.51'), ban('192.0.2.52'), ban('192.0.2.53')], listTagged, opts())).rejects.toMatchObject({ code: 'reload-failed' });
    expect(calls.some((c) => c.args[0] === '--test')).toBe(false);
    expect(read('user.rules')).toBe(swapped);
  });

  it('a marker cut short counts for both files, user6.rules only with IPV6=yes; with ufw disabled nothing is loaded and the marker goes', async () => {
    writeFileSync(join(dir, PENDING_LOAD_FILE), '{"files":["user.ru');
    const { exec, calls } = fakeExec();
    await finishInterruptedEdit(exec, opts());
    expect(calls.map((c) => c.bin)).toEqual(['iptablesRestore', 'ip6tablesRestore']);
    writeFileSync(join(dir, PENDING_LOAD_FILE), '{"files":["user.rules","user6.rules"]}');
    writeFileSync(defaults, 'IPV6=no\n');
    calls.length = 0;
    expect(await finishInterruptedEdit(exec, opts())).toEqual({ loaded: [join(dir, 'user.rules')] });
    writeFileSync(join(dir, PENDING_LOAD_FILE), '{"files":["user.rules"]}');
    writeFileSync(join(dir, 'ufw.conf'), 'ENABLED=no\n');
    calls.length = 0;
    expect(await finishInterruptedEdit(exec, opts())).toEqual({ loaded: [] });
    expect(calls).toEqual([]);
    expect(pending()).toBeNull();
  });
});
