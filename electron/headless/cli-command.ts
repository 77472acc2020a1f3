/**
 * What a `portcullis` command module exports. Its own module (not cli.ts, which routes) so that the
 * command modules do not import their router back: that made an import circle (issue 13.6).
 */
export interface CliCommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}
