/**
 * Where the `nflog` source's reader is: dist/native/portcullis-nflog under the install's root — the
 * checkout (built there by scripts/build-native.ts) or /usr/lib/portcullis (the server package puts
 * it there). Both the sources (electron/headless/) and the bundle (dist/cli/) sit two levels below
 * that root, as commands.ts finds the renderer.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const NFLOG_READER = path.join(ROOT, 'dist/native/portcullis-nflog');

/** The reader's path, or why it cannot be run. */
export function nflogReaderPath(file = NFLOG_READER): { path: string } | { error: string } {
  try {
    accessSync(file, constants.X_OK);
    return { path: file };
  } catch {
    return { error: `the NFLOG reader ${file} is missing (it is built by npm install when gcc is there: apt-get install gcc libc6-dev, then npm run build:cli)` };
  }
}
