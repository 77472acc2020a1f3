// The installed `portcullis status`'s entry (build/server/portcullis runs it; issue 11.3): runs
// dist/cli/status.cjs (the status command alone, one CommonJS file) with a V8 code cache made at
// the end of a first run that answered. Why not only Node's compile cache (NODE_COMPILE_CACHE):
// Node writes its cache right after compiling, so it holds only the code compiled before the
// script ran; every function compiled lazily while it runs (most of zod's parsing, the printout)
// is compiled again on every start. This cache, made at exit, holds those too: 160 KB instead of 70, ~5 ms of ~110 (the
// start-up bench, A/B over 31 interleaved runs).
// Where: `$NODE_COMPILE_CACHE/status.cjs.v8cache`, i.e. beside Node's own cache, under the same
// switch: the wrapper sets NODE_COMPILE_CACHE to the package's root-only /var/cache/portcullis
// when it can write there, and NODE_DISABLE_COMPILE_CACHE=1 turns both off. No directory, an
// unreadable or unwritable one: the script just compiles from source.
// Safe when stale or broken. The cache names the exact status.cjs it was made from (inode, size,
// mtime: dpkg writes a new file, so every install or upgrade changes them): V8's own check compares
// only the source's length, and a cache of another bundle of the same length would run its old
// code. V8 refuses cached data made by another V8 or with other flags, or cut short
// (`cachedDataRejected`). Either way the script compiles from source and the cache is made again.
// It is written to a temp file, synced and renamed, so no reader sees part of one. Its contents
// are not checksummed (hashing 160 KB in JavaScript, or loading node:zlib for crc32, costs what
// the cache saves): like the package's own files, whose bytes are not checked either, it is
// written whole by root into a directory only root can write.
// Plain CommonJS, no dependencies: it runs before anything else is loaded.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const script = path.join(__dirname, '../dist/cli/status.cjs');
const cacheDir = process.env.NODE_DISABLE_COMPILE_CACHE ? undefined : process.env.NODE_COMPILE_CACHE;
const cacheFile = cacheDir ? path.join(cacheDir, 'status.cjs.v8cache') : undefined;

/** Which status.cjs a cache belongs to: a line at its head. */
const stamp = (() => {
  const st = fs.statSync(script);
  return Buffer.from(`portcullis status.cjs ${st.ino} ${st.size} ${st.mtimeMs}\n`);
})();

let cachedData;
if (cacheFile) {
  try {
    const file = fs.readFileSync(cacheFile);
    if (file.subarray(0, stamp.length).equals(stamp)) cachedData = file.subarray(stamp.length);
  } catch {
    // none yet, or not ours to read
  }
}
// The CommonJS wrapper Node puts around a module, so the bundle runs as `node status.cjs` would run it.
const compiled = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(script, 'utf8')}\n})`, {
  filename: script,
  ...(cachedData ? { cachedData } : {}),
});
if (cacheFile && compiled.cachedDataRejected !== false) {
  // At exit: the functions compiled while the command ran are in the cache too. Only after an
  // answer (exit code 0): a run that found no instance compiled half of them, and a cache, once
  // made, stays until status.cjs changes.
  process.once('exit', (code) => {
    if (code !== 0) return;
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, stamp);
        fs.writeSync(fd, compiled.createCachedData());
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, cacheFile);
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // nothing to clean
      }
    }
  });
}
// argv as `node status.cjs ARGS` would have it.
process.argv.splice(1, 1, script);
const mod = { exports: {} };
compiled.runInThisContext()(mod.exports, require, mod, script, path.dirname(script));
