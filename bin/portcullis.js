#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=4
// Entry of the `portcullis` command. Node >= 24 runs our TypeScript sources directly (type
// stripping), so the CLI works right after `npm install`, with no build step.
// --max-semi-space-size=4 (also in package.json's scripts): replay makes short-lived garbage at a
// high rate, and V8's default young generation (up to 16 MB semi-spaces) cost ~50 MB more peak
// RSS on a 1M-line replay for no measurable speed. MALLOC_ARENA_MAX=1: glibc's per-thread malloc
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
const { main } = await import('../electron/headless/cli.ts');
process.exitCode = await main(process.argv.slice(2));
