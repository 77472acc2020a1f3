/**
 * Issue 12.2, for real: a router namespace (the lab's firewall namespace, running ufw) publishes a
 * "container" port through DNAT, as Docker does, and the forward block makes the forwarded traffic
 * seen and bannable.
 *
 *   pc-scan-…  [s0] ──── [f0]  pc-fw-… (ufw; ip_forward on; bridge docker0 10.x.y.1/24)
 *                                 nat PREROUTING: DST=f0 tcp/8080 → DNAT 10.x.y.2:80
 *                                 filter FORWARD: DOCKER-USER, then Docker's accepts/drops, then ufw's chains
 *                               [docker0] ── [veth] ──── [eth0]  pc-ct-… (echo server on :80)
 *
 * Docker itself is not installed on this machine: the test builds what dockerd would (the bridge,
 * the DNAT rule, a DOCKER-USER chain jumped first from FORWARD with its trailing RETURN, a DOCKER
 * chain accepting the published port and — as Docker 28 does — dropping the rest into the bridge).
 * The block is installed by `portcullis doctor --fix install-forward-block`, and `portcullis run`
 * (the ufw backend: its bans must reach the forward path through the set mirror) reads /dev/kmsg.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalIp } from '../../electron/shared/domain.ts';
import { removeForwardBlock } from '../../electron/helper/firewall/forward.ts';
import { removeSetBlock } from '../../electron/helper/firewall/managed.ts';
import { requireSystem } from '../support/system.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { cliOnce, removeDir, setMembers, startCli, taggedUfwRules, tempStateDir, until, writeConfig, type RunningCli } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack');
const nflogEnabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack', 'nflog-reader');
const execFileP = promisify(execFile);
/** `ip …` in the machine's own namespace: only to add and delete namespaces and veth links, never its firewall. */
const ipHost = (...args: string[]) => execFileP('/usr/sbin/ip', args);

const PUBLISHED = 8080;
const CONTAINER_PORT = 80;
/** Ports of the container that nobody published: Docker 28 drops routed connections to them. */
const UNPUBLISHED = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008];
const FILES = ['before.rules', 'before6.rules', 'after.rules', 'after6.rules', 'before.init'];

interface Router {
  lab: Lab;
  ct: string;
  /** The container's address per family. */
  ctIp: string;
  ctIp6: string;
  echo: ChildProcess;
}

