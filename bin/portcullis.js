#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=1
// Entry of the `portcullis` command. It runs the bundle `npm install` builds (dist/cli) while that
// is what the sources compile to, else the TypeScript sources directly (Node >= 24 strips types),
// so the CLI works right after `npm install` and after any edit.
// --max-semi-space-size=1 (also in package.json's scripts): a young generation of at most 1 MB per
// semi-space, in each thread. V8's default (up to 16 MB semi-spaces) cost ~50 MB more peak RSS on
// a 1M-line replay, 4 MB ~10 MB more than 1, for no measurable speed (a replay's hot loops allocate
// little since the parse stage writes records). MALLOC_ARENA_MAX=1: glibc's per-thread malloc
// arenas (V8's compiler threads) held ~10–20 MB more for nothing (measured 151–164 → 141–144 MB).
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(
    `portcullis needs Node.js 24 or newer (this is ${process.version}).\n` +
      'Run it through npm so that the project\'s own Node 24 is used: `npx portcullis …` or `npm run portcullis -- …`.',
  );
  process.exit(2);
}
process.removeAllListeners('warning');
process.on('warning', (w) => {
  // node:sqlite and type stripping print ExperimentalWarning on every start; keep the CLI's output clean.
  if (w.name !== 'ExperimentalWarning') console.warn(w);
});
// Output into a pipe whose reader went away (`portcullis replay big.log --json | head -1`) is the
// reader's choice, not an error to print a stack trace for; a full disk is worth one line.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  console.error(`portcullis: cannot write the output: ${e.message}`);
  process.exit(1);
});
// The bundle `npm install` built, while it matches the sources; else the sources themselves
// (PORTCULLIS_FROM_SOURCE=1 forces them). See cli-bundle.js.
const { freshBundle } = await import('./cli-bundle.js');
const { fileURLToPath, pathToFileURL } = await import('node:url');
const bundle = process.env.PORTCULLIS_FROM_SOURCE === '1' ? null : freshBundle(fileURLToPath(new URL('..', import.meta.url)));
const { main } = await import(bundle === null ? '../electron/headless/cli.ts' : pathToFileURL(bundle).href);
// Under npx the user's SIGTERM stops npm and its shell, not us: stop with them (parent-watch.js).
const { startedByNpm, watchParents } = await import('./parent-watch.js');
if (startedByNpm()) watchParents(() => process.kill(process.pid, 'SIGTERM'));
process.exitCode = await main(process.argv.slice(2));
