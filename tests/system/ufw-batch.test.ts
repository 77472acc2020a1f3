/**
 * The ufw backend's batch against real ufw in a namespace (private /etc/ufw and /etc/default through
 * `ip netns exec`): the rules files it writes are byte for byte what `ufw prepend` writes for the same
 * bans, and 500 bans (v4 and v6, one with the lab scanner's address) go in with ONE load per family
 * (`iptables-restore -n` of the file, as ufw loads it after a rule change) — all in
 * `ufw show added` and in the kernel, before the user's allow rule (the scanner cannot reach the
 * open port), the user's rules untouched, and a batch-written ban unbans through `ufw delete`. Many
 * unbans come out of the files the same way: what `ufw delete` leaves, byte for byte, one load per family.
 * A put-back never undoes a `ufw allow` typed after the batch's load; a helper killed between writing the
 * files and loading them leaves word of it, and finishing (the next start) puts the kernel in line.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { BanTarget } from '../../electron/shared/domain.ts';
import { createBanBackend } from '../../electron/helper/firewall/index.ts';
import { createUfwBackend, parseTaggedRules } from '../../electron/helper/firewall/ufw-backend.ts';
import { banManyInUfwFiles, finishInterruptedEdit, PENDING_LOAD_FILE, unbanManyInUfwFiles } from '../../electron/helper/firewall/ufw-batch.ts';
import { parseUfwStatus } from '../../electron/helper/ufw-status.ts';
import { sourcesDecidedByUser } from '../../electron/app/users-rule-owners.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

const enabled = requireSystem('root', 'netns', 'ufw');
const t = (s: string) => s as BanTarget;

describe.runIf(enabled)('ufw backend batch with real ufw (namespace)', () => {
  let lab: Lab | null = null;
  afterEach(async () => {
    await lab?.cleanup();
    lab = null;
  });
  const files = (l: Lab) => ({ etcDir: l.ufwDir, defaultsFile: `/etc/netns/${l.fwNs}/default/ufw` });

  it("writes user.rules and user6.rules exactly as `ufw prepend` does", async () => {
    lab = await createLab({ listen: false, kernelLog: false });
    const l = lab;
    const read = () => ['user.rules', 'user6.rules'].map((f) => readFileSync(`${l.ufwDir}/${f}`, 'utf8'));
    const before = read();
    const bans = [
      { ip: '100.64.0.1', tag: 'portcullis-ban exp:1900000000 scan syn' },
      { ip: '100.64.0.0/24', tag: 'portcullis-ban manual' },
      { ip: '2001:db8::1', tag: 'portcullis-ban exp:1900000000' },
      { ip: '2001:db8:1::/64', tag: 'portcullis-ban' },
    ];
    for (const b of bans) await l.ufw('prepend', 'deny', 'from', b.ip, 'comment', b.tag);
    const byUfw = read();
    ['user.rules', 'user6.rules'].forEach((f, i) => writeFileSync(`${l.ufwDir}/${f}`, before[i]!));
    await l.ufw('reload');
    const ufwBackend = createUfwBackend(l.fwExec);
    // ufw prepends each on top of the last: the batch in reverse order gives the same file.
    const r = await banManyInUfwFiles(l.fwExec, [...bans].reverse().map((b) => ({ ip: t(b.ip), tag: b.tag })), () => ufwBackend.list(), files(l));
    expect(r).toMatchObject({ added: 4, loaded: true });
    // And the kernel holds what ufw's own prepends loaded: each ban once, the user's allow once.
    const chain = (await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout;
    expect(chain.split('\n').filter((x) => x.startsWith('-A'))).toEqual(['-A ufw-user-input -s 100.64.0.0/24 -j DROP', '-A ufw-user-input -s 100.64.0.1/32 -j DROP', '-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT']);
    expect(read()).toEqual(byUfw);
  }, 120_000);

  it('500 bans: one load per family, all listed by ufw and in the kernel before the allow rule; user rules untouched; unban works', async () => {
    lab = await createLab({ kernelLog: false });
    const l = lab;
    const v4 = Array.from({ length: 449 }, (_, i) => `100.64.${i >> 7}.${(i & 127) + 1}`);
    const v6 = Array.from({ length: 50 }, (_, i) => `2001:db8:ffff::${(i + 1).toString(16)}`);
    const targets = [...v4, ...v6, l.scanner.v4];
    const userRulesBefore = (await l.ufw('status')).split('\n').filter((x) => /ALLOW/.test(x));
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true);

    const calls: string[] = [];
    const exec: typeof l.fwExec = (bin, args, o) => {
      calls.push(`${bin} ${args[0]}`);
      return l.fwExec(bin, args, o);
    };
    const b = createBanBackend('ufw', exec, { cutConnections: false, forwardMirror: () => false, ufwFiles: files(l) });
    const t0 = performance.now();
    await b.banMany(targets.map((ip) => ({ ip: t(ip), timeoutSec: 3600, comment: 'restore test' })));
    const ms = performance.now() - t0;
    console.log(`ufw batch of ${targets.length} bans: ${Math.round(ms)} ms`);
    expect(calls.filter((c) => c === 'ufw reload')).toHaveLength(0);
    expect(calls.filter((c) => c === 'iptablesRestore -n' || c === 'ip6tablesRestore -n')).toEqual(['iptablesRestore -n', 'ip6tablesRestore -n']);
    expect(calls.some((c) => c === 'ufw prepend')).toBe(false);

    const listed = parseTaggedRules(await l.ufw('show', 'added'));
    expect(new Set(listed.map((x) => x.ip))).toEqual(new Set(targets));
    expect(listed.every((x) => x.comment.startsWith('portcullis-ban exp:') && x.comment.endsWith(' restore test'))).toBe(true);
    const chain4 = (await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout.split('\n');
    const chain6 = (await l.exec(l.fwNs, ['ip6tables', '-w', '-S', 'ufw6-user-input'])).stdout.split('\n');
    expect(chain4.filter((x) => / -j DROP$/.test(x))).toHaveLength(450);
    expect(chain6.filter((x) => / -j DROP$/.test(x))).toHaveLength(50);
    // Every deny comes before the user's allow of 22/tcp, which is still there.
    const allowAt = chain4.findIndex((x) => /--dport 22 -j ACCEPT/.test(x));
    expect(allowAt).toBeGreaterThan(chain4.findLastIndex((x) => / -j DROP$/.test(x)));
    expect(chain4.filter((x) => /--dport 22 -j ACCEPT/.test(x))).toHaveLength(1);
    // A full reload afterwards (a boot, any rule change) keeps them: they are ufw's own rules.
    await l.ufw('reload');
    expect((await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout.split('\n').filter((x) => / -j DROP$/.test(x))).toHaveLength(450);
    expect((await l.ufw('status')).split('\n').filter((x) => /ALLOW/.test(x))).toEqual(userRulesBefore);
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 1000)).toBe(false);

    // ufw owns them now: the ordinary unban (`ufw delete deny from`) takes one away.
    await b.unban(t(l.scanner.v4));
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true);
    expect(parseTaggedRules(await l.ufw('show', 'added'))).toHaveLength(499);
  }, 300_000);

  it('many unbans: the files are what `ufw delete` leaves, byte for byte; 500 go with one load per family and the scanner gets in again', async () => {
    lab = await createLab({ kernelLog: false });
    const l = lab;
    const read = () => ['user.rules', 'user6.rules'].map((f) => readFileSync(`${l.ufwDir}/${f}`, 'utf8'));
    const ufwBackend = createUfwBackend(l.fwExec);
    const some = ['100.64.0.1', '100.64.0.0/24', '100.64.0.2', '2001:db8::1', '2001:db8:1::/64'];
    for (const ip of some) await l.ufw('prepend', 'deny', 'from', ip, 'comment', `portcullis-ban exp:1900000000 ${ip.length}`);
    const withBans = read();
    for (const ip of some.slice(0, 4)) await l.ufw('delete', 'deny', 'from', ip);
    const byUfw = read();
    ['user.rules', 'user6.rules'].forEach((f, i) => writeFileSync(`${l.ufwDir}/${f}`, withBans[i]!));
    await l.ufw('reload');
    const r = await unbanManyInUfwFiles(l.fwExec, some.slice(0, 4).map(t), () => ufwBackend.list(), files(l));
    expect(r).toEqual({ removed: 4, loaded: true, notTaken: [] });
    expect(read()).toEqual(byUfw);
    expect((await l.exec(l.fwNs, ['ip6tables', '-w', '-S', 'ufw6-user-input'])).stdout).toContain('-A ufw6-user-input -s 2001:db8:1::/64 -j DROP');
    await ufwBackend.unban(t('2001:db8:1::/64'));

    // 500 bans (the scanner's among them), then all out: one load per family, no `ufw delete`.
    const targets = [...Array.from({ length: 449 }, (_, i) => `100.64.${i >> 7}.${(i & 127) + 1}`), ...Array.from({ length: 50 }, (_, i) => `2001:db8:ffff::${(i + 1).toString(16)}`), l.scanner.v4];
    const calls: string[] = [];
    const exec: typeof l.fwExec = (bin, args, o) => (calls.push(`${bin} ${args[0]}`), l.fwExec(bin, args, o));
    const b = createBanBackend('ufw', exec, { cutConnections: false, forwardMirror: () => false, ufwFiles: files(l) });
    await b.banMany(targets.map((ip) => ({ ip: t(ip), timeoutSec: 3600, comment: 'stale' })));
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 1000)).toBe(false);
    calls.length = 0;
    const t0 = performance.now();
    await b.unbanMany(targets.map(t));
    console.log(`ufw unbanMany of ${targets.length} bans through the files: ${Math.round(performance.now() - t0)} ms`);
    expect(calls.filter((c) => c === 'iptablesRestore -n' || c === 'ip6tablesRestore -n')).toEqual(['iptablesRestore -n', 'ip6tablesRestore -n']);
    expect(calls.some((c) => c === 'ufw delete' || c === 'ufw reload')).toBe(false);
    expect(parseTaggedRules(await l.ufw('show', 'added'))).toEqual([]);
    expect((await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout).not.toContain('-j DROP');
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true);

    // What the same cost one `ufw delete` each (the path a single unban keeps), for the record.
    await b.banMany(targets.slice(0, 20).map((ip) => ({ ip: t(ip), timeoutSec: 3600, comment: 'stale' })));
    const t1 = performance.now();
    for (const ip of targets.slice(0, 20)) await b.unban(t(ip));
    console.log(`ufw delete of 20 bans one by one: ${Math.round(performance.now() - t1)} ms`);
  }, 300_000);

  it("skips a source the user allows, as `ufw prepend deny from` does (ufw: \"Skipping inserting existing rule\")", async () => {
    lab = await createLab({ listen: false, kernelLog: false });
    const l = lab;
    await l.ufw('allow', 'from', '100.64.9.9');
    // What ufw itself does with the same ban: the user's allow stays, no deny is added.
    expect(await l.ufw('prepend', 'deny', 'from', '100.64.9.9', 'comment', 'portcullis-ban')).toMatch(/Skipping inserting existing rule/);
    const before = readFileSync(`${l.ufwDir}/user.rules`, 'utf8');
    const ufwBackend = createUfwBackend(l.fwExec);
    const bans = ['100.64.9.9', '100.64.9.10', '100.64.9.11', '100.64.9.12'].map((ip) => ({ ip: t(ip), tag: 'portcullis-ban' }));
    const r = await banManyInUfwFiles(l.fwExec, bans, () => ufwBackend.list(), files(l));
    expect(r).toMatchObject({ added: 3, loaded: true });
    expect(r.skipped.map((b) => b.ip)).toEqual(['100.64.9.9']); // named, so the caller never calls it banned
    const after = readFileSync(`${l.ufwDir}/user.rules`, 'utf8');
    expect(after).not.toContain('-s 100.64.9.9 -j DROP');
    expect(after).toContain(before.slice(before.indexOf('### tuple ### allow any any 0.0.0.0/0 any 100.64.9.9 in')).split('\n')[0]!);
    const chain = (await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout;
    expect(chain).toContain('-A ufw-user-input -s 100.64.9.9/32 -j ACCEPT');
    expect(chain).not.toContain('-s 100.64.9.9/32 -j DROP');
    // One ban through `ufw prepend` of that source: ufw skips it the same way, and the backend says so
    // instead of reporting a ban that is not in force.
    expect(await ufwBackend.ban(t('100.64.9.9'), 600, 'scan')).toEqual({ ip: '100.64.9.9', why: 'users-rule' });
    // A ban of its own ufw skips again (a second ban of a banned source) still stands.
    expect(await ufwBackend.ban(t('100.64.9.10'), 600, 'again')).toBeNull();
    expect((await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout).toContain('-A ufw-user-input -s 100.64.9.10/32 -j DROP');
    // The backend's banMany, on both of its paths (file batch of 4+, `ufw prepend` below), names the skipped source.
    const many = (ips: string[]) => ips.map((ip) => ({ ip: t(ip), timeoutSec: 600, comment: 'bulk' }));
    const batchBackend = createUfwBackend(l.fwExec, Date.now, files(l));
    expect((await batchBackend.banMany(many(['100.64.9.9', '100.64.9.20', '100.64.9.21', '100.64.9.22']))).map((x) => x.ip)).toEqual(['100.64.9.9']);
    expect((await batchBackend.banMany(many(['100.64.9.9', '100.64.9.23']))).map((x) => x.ip)).toEqual(['100.64.9.9']);
    const chain2 = (await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout;
    for (const ip of ['100.64.9.20', '100.64.9.23']) expect(chain2).toContain(`-A ufw-user-input -s ${ip}/32 -j DROP`);
    expect(chain2).not.toContain('-s 100.64.9.9/32 -j DROP');
  }, 120_000);

  it("a source with both our deny and the user's allow: the first rule decides — the user's allow above ours lets it in, and every ban path answers skipped 'users-rule'; ours above theirs blocks it and stays ours", async () => {
    lab = await createLab({ kernelLog: false });
    const l = lab;
    const src = l.scanner.v4;
    const path = `${l.ufwDir}/user.rules`;
    const tag = 'portcullis-ban exp:1900000000 scan';
    // ufw's CLI never makes both (`ufw allow from IP` replaces our deny, `ufw insert 1 allow from IP`
    // is skipped): a hand-edited user.rules does. Our deny as `ufw prepend` writes it, the user's allow
    // above or below it, loaded by ufw itself.
    await l.ufw('prepend', 'deny', 'from', src, 'comment', tag);
    const withOurs = readFileSync(path, 'utf8');
    const ours = withOurs.slice(withOurs.indexOf(`### tuple ### deny any any 0.0.0.0/0 any ${src} in`)).split('\n').slice(0, 2).join('\n');
    const allow = `### tuple ### allow any any 0.0.0.0/0 any ${src} in\n-A ufw-user-input -s ${src} -j ACCEPT`;
    const rulesWith = (first: string, second: string) => withOurs.replace(ours, `${first}\n\n${second}`);
    const many = (ips: string[]) => ips.map((ip) => ({ ip: t(ip), timeoutSec: 600, comment: 'bulk' }));
    const backend = createUfwBackend(l.fwExec, Date.now, files(l));

    writeFileSync(path, rulesWith(allow, ours));
    await l.ufw('reload');
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true); // ufw stops at the allow
    expect(parseTaggedRules(await l.ufw('show', 'added')).map((x) => x.ip)).toContain(src); // ours is listed, and does nothing
    expect(await backend.ban(t(src), 600, 'scan')).toEqual({ ip: src, why: 'users-rule' });
    expect(await backend.banMany(many([src, '100.64.9.30']))).toEqual([{ ip: src, why: 'users-rule' }]);
    expect(await backend.banMany(many([src, '100.64.9.31', '100.64.9.32', '100.64.9.33']))).toEqual([{ ip: src, why: 'users-rule' }]);
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true);

    writeFileSync(path, rulesWith(ours, allow));
    await l.ufw('reload');
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 1000)).toBe(false); // ufw stops at our deny
    expect(await backend.ban(t(src), 600, 'scan')).toBeNull();
    expect(await backend.banMany(many([src, '100.64.9.34']))).toEqual([]);
    expect(await backend.banMany(many([src, '100.64.9.35', '100.64.9.36', '100.64.9.37']))).toEqual([]);
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 1000)).toBe(false);
  }, 180_000);

  it("`ufw allow from IP` replaces our ban's deny in place (\"Rule updated\"): the rules view the service reads says the user's rule decides that source, the ban is no longer ours, and unbanning it leaves the user's rule", async () => {
    lab = await createLab({ kernelLog: false });
    const l = lab;
    const src = l.scanner.v4;
    const backend = createUfwBackend(l.fwExec, Date.now, files(l));
    expect(await backend.ban(t(src), 600, 'scan')).toBeNull();
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 1000)).toBe(false);
    const view = async () => parseUfwStatus(await l.ufw('status', 'numbered')).rules;
    expect(sourcesDecidedByUser(await view()).has(src)).toBe(false);
    expect(await l.ufw('allow', 'from', src)).toMatch(/Rule updated/);
    expect(sourcesDecidedByUser(await view()).has(src)).toBe(true);
    expect((await backend.list()).map((b) => b.ip)).not.toContain(src);
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true);
    await backend.unban(t(src));
    expect((await view()).filter((r) => r.from === src).map((r) => r.action)).toEqual(['allow']);
  }, 120_000);
  it("a put-back after `ufw show added` keeps the `ufw allow` the admin typed after the batch's load, in the file and the kernel", async () => {
    lab = await createLab({ listen: false, kernelLog: false });
    const l = lab;
    const ufwBackend = createUfwBackend(l.fwExec);
    const bans = ['100.64.7.1', '100.64.7.2', '100.64.7.3', '100.64.7.4'].map((ip) => ({ ip: t(ip), tag: 'portcullis-ban exp:1900000000' }));
    const listed = async () => {
      await l.ufw('allow', '8080/tcp'); // real ufw, under its own lock, between our load and our put-back
      return (await ufwBackend.list()).filter((x) => x.ip !== '100.64.7.4'); // as if ufw had not read one of ours
    };
    const err = await banManyInUfwFiles(l.fwExec, bans, listed, files(l)).then(() => null, (e: Error) => e);
    expect(readFileSync(`${l.ufwDir}/user.rules`, 'utf8')).toContain('-A ufw-user-input -p tcp --dport 8080 -j ACCEPT');
    expect((await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout).toContain('-A ufw-user-input -p tcp -m tcp --dport 8080 -j ACCEPT');
    expect(err?.message).toMatch(/user\.rules changed since Portcullis wrote it.*not put back/);
  }, 120_000);

  it('a helper killed between writing the files and loading them: the kernel disagrees with ufw until finishing loads them (a ban batch, then an unban batch)', async () => {
    lab = await createLab({ kernelLog: false });
    const l = lab;
    const ufwBackend = createUfwBackend(l.fwExec);
    /** The helper killed at its first load: nothing after it runs (ufw's lock goes with the process). */
    const killedAtLoad: typeof l.fwExec = async (bin, args, o) => {
      if (args[0] === '-n') throw new Error('killed');
      return l.fwExec(bin, args, o);
    };
    const targets = [l.scanner.v4, '100.64.8.1', '100.64.8.2', '100.64.8.3'].map(t);
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true);
    await expect(banManyInUfwFiles(killedAtLoad, targets.map((ip) => ({ ip, tag: 'portcullis-ban' })), () => ufwBackend.list(), files(l))).rejects.toThrow('killed');
    expect((await ufwBackend.list()).map((x) => x.ip)).toContain(l.scanner.v4); // ufw's files say banned…
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true); // …the kernel lets it in
    expect(existsSync(`${l.ufwDir}/${PENDING_LOAD_FILE}`)).toBe(true);
    expect(await finishInterruptedEdit(l.fwExec, files(l))).toEqual({ loaded: [`${l.ufwDir}/user.rules`] });
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 1000)).toBe(false);

    await expect(unbanManyInUfwFiles(killedAtLoad, targets, () => ufwBackend.list(), files(l))).rejects.toThrow('killed');
    expect(await ufwBackend.list()).toEqual([]); // ufw's files say unbanned…
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 1000)).toBe(false); // …the kernel still drops it
    await finishInterruptedEdit(l.fwExec, files(l));
    expect(await l.canConnect(l.scanner.ns, l.scanner.fwV4, 22, 3000)).toBe(true);
    expect((await l.exec(l.fwNs, ['iptables', '-w', '-S', 'ufw-user-input'])).stdout).not.toContain('-j DROP');
    expect(existsSync(`${l.ufwDir}/${PENDING_LOAD_FILE}`)).toBe(false);
  }, 180_000);
});
