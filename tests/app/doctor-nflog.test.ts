/**
 * The Doctor with the nflog source: it reads only NFLOG messages, which only the per-source logging
 * block's NFLOG variant sends — no block, or the LOG variant, is an error (for the other sources a
 * missing block is a warning and the helper's check stands), and the fix installs the variant the
 * source needs.
 */
import { describe, expect, it } from 'vitest';
import { forwardVariantCheck, nflogRulesCheck, runFix } from '../../electron/app/doctor.ts';
import type { HelperOpsPort } from '../../electron/app/contracts.ts';
import type { FirewallState } from '../../electron/shared/api.ts';
import { loggingViaFor } from '../../electron/shared/settings.ts';

const fw = (perSourceLogging: boolean, via: 'log' | 'nflog' | null): FirewallState => ({
  installed: true,
  enabled: true,
  defaultIncoming: 'deny',
  defaultOutgoing: 'allow',
  defaultRouted: 'disabled',
  loggingLevel: 'low',
  perSourceLogging,
  perSourceLoggingVia: via,
});

describe('Doctor: the nflog source and its rules', () => {
  it('is an error without the block or with its LOG variant, ok with the NFLOG one; no opinion for other sources and the LOG block', () => {
    expect(nflogRulesCheck('nflog', fw(false, null))).toMatchObject({ id: 'per-source-logging', level: 'error', detail: expect.stringMatching(/not installed: nothing is seen/) });
    expect(nflogRulesCheck('nflog', fw(true, 'log'))).toMatchObject({ id: 'per-source-logging', level: 'error', detail: expect.stringMatching(/logs through LOG.*sees nothing/) });
    expect(nflogRulesCheck('nflog', fw(true, 'nflog'))).toMatchObject({ id: 'per-source-logging', level: 'ok' });
    for (const kind of ['kmsg', 'journal', 'file', null]) {
      expect(nflogRulesCheck(kind, fw(false, null))).toBeNull();
      expect(nflogRulesCheck(kind, fw(true, 'log'))).toBeNull();
    }
  });

  it("the forward block's variant against the reading source: an error when it logs for nobody (a headless run left it NFLOG under the desktop's kmsg), no opinion otherwise", () => {
    const fwd = (via: 'log' | 'nflog' | null, installed = true): FirewallState => ({ ...fw(true, 'log'), forwardBlock: installed, forwardLoggingVia: via });
    expect(forwardVariantCheck('kmsg', fwd('nflog'))).toMatchObject({ id: 'forward-block', level: 'error', detail: expect.stringMatching(/forward block logs through NFLOG, and the kmsg source reads only LOG records.*its LOG variant/) });
    expect(forwardVariantCheck('nflog', fwd('log'))).toMatchObject({ id: 'forward-block', level: 'error', detail: expect.stringMatching(/logs through LOG, and the nflog source reads only NFLOG messages.*its NFLOG variant/) });
    expect(forwardVariantCheck('nflog', fwd(null))).toMatchObject({ level: 'error', detail: expect.stringMatching(/LOG in some of its files and NFLOG in others/) });
    expect(forwardVariantCheck('nflog', fwd('nflog'))).toBeNull();
    expect(forwardVariantCheck('kmsg', fwd('log'))).toBeNull();
    expect(forwardVariantCheck('kmsg', fwd('nflog', false))).toBeNull();
    expect(forwardVariantCheck(null, fwd('nflog'))).toBeNull();
    expect(forwardVariantCheck('kmsg', fw(true, 'log'))).toBeNull();
  });

  it('is an error, the other way round, when another source reads and the block logs through NFLOG (its packets reach nobody)', () => {
    for (const kind of ['kmsg', 'journal', null]) {
      expect(nflogRulesCheck(kind, fw(true, 'nflog'))).toMatchObject({ id: 'per-source-logging', level: 'error', detail: expect.stringMatching(/only the nflog source reads.*its LOG variant/) });
    }
  });

  it("the fix installs the block's variant the source needs (LOG without an instance to ask)", async () => {
    const calls: unknown[][] = [];
    const helper = { setPerSourceLogging: async (...a: unknown[]) => void calls.push(a) } as unknown as HelperOpsPort;
    await runFix('install-per-source-logging', { helper: () => helper, guardEnable: async () => undefined, loggingVia: () => loggingViaFor('nflog') });
    await runFix('install-per-source-logging', { helper: () => helper, guardEnable: async () => undefined, loggingVia: () => loggingViaFor('kmsg') });
    await runFix('install-per-source-logging', { helper: () => helper, guardEnable: async () => undefined });
    expect(calls).toEqual([
      [true, 'nflog'],
      [true, 'log'],
      [true, 'log'],
    ]);
  });

  it("the forward block's fix installs the variant the source needs too (NFLOG for nflog: the nflog source reads no LOG record)", async () => {
    const calls: unknown[][] = [];
    const helper = { setForwardBlock: async (...a: unknown[]) => void calls.push(a) } as unknown as HelperOpsPort;
    await runFix('install-forward-block', { helper: () => helper, guardEnable: async () => undefined, loggingVia: () => loggingViaFor('nflog') });
    await runFix('install-forward-block', { helper: () => helper, guardEnable: async () => undefined, loggingVia: () => loggingViaFor('journal') });
    await runFix('install-forward-block', { helper: () => helper, guardEnable: async () => undefined });
    expect(calls).toEqual([
      [true, 'nflog'],
      [true, 'log'],
      [true, 'log'],
    ]);
  });
});
