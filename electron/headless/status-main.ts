/**
 * The installed `portcullis status`'s own entry (issue 11.3): the package's /usr/bin/portcullis
 * runs this, bundled alone as one CommonJS file (dist/cli/status.cjs, scripts/build-cli.ts), for
 * `status`, through bin/portcullis-status.cjs (its code cache); every other command (and `status`
 * when those files are missing) goes through bin/portcullis.js and the ES module bundle.
 * Why a file of its own: the general entry is an ES module that loads the bundle check, the router
 * and the command's chunks through Node's ES module loader, ~20 ms of a ~135 ms start (the start-up
 * bench's "general entry" row); one CommonJS script loads with none of that. It runs the same
 * statusCommand, so the answer (text, --json, exit code, errors) is the same.
 * Plain Node 24 only: no bundle check (a package's files are dpkg's), no Node version check (the
 * package brings its own Node).
 */
import { statusCommand } from './status-command.ts';

// As bin/portcullis.js: output into a pipe whose reader went away (`portcullis status | head -1`)
// is the reader's choice, not an error to print a stack trace for; a full disk is worth one line.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  process.stderr.write(`portcullis: cannot write the output: ${e.message}\n`);
  process.exit(1);
});

// argv: node status.cjs [status options] (the wrapper drops the word `status`).
statusCommand.run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`portcullis status: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
