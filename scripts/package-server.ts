/**
 * `npm run package:server`: builds the headless server's Debian package, dist/packages/portcullis_<version>_<arch>.deb.
 *
 * Built with dpkg-deb, Debian's own tool, from a staged tree: it is on every Debian/Ubuntu machine
 * (this one included, so CI builds the package it installs), it writes exactly the format dpkg
 * reads, and the package needs nothing it lacks — the files are a bundle, a runtime and plain
 * text. electron-builder's deb target (fpm) needs Ruby and Electron; debhelper needs a debian/
 * source tree and a build of its own, for a package with nothing to compile.
 *
 * What goes in:
 *   /usr/lib/portcullis/node                 Node 24 (the `node` npm package's binary; Debian 12's nodejs is 18)
 *   /usr/lib/portcullis/bin/portcullis.js    the checkout's entry, unchanged (+ cli-bundle.js, parent-watch.js,
 *                                            portcullis-status.cjs: the wrapper's entry for `status`)
 *   /usr/lib/portcullis/dist/cli/            the CLI bundle (scripts/build-cli.ts), manifest "packaged",
 *                                            and status.cjs, the status command alone (run by portcullis-status.cjs)
 *   /usr/lib/portcullis/dist/native/         portcullis-nflog, the `nflog` log source's reader (scripts/build-native.ts)
 *   /usr/lib/portcullis/renderer/dist/       the UI `portcullis serve` serves
 *   /usr/bin/portcullis                      sh wrapper: that Node, that entry (portcullis-status.cjs for `status`)
 *   /lib/systemd/system/portcullis.service   the hardened unit
 *   /etc/portcullis/portcullis.json          the settings (a conffile; `{}` = all defaults)
 *   /etc/logrotate.d/portcullis              rotation of /var/lib/portcullis/audit.log
 *   DEBIAN/{control,conffiles,postinst,prerm,postrm}
 * Usage: node scripts/package-server.ts [--out DIR] [--skip-build]   (prints the .deb's path)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST } from '../bin/cli-bundle.js';
import { STATUS_ENTRY } from './build-cli.ts';
import { buildNflogReader, NATIVE_DIR, NFLOG_READER_NAME } from './build-native.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SERVER = path.join(ROOT, 'build/server');
export const PACKAGE_NAME = 'portcullis';
/** The desktop deb's name (build/electron-builder.json): the two never share a machine. */
export const DESKTOP_PACKAGE_NAME = 'portcullis-desktop';

/** The Node 24 binary of the `node` devDependency (node_modules/node/bin/node is a copy of it, or a link). */
export function nodeBinary(root = ROOT): string {
  const bin = path.join(root, 'node_modules/node/bin/node');
  if (existsSync(bin) && statSync(bin).size > 10_000_000) return bin;
  throw new Error('no Node 24 binary under node_modules/node/bin (npm install first)');
}

function debArch(): string {
  return execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
}

function dirSizeKb(dir: string): number {
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) bytes += statSync(path.join(e.parentPath, e.name)).size;
  }
  return Math.ceil(bytes / 1024);
}

export function controlFile(version: string, arch: string, installedKb: number): string {
  return (
    [
      `Package: ${PACKAGE_NAME}`,
      `Version: ${version}`,
      `Architecture: ${arch}`,
      'Maintainer: Portcullis contributors <portcullis@example.invalid>',
      `Installed-Size: ${installedKb}`,
      // ufw: bans go through it. iptables: its restore --test checks every managed-file edit.
      // libc6: the Node binary. init-system-helpers: deb-systemd-invoke in the maintainer scripts.
      'Depends: ufw, iptables, libc6 (>= 2.28), init-system-helpers',
      'Recommends: ipset, conntrack, systemd',
      'Suggests: logrotate',
      // One Portcullis per machine: the desktop package runs its own root helper.
      `Conflicts: ${DESKTOP_PACKAGE_NAME}`,
      'Section: net',
      'Priority: optional',
      'Homepage: https://example.invalid/portcullis',
      'Description: port scan guard that bans scanners through ufw (server)',
      ' Portcullis watches the kernel firewall log, recognises port scans as they happen',
      ' and bans the scanner through ufw (a kernel ipset matched before every allow rule,',
      ' or tagged ufw deny rules), cutting its open connections. This is the headless',
      ' server: the `portcullis` command and a hardened systemd unit, with its own Node.',
    ].join('\n') + '\n'
  );
}

/**
 * Writes the package's /usr/lib/portcullis into `lib`: the one list of what the command needs, used
 * by the package and by whatever stages an installed layout elsewhere (the start-up bench, the
 * packaging tests), so that those time and test what dpkg installs. `linkNode`: a symlink to the
 * Node binary instead of a 120 MB copy; `renderer: false`: without the UI (`serve` only needs it);
 * `cliDir`: the CLI bundle from another build directory than dist/cli.
 */
