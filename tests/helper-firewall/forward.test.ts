/**
 * The forward block (issue 12.2) without root: its rule text, the named blocks beside the set block,
 * the exact argv it runs (install, DOCKER-USER jumps, removal), the ufw backend's mirror into the
 * sets, the Doctor's check, and the helper refusing anything outside its closed operations.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasBlock, setBlockRules, SET_BLOCK_ANCHOR, withBlock, withoutBlock } from '../../electron/helper/firewall/blocks.ts';
import * as firewallModule from '../../electron/helper/firewall/index.ts';
import { createBanBackend, installSetBlock, managedBlocksStatus } from '../../electron/helper/firewall/index.ts';
import { FORWARD_BEFORE_ANCHOR, forwardAfterRules, forwardBeforeRules } from '../../electron/helper/firewall/forward-blocks.ts';
import { forwardBlockStatus, forwardLoggingVia, installForwardBlock, removeForwardBlock, repairForwardJumps } from '../../electron/helper/firewall/forward.ts';
import { mirrorRequests } from '../../electron/helper/firewall/forward-mirror.ts';
import { forwardBlockCheck, forwardBlockNeedsRefresh } from '../../electron/helper/forward-check.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import type { Ip } from '../../electron/shared/domain.ts';
import { decodeHelperRequest } from '../../electron/shared/helper-protocol.ts';
import { fakeDeps } from '../helper/fakes.ts';
import { type Call, fakeExec } from './fake-exec.ts';

const line = (c: Call) => [c.bin, ...c.args].join(' ');
const SHOW_ADDED = [
  'Added user rules (see \'ufw status\' for running firewall):',
  "ufw deny from 192.0.2.5 comment 'portcullis-ban exp:1000000600 scan'",
  "ufw deny from 192.0.2.6 comment 'portcullis-ban exp:999999000'", // due: not revived in the set
  "ufw deny from 2001:db8::5 comment 'portcullis-ban'",
  "ufw deny from 198.51.100.1 comment 'my own rule'",
  'ufw allow 22/tcp',
].join('\n');

describe('forward block rule text', () => {
  it('v4: drops banned sources in ufw-before-forward, logs only new, not DNATed, not-from-a-container connections, per source', () => {
    const before = forwardBeforeRules(4);
    const after = forwardAfterRules(4);
    if (!before.ok || !after.ok) throw new Error('refused');
    expect(before.rules.filter((l) => !l.startsWith('#'))).toEqual([
      ':portcullis-forward - [0:0]',
      ':portcullis-docker-log - [0:0]',
      '-A portcullis-forward -m set --match-set portcullis-ban4 src -j DROP',
      '-A portcullis-forward -m set --match-set portcullis-net4 src -j DROP',
      '-A ufw-before-forward -j portcullis-forward',
      '-A portcullis-docker-log -m conntrack ! --ctstate NEW -j RETURN',
      '-A portcullis-docker-log -m conntrack --ctstate DNAT -j RETURN',
      '-A portcullis-docker-log -i docker0 -j RETURN',
      '-A portcullis-docker-log -i br-+ -j RETURN',
      '-A portcullis-docker-log -o docker0 -m hashlimit --hashlimit-mode srcip --hashlimit-upto 10/min --hashlimit-burst 20 --hashlimit-name portcullis-fwd4 -j LOG --log-prefix "[PORTCULLIS FORWARD] "',
      '-A portcullis-docker-log -o br-+ -m hashlimit --hashlimit-mode srcip --hashlimit-upto 10/min --hashlimit-burst 20 --hashlimit-name portcullis-fwd4 -j LOG --log-prefix "[PORTCULLIS FORWARD] "',
    ]);
    const body = after.rules.filter((l) => !l.startsWith('#'));
    // Everything that is not evidence returns BEFORE the LOG; container bridges are DOCKER-USER's (logged once).
    const log = body.findIndex((l) => l.includes('-j LOG'));
    for (const skip of ['! --ctstate NEW', '--ctstate DNAT', '-i docker0', '-i br-+', '-o docker0', '-o br-+']) {
      const i = body.findIndex((l) => l.includes(skip) && l.endsWith('-j RETURN'));
      expect(i, skip).toBeGreaterThan(0);
      expect(i, skip).toBeLessThan(log);
    }
    expect(body.at(-1)).toBe('-A ufw-after-forward -j portcullis-forward-log');
  });

  it("v6: ufw6-'s chains and the v6 set; a bad budget is refused with the reason", () => {
    const before = forwardBeforeRules(6, { ratePerMinute: 30, burst: 5 });
    const after = forwardAfterRules(6);
    if (!before.ok || !after.ok) throw new Error('refused');
    expect(before.rules).toContain('-A portcullis-forward -m set --match-set portcullis-ban6 src -j DROP');
    expect(before.rules).toContain('-A ufw6-before-forward -j portcullis-forward');
    expect(before.rules.join('\n')).toContain('--hashlimit-upto 30/min --hashlimit-burst 5 --hashlimit-name portcullis-fwd6');
    expect(after.rules).toContain('-A ufw6-after-forward -j portcullis-forward-log');
    expect(forwardBeforeRules(4, { burst: 0 })).toEqual({ ok: false, reason: 'burst must be a whole number from 1 to 10000' });
    expect(forwardAfterRules(6, { ratePerMinute: 1.5 }).ok).toBe(false);
  });

  it('the named FORWARD block and the unnamed set block share before.rules, each added and removed alone', () => {
    const original = readFileSync(new URL('./fixtures/before.rules', import.meta.url), 'utf8');
    const rules = forwardBeforeRules(4);
    if (!rules.ok) throw new Error('refused');
    const withSet = withBlock(original, setBlockRules(4), SET_BLOCK_ANCHOR);
    if (!withSet.ok) throw new Error(withSet.reason);
    const both = withBlock(withSet.text, rules.rules, FORWARD_BEFORE_ANCHOR, '', 'FORWARD');
    if (!both.ok) throw new Error(both.reason);
    expect(hasBlock(both.text)).toBe(true);
    expect(hasBlock(both.text, 'FORWARD')).toBe(true);
    // Applying the forward block again replaces it (once), and removing it gives back the set-block file.
    const again = withBlock(both.text, rules.rules, FORWARD_BEFORE_ANCHOR, '', 'FORWARD');
    expect(again).toEqual(both);
    expect(withoutBlock(both.text, 'FORWARD')).toEqual({ ok: true, text: withSet.text });
    const noSet = withoutBlock(both.text);
    if (!noSet.ok) throw new Error(noSet.reason);
    expect(hasBlock(noSet.text)).toBe(false);
    expect(withoutBlock(noSet.text, 'FORWARD')).toEqual({ ok: true, text: original });
    // Both blocks sit before ufw's ESTABLISHED accept: a banned host's established flow is dropped too.
    const lines = both.text.split('\n');
    const established = lines.indexOf('# quickly process packets for which we already have a connection');
    expect(lines.findIndex((l) => l.includes('-j portcullis-forward'))).toBeLessThan(established);
  });
});

describe('forward block install/remove (temp etcDir, fake exec)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pc-fwd-'));
    cpSync(new URL('./fixtures/', import.meta.url).pathname, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const fixture = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');
  const FILES = ['before.rules', 'before6.rules', 'after.rules', 'after6.rules', 'before.init'];

  /** A namespace with ufw active; `docker`: DOCKER-USER exists; `jumped`: our jumps are in it. */
  const kernel = (o: { docker: boolean; jumped: boolean; chains?: boolean }) =>
    fakeExec((c) => {
      if (c.bin === 'ufw' && c.args[0] === 'status') return { stdout: 'Status: active\n' };
      if (c.bin === 'ufw' && c.args.join(' ') === 'show added') return { stdout: SHOW_ADDED };
      if (c.bin === 'iptables' || c.bin === 'ip6tables') {
        const a = c.args.join(' ');
        if (a === '-w -n -L DOCKER-USER') return { code: o.docker ? 0 : 1 };
        if (a.startsWith('-w -n -L portcullis-')) return { code: o.chains === false ? 1 : 0 };
        if (a.startsWith('-w -C DOCKER-USER')) return { code: o.docker && o.jumped ? 0 : 1 };
      }
      return undefined;
    });

  it('install: sets, four files checked by the right restore binary, reload, DOCKER-USER jumps in order, the ufw bans copied into the sets', async () => {
    const { exec, calls } = kernel({ docker: true, jumped: false });
    await installForwardBlock(exec, { etcDir: dir, now: () => 1_000_000_000_000 });
    expect(calls.filter((c) => c.bin === 'ipset' && c.args[1] === 'create').map((c) => c.args[2])).toEqual(['portcullis-ban4', 'portcullis-ban6', 'portcullis-net4', 'portcullis-net6']);
    const tests = calls.filter((c) => c.args[0] === '--test');
    expect(tests.map((c) => c.bin).sort()).toEqual(['ip6tablesRestore', 'ip6tablesRestore', 'iptablesRestore', 'iptablesRestore']);
    expect(calls.filter((c) => c.bin === 'ufw' && c.args[0] === 'reload')).toHaveLength(1);
    for (const f of FILES) expect(hasBlock(read(f), 'FORWARD'), f).toBe(true);
    expect(read('before.init')).toContain('-exist create portcullis-ban4 hash:ip');
    const inserts = calls.filter((c) => c.args[1] === '-I').map(line);
    expect(inserts).toEqual([
      'iptables -w -I DOCKER-USER 1 -m comment --comment portcullis-forward -j portcullis-forward',
      'iptables -w -I DOCKER-USER 2 -m comment --comment portcullis-forward -j portcullis-docker-log',
      'ip6tables -w -I DOCKER-USER 1 -m comment --comment portcullis-forward -j portcullis-forward',
      'ip6tables -w -I DOCKER-USER 2 -m comment --comment portcullis-forward -j portcullis-docker-log',
    ]);
    // The ufw backend's live bans, with the time they have left; the due one and the user's rule are not copied.
    const restore = calls.filter((c) => c.bin === 'ipset' && c.args[0] === 'restore');
    expect(restore).toHaveLength(1);
    expect(restore[0]!.input).toBe(
      'add -exist portcullis-ban4 192.0.2.5 timeout 600 comment "portcullis-ban ufw-backend"\n' +
        'add -exist portcullis-ban6 2001:db8::5 timeout 0 comment "portcullis-ban ufw-backend"\n',
    );
    expect(await managedBlocksStatus({ etcDir: dir })).toEqual({ setBlock: false, perSourceLogging: false, perSourceLoggingVia: null, perSourceLoggingByFamily: { v4: null, v6: null }, forward: true, forwardVia: 'log' });
  });

  it('install again: nothing reloaded, no jump added twice; without Docker no DOCKER-USER change at all', async () => {
    await installForwardBlock(kernel({ docker: true, jumped: false }).exec, { etcDir: dir });
    const again = kernel({ docker: true, jumped: true });
    await installForwardBlock(again.exec, { etcDir: dir });
    expect(again.calls.some((c) => c.args[0] === 'reload')).toBe(false);
    expect(again.calls.some((c) => c.args[1] === '-I' || c.args[1] === '-D')).toBe(false);
    const noDocker = kernel({ docker: false, jumped: false });
    await installForwardBlock(noDocker.exec, { etcDir: dir });
    expect(noDocker.calls.filter((c) => c.bin === 'iptables' || c.bin === 'ip6tables').map(line)).toEqual([
      'iptables -w -n -L DOCKER-USER',
      'ip6tables -w -n -L DOCKER-USER',
    ]);
  });

  it('a missing jump (Docker restarted) is reported by the status and put back by installing again', async () => {
    await installForwardBlock(kernel({ docker: false, jumped: false }).exec, { etcDir: dir });
    const st = await forwardBlockStatus(kernel({ docker: true, jumped: false }).exec, { etcDir: dir });
    expect(st).toEqual({ installed: true, logsRouted: true, via: 'log', loaded: { v4: true, v6: true }, dockerUser: { v4: 'missing-jump', v6: 'missing-jump' } });
    expect(forwardBlockCheck(st, false)).toMatchObject({ id: 'forward-block', ok: false });
    const fix = kernel({ docker: true, jumped: false });
    await installForwardBlock(fix.exec, { etcDir: dir });
    expect(fix.calls.some((c) => c.args[0] === 'reload')).toBe(false); // files unchanged
    expect(fix.calls.filter((c) => c.args[1] === '-I')).toHaveLength(4);
  });

  it("the periodic repair: one `iptables -C` per family while the jumps are there; both put back where dockerd or a ufw reload took them", async () => {
    // Not installed: not a process run.
    const none = kernel({ docker: true, jumped: false });
    expect(await repairForwardJumps(none.exec, { etcDir: dir })).toEqual({ repaired: [] });
    expect(none.calls).toEqual([]);
    await installForwardBlock(kernel({ docker: true, jumped: true }).exec, { etcDir: dir });
    const fine = kernel({ docker: true, jumped: true });
    expect(await repairForwardJumps(fine.exec, { etcDir: dir })).toEqual({ repaired: [] });
    expect(fine.calls.map(line)).toEqual([
      'iptables -w -C DOCKER-USER -m comment --comment portcullis-forward -j portcullis-forward',
      'ip6tables -w -C DOCKER-USER -m comment --comment portcullis-forward -j portcullis-forward',
    ]);
    // dockerd recreated DOCKER-USER (or a reload flushed it): both jumps again, first and in order.
    const lost = kernel({ docker: true, jumped: false });
    expect(await repairForwardJumps(lost.exec, { etcDir: dir })).toEqual({ repaired: ['v4', 'v6'] });
    expect(lost.calls.filter((c) => c.args[1] === '-I').map(line)).toEqual([
      'iptables -w -I DOCKER-USER 1 -m comment --comment portcullis-forward -j portcullis-forward',
      'iptables -w -I DOCKER-USER 2 -m comment --comment portcullis-forward -j portcullis-docker-log',
      'ip6tables -w -I DOCKER-USER 1 -m comment --comment portcullis-forward -j portcullis-forward',
      'ip6tables -w -I DOCKER-USER 2 -m comment --comment portcullis-forward -j portcullis-docker-log',
    ]);
    // No Docker, or ufw off (our chains not loaded): nothing to join, nothing added, nothing repaired.
    for (const k of [kernel({ docker: false, jumped: false }), kernel({ docker: true, jumped: false, chains: false })]) {
      expect(await repairForwardJumps(k.exec, { etcDir: dir })).toEqual({ repaired: [] });
      expect(k.calls.some((c) => c.args[1] === '-I' || c.args[1] === '-D')).toBe(false);
    }
  });

  it('remove: jumps deleted while present, files byte for byte, our chains flushed and deleted, the sets destroyed', async () => {
    await installForwardBlock(kernel({ docker: true, jumped: false }).exec, { etcDir: dir });
    // The kernel's DOCKER-USER: both jumps in both families, until their -D ran.
    const present = new Set(['iptables portcullis-forward', 'iptables portcullis-docker-log', 'ip6tables portcullis-forward', 'ip6tables portcullis-docker-log']);
    const { exec, calls } = fakeExec((c) => {
      if (c.bin === 'ufw' && c.args[0] === 'status') return { stdout: 'Status: active\n' };
      const key = `${c.bin} ${c.args.at(-1)}`;
      if (c.args[1] === '-C') return { code: present.has(key) ? 0 : 1 };
      if (c.args[1] === '-D') present.delete(key);
      return undefined;
    });
    await removeForwardBlock(exec, { etcDir: dir });
    for (const f of FILES) expect(read(f), f).toBe(fixture(f));
    const deletes = calls.filter((c) => c.args[1] === '-D').map(line);
    expect(deletes).toHaveLength(4);
    expect(deletes).toContain('iptables -w -D DOCKER-USER -m comment --comment portcullis-forward -j portcullis-forward');
    expect(deletes).toContain('ip6tables -w -D DOCKER-USER -m comment --comment portcullis-forward -j portcullis-docker-log');
    expect(present.size).toBe(0);
    for (const bin of ['iptables', 'ip6tables']) {
      for (const chain of ['portcullis-forward', 'portcullis-docker-log', 'portcullis-forward-log']) {
        expect(calls.map(line)).toContain(`${bin} -w -F ${chain}`);
        expect(calls.map(line)).toContain(`${bin} -w -X ${chain}`);
      }
    }
    // Chains go after the reload that unhooks them from ufw's chains.
    const reload = calls.findIndex((c) => c.args[0] === 'reload');
    expect(calls.findIndex((c) => c.args[1] === '-X')).toBeGreaterThan(reload);
    expect(calls.filter((c) => c.args[0] === 'destroy').map((c) => c.args[1])).toEqual(['portcullis-ban4', 'portcullis-ban6', 'portcullis-net4', 'portcullis-net6']);
  });

  it("ufw's routed policy allow: the after.rules part logs nothing (routed traffic reaching it is accepted)", async () => {
    writeFileSync(join(dir, 'default-ufw'), 'IPV6=yes\nDEFAULT_FORWARD_POLICY="ACCEPT"\n');
    await installForwardBlock(kernel({ docker: false, jumped: false }).exec, { etcDir: dir, defaultsFile: join(dir, 'default-ufw') });
    expect(read('after.rules')).not.toContain('-j LOG');
    expect(read('after.rules')).toContain('-A ufw-after-forward -j portcullis-forward-log');
    expect(read('before.rules')).toContain('-j LOG --log-prefix "[PORTCULLIS FORWARD] "'); // DOCKER-USER's part stays: Docker drops those
    expect((await forwardBlockStatus(kernel({ docker: false, jumped: false }).exec, { etcDir: dir })).logsRouted).toBe(false);
    writeFileSync(join(dir, 'default-ufw'), 'DEFAULT_FORWARD_POLICY="DROP"\n');
    await installForwardBlock(kernel({ docker: false, jumped: false }).exec, { etcDir: dir, defaultsFile: join(dir, 'default-ufw') });
    expect(read('after6.rules')).toContain('-j LOG --log-prefix "[PORTCULLIS FORWARD] "');
  });

  it('the NFLOG variant (the nflog source): every logging rule of both families sends to Portcullis\'s group with the forward prefix; the status tells the variant, and installing again switches it', async () => {
    await installForwardBlock(kernel({ docker: false, jumped: false }).exec, { etcDir: dir, via: 'nflog' });
    const nflog = '-j NFLOG --nflog-group 5417 --nflog-prefix "[PORTCULLIS FORWARD]" --nflog-size 2048 --nflog-threshold 1';
    for (const f of ['before.rules', 'before6.rules', 'after.rules', 'after6.rules']) {
      const logging = read(f).split('\n').filter((l) => / -j (LOG|NFLOG) /.test(l));
      expect(logging.length, f).toBeGreaterThan(0);
      expect(logging.every((l) => l.endsWith(nflog)), f).toBe(true);
    }
    const st = () => forwardBlockStatus(kernel({ docker: false, jumped: false }).exec, { etcDir: dir });
    expect(await st()).toMatchObject({ installed: true, logsRouted: true, via: 'nflog' });
    const back = kernel({ docker: false, jumped: false });
    await installForwardBlock(back.exec, { etcDir: dir, via: 'log' });
    expect(back.calls.filter((c) => c.bin === 'ufw' && c.args[0] === 'reload')).toHaveLength(1);
    expect(read('after6.rules')).not.toContain('NFLOG');
    expect(await st()).toMatchObject({ via: 'log' });
    // One family switched by hand: mixed, null (the runner and the fix install it again).
    writeFileSync(join(dir, 'before6.rules'), read('before6.rules').replaceAll('-j LOG --log-prefix "[PORTCULLIS FORWARD] "', nflog));
    expect(await st()).toMatchObject({ installed: true, via: null });
  });

  it('forwardLoggingVia: before.rules decide, an after.rules without a logging rule (routed policy allow) says nothing, any disagreement is null', () => {
    const LOGR = ['-A portcullis-docker-log -o docker0 -j LOG --log-prefix "[PORTCULLIS FORWARD] "'];
    const NFR = ['-A portcullis-docker-log -o docker0 -j NFLOG --nflog-group 5417'];
    const of = (m: Record<string, string[] | null>) => forwardLoggingVia((f) => m[f] ?? null);
    expect(of({ 'before.rules': NFR, 'before6.rules': NFR, 'after.rules': [], 'after6.rules': [] })).toBe('nflog');
    expect(of({ 'before.rules': LOGR, 'before6.rules': LOGR, 'after.rules': LOGR, 'after6.rules': LOGR })).toBe('log');
    expect(of({ 'before.rules': NFR, 'before6.rules': NFR, 'after.rules': LOGR, 'after6.rules': NFR })).toBeNull();
    expect(of({ 'before.rules': NFR, 'before6.rules': LOGR })).toBeNull();
    expect(of({})).toBeNull();
  });

  it('remove keeps the sets while the set block uses them', async () => {
    const active = kernel({ docker: false, jumped: false });
    await installSetBlock(active.exec, { etcDir: dir });
    await installForwardBlock(active.exec, { etcDir: dir });
    const rm = kernel({ docker: false, jumped: false, chains: false });
    await removeForwardBlock(rm.exec, { etcDir: dir });
    expect(rm.calls.some((c) => c.args[0] === 'destroy')).toBe(false);
    expect(await managedBlocksStatus({ etcDir: dir })).toEqual({ setBlock: true, perSourceLogging: false, perSourceLoggingVia: null, perSourceLoggingByFamily: { v4: null, v6: null }, forward: false, forwardVia: null });
    expect(read('before.init')).toContain('# BEGIN PORTCULLIS (managed');
    expect(read('before.init')).not.toContain('PORTCULLIS-FORWARD');
  });
});

