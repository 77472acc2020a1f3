/**
 * The server package's installed layout in a temp dir, without dpkg or root: /usr/lib/portcullis as
 * scripts/package-server.ts stages it (Node linked, no UI) and its /usr/bin/portcullis with the
 * paths moved into the temp dir; and a live instance for `status` to ask (a dry-run `portcullis run`
 * on an empty log file: it never touches the firewall). Used by the start-up bench and the tests of
 * the installed command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stageLib } from '../../scripts/package-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface InstalledTree {
  /** The temp dir holding usr/ and var/ (the caller removes it). */
  dir: string;
  /** Its /usr/lib/portcullis. */
  lib: string;
  /** Its /usr/bin/portcullis. */
  wrapper: string;
  /** Its /var/cache/portcullis (V8's compile cache). */
  cache: string;
}

/** `cliDir`: the CLI bundle to install (default: the checkout's dist/cli). */
export function stageInstalled(opts: { cliDir?: string } = {}): InstalledTree {
  const dir = mkdtempSync(path.join(tmpdir(), 'pc-installed-'));
  const lib = path.join(dir, 'usr/lib/portcullis');
  stageLib(lib, 'staged', { linkNode: true, renderer: false, ...(opts.cliDir ? { cliDir: opts.cliDir } : {}) });
  const wrapper = path.join(dir, 'usr/bin/portcullis');
  mkdirSync(path.dirname(wrapper), { recursive: true });
  const cache = path.join(dir, 'var/cache/portcullis');
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  writeFileSync(wrapper, readFileSync(path.join(ROOT, 'build/server/portcullis'), 'utf8').replaceAll('/usr/lib/portcullis', lib).replaceAll('/var/cache/portcullis', cache));
  chmodSync(wrapper, 0o755);
  return { dir, lib, wrapper, cache };
}

export interface LiveInstance {
  child: ChildProcess;
  /** Resolves once it says where its control socket is. */
  ready: Promise<void>;
  exited: Promise<void>;
}

/**
 * `portcullis run --dry-run` on an empty log file, with its control socket in `stateDir` (made
 * here, 0700). `entry`: the command's entry script (default: the checkout's bin/portcullis.js),
 * run by `node`.
 */
export function startLiveInstance(stateDir: string, opts: { node: string; entry?: string }): LiveInstance {
  mkdirSync(stateDir, { mode: 0o700 });
  writeFileSync(path.join(stateDir, 'fw.log'), '');
  const entry = opts.entry ?? path.join(ROOT, 'bin/portcullis.js');
  const child = spawn(opts.node, [entry, 'run', '--dry-run', '--source', `file:${path.join(stateDir, 'fw.log')}`, '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('control socket')) resolve();
    });
    child.stderr!.resume();
    void exited.then(() => reject(new Error(`the live instance exited before it was ready: ${out}`)));
  });
  return { child, ready, exited };
}