export function stageLib(lib: string, version: string, opts: { linkNode?: boolean; renderer?: boolean; cliDir?: string } = {}): void {
  mkdirSync(path.join(lib, 'bin'), { recursive: true });
  if (opts.linkNode) symlinkSync(nodeBinary(), path.join(lib, 'node'));
  else {
    copyFileSync(nodeBinary(), path.join(lib, 'node'));
    chmodSync(path.join(lib, 'node'), 0o755);
  }
  // The entry and the bundle check are plain ES modules (status.cjs says what it is by its name).
  writeFileSync(path.join(lib, 'package.json'), JSON.stringify({ name: 'portcullis', version, type: 'module', private: true }, null, 1) + '\n');
  for (const f of ['portcullis.js', 'cli-bundle.js', 'parent-watch.js', 'portcullis-status.cjs']) copyFileSync(path.join(ROOT, 'bin', f), path.join(lib, 'bin', f));
  cpSync(opts.cliDir ?? path.join(ROOT, 'dist/cli'), path.join(lib, 'dist/cli'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  // No sources beside an installed bundle, and dpkg owns its files: the bundle runs as is.
  writeFileSync(path.join(lib, 'dist/cli', MANIFEST), JSON.stringify({ packaged: true, version }) + '\n');
  if (opts.renderer !== false) cpSync(path.join(ROOT, 'renderer/dist'), path.join(lib, 'renderer/dist'), { recursive: true });
  // The nflog source's reader, where the runner looks for it (dist/native beside dist/cli); a
  // checkout built without gcc has none (packageServer requires it, staged layouts may go without).
  const reader = path.join(NATIVE_DIR, NFLOG_READER_NAME);
  if (existsSync(reader)) {
    mkdirSync(path.join(lib, 'dist/native'), { recursive: true });
    copyFileSync(reader, path.join(lib, 'dist/native', NFLOG_READER_NAME));
    chmodSync(path.join(lib, 'dist/native', NFLOG_READER_NAME), 0o755);
  }
}

export interface PackageResult {
  deb: string;
  version: string;
}

export async function packageServer(opts: { outDir?: string; skipBuild?: boolean; log?: (l: string) => void } = {}): Promise<PackageResult> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const outDir = opts.outDir ?? path.join(ROOT, 'dist/packages');
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  if (!opts.skipBuild) {
    log('building the CLI bundle and the UI');
    const { buildCli } = await import('./build-cli.ts');
    await buildCli();
    const native = buildNflogReader();
    if ('skipped' in native) throw new Error(native.skipped);
    const vite = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', path.join(ROOT, 'renderer/vite.config.ts'), '--logLevel', 'warn'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (vite.status !== 0) throw new Error('the UI build (vite) failed');
  }
  for (const f of ['dist/cli/cli.mjs', 'dist/cli/replay-worker.mjs', `dist/cli/${STATUS_ENTRY}`, `dist/native/${NFLOG_READER_NAME}`, 'renderer/dist/index.html']) {
    if (!existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: build first (npm run package:server builds it)`);
  }

  const arch = debArch();
  const stage = path.join(ROOT, 'dist/deb-stage');
  rmSync(stage, { recursive: true, force: true });
  stageLib(path.join(stage, 'usr/lib/portcullis'), version);

  const put = (src: string, dest: string, mode: number): void => {
    const to = path.join(stage, dest);
    mkdirSync(path.dirname(to), { recursive: true });
    copyFileSync(path.join(SERVER, src), to);
    chmodSync(to, mode);
  };
  put('portcullis', 'usr/bin/portcullis', 0o755);
  put('portcullis.service', 'lib/systemd/system/portcullis.service', 0o644);
  put('portcullis.json', 'etc/portcullis/portcullis.json', 0o644);
  put('portcullis.logrotate', 'etc/logrotate.d/portcullis', 0o644);
  put('copyright', 'usr/share/doc/portcullis/copyright', 0o644);

  const installedKb = dirSizeKb(stage);
  const debian = path.join(stage, 'DEBIAN');
  mkdirSync(debian, { recursive: true });
  writeFileSync(path.join(debian, 'control'), controlFile(version, arch, installedKb));
  writeFileSync(path.join(debian, 'conffiles'), '/etc/portcullis/portcullis.json\n/etc/logrotate.d/portcullis\n');
  for (const s of ['postinst', 'prerm', 'postrm']) put(s, `DEBIAN/${s}`, 0o755);
  // dpkg-deb refuses group/other-writable control directories (the umask decides otherwise).
  for (const e of readdirSync(stage, { withFileTypes: true, recursive: true })) {
    if (e.isDirectory()) chmodSync(path.join(e.parentPath, e.name), 0o755);
  }
  chmodSync(stage, 0o755);

  mkdirSync(outDir, { recursive: true });
  // Exactly one server package in the output: an older version's would be installed by the glob.
  for (const f of readdirSync(outDir)) if (/^portcullis_.*\.deb$/.test(f)) rmSync(path.join(outDir, f));
  const deb = path.join(outDir, `${PACKAGE_NAME}_${version}_${arch}.deb`);
  log(`writing ${path.relative(ROOT, deb)} (dpkg-deb, gzip)`);
  // --root-owner-group: every file root:root whoever builds it. gzip -6, not dpkg's default xz:
  // xz took 7 minutes over the 120 MB Node binary on a busy 2-core machine (gzip: seconds) for a
  // package 30 MB instead of ~40 MB; every dpkg reads gzip.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(stage, { recursive: true, force: true });
  return { deb, version };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--out');
  packageServer({ ...(at >= 0 && args[at + 1] ? { outDir: path.resolve(args[at + 1]!) } : {}), skipBuild: args.includes('--skip-build') }).then(
    ({ deb }) => console.log(deb),
    (e: unknown) => {
      console.error(`package-server: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
}