/** What dockerd would build in the router namespace (both families, as with Docker's ip6tables on), and the "container" behind it. */
async function buildRouter(lab: Lab): Promise<Router> {
  const ct = `pc-ct-${lab.id}`;
  const net = `10.${randomInt(1, 250)}.${randomInt(1, 250)}`;
  const net6 = `fd${randomInt(16, 255).toString(16)}:${(0x1000 + randomInt(0xf000)).toString(16)}:d0c::`;
  const ctIp = `${net}.2`;
  const ctIp6 = `${net6}2`;
  const fw = (...argv: string[]) => lab.run(lab.fwNs, argv);
  await ipHost('netns', 'add', ct);
  await lab.run(ct, ['ip', 'link', 'set', 'lo', 'up']);
  await fw('ip', 'link', 'add', 'docker0', 'type', 'bridge');
  await fw('ip', 'addr', 'add', `${net}.1/24`, 'dev', 'docker0');
  await fw('ip', '-6', 'addr', 'add', `${net6}1/64`, 'dev', 'docker0', 'nodad');
  await fw('ip', 'link', 'set', 'docker0', 'up');
  await ipHost('link', 'add', `pc${lab.id}v`, 'netns', lab.fwNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ct);
  await fw('ip', 'link', 'set', `pc${lab.id}v`, 'master', 'docker0');
  await fw('ip', 'link', 'set', `pc${lab.id}v`, 'up');
  await lab.run(ct, ['ip', 'addr', 'add', `${ctIp}/24`, 'dev', 'eth0']);
  await lab.run(ct, ['ip', '-6', 'addr', 'add', `${ctIp6}/64`, 'dev', 'eth0', 'nodad']);
  await lab.run(ct, ['ip', 'link', 'set', 'eth0', 'up']);
  await lab.run(ct, ['ip', 'route', 'add', 'default', 'via', `${net}.1`]);
  await lab.run(ct, ['ip', '-6', 'route', 'add', 'default', 'via', `${net6}1`]);
  // This namespace's own values.
  await fw('sysctl', '-qw', 'net.ipv4.ip_forward=1');
  await fw('sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
  // The scanner is the router's LAN neighbour: it can also route to the container network directly.
  await lab.run(lab.scanner.ns, ['ip', 'route', 'add', `${net}.0/24`, 'via', lab.scanner.fwV4]);
  await lab.run(lab.scanner.ns, ['ip', '-6', 'route', 'add', `${net6}/64`, 'via', lab.scanner.fwV6]);
  // Docker's rules, as `docker run -p 8080:80` leaves them (ufw's own chains were there first).
  for (const [bin, hostIp, ctAddr, dest] of [
    ['iptables', lab.scanner.fwV4, `${ctIp}/32`, `${ctIp}:${CONTAINER_PORT}`],
    ['ip6tables', lab.scanner.fwV6, `${ctIp6}/128`, `[${ctIp6}]:${CONTAINER_PORT}`],
  ] as const) {
    await fw(bin, '-w', '-t', 'nat', '-A', 'PREROUTING', '-d', hostIp, '-p', 'tcp', '--dport', String(PUBLISHED), '-j', 'DNAT', '--to-destination', dest);
    for (const chain of ['DOCKER-USER', 'DOCKER']) await fw(bin, '-w', '-N', chain);
    await fw(bin, '-w', '-A', 'DOCKER-USER', '-j', 'RETURN');
    await fw(bin, '-w', '-A', 'DOCKER', '-d', ctAddr, '!', '-i', 'docker0', '-o', 'docker0', '-p', 'tcp', '--dport', String(CONTAINER_PORT), '-j', 'ACCEPT');
    await fw(bin, '-w', '-A', 'DOCKER', '!', '-i', 'docker0', '-o', 'docker0', '-j', 'DROP');
    const forward = [
      ['-j', 'DOCKER-USER'],
      ['-o', 'docker0', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
      ['-o', 'docker0', '-j', 'DOCKER'],
      ['-i', 'docker0', '!', '-o', 'docker0', '-j', 'ACCEPT'],
    ];
    for (const [i, spec] of forward.entries()) await fw(bin, '-w', '-I', 'FORWARD', String(i + 1), ...spec);
  }
  const echo = spawn('/usr/sbin/ip', ['netns', 'exec', ct, 'socat', `TCP6-LISTEN:${CONTAINER_PORT},fork,reuseaddr,ipv6only=0,backlog=64`, 'EXEC:/bin/cat'], { stdio: 'ignore' });
  await until(async () => (await lab.exec(ct, ['ss', '-Htln', `sport = :${CONTAINER_PORT}`])).stdout.trim() !== '', 5000, 'the container to listen');
  return { lab, ct, ctIp, ctIp6, echo };
}

async function destroyRouter(r: Router): Promise<void> {
  r.echo.kill('SIGKILL');
  await ipHost('netns', 'delete', r.ct).catch(() => undefined);
}

const iptablesSave = async (lab: Lab, bin: 'iptables-save' | 'ip6tables-save') => lab.run(lab.fwNs, [bin]);

describe.runIf(enabled)('forward block: routed and container (DNAT) traffic (issue 12.2; Docker emulated, not installed)', () => {
  let router: Router | null = null;
  let cli: RunningCli | null = null;
  let stateDir: string | null = null;

  afterEach(async () => {
    await cli?.stop('SIGKILL');
    cli = null;
    if (router) {
      await destroyRouter(router);
      await router.lab.cleanup();
    }
    router = null;
    if (stateDir) removeDir(stateDir);
    stateDir = null;
  });

  // The ufw backend in both families (its bans reach the forward path through the set mirror); the set backend in IPv4.
  for (const [backend, family] of [['ufw', 4], ['set', 4], ['ufw', 6]] as const) {
    it(`${backend} backend, IPv${family}: probes of unpublished container ports are logged and counted, the scanner is banned and loses the published port; removal leaves nothing`, async () => {
      const lab = await createLab();
      router = await buildRouter(lab);
      const s = lab.scanner;
      const host = family === 4 ? s.fwV4 : s.fwV6;
      const ctIp = family === 4 ? router.ctIp : router.ctIp6;
      const scannerIp = canonicalIp(family === 4 ? s.v4 : s.v6)!;
      const iptables = family === 4 ? 'iptables' : 'ip6tables';
      const originals = Object.fromEntries(FILES.map((f) => [f, readFileSync(`${lab.ufwDir}/${f}`, 'utf8')]));
      const before = { v4: await iptablesSave(lab, 'iptables-save'), v6: await iptablesSave(lab, 'ip6tables-save') };

      // Before: the published port answers through DNAT, an unpublished one is dropped (Docker 28).
      // (Retried: a fresh IPv6 link answers once neighbour discovery has run on both hops.)
      await until(() => lab.canConnect(s.ns, host, PUBLISHED, 1000), 15_000, 'the published port to answer');
      expect(await lab.probe(s.ns, ctIp, UNPUBLISHED[0]!, { timeoutMs: 300 })).toBe('timeout');

      // One click: the Doctor's fix, without a running instance (the direct doctor, holding the lock).
      const fix = await cliOnce(lab, ['doctor', '--fix', 'install-forward-block', '--json']);
      const checks = JSON.parse(fix.stdout) as { id: string; level: string; detail: string }[];
      expect(checks.find((c) => c.id === 'forward-block'), fix.stdout + fix.stderr).toMatchObject({ level: 'ok' });
      const dockerUser = await lab.run(lab.fwNs, [iptables, '-w', '-S', 'DOCKER-USER']);
      expect(dockerUser.split('\n').filter((l) => l.startsWith('-A DOCKER-USER'))).toEqual([
        '-A DOCKER-USER -m comment --comment portcullis-forward -j portcullis-forward',
        '-A DOCKER-USER -m comment --comment portcullis-forward -j portcullis-docker-log',
        '-A DOCKER-USER -j RETURN',
      ]);

      // Docker restarts: DOCKER-USER starts empty again (but for its RETURN); the runner puts the jumps back.
      await lab.run(lab.fwNs, [iptables, '-w', '-F', 'DOCKER-USER']);
      await lab.run(lab.fwNs, [iptables, '-w', '-A', 'DOCKER-USER', '-j', 'RETURN']);
      stateDir = tempStateDir();
      const cfg = writeConfig(stateDir, {
        detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
        ban: { backend, bantimeSec: 600, maxbantimeSec: 3600, increment: false },
        logs: { source: 'kmsg' },
      });
      cli = await startCli(lab, ['run', '--source', 'kmsg', '--backend', backend, '--config', cfg], stateDir);
      expect((await lab.run(lab.fwNs, [iptables, '-w', '-S', 'DOCKER-USER'])).split('\n').filter((l) => l.startsWith('-A DOCKER-USER'))).toEqual([
        '-A DOCKER-USER -m comment --comment portcullis-forward -j portcullis-forward',
        '-A DOCKER-USER -m comment --comment portcullis-forward -j portcullis-docker-log',
        '-A DOCKER-USER -j RETURN',
      ]);
      const kmsg = lab.kmsg();

      // Published: connections (each a new DNATed one) are not evidence, however many.
      for (let i = 0; i < 6; i++) expect(await lab.canConnect(s.ns, host, PUBLISHED, 3000)).toBe(true);
      const held = await lab.connect(s.ns, host, PUBLISHED);
      expect(await held.alive()).toBe(true);

      // Unpublished ports of the container, routed: logged by the block, counted, banned.
      await lab.probeMany(s.ns, ctIp, UNPUBLISHED, { timeoutMs: 300 });
      const ban = await cli.waitFor((l) => l.type === 'ban' && l.ip === scannerIp, 15_000, `the ban of ${scannerIp}`);
      const reason = ban.reason as { kind: string; ports: number[] };
      expect(reason.kind).toBe('scan');
      expect(reason.ports.every((p) => UNPUBLISHED.includes(p))).toBe(true);

      // The capture (dmesg at nice 0) may pass the lines on after the runner (nice -10) has banned.
      const forwardedLines = () => kmsg.lines().filter((l) => l.includes('[PORTCULLIS FORWARD]'));
      await until(() => forwardedLines().length >= 5, 5000, 'the forwarded probes in the kernel log');
      const forwarded = forwardedLines();
      for (const l of forwarded) {
        expect(l).toContain(`IN=${s.fwIface} OUT=docker0 `);
        // The kernel writes IPv6 addresses in full (fd12:3456:…:0002): compare IPv4 only as text.
        if (family === 4) expect(l).toContain(`SRC=${s.v4} DST=${ctIp} `);
      }
      // Nothing of the published port was logged: the DNATed connections reach the container's port 80.
      expect(forwarded.filter((l) => l.includes(`DPT=${CONTAINER_PORT} `))).toEqual([]);

      // ufw backend: the ban is a ufw rule AND (the forward block being installed) an element of the
      // ban set; set backend: an element, which the block matches as the set block does.
      expect((await taggedUfwRules(lab)).filter((r) => r.includes(scannerIp))).toHaveLength(backend === 'ufw' ? 1 : 0);
      expect(await setMembers(lab, family)).toContain(scannerIp);
      // The published port: no new connection, and the open one is dropped too.
      expect(await lab.canConnect(s.ns, host, PUBLISHED, 700)).toBe(false);
      expect(await held.alive(1500)).toBe(false);
      kmsg.stop();
      await cli.stop();
      cli = null;

      // Removal: the files byte for byte (the set backend's run added the set block: removed first, as
      // `portcullis uninstall` would after the forward block), no chain, jump, rule or set left.
      await removeForwardBlock(lab.fwExec, { etcDir: lab.ufwDir });
      if (backend === 'set') await removeSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
      for (const f of FILES) expect(readFileSync(`${lab.ufwDir}/${f}`, 'utf8'), f).toBe(originals[f]);
      for (const bin of ['iptables-save', 'ip6tables-save'] as const) {
        const text = await iptablesSave(lab, bin);
        expect(text).not.toMatch(/portcullis-forward|portcullis-docker-log|PORTCULLIS FORWARD|portcullis-ban[46]/);
      }
      for (const bin of ['iptables', 'ip6tables']) {
        expect((await lab.run(lab.fwNs, [bin, '-w', '-S', 'DOCKER-USER'])).trim().split('\n'), bin).toEqual(['-N DOCKER-USER', '-A DOCKER-USER -j RETURN']);
      }
      expect((await lab.exec(lab.fwNs, ['ipset', 'list', '-n'])).stdout.trim()).toBe('');
      // The chains ufw itself has are those it had before (the ban rule of the ufw backend aside).
      const chains = (t: string) => t.split('\n').filter((l) => l.startsWith(':')).map((l) => l.split(' ')[0]).sort();
      expect(chains(await iptablesSave(lab, 'iptables-save'))).toEqual(chains(before.v4));
      expect(chains(await iptablesSave(lab, 'ip6tables-save'))).toEqual(chains(before.v6));
    });
  }
  it("Docker restarts while the runner runs: DOCKER-USER's jumps are back within one status refresh (~30 s), and the banned scanner loses the published port again", async () => {
    const lab = await createLab();
    router = await buildRouter(lab);
    const s = lab.scanner;
    await until(() => lab.canConnect(s.ns, s.fwV4, PUBLISHED, 1000), 15_000, 'the published port to answer');
    const fix = await cliOnce(lab, ['doctor', '--fix', 'install-forward-block', '--json']);
    expect(fix.code, fix.stdout + fix.stderr).toBe(0);
    stateDir = tempStateDir();
    const cfg = writeConfig(stateDir, { ban: { backend: 'ufw', bantimeSec: 600, maxbantimeSec: 3600, increment: false }, logs: { source: 'kmsg' } });
    cli = await startCli(lab, ['run', '--source', 'kmsg', '--backend', 'ufw', '--config', cfg], stateDir);
    const banned = await cliOnce(lab, ['ban', s.v4, '--duration', '600', '--state-dir', stateDir]);
    expect(banned.code, banned.stdout + banned.stderr).toBe(0);
    await until(async () => (await setMembers(lab, 4)).includes(s.v4), 10_000, 'the mirror element of the ban');
    expect(await lab.canConnect(s.ns, s.fwV4, PUBLISHED, 700)).toBe(false);

    // dockerd restarted: DOCKER-USER is new, with only its RETURN. The ban no longer reaches the container.
    const ourJumps = async () => (await lab.run(lab.fwNs, ['iptables', '-w', '-S', 'DOCKER-USER'])).split('\n').filter((l) => l.includes('portcullis-forward'));
    await lab.run(lab.fwNs, ['iptables', '-w', '-F', 'DOCKER-USER']);
    await lab.run(lab.fwNs, ['iptables', '-w', '-A', 'DOCKER-USER', '-j', 'RETURN']);
    expect(await lab.canConnect(s.ns, s.fwV4, PUBLISHED, 3000)).toBe(true);

    // The service's next status refresh (every 30 s) puts them back, and says so.
    await until(async () => (await ourJumps()).length === 2, 45_000, "the forward block's jumps back in DOCKER-USER");
    expect((await lab.run(lab.fwNs, ['iptables', '-w', '-S', 'DOCKER-USER'])).split('\n').filter((l) => l.startsWith('-A DOCKER-USER'))).toEqual([
      '-A DOCKER-USER -m comment --comment portcullis-forward -j portcullis-forward',
      '-A DOCKER-USER -m comment --comment portcullis-forward -j portcullis-docker-log',
      '-A DOCKER-USER -j RETURN',
    ]);
    expect(await lab.canConnect(s.ns, s.fwV4, PUBLISHED, 700)).toBe(false);
    await until(() => cli!.stderr.some((l) => l.includes("DOCKER-USER chain had lost Portcullis's forward-block jumps (IPv4)")), 5000, 'the notice of the repair');
  });

  it("ufw backend: a ban extended before a restart keeps its forward-set element until the extended end, not the ufw rule's first one", async () => {
    const lab = await createLab();
    const s = lab.scanner;
    const fix = await cliOnce(lab, ['doctor', '--fix', 'install-forward-block', '--json']);
    expect(fix.code, fix.stdout + fix.stderr).toBe(0);
    stateDir = tempStateDir();
    const cfg = writeConfig(stateDir, { ban: { backend: 'ufw', bantimeSec: 600, maxbantimeSec: 86_400, increment: false }, logs: { source: 'kmsg' } });
    const start = () => startCli(lab, ['run', '--source', 'kmsg', '--backend', 'ufw', '--config', cfg], stateDir!);
    /** The forward set element's seconds left (null: not in the set). */
    const elementTimeout = async (): Promise<number | null> => {
      const r = await lab.exec(lab.fwNs, ['ipset', 'list', 'portcullis-ban4']);
      const m = new RegExp(`^${s.v4.replace(/\./g, '\\.')} timeout (\\d+)`, 'm').exec(r.stdout);
      return m ? Number(m[1]) : null;
    };
    cli = await start();
    for (const duration of ['120', '7200']) {
      const r = await cliOnce(lab, ['ban', s.v4, '--duration', duration, '--state-dir', stateDir]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    // While it runs the extension reaches the element; ufw's rule keeps its first end (ufw skips a rule it has).
    await until(async () => ((await elementTimeout()) ?? 0) > 3600, 10_000, 'the extended element');
    expect((await taggedUfwRules(lab)).filter((r) => r.includes(s.v4))).toHaveLength(1);
    await cli.stop();
    cli = null;
    // A reboot: ufw's rules come back, the set elements do not.
    await lab.run(lab.fwNs, ['ipset', 'flush', 'portcullis-ban4']);
    cli = await start();
    await until(async () => (await elementTimeout()) !== null, 10_000, 'the element back in the forward set');
    await until(async () => ((await elementTimeout()) ?? 0) > 3600, 15_000, 'the element with the extended end (2 h), not the first one (2 min)');
  });

  /** A LAN host on a plain veth behind the router, reached by routing; ufw's routed policy deny with one route rule opening its port 80. */
  async function routedLan(lab: Lab): Promise<{ s: Lab['scanner']; lanIp: string }> {
    const s = lab.scanner;
    // A LAN host on a plain veth (not a container bridge), reached by routing; ufw's routed policy is
    // deny, with one route rule opening its port 80.
    const lan = `pc-ct-${lab.id}`;
    const net = `10.${randomInt(1, 250)}.${randomInt(1, 250)}`;
    const lanIp = `${net}.2`;
    await ipHost('netns', 'add', lan);
    const echo = spawn('/usr/sbin/ip', ['netns', 'exec', lan, 'socat', `TCP-LISTEN:${CONTAINER_PORT},fork,reuseaddr,backlog=64`, 'EXEC:/bin/cat'], { stdio: 'ignore' });
    router = { lab, ct: lan, ctIp: lanIp, ctIp6: '', echo };
    await ipHost('link', 'add', `pc${lab.id}l`, 'netns', lab.fwNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan);
    await lab.run(lab.fwNs, ['ip', 'addr', 'add', `${net}.1/24`, 'dev', `pc${lab.id}l`]);
    await lab.run(lab.fwNs, ['ip', 'link', 'set', `pc${lab.id}l`, 'up']);
    await lab.run(lan, ['ip', 'link', 'set', 'lo', 'up']);
    await lab.run(lan, ['ip', 'addr', 'add', `${lanIp}/24`, 'dev', 'eth0']);
    await lab.run(lan, ['ip', 'link', 'set', 'eth0', 'up']);
    await lab.run(lan, ['ip', 'route', 'add', 'default', 'via', `${net}.1`]);
    await lab.run(lab.fwNs, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await lab.run(s.ns, ['ip', 'route', 'add', `${net}.0/24`, 'via', s.fwV4]);
    await lab.ufw('route', 'allow', 'proto', 'tcp', 'to', lanIp, 'port', String(CONTAINER_PORT));
    await until(async () => (await lab.exec(lan, ['ss', '-Htln', `sport = :${CONTAINER_PORT}`])).stdout.trim() !== '', 5000, 'the LAN host to listen');
    expect(await lab.canConnect(s.ns, lanIp, CONTAINER_PORT, 3000)).toBe(true);
    return { s, lanIp };
  }

  it('a routed host behind the router (no Docker, no NAT): probes of its closed ports are logged in ufw-after-forward and counted; the ban stops a route rule\'s open port', async () => {
    const lab = await createLab();
    const { s, lanIp } = await routedLan(lab);

    const fix = await cliOnce(lab, ['doctor', '--fix', 'install-forward-block', '--json']);
    expect((JSON.parse(fix.stdout) as { id: string; level: string }[]).find((c) => c.id === 'forward-block'), fix.stdout + fix.stderr).toMatchObject({ level: 'ok' });
    stateDir = tempStateDir();
    const cfg = writeConfig(stateDir, {
      detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
      ban: { backend: 'ufw', bantimeSec: 600, maxbantimeSec: 3600, increment: false },
      logs: { source: 'kmsg' },
    });
    cli = await startCli(lab, ['run', '--source', 'kmsg', '--backend', 'ufw', '--config', cfg], stateDir);
    const kmsg = lab.kmsg();
    // The route rule's open port: accepted before ufw-after-forward, never logged.
    for (let i = 0; i < 6; i++) expect(await lab.canConnect(s.ns, lanIp, CONTAINER_PORT, 3000)).toBe(true);
    await lab.probeMany(s.ns, lanIp, UNPUBLISHED, { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === s.v4, 15_000, `the ban of ${s.v4}`);
    // The capture (dmesg at nice 0) may pass the lines on after the runner (nice -10) has banned.
    const forwardedLines = () => kmsg.lines().filter((l) => l.includes('[PORTCULLIS FORWARD]'));
    await until(() => forwardedLines().length >= 5, 5000, 'the forwarded probes in the kernel log');
    const forwarded = forwardedLines();
    for (const l of forwarded) expect(l).toContain(`IN=${s.fwIface} OUT=pc${lab.id}l `);
    expect(forwarded.filter((l) => l.includes(`DPT=${CONTAINER_PORT} `))).toEqual([]);
    expect(await lab.canConnect(s.ns, lanIp, CONTAINER_PORT, 700)).toBe(false);
    kmsg.stop();
  });
  it.runIf(nflogEnabled)('auto with the per-source block: the forward block installed as LOG is switched to NFLOG at the start, and a routed scanner is seen through it (nflog source) and banned', async () => {
    const lab = await createLab();
    const { s, lanIp } = await routedLan(lab);
    stateDir = tempStateDir();
    const settings = {
      detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
      ban: { backend: 'set', bantimeSec: 600, maxbantimeSec: 3600, increment: false },
    };
    // Both blocks in their LOG form (as for the kmsg source), then a runner with auto.
    const kmsgCfg = writeConfig(stateDir, { ...settings, logs: { source: 'kmsg' } });
    for (const fixId of ['install-forward-block', 'install-per-source-logging']) {
      const fix = await cliOnce(lab, ['doctor', '--fix', fixId, '--state-dir', stateDir, '--config', kmsgCfg, '--json']);
      expect(fix.code, fix.stderr).toBe(0);
    }
    const forwardLog = async () => (await iptablesSave(lab, 'iptables-save')).split('\n').filter((l) => l.startsWith('-A portcullis-forward-log ') && / -j (LOG|NFLOG) /.test(l));
    expect((await forwardLog()).every((l) => l.includes('-j LOG --log-prefix "[PORTCULLIS FORWARD] "'))).toBe(true);
    cli = await startCli(lab, ['run', '--config', writeConfig(stateDir, settings)], stateDir);
    expect(cli.lines.find((l) => l.type === 'ready')).toMatchObject({ sourceChoice: 'auto → nflog (per-source logging block installed)' });
    expect(cli.lines).toContainEqual({ type: 'text', text: 'switching the forward block to NFLOG: the nflog source reads NFLOG messages only' });
    const nflogRules = await forwardLog();
    expect(nflogRules.length).toBeGreaterThan(0);
    for (const l of nflogRules) expect(l).toMatch(/ -j NFLOG --nflog-prefix "\[PORTCULLIS FORWARD\]" --nflog-group 5417 /);
    expect(await lab.canConnect(s.ns, lanIp, CONTAINER_PORT, 3000)).toBe(true);
    await lab.probeMany(s.ns, lanIp, UNPUBLISHED, { timeoutMs: 300 });
    const ban = await cli.waitFor((l) => l.type === 'ban' && l.ip === s.v4, 15_000, `the ban of ${s.v4}`);
    expect((ban.reason as { ports: number[] }).ports.every((p) => UNPUBLISHED.includes(p))).toBe(true);
    expect(await lab.canConnect(s.ns, lanIp, CONTAINER_PORT, 700)).toBe(false);
    const st = JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as { source: { kind: string; recordsLost: number } };
    expect(st.source).toMatchObject({ kind: 'nflog', recordsLost: 0 });
  });
});
