// Placeholder until the replay command lands (owned by the engine/detector work).
import type { CliCommand } from './cli.ts';
export const replayCommand: CliCommand = {
  summary: 'What would have been detected and banned in a log (the fail2ban-regex of Portcullis)',
  run: async () => {
    console.error('portcullis replay: not built yet');
    return 1;
  },
};
