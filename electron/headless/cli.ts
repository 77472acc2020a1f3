/**
 * The `portcullis` command line. This file only routes: each command lives in its own module,
 * loaded lazily so `portcullis replay` never pays for the HTTP server and vice versa.
 */
export interface CliCommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  replay: async () => (await import('./replay.ts')).replayCommand,
  run: async () => (await import('./commands.ts')).runCommand,
  serve: async () => (await import('./commands.ts')).serveCommand,
  status: async () => (await import('./commands.ts')).statusCommand,
  bans: async () => (await import('./commands.ts')).bansCommand,
  ban: async () => (await import('./commands.ts')).banCommand,
  unban: async () => (await import('./commands.ts')).unbanCommand,
  doctor: async () => (await import('./commands.ts')).doctorCommand,
  uninstall: async () => (await import('./uninstall.ts')).uninstallCommand,
  fleet: async () => (await import('./fleet-command.ts')).fleetCommand,
};

export async function usage(): Promise<string> {
  const lines = ['Usage: portcullis <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(8)} ${(await load()).summary}`);
  }
  lines.push('', 'Run `portcullis <command> --help` for the options of a command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(await usage());
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    console.error(`portcullis: unknown command "${command}"\n\n${await usage()}`);
    return 2;
  }
  return (await load()).run(rest);
}
