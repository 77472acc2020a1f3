/**
 * `portcullis --help` lists the commands from cli.ts's own table, without loading them (issue 11.3:
 * a fast start); this keeps that table's summaries equal to the commands' own.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS, usage } from '../../electron/headless/cli.ts';

describe('portcullis --help', () => {
  it("each command's summary in cli.ts is the command's own", async () => {
    for (const [name, c] of Object.entries(COMMANDS)) expect(c.summary, name).toBe((await c.load()).summary);
  });
  it('lists every command', () => {
    for (const name of Object.keys(COMMANDS)) expect(usage()).toMatch(new RegExp(`^  ${name} `, 'm'));
  });
});