describe('the ufw backend mirrored into the sets (forward-mirror.ts)', () => {
  const ip = (s: string) => s as Ip;
  const ufwAnswers = () =>
    fakeExec((c) => (c.bin === 'ufw' && c.args.join(' ') === 'show added' ? { stdout: SHOW_ADDED } : undefined));

  it('while the block is installed: ufw first, then the set; the sets are filled from the ufw rules once per session', async () => {
    const { exec, calls } = ufwAnswers();
    const b = createBanBackend('ufw', exec, { cutConnections: false, forwardMirror: () => true, now: () => 1_000_000_000_000 });
    await b.ban(ip('203.0.113.9'), 300, 'scan');
    await b.ban(ip('203.0.113.10'), null, '');
    await b.unban(ip('192.0.2.5'));
    expect(calls.map((c) => `${line(c)}${c.input ? ` | ${c.input.trim()}` : ''}`)).toEqual([
      'ufw prepend deny from 203.0.113.9 comment portcullis-ban exp:1000000300 scan',
      'ufw show added',
      'ipset restore -exist | add -exist portcullis-ban4 192.0.2.5 timeout 600 comment "portcullis-ban ufw-backend"\nadd -exist portcullis-ban6 2001:db8::5 timeout 0 comment "portcullis-ban ufw-backend"',
      'ipset restore -exist | add -exist portcullis-ban4 203.0.113.9 timeout 300 comment "portcullis-ban ufw-backend"',
      'ufw prepend deny from 203.0.113.10 comment portcullis-ban',
      'ipset restore -exist | add -exist portcullis-ban4 203.0.113.10 timeout 0 comment "portcullis-ban ufw-backend"',
      'ufw show added',
      'ufw delete deny from 192.0.2.5',
      'ipset restore -exist | del -exist portcullis-ban4 192.0.2.5',
    ]);
  });

  it("a live ban's forward-set element goes in with its fast block (blockNow), before `ufw prepend`, with the ban's timeout", async () => {
    const { exec, calls } = ufwAnswers();
    const b = createBanBackend('ufw', exec, { cutConnections: false, forwardMirror: () => true, now: () => 1_000_000_000_000 });
    await b.blockNow!(ip('203.0.113.9'), 300);
    await b.blockNow!(ip('2001:db8::9'), null);
    // Input and forward path both blocked, and not a ufw process run yet.
    expect(calls.map(line)).toEqual([
      'iptables -w -I ufw-user-input 1 -s 203.0.113.9 -m comment --comment portcullis-fast -j DROP',
      'ipset add portcullis-ban4 203.0.113.9 timeout 300 comment portcullis-ban ufw-backend',
      'ip6tables -w -I ufw6-user-input 1 -s 2001:db8::9 -m comment --comment portcullis-fast -j DROP',
      'ipset add portcullis-ban6 2001:db8::9 timeout 0 comment portcullis-ban ufw-backend',
    ]);
    calls.length = 0;
    // The ban then writes ufw's rule and (re)sets the element as before: nothing taken back.
    expect(await b.ban(ip('203.0.113.9'), 300, 'scan')).toBeNull();
    expect(calls.map((c) => `${line(c)}${c.input ? ` | ${c.input.trim()}` : ''}`)).toEqual([
      'ufw prepend deny from 203.0.113.9 comment portcullis-ban exp:1000000300 scan',
      'iptables -w -D ufw-user-input -s 203.0.113.9 -m comment --comment portcullis-fast -j DROP',
      'ufw show added',
      'ipset restore -exist | add -exist portcullis-ban4 192.0.2.5 timeout 600 comment "portcullis-ban ufw-backend"\nadd -exist portcullis-ban6 2001:db8::5 timeout 0 comment "portcullis-ban ufw-backend"',
      'ipset restore -exist | add -exist portcullis-ban4 203.0.113.9 timeout 300 comment "portcullis-ban ufw-backend"',
    ]);
    // Without the block: blockNow adds no element.
    const off = ufwAnswers();
    await createBanBackend('ufw', off.exec, { cutConnections: false, forwardMirror: () => false }).blockNow!(ip('203.0.113.9'), 300);
    expect(off.calls.some((c) => c.bin === 'ipset')).toBe(false);
  });

  it('what ufw then refuses (a rule of the user\'s, an error) takes back the element blockNow added, never one that was there before', async () => {
    const userRule = "ufw allow from 203.0.113.7 comment 'mine'";
    const { exec, calls } = fakeExec((c) => {
      if (c.bin === 'ufw' && c.args.join(' ') === 'show added') return { stdout: `${SHOW_ADDED}\n${userRule}` };
      if (c.bin === 'ufw' && c.args[0] === 'prepend' && c.args[3] === '203.0.113.7') return { stdout: 'Skipping inserting existing rule\n' };
      if (c.bin === 'ufw' && c.args[0] === 'prepend' && (c.args[3] === '203.0.113.8' || c.args[3] === '203.0.113.5')) return { code: 1, stderr: 'ERROR: could not load' };
      // 203.0.113.5 is in the set already (an earlier ban of it, still in ufw): `ipset add` refuses.
      if (c.bin === 'ipset' && c.args[0] === 'add' && c.args[2] === '203.0.113.5') return { code: 1, stderr: "Element cannot be added to the set: it's already added" };
      return undefined;
    });
    const b = createBanBackend('ufw', exec, { cutConnections: false, forwardMirror: () => true });
    const dels = () => calls.filter((c) => c.bin === 'ipset' && (c.input ?? '').startsWith('del')).map((c) => c.input!.trim());
    await b.blockNow!(ip('203.0.113.7'), 300);
    expect(await b.ban(ip('203.0.113.7'), 300, '')).toEqual({ ip: '203.0.113.7', why: 'users-rule' });
    expect(dels()).toEqual(['del -exist portcullis-ban4 203.0.113.7']);
    await b.blockNow!(ip('203.0.113.8'), 300);
    await expect(b.ban(ip('203.0.113.8'), 300, '')).rejects.toMatchObject({ code: 'ufw' });
    expect(dels()).toEqual(['del -exist portcullis-ban4 203.0.113.7', 'del -exist portcullis-ban4 203.0.113.8']);
    // Not blockNow's element: a refused re-ban leaves it (ufw's earlier rule still blocks the input path).
    calls.length = 0;
    await b.blockNow!(ip('203.0.113.5'), 300);
    await expect(b.ban(ip('203.0.113.5'), 300, '')).rejects.toMatchObject({ code: 'ufw' });
    expect(calls.filter((c) => c.bin === 'ipset').map(line)).toEqual(['ipset add portcullis-ban4 203.0.113.5 timeout 300 comment portcullis-ban ufw-backend']);
  });

  it("a bulk ban's source ufw skipped (a rule of the user's own) is not mirrored into the forward set; the others are", async () => {
    // `ufw prepend` of 203.0.113.7 answers as ufw does for a source with a rule that is not ours (exit 0).
    const { exec, calls } = fakeExec((c) => {
      if (c.bin === 'ufw' && c.args.join(' ') === 'show added') return { stdout: SHOW_ADDED };
      if (c.bin === 'ufw' && c.args[0] === 'prepend' && c.args[3] === '203.0.113.7') return { stdout: 'Skipping inserting existing rule\n' };
      return undefined;
    });
    const b = createBanBackend('ufw', exec, { cutConnections: true, forwardMirror: () => true, now: () => 1_000_000_000_000 });
    const skipped = await b.banMany([ip('203.0.113.7'), ip('203.0.113.8')].map((x) => ({ ip: x, timeoutSec: 300, comment: '' })));
    expect(skipped.map((x) => x.ip)).toEqual(['203.0.113.7']);
    const ipset = calls.filter((c) => c.bin === 'ipset').map((c) => c.input ?? '').join('\n');
    expect(ipset).toContain('add -exist portcullis-ban4 203.0.113.8 timeout 300');
    expect(ipset).not.toContain('203.0.113.7');
    expect(calls.filter((c) => c.bin === 'conntrack').map((c) => c.args.join(' ')).join('\n')).not.toContain('203.0.113.7');
    // A single ban ufw skips: answered as skipped, neither mirrored nor cut.
    calls.length = 0;
    expect(await b.ban(ip('203.0.113.7'), 300, '')).toEqual({ ip: '203.0.113.7', why: 'users-rule' });
    expect(calls.filter((c) => c.bin === 'ipset' || c.bin === 'conntrack')).toEqual([]);
  });

  it('without the block: no ipset command at all; a ban ufw refuses never reaches the set', async () => {
    const off = ufwAnswers();
    const b = createBanBackend('ufw', off.exec, { cutConnections: false, forwardMirror: () => false });
    await b.ban(ip('203.0.113.9'), 300, '');
    await b.unban(ip('192.0.2.5'));
    expect(off.calls.some((c) => c.bin === 'ipset')).toBe(false);
    const refused = fakeExec((c) => (c.bin === 'ufw' ? { code: 1, stderr: 'ERROR: no' } : undefined));
    const r = createBanBackend('ufw', refused.exec, { cutConnections: false, forwardMirror: () => true });
    await expect(r.ban(ip('203.0.113.9'), 300, '')).rejects.toMatchObject({ code: 'ufw' });
    expect(refused.calls.some((c) => c.bin === 'ipset')).toBe(false);
  });

  it('an unban whose set is gone is done (nothing left to remove); a ban whose set is gone fails', async () => {
    const gone = fakeExec((c) => {
      if (c.bin === 'ufw' && c.args.join(' ') === 'show added') return { stdout: SHOW_ADDED };
      if (c.bin === 'ipset') return { code: 1, stderr: "ipset v7.17: Error in line 1: The set with the given name does not exist" };
      return undefined;
    });
    const b = createBanBackend('ufw', gone.exec, { cutConnections: false, forwardMirror: () => true });
    await expect(b.ban(ip('203.0.113.9'), 300, '')).rejects.toMatchObject({ code: 'ipset' });
    await expect(b.unban(ip('192.0.2.5'))).resolves.toBeUndefined();
    await expect(b.unbanMany([ip('192.0.2.5')])).resolves.toEqual([]); // nothing to warn of
  });

  it('mirrorRequests: the time left, nothing due, beyond what a set counts down = permanent', () => {
    const now = 1_000_000_000_000;
    expect(mirrorRequests(SHOW_ADDED, now)).toEqual([
      { ip: '192.0.2.5', timeoutSec: 600, comment: 'ufw-backend' },
      { ip: '2001:db8::5', timeoutSec: null, comment: 'ufw-backend' },
    ]);
    expect(mirrorRequests("ufw deny from 192.0.2.1 comment 'portcullis-ban exp:1099999999'", now)).toEqual([{ ip: '192.0.2.1', timeoutSec: null, comment: 'ufw-backend' }]);
  });
});

