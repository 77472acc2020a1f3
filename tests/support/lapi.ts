/**
 * A private CrowdSec Local API for tests (notes/crowdsec-lapi.md): its own config directory, SQLite
 * database and port, no hub, no agent, no central API — never the system's crowdsec service. Runs
 * on the loopback of the test's namespace, or inside a network namespace (`ns`) listening on all of
 * its addresses so that firewall namespaces linked to it can reach it. Machines and bouncers are
 * added with the real cscli; `kill()` / `restart()` simulate an outage.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CROWDSEC = '/usr/bin/crowdsec';
export const CSCLI = '/usr/bin/cscli';
const IP = '/usr/sbin/ip';
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C', HOME: '/root' };

export function crowdsecInstalled(): boolean {
  return existsSync(CROWDSEC) && existsSync(CSCLI) && existsSync('/etc/crowdsec/profiles.yaml');
}

export interface Lapi {
  dir: string;
  /** Where the LAPI listens, e.g. http://127.0.0.1:18080 (or the namespace's address). */
  url: string;
  port: number;
  cscli(...args: string[]): Promise<string>;
  addMachine(id: string, password: string): Promise<string>;
  addBouncer(name: string, key: string): Promise<void>;
  /** Decisions as `cscli decisions list -a -o json` shows them (every origin). */
  decisions(): Promise<{ value: string; origin: string; id: number; type: string }[]>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  running(): boolean;
  cleanup(): Promise<void>;
}

function run(file: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: ENV, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export interface LapiOptions {
  /** Run inside this network namespace, listening on 0.0.0.0:port. Default: this namespace's loopback. */
  ns?: string;
  /** Address the clients use (default 127.0.0.1). */
  host?: string;
  port?: number;
}

export async function startLapi(opts: LapiOptions = {}): Promise<Lapi> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pc-lapi-'));
  const port = opts.port ?? 20000 + Math.floor(Math.random() * 20000);
  const host = opts.host ?? '127.0.0.1';
  const listen = opts.ns ? `0.0.0.0:${port}` : `127.0.0.1:${port}`;
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'hub'), { recursive: true });
  copyFileSync('/etc/crowdsec/profiles.yaml', path.join(dir, 'profiles.yaml'));
  writeFileSync(path.join(dir, 'simulation.yaml'), 'simulation: false\n');
  const cfg = path.join(dir, 'config.yaml');
  writeFileSync(
    cfg,
    [
      'common: {daemonize: false, log_media: stdout, log_level: warning}',
      `config_paths: {config_dir: ${dir}/, data_dir: ${dir}/data/, simulation_path: ${dir}/simulation.yaml, hub_dir: ${dir}/hub/,`,
      `               index_path: ${dir}/hub/.index.json, notification_dir: ${dir}/notifications/, plugin_dir: /usr/lib/crowdsec/plugins/}`,
      `db_config: {type: sqlite, db_path: ${dir}/data/crowdsec.db, use_wal: true}`,
      'api:',
      `  client: {credentials_path: ${dir}/local_api_credentials.yaml}`,
      `  server: {listen_uri: "${listen}", profiles_path: ${dir}/profiles.yaml, trusted_ips: [127.0.0.1, "::1"]}`,
      'prometheus: {enabled: false}',
      '',
    ].join('\n'),
  );
  const inNs = (file: string, args: string[]): [string, string[]] => (opts.ns ? [IP, ['netns', 'exec', opts.ns, file, ...args]] : [file, args]);
  let child: ChildProcess | null = null;
  let output = '';

  const cscli = async (...args: string[]): Promise<string> => {
    const [f, a] = inNs(CSCLI, ['-c', cfg, ...args]);
    const r = await run(f, a);
    if (r.code !== 0) throw new Error(`cscli ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };

  const healthy = async (): Promise<boolean> => {
    const [f, a] = inNs('/usr/bin/curl', ['-s', '-m', '1', `http://127.0.0.1:${port}/health`]);
    const r = await run(f, a, 3000);
    return r.code === 0 && r.stdout.includes('up');
  };

  const launch = async (): Promise<void> => {
    const [f, a] = inNs(CROWDSEC, ['-c', cfg, '-no-cs', '-no-capi']);
    output = '';
    const c = spawn(f, a, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d) => (output = (output + String(d)).slice(-4000)));
    c.stderr!.on('data', (d) => (output = (output + String(d)).slice(-4000)));
    child = c;
    for (let i = 0; i < 200; i++) {
      if (c.exitCode !== null) throw new Error(`crowdsec exited (${c.exitCode}): ${output}`);
      if (await healthy()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`crowdsec did not answer /health within 10 s: ${output}`);
  };

  const kill = async (): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
    // `ip netns exec` execs the command, so the pid is crowdsec's own.
  };

  await launch();
  // cscli's own alerts/decisions commands log in with this file.
  await cscli('machines', 'add', 'cli-admin', '--auto', '-f', path.join(dir, 'local_api_credentials.yaml'), '--force');

  return {
    dir,
    url: `http://${host}:${port}`,
    port,
    cscli,
    addMachine: async (id, password) => {
      const file = path.join(dir, `${id}.yaml`);
      await cscli('machines', 'add', id, '--password', password, '-f', file, '--force');
      return file;
    },
    addBouncer: async (name, key) => {
      await cscli('bouncers', 'add', name, '-k', key);
    },
    decisions: async () => {
      const out = await cscli('decisions', 'list', '-a', '-o', 'json', '--limit', '0');
      const alerts = (JSON.parse(out || 'null') ?? []) as { decisions?: { value: string; origin: string; id: number; type: string }[] }[];
      return alerts.flatMap((a) => a.decisions ?? []);
    },
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    running: () => child !== null && child.exitCode === null,
    cleanup: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
