/**
 * The `portcullis` command line. This file only routes: each command lives in its own module,
 * loaded lazily so `portcullis replay` never pays for the HTTP server and vice versa.
 */
import type { CliCommand } from './cli-command.ts';

/**
 * Each command's summary is here as well as in its module, so that `portcullis --help` lists them
 * without loading every command (the whole engine, the store, the replay); a unit test keeps the
 * two equal.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  replay: { summary: 'What would have been detected and banned in a log (the fail2ban-regex of Portcullis)', load: async () => (await import('./replay.ts')).replayCommand },
  run: { summary: 'Protect this network namespace: watch the kernel log and ban scanners (root, foreground)', load: async () => (await import('./commands.ts')).runCommand },
  serve: { summary: 'Like run, plus the Portcullis UI over HTTP on 127.0.0.1 (token in the URL)', load: async () => (await import('./commands.ts')).serveCommand },
  status: { summary: 'State of the running instance', load: async () => (await import('./status-command.ts')).statusCommand },
  bans: { summary: 'Active bans of the running instance', load: async () => (await import('./commands.ts')).bansCommand },
  ban: { summary: 'Ban an address now (or every address of a file: --from FILE)', load: async () => (await import('./commands.ts')).banCommand },
  unban: { summary: 'Lift a ban', load: async () => (await import('./commands.ts')).unbanCommand },
  doctor: { summary: 'Check ufw, logging, log source and helper, with the fix for each problem', load: async () => (await import('./commands.ts')).doctorCommand },
  uninstall: { summary: "Remove everything Portcullis added to this namespace's firewall (the package's prerm runs it)", load: async () => (await import('./uninstall.ts')).uninstallCommand },
  fleet: { summary: 'Fleet (CrowdSec LAPI) link of the running instance: fleet status', load: async () => (await import('./fleet-command.ts')).fleetCommand },
};

export function usage(): string {
  const lines = ['Usage: portcullis <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${c.summary}`);
  lines.push('', 'Run `portcullis <command> --help` for the options of a command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(usage());
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) {
    console.error(`portcullis: unknown command "${command}"\n\n${usage()}`);
    return 2;
  }
  // The replay's parse worker boots on another core while this one loads the command (replay-start.ts).
  if (command === 'replay') (await import('./replay-start.ts')).startParseWorkerEarly(rest);
  return (await entry.load()).run(rest);
}