describe("the Doctor's forward check", () => {
  const st = (over: Partial<Parameters<typeof forwardBlockCheck>[0] & object> = {}) => ({
    installed: true,
    logsRouted: true,
    loaded: { v4: true, v6: true },
    dockerUser: { v4: 'jumped' as const, v6: 'absent' as const },
    ...over,
  });
  it('ok when installed and jumped, or when nothing is forwarded; a fix otherwise', () => {
    expect(forwardBlockCheck(st(), false).ok).toBe(true);
    expect(forwardBlockCheck(st({ installed: false, dockerUser: { v4: 'absent', v6: 'absent' } }), true)).toMatchObject({ ok: true });
    expect(forwardBlockCheck(st({ installed: false, dockerUser: { v4: 'absent', v6: 'absent' } }), false).detail).toMatch(/ip_forward on/);
    expect(forwardBlockCheck(st({ installed: false, dockerUser: { v4: 'missing-jump', v6: 'absent' } }), true).detail).toMatch(/DOCKER-USER chain exists/);
    expect(forwardBlockCheck(st({ loaded: { v4: false, v6: false } }), false).ok).toBe(false);
    expect(forwardBlockCheck(null, false).ok).toBe(false);
  });
  it("ufw's routed policy changed since the install: say so, the fix re-installs", () => {
    expect(forwardBlockCheck(st(), false, 'deny').ok).toBe(true);
    expect(forwardBlockCheck(st(), false, 'allow')).toMatchObject({ ok: false, detail: expect.stringMatching(/routed policy is allow/) });
    expect(forwardBlockCheck(st({ logsRouted: false }), false, 'allow').ok).toBe(true);
    expect(forwardBlockCheck(st({ logsRouted: false }), false, 'reject')).toMatchObject({ ok: false, detail: expect.stringMatching(/logs no routed probes/) });
  });
  it('the runner refreshes the block only when it is loaded and a DOCKER-USER lacks its jumps', () => {
    expect(forwardBlockNeedsRefresh(st({ dockerUser: { v4: 'jumped', v6: 'missing-jump' } }))).toBe(true);
    expect(forwardBlockNeedsRefresh(st())).toBe(false);
    expect(forwardBlockNeedsRefresh(st({ installed: false, dockerUser: { v4: 'missing-jump', v6: 'absent' } }))).toBe(false);
    expect(forwardBlockNeedsRefresh(st({ loaded: { v4: false, v6: false }, dockerUser: { v4: 'missing-jump', v6: 'absent' } }))).toBe(false);
    expect(forwardBlockNeedsRefresh(null)).toBe(false);
  });
});

