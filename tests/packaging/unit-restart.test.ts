/**
 * The unit gives up instead of restarting forever: a database that cannot be opened (its own exit
 * code) is not restarted at all, and any other failure at most StartLimitBurst times in
 * StartLimitIntervalSec. Before, Restart=on-failure with RestartSec=5s restarted a runner that failed
 * at every start (a corrupt database, a crash loop) every 5 s for good.
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

  it('gives up after a bounded number of failed starts', () => {
    const interval = Number(value('Unit', 'StartLimitIntervalSec'));
    const burst = Number(value('Unit', 'StartLimitBurst'));
    expect(burst).toBeGreaterThan(1);
    // Failing at every start, 5 s apart, must use up the burst within the interval.
    expect(burst * 5).toBeLessThanOrEqual(interval);
  });
});
