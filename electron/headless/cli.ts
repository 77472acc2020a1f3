/**
 * The `portcullis` command line. Each subcommand lives in its own module; this file only routes.
 */
export const USAGE = `Usage: portcullis <command> [options]

Commands:
  replay <file|->   What would have been detected and banned in a log (the fail2ban-regex of Portcullis)
  help              This text

Run \`portcullis <command> --help\` for the options of a command.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`portcullis: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
  void rest;
}
