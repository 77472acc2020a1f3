/**
 * The unit's restarts: a database that cannot be opened (its own exit code) is not restarted at all
 * (before, every 5 s for good); any other failure is restarted for as long as it lasts, never given up
 * on after a number of starts (a full disk for a minute left a failed unit and no protection once it
 * was cleared).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_STORE_UNOPENABLE } from '../../electron/headless/runner.ts';

const UNIT = path.resolve(import.meta.dirname, '../../build/server/portcullis.service');

/** The value of `key` in `section` (comments left out), or undefined. */
function value(section: string, key: string): string | undefined {
  let current = '';
  for (const raw of readFileSync(UNIT, 'utf8').split('\n')) {
    const l = raw.trim();
    if (/^\[.+\]$/.test(l)) current = l;
    else if (current === `[${section}]` && l.startsWith(`${key}=`)) return l.slice(key.length + 1);
  }
  return undefined;
}

describe("the unit's restarts", () => {
  it('never restarts a runner whose database cannot be opened', () => {
    expect(value('Service', 'Restart')).toBe('on-failure');
    expect(value('Service', 'RestartPreventExitStatus')?.split(/\s+/)).toContain(String(EXIT_STORE_UNOPENABLE));
  });

  it('never gives up on a failure waiting can cure (no start limit), restarting it 5 s apart', () => {
    expect(value('Unit', 'StartLimitIntervalSec')).toBe('0');
    expect(value('Service', 'RestartSec')).toBe('5s');
  });
});
