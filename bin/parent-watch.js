// `npx portcullis serve` runs as npm exec → sh -c → node. A SIGTERM to the command the user
// started (npm) ends npm and sh but never reaches node, which went on serving, orphaned. So when
// npm started us, we watch the two processes above us and stop (SIGTERM to ourselves: the CLI's
// own clean stop) once either is gone. Only under npm: `nohup portcullis serve &` started from a
// shell must outlive that shell, and under systemd the parent is pid 1, which never goes.
// Plain JavaScript: it runs before anything TypeScript is loaded.
import { readFileSync } from 'node:fs';

/** The parent pid of `pid` (from /proc), or null when it is gone. */
export function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return null;
  }
}

/**
 * Calls `onOrphaned` once the parent or grandparent this process had at the start is gone (or was
 * re-parented). Returns the function that stops watching; the timer never keeps the process alive.
 */
export function watchParents(onOrphaned, { periodMs = 500, pid = process.pid, ppid = process.ppid } = {}) {
  const parent = ppid;
  const grandparent = parentOf(parent);
  const alive = () => parentOf(pid) === parent && (grandparent === null || grandparent <= 1 || parentOf(parent) === grandparent);
  const timer = setInterval(() => {
    if (alive()) return;
    clearInterval(timer);
    onOrphaned();
  }, periodMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Started by npm (npx, npm exec, npm run): npm sets npm_command in its children's environment. */
export function startedByNpm(env = process.env) {
  return typeof env.npm_command === 'string' && env.npm_command !== '';
}