describe('helper protocol and dispatcher: the forward block is a closed operation', () => {
  it('decodes block "forward" and a forwardStatus without arguments; refuses anything else', () => {
    expect(decodeHelperRequest({ id: 1, op: 'installBlocks', args: { block: 'forward' } }).ok).toBe(true);
    expect(decodeHelperRequest({ id: 1, op: 'forwardStatus' }).ok).toBe(true);
    for (const req of [
      { id: 1, op: 'installBlocks', args: { block: 'DOCKER-USER' } },
      { id: 1, op: 'removeBlocks', args: { block: 'forward', chain: 'FORWARD' } },
      { id: 1, op: 'forwardStatus', args: { family: 4 } },
      { id: 1, op: 'installBlocks', args: { block: '-F' } },
    ]) {
      const r = decodeHelperRequest(req);
      expect(r.ok, JSON.stringify(req)).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('invalid');
    }
    const unknown = decodeHelperRequest({ id: 1, op: 'installForwardBlock', args: {} });
    expect(!unknown.ok && unknown.error.code).toBe('unknown-op');
  });

  it('a ufw-backend ban with the forward block: the forward set has the scanner before `ufw prepend` is done, and one audit entry holds both', async () => {
    const { deps, calls, audit } = fakeDeps();
    // ufw's slow step, held: 3–7 s while a scanner keeps probing, longer behind a queue.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    deps.exec = async (bin, args) => {
      calls.push({ bin, args: [...args] });
      if (bin === 'ufw' && args[0] === 'prepend') await held;
      return { code: 0, stdout: '', stderr: '' };
    };
    deps.firewall = { ...firewallModule, createBanBackend: (kind, exec, o) => firewallModule.createBanBackend(kind, exec, { ...o, forwardMirror: () => true }) };
    const d = createHelperDispatcher(deps);
    const answer = d.handle({ id: 1, op: 'ban', args: { ip: '203.0.113.9', timeoutSec: 300, comment: 'scan', backend: 'ufw' } });
    const argv = () => calls.map((c) => [c.bin, ...c.args].join(' '));
    for (let i = 0; i < 50 && !argv().some((a) => a.startsWith('ufw prepend')); i++) await new Promise((r) => setTimeout(r, 5));
    expect(argv()).toContain('ipset add portcullis-ban4 203.0.113.9 timeout 300 comment portcullis-ban ufw-backend');
    expect(argv().findIndex((a) => a.startsWith('ipset add'))).toBeLessThan(argv().findIndex((a) => a.startsWith('ufw prepend')));
    release();
    expect(await answer).toMatchObject({ id: 1, ok: true });
    await d.auditWritten();
    expect(audit.entries).toHaveLength(1);
    // (The audit's argv names each binary by its full path.)
    expect(audit.entries[0]!.argv.map((a) => a.slice(1).join(' '))).toContain('add portcullis-ban4 203.0.113.9 timeout 300 comment portcullis-ban ufw-backend');
  });

  it('repairForwardJumps: no arguments; in the audit log only when it put jumps back (it runs every ~30 s)', async () => {
    expect(decodeHelperRequest({ id: 1, op: 'repairForwardJumps' }).ok).toBe(true);
    expect(decodeHelperRequest({ id: 1, op: 'repairForwardJumps', args: { family: 4 } }).ok).toBe(false);
    const { deps, fwCalls, audit } = fakeDeps();
    let answer: ('v4' | 'v6')[] = [];
    deps.firewall.repairForwardJumps = async () => {
      fwCalls.push('repairForwardJumps');
      return { repaired: answer };
    };
    const d = createHelperDispatcher(deps);
    expect(await d.handle({ id: 1, op: 'repairForwardJumps', args: {} })).toEqual({ id: 1, ok: true, result: { repaired: [] } });
    answer = ['v6'];
    expect(await d.handle({ id: 2, op: 'repairForwardJumps', args: {} })).toEqual({ id: 2, ok: true, result: { repaired: ['v6'] } });
    deps.firewall.repairForwardJumps = async () => {
      throw new Error('iptables: cannot add the jump');
    };
    expect(await d.handle({ id: 3, op: 'repairForwardJumps', args: {} })).toMatchObject({ id: 3, ok: false });
    await d.auditWritten();
    expect(fwCalls).toEqual(['repairForwardJumps', 'repairForwardJumps']);
    expect(audit.entries.map((e) => [e.op, e.result])).toEqual([
      ['repairForwardJumps', 'ok'],
      ['repairForwardJumps', 'error'],
    ]);
  });

  it('install/remove go through the firewall module and the audit log; forwardStatus reads and audits nothing; doctor has the check', async () => {
    const { deps, fwCalls, audit } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const inst = await d.handle({ id: 1, op: 'installBlocks', args: { block: 'forward' } });
    expect(inst).toMatchObject({ ok: true, result: { forward: true } });
    const st = await d.handle({ id: 2, op: 'forwardStatus', args: {} });
    expect(st).toMatchObject({ ok: true, result: { installed: true } });
    await d.handle({ id: 3, op: 'removeBlocks', args: { block: 'forward' } });
    expect(fwCalls).toEqual(['installForwardBlock', 'removeForwardBlock']);
    expect(audit.entries.map((e) => e.op)).toEqual(['installBlocks', 'removeBlocks']);
    const doc = await d.handle({ id: 4, op: 'doctor', args: {} });
    expect(doc.ok && (doc.result as { checks: { id: string }[] }).checks.map((c) => c.id)).toContain('forward-block');
    // Its variant, like the logging block's: a closed enum, passed on to the firewall module.
    await d.handle({ id: 5, op: 'installBlocks', args: { block: 'forward', via: 'nflog' } });
    expect(fwCalls.at(-1)).toBe('installForwardBlock:nflog');
    expect(decodeHelperRequest({ id: 6, op: 'installBlocks', args: { block: 'forward', via: 'ulog' } }).ok).toBe(false);
  });
});
