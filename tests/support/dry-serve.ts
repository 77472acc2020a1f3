/**
 * `portcullis serve --dry-run` on a log file, for the browser tests: a dry run never touches the
 * firewall, so it runs in the machine's own namespace. Starts the real CLI and waits for the
 * tokened URL it prints on a line of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const URL_LINE = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m;

export interface DryServe {
  /** The printed URL, with its token. */
  url: string;
  child: ChildProcess;
  /** SIGTERM, up to 10 s for a clean stop, then SIGKILL. */
  stop(): Promise<void>;
}

export async function startDryServe(opts: { logFile: string; stateDir: string; config?: string }): Promise<DryServe> {
  const args = ['serve', '--port', '0', '--dry-run', '--source', `file:${opts.logFile}`, '--state-dir', opts.stateDir, ...(opts.config ? ['--config', opts.config] : [])];
  const child = spawn(NODE, [path.join(ROOT, 'bin/portcullis.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL:\n${output}`)), 60_000);
    const on = (d: Buffer) => {
      output += d.toString();
      const m = URL_LINE.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
