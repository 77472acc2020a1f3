/**
 * Compiles Portcullis's native helper programs (native/) into dist/native/: today one,
 * portcullis-nflog (native/nflog/portcullis-nflog.c), the reader of the `nflog` log source.
 * Run by build-cli.ts, so by `npm install` (the "prepare" script), `npm test` and `npm run build`.
 *
 * Why gcc and not a prebuilt binary: the program is ~200 lines of C against libc and the kernel's
 * headers; gcc and libc6-dev are what the soak bench already needs (scripts/install-system-deps.sh),
 * and a binary compiled here matches this machine's libc. Without gcc the build says so and goes on:
 * only the `nflog` source needs the reader, and it refuses to start with that reason.
 * Compiled again only when the source is newer than the binary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
export const NATIVE_DIR = path.join(ROOT, 'dist/native');
export const NFLOG_READER_SOURCE = path.join(ROOT, 'native/nflog/portcullis-nflog.c');
/** The binary's name; the runner finds it at dist/native/ beside the CLI bundle's dist/cli (electron/headless/nflog-reader-path.ts). */
export const NFLOG_READER_NAME = 'portcullis-nflog';

export type NativeBuild = { built: string } | { upToDate: string } | { skipped: string };

/** Builds dist/native/portcullis-nflog; throws when gcc is there but fails (a broken source is an error). */
export function buildNflogReader(outDir = NATIVE_DIR, cc = 'gcc'): NativeBuild {
  const out = path.join(outDir, NFLOG_READER_NAME);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(NFLOG_READER_SOURCE).mtimeMs) return { upToDate: out };
  if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
    return { skipped: `${cc} not found: the nflog log source's reader (${NFLOG_READER_NAME}) is not built (apt-get install gcc libc6-dev, then npm run build:cli)` };
  }
  mkdirSync(outDir, { recursive: true });
  // -O2, warnings as errors: the program is small enough to keep warning-free; PIE and the
  // hardening flags Debian builds with (the reader runs as root). Static: built on this glibc, a
  // dynamic binary would need it at run time too (2.34's symbols), which the server package's
  // libc6 dependency does not promise; it uses nothing of NSS.
  const r = spawnSync(
    cc,
    ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-fPIE', '-static-pie', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-Wl,-z,relro,-z,now', '-o', out, NFLOG_READER_SOURCE],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`${cc} failed on ${path.relative(ROOT, NFLOG_READER_SOURCE)}:\n${r.stderr || r.error?.message || ''}`);
  return { built: out };
}
