/**
 * groupDigits writes what toLocaleString('en-US') writes, without loading ICU's number formatting
 * (~27 ms and ~10 MB of RSS) while the settings schemas load — in `portcullis run` and every replay.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupDigits } from '../../electron/shared/digits.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('groupDigits', () => {
  it('writes whole numbers as toLocaleString("en-US") does', () => {
    for (const n of [0, 1, 12, 999, 1000, 10_000, 65_535, 3_600_000, 16_777_216, -1, -1234, Number.MAX_SAFE_INTEGER]) expect(groupDigits(n)).toBe(n.toLocaleString('en-US'));
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => groupDigits(n) === n.toLocaleString('en-US')));
  });

  it('the settings schemas load without number formatting (toLocaleString)', () => {
    // A child process where the first toLocaleString throws: importing the settings (and through
    // them the fleet schema) must not call it; an invalid setting's message still has its commas.
    const script = `
      Number.prototype.toLocaleString = () => { throw new Error('toLocaleString called'); };
      const { validateSettings } = await import(${JSON.stringify(path.join(ROOT, 'electron/shared/settings.ts'))});
      const r = validateSettings({ ban: { maxNewBansPerMinute: 0 } });
      console.log(r.ok ? 'ok' : r.error);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/maxNewBansPerMinute is a whole number from 1 to \d{1,3}(,\d{3})*/);
  });
});
