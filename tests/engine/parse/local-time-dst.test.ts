/**
 * Year-less syslog stamps are the host's local time: in a daylight-saving zone one hour a year is
 * missing and one happens twice. The tests run in UTC (vitest.config.ts), so this runs the parser's
 * local-time step in a child process in Europe/Berlin (2026: summer time starts 29 March 02:00 CET,
 * ends 25 October 03:00 CEST). What a stamp of the repeated hour means cannot be known from the
 * stamp: it is taken as its first occurrence, as JavaScript's Date and rsyslog's readers take it.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const TIME_TS = path.resolve(import.meta.dirname, '../../../electron/engine/parse/time.ts');

/** UTC ISO text of localTime(...) for each stamp [month (0-11), day, hour, minute], computed under `tz`. */
function inZone(tz: string, stamps: [number, number, number, number][]): string[] {
  const script = `import { localTime } from ${JSON.stringify(TIME_TS)};
    const stamps = ${JSON.stringify(stamps)};
    console.log(JSON.stringify(stamps.map(([mo, d, h, mi]) => { const t = localTime(2026, mo, d, h, mi, 0); return Number.isNaN(t) ? 'NaN' : new Date(t).toISOString(); })));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

describe('local syslog stamps across daylight-saving changes (Europe/Berlin)', () => {
  it('the autumn hour that happens twice is taken as its first occurrence; the hours around it are exact', () => {
    expect(inZone('Europe/Berlin', [[9, 25, 1, 30], [9, 25, 2, 0], [9, 25, 2, 59], [9, 25, 3, 0], [9, 25, 3, 30]])).toEqual([
      '2026-10-24T23:30:00.000Z', // 01:30 CEST
      '2026-10-25T00:00:00.000Z', // 02:00 CEST, the first of the two
      '2026-10-25T00:59:00.000Z',
      '2026-10-25T02:00:00.000Z', // 03:00 CET
      '2026-10-25T02:30:00.000Z',
    ]);
  });

  it('a stamp in the spring hour that does not exist lands an hour on, as the clock skipped it; the hours around it are exact', () => {
    expect(inZone('Europe/Berlin', [[2, 29, 1, 59], [2, 29, 2, 30], [2, 29, 3, 0], [2, 29, 3, 30]])).toEqual([
      '2026-03-29T00:59:00.000Z', // 01:59 CET
      '2026-03-29T01:30:00.000Z', // "02:30" = 03:30 CEST
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
      '2026-03-29T01:30:00.000Z',
    ]);
  });

  it('in UTC every stamp is exact (the zone the other tests run in)', () => {
    expect(inZone('UTC', [[9, 25, 2, 30], [2, 29, 2, 30]])).toEqual(['2026-10-25T02:30:00.000Z', '2026-03-29T02:30:00.000Z']);
  });
});
