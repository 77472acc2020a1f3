// Placeholder until the headless runner lands.
import type { CliCommand } from './cli.ts';
const pending = (summary: string, name: string): CliCommand => ({
  summary,
  run: async () => {
    console.error(`portcullis ${name}: not built yet`);
    return 1;
  },
});
export const runCommand = pending('Protect this network namespace: watch the kernel log and ban scanners (root, foreground)', 'run');
export const serveCommand = pending('Like run, plus the Portcullis UI over HTTP on 127.0.0.1 (token in the URL)', 'serve');
export const statusCommand = pending('State of the running instance', 'status');
export const bansCommand = pending('Active bans of the running instance', 'bans');
export const banCommand = pending('Ban an address now', 'ban');
export const unbanCommand = pending('Lift a ban', 'unban');
export const doctorCommand = pending('Check ufw, logging, log source and helper, with the fix for each problem', 'doctor');
