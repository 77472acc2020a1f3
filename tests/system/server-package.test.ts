/**
 * Issue 11.1/11.2, for real: `npm run package:server`'s .deb is built, installed with dpkg -i, its
 * unit verified and scored by systemd-analyze, the unit's ExecStart run as the unit would (its
 * capability bounding set, no_new_privs, $NOTIFY_SOCKET) inside a firewall namespace, upgraded over
 * itself (state kept), removed (firewall cleaned, state kept) and purged (state gone).
 *
 * The machine's own firewall is never touched: every dpkg command runs through `ip netns exec` in
 * the lab's firewall namespace, whose /etc/ufw and /etc/default are private copies (bind-mounted by
 * ip netns exec), so the maintainer scripts see and clean that namespace only. On top of that the
 * prerm's `portcullis uninstall` runs no firewall command where it finds no trace of Portcullis;
 * the test checks the host's ufw files are byte for byte what they were.
 * Not possible here: systemd is not PID 1, so the unit itself cannot be started (systemctl start,
 * systemd-run need a running manager); ExecStartPre (touching two lock files in /run), the mount
 * sandbox (ProtectSystem & co.) and the system call filter are therefore not exercised, only verified.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { packageServer } from '../../scripts/package-server.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack', 'dpkg', 'systemd');
const execFileP = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const UNIT = '/lib/systemd/system/portcullis.service';
const STATE = '/var/lib/portcullis';
const ETC = '/etc/portcullis';
const WANTS = '/etc/systemd/system/multi-user.target.wants/portcullis.service';
const SCANNER_IP = '203.0.113.77';

/** dpkg knows the package at all (installed, or removed with its conffiles left). */
function known(): boolean {
  try {
    return !/not-installed/.test(execFileSync('dpkg-query', ['-W', '-f=${Status}', 'portcullis'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return false;
  }
}

function installed(): boolean {
  try {
    return /install ok installed/.test(execFileSync('dpkg-query', ['-W', '-f=${Status}', 'portcullis'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return false;
  }
}

function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

function hostFirewallFiles(): Record<string, string> {
  return { ...hashTree('/etc/ufw'), '/etc/default/ufw': createHash('sha256').update(readFileSync('/etc/default/ufw')).digest('hex') };
}

/** The unit's `Key=` values (last one wins, as systemd reads single-valued keys). */
function unitValue(text: string, key: string): string {
  const hits = text.split('\n').filter((l) => l.startsWith(`${key}=`));
  expect(hits.length, `${key}= in the unit`).toBeGreaterThan(0);
  return hits.at(-1)!.slice(key.length + 1).trim();
}

interface Runner {
  child: ChildProcess;
  out: string[];
  notified: Promise<string>;
  stop(): Promise<number | null>;
}

/**
 * Runs the unit's ExecStart in the firewall namespace the way systemd would start it: its
 * capability bounding set, no_new_privs, its Environment=, and a $NOTIFY_SOCKET (a unix datagram
 * socket read by socat) that must receive READY=1.
 */
async function startAsUnit(lab: Lab, unit: string, sockDir: string): Promise<Runner> {
  const argv = unitValue(unit, 'ExecStart').split(/\s+/);
  const caps = unitValue(unit, 'CapabilityBoundingSet')
    .split(/\s+/)
    .map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`);
  expect(unitValue(unit, 'NoNewPrivileges')).toBe('yes');
  const env: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
  for (const kv of unit.split('\n').filter((l) => l.startsWith('Environment='))) {
    const [k, v] = kv.slice('Environment='.length).split('=');
    env[k!] = v!;
  }
  const sock = path.join(sockDir, `notify-${Date.now()}`);
  const socat = spawn('socat', ['-u', `UNIX-RECV:${sock}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let notes = '';
  const notified = new Promise<string>((resolve) => {
    socat.stdout!.on('data', (b: Buffer) => {
      notes += b.toString();
      if (/READY=1/.test(notes)) resolve(notes);
    });
  });
  for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  const child = spawn(
    '/usr/sbin/ip',
    ['netns', 'exec', lab.fwNs, 'setpriv', `--bounding-set=-all,${caps.join(',')}`, '--inh-caps=-all', '--no-new-privs', '--', ...argv],
    { env: { ...env, NOTIFY_SOCKET: sock }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => out.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => out.push(l));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = await Promise.race([
    notified.then(() => 'ready' as const),
    exited.then((c) => `exited ${c}`),
    new Promise<string>((r) => setTimeout(() => r('timeout'), 60_000)),
  ]);
  expect(ready, `READY=1 on $NOTIFY_SOCKET; output:\n${out.join('\n')}`).toBe('ready');
  return {
    child,
    out,
    notified,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      socat.kill('SIGKILL');
      return code;
    },
  };
}

describe.runIf(enabled)('the server .deb: build, install, run as the unit would, upgrade, remove, purge', () => {
  let lab: Lab | null = null;
  let runner: Runner | null = null;
  const sockDir = mkdtempSync(path.join(tmpdir(), 'pc-pkg-'));

  afterAll(async () => {
    await runner?.stop();
    // Purge inside the lab's namespace (its prerm cleans that firewall), before the lab goes.
    if (known() && lab) await lab.exec(lab.fwNs, ['dpkg', '--purge', 'portcullis'], { timeoutMs: 300_000 });
    await lab?.cleanup();
    rmSync(sockDir, { recursive: true, force: true });
  }, 600_000);

  it('installs, runs, upgrades keeping state, removes (firewall clean, state kept) and purges (state gone)', async () => {
    // Never clobber a real installation or state on this machine.
    expect(known(), 'the portcullis package is (or was) installed here: purge it first').toBe(false);
    expect(existsSync(STATE) || existsSync(ETC), `${STATE} or ${ETC} exists: not a clean machine for this test`).toBe(false);
    const hostBefore = hostFirewallFiles();

    const { deb } = await packageServer({ log: () => undefined });
    expect(readdirSync(path.join(ROOT, 'dist/packages')).filter((f) => /^portcullis_.*\.deb$/.test(f))).toEqual([path.basename(deb)]);
    const fields = execFileSync('dpkg-deb', ['-f', deb, 'Package', 'Depends', 'Conflicts'], { encoding: 'utf8' });
    expect(fields).toMatch(/Package: portcullis\n/);
    expect(fields).toMatch(/Conflicts: portcullis-desktop/);

    lab = await createLab();
    const ns = lab.fwNs;
    const inNs = async (argv: string[], timeoutMs = 300_000) => {
      const r = await lab!.exec(ns, argv, { timeoutMs });
      expect(r.code, `${argv.join(' ')}:\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r.stdout;
    };

    // --- install
    await inNs(['dpkg', '-i', deb]);
    expect(installed()).toBe(true);
    for (const f of ['/usr/bin/portcullis', '/usr/lib/portcullis/node', UNIT, `${ETC}/portcullis.json`, '/etc/logrotate.d/portcullis']) expect(existsSync(f), f).toBe(true);
    expect(execFileSync('dpkg-query', ['-W', '-f=${Conffiles}', 'portcullis'], { encoding: 'utf8' })).toContain(`${ETC}/portcullis.json`);
    expect(execFileSync('/usr/lib/portcullis/node', ['--version'], { encoding: 'utf8' })).toMatch(/^v24\./);
    expect(await inNs(['/usr/bin/portcullis', '--help'])).toMatch(/uninstall/);
    expect(existsSync('/var/cache/portcullis'), 'the compile cache directory').toBe(true);
    await execFileP('logrotate', ['-d', '/etc/logrotate.d/portcullis']);

    // --- the unit: systemd accepts it; its exposure score goes in the report
    const verify = await execFileP('systemd-analyze', ['verify', UNIT]).catch((e: { stderr: string; code: number }) => e);
    expect('code' in verify ? verify.stderr : '', 'systemd-analyze verify').toBe('');
    const security = await execFileP('systemd-analyze', ['security', '--offline=true', UNIT]).catch((e: { stdout: string }) => e);
    const score = /Overall exposure level for portcullis\.service: ([\d.]+)/.exec(security.stdout);
    expect(score, security.stdout.slice(-400)).not.toBeNull();
    console.log(`systemd-analyze security: ${score![0]}`);
    expect(Number(score![1])).toBeLessThan(5);
    const unit = readFileSync(UNIT, 'utf8');

    // --- enabled (offline, as `systemctl enable` works without a running systemd)
    execFileSync('systemctl', ['enable', 'portcullis.service'], { stdio: 'ignore' });
    expect(existsSync(WANTS)).toBe(true);

    // --- run as the unit would, in the namespace: ready, bans through the set backend
    runner = await startAsUnit(lab, unit, sockDir);
    expect(existsSync(path.join(lab.ufwDir, 'before.rules'))).toBe(true);
    expect(readFileSync(path.join(lab.ufwDir, 'before.rules'), 'utf8')).toContain('# BEGIN PORTCULLIS');
    await inNs(['/usr/bin/portcullis', 'ban', SCANNER_IP, '--duration', '1h']);
    expect(await inNs(['ipset', 'list', 'portcullis-ban4'])).toContain(SCANNER_IP);
    expect(await inNs(['/usr/bin/portcullis', 'status'])).toMatch(/1 active bans/);
    // `status` has its own entry in the package (dist/cli/status.cjs, run by the wrapper): the same
    // answer as the general entry (the lines a kernel record arriving meanwhile cannot change).
    const stable = (text: string) => text.split('\n').filter((l) => !/^(source|counts) /.test(l));
    const general = await inNs(['/usr/lib/portcullis/node', '/usr/lib/portcullis/bin/portcullis.js', 'status']);
    expect(general).toMatch(/1 active bans/);
    expect(stable(await inNs(['/usr/bin/portcullis', 'status']))).toEqual(stable(general));
    expect(existsSync('/usr/lib/portcullis/dist/cli/status.cjs'), 'the status entry is installed').toBe(true);
    expect(existsSync('/usr/lib/portcullis/dist/native/portcullis-nflog'), "the nflog source's reader is installed").toBe(true);
    expect(existsSync('/var/cache/portcullis/status.cjs.v8cache'), "status's code cache, made by its first answer").toBe(true);
    expect(await runner.stop(), runner.out.join('\n')).toBe(0);
    runner = null;

    // --- upgrade over itself: state, blocks and the kernel's bans stay
    await inNs(['dpkg', '-i', deb]);
    expect(existsSync(path.join(STATE, 'portcullis.db'))).toBe(true);
    expect(await inNs(['ipset', 'list', 'portcullis-ban4'])).toContain(SCANNER_IP);
    expect(existsSync(WANTS), 'an upgrade keeps the unit enabled').toBe(true);
    runner = await startAsUnit(lab, unit, sockDir);
    expect(await inNs(['/usr/bin/portcullis', 'bans'])).toContain(SCANNER_IP);
    expect(await runner.stop()).toBe(0);
    runner = null;

    // --- remove: no managed block, set, rule or file in the namespace's firewall; state kept
    await inNs(['dpkg', '-r', 'portcullis']);
    for (const e of readdirSync(lab.ufwDir, { withFileTypes: true, recursive: true })) {
      if (!e.isFile()) continue;
      const f = path.relative(lab.ufwDir, path.join(e.parentPath, e.name));
      expect(f, 'a .portcullis-prev/-new file left behind').not.toMatch(/portcullis/);
      const text = readFileSync(path.join(lab.ufwDir, f), 'utf8');
      expect(text.includes('PORTCULLIS') || text.includes('portcullis'), `${f} still mentions Portcullis`).toBe(false);
    }
    expect(await inNs(['ipset', 'list', '-n'])).not.toMatch(/portcullis/);
    expect(await inNs(['iptables-save'])).not.toMatch(/portcullis/);
    expect(await inNs(['ip6tables-save'])).not.toMatch(/portcullis/);
    expect(existsSync('/usr/bin/portcullis')).toBe(false);
    expect(existsSync(WANTS), 'remove disables the unit').toBe(false);
    expect(existsSync(path.join(STATE, 'portcullis.db')), 'remove keeps the state').toBe(true);

    // --- purge: the state goes too
    await inNs(['dpkg', '--purge', 'portcullis']);
    expect(known()).toBe(false);
    for (const f of [STATE, ETC, '/var/cache/portcullis', '/usr/lib/portcullis', UNIT, '/etc/logrotate.d/portcullis']) expect(existsSync(f), `${f} after purge`).toBe(false);

    // The machine's own firewall files: untouched throughout.
    expect(hostFirewallFiles()).toEqual(hostBefore);
  }, 900_000);
});
